import type { ReactNode } from "react";
import { ApiError } from "../lib/api";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return <div className="state loading" role="status" aria-live="polite"><span className="spinner" />{label}</div>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

export function ErrorBox({ error, title = "Request failed" }: { error: unknown; title?: string }) {
  const e = error as ApiError | Error | undefined;
  const field = e instanceof ApiError && e.field ? ` (field: ${e.field})` : "";
  const code = e instanceof ApiError ? ` [${e.status || "network"} ${e.code}]` : "";
  return (
    <div className="state error" role="alert">
      <strong>{title}</strong>{code}: {e?.message ?? String(error)}{field}
    </div>
  );
}

/** Render loading / error / empty / content for a query-like object. */
export function QueryView<T>({ q, empty, isEmpty, children, label }: {
  q: { isLoading: boolean; isError: boolean; error: unknown; data: T | undefined };
  empty?: ReactNode;
  isEmpty?: (d: T) => boolean;
  label?: string;
  children: (d: T) => ReactNode;
}) {
  if (q.isLoading) return <Loading label={label} />;
  if (q.isError) return <ErrorBox error={q.error} />;
  if (q.data === undefined) return null;
  if (isEmpty?.(q.data)) return <Empty>{empty ?? "Nothing here yet."}</Empty>;
  return <>{children(q.data)}</>;
}

export function Card({ title, children, actions, className }: {
  title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string;
}) {
  return (
    <section className={`card ${className ?? ""}`}>
      {(title || actions) && <header className="card-h"><h2>{title}</h2><div>{actions}</div></header>}
      {children}
    </section>
  );
}
