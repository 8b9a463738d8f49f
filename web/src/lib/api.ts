/**
 * HTTP client for the gateway. Every call goes to `${apiBase}${path}` cross-origin with `X-API-Key` when a key
 * is set. Errors are normalised into `ApiError` from the gateway's `{"error": {"code", "message", "field"}}`
 * (FastAPI's `{"detail": ...}` and network failures are mapped too), so pages can show `message` and `field`.
 */
import { getApiKey } from "./apiKey";
import { getConfig } from "./config";

export class ApiError extends Error {
  status: number;
  code: string;
  field: string | null;
  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Turn an error response body into an ApiError (pure; exported for tests). */
export function toApiError(status: number, body: unknown): ApiError {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const e = b.error as Record<string, unknown> | undefined;
    if (e && typeof e === "object") {
      return new ApiError(status, String(e.code ?? status), String(e.message ?? "request failed"),
        e.field == null ? null : String(e.field));
    }
    if (b.detail !== undefined) {
      const d = b.detail;
      if (Array.isArray(d) && d.length) {
        const first = d[0] as { msg?: string; loc?: unknown[] };
        const field = Array.isArray(first.loc) ? String(first.loc[first.loc.length - 1]) : null;
        return new ApiError(status, "invalid_input", String(first.msg ?? "invalid input"), field);
      }
      return new ApiError(status, String(status), String(d));
    }
  }
  const text = typeof body === "string" && body ? body.slice(0, 200) : `HTTP ${status}`;
  return new ApiError(status, String(status), text);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  raw?: boolean;
}

export function buildUrl(base: string, path: string, query?: RequestOptions["query"]): string {
  const url = new URL(base.replace(/\/+$/, "") + path);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
  }
  return url.toString();
}

export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  const key = getApiKey();
  if (key) headers["X-API-Key"] = key;
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) body = opts.body;
  else if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(getConfig().apiBase, path, opts.query), {
      method: opts.method ?? (body ? "POST" : "GET"), headers, body, signal: opts.signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", `gateway unreachable at ${getConfig().apiBase}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) throw toApiError(res.status, parsed);
  return (opts.raw ? text : parsed) as T;
}

export const get = <T,>(path: string, query?: RequestOptions["query"]) => api<T>(path, { query });
export const post = <T,>(path: string, body: unknown) => api<T>(path, { method: "POST", body });
export const V1 = "/api/v1";
