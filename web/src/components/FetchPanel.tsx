/**
 * "Fetch data": start a market-data fetch from a remote source and watch it, plus the recent fetches.
 *
 * Progress arrives on the WebSocket (every `marketdata.fetch.*` frame while mounted, so fetches started
 * elsewhere update the table too); while the socket is not open the running job is polled every `pollMs`.
 * A job that ends "ok" invalidates the instruments and bars queries, so the new symbol can be picked.
 */
import { useState, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../lib/api";
import {
  ADJUSTS, FETCH_CHANNELS, fmtDuration, getFetch, getSources, isFinished, isoDate, jobFromFrame, jobLabel,
  jobPercent, listFetches, mergeJob, startFetch, unconfiguredReason, upsertJob, validateFetchForm,
  type Adjust, type FetchForm, type FetchJob, type SourceInfo,
} from "../lib/fetchJobs";
import { useLive, useLiveStatus } from "../lib/live";
import { fmtNum, fmtTs } from "../lib/shape";
import { DataTable, type Column } from "./DataTable";
import { Card, Empty, ErrorBox, Loading } from "./States";

const FIELDS = ["source", "symbol", "timeframe", "start", "end", "adjust", "as_symbol", "options", "force"];
const YEAR_MS = 365 * 86_400_000;

function pillClass(status: string): string {
  if (status === "ok") return "green";
  if (status === "failed" || status === "rejected") return "red";
  return "yellow";
}

/** The source to preselect: Yahoo when configured, else the first configured one, else the first. */
function defaultSource(sources: SourceInfo[]): SourceInfo | undefined {
  return sources.find((s) => s.name === "yahoo" && s.configured) ?? sources.find((s) => s.configured) ?? sources[0];
}

function FieldError({ field, errors }: { field: string; errors: Record<string, string> }) {
  if (!errors[field]) return null;
  return <span className="field-error" role="alert" id={`fetch-err-${field}`} data-testid={`fetch-error-${field}`}>{errors[field]}</span>;
}

export function FetchPanel({ onShow, pollMs = 1000, now = Date.now }: {
  /** Called by "Show on chart" after a successful fetch with the catalog symbol and timeframe. */
  onShow?: (symbol: string, timeframe: string) => void;
  pollMs?: number;
  now?: () => number;
}) {
  const qc = useQueryClient();
  const ws = useLiveStatus();
  const sources = useQuery({ queryKey: ["marketdata-sources"], queryFn: getSources, staleTime: 60_000 });
  const [form, setForm] = useState<FetchForm>(() => ({
    source: "", symbol: "", timeframe: "1d", start: isoDate(now() - YEAR_MS), end: "", asSymbol: "", adjust: "total",
    options: "", force: false,
  }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [job, setJob] = useState<FetchJob | null>(null);

  const list = sources.data ?? [];
  const src = list.find((s) => s.name === form.source) ?? (form.source ? undefined : defaultSource(list));
  const timeframes = src?.timeframes ?? [];
  const timeframe = !src || timeframes.includes(form.timeframe) ? form.timeframe
    : timeframes.includes("1d") ? "1d" : timeframes[0] ?? "";
  const effective: FetchForm = { ...form, source: src?.name ?? form.source, timeframe };
  const hasAdjust = !!src?.options.includes("adjust");
  const set = <K extends keyof FetchForm>(k: K, v: FetchForm[K]) => setForm((f) => ({ ...f, [k]: v }));

  const onJob = (j: FetchJob) => {
    setJob((cur) => (cur && cur.id === j.id ? mergeJob(cur, j) : cur));
    qc.setQueryData<FetchJob[]>(["fetches"], (rows) => upsertJob(rows, j));
    if (!isFinished(j.status)) return;
    qc.invalidateQueries({ queryKey: ["fetches"] });
    if (j.status === "ok") {
      qc.invalidateQueries({ queryKey: ["instruments"] });
      qc.invalidateQueries({ queryKey: ["bars"] });
    }
  };

  useLive(FETCH_CHANNELS, (m) => {
    const j = jobFromFrame(m.data);
    if (j) onJob(j);
  });
  const running = !!job && !isFinished(job.status);
  // One GET when a job starts (catches an end that came before the subscription), then polling while the
  // socket is not open.
  const poll = useQuery({
    queryKey: ["fetch", job?.id],
    enabled: running,
    refetchInterval: ws === "open" ? false : pollMs,
    staleTime: 0,
    queryFn: async () => {
      const j = await getFetch(job!.id);
      onJob(j);
      return j;
    },
  });

  const start = useMutation({
    mutationFn: startFetch,
    onSuccess: (j) => {
      // the socket may have reported this job before the 202 arrived: keep the newer of the two
      const seen = qc.getQueryData<FetchJob[]>(["fetches"])?.find((r) => r.id === j.id);
      setJob(seen ? mergeJob(j, seen) : j);
      onJob(j);
    },
    onError: (e) => {
      if (e instanceof ApiError && e.field && FIELDS.includes(e.field)) setErrors({ [e.field]: e.message });
    },
  });
  const generalError = start.isError && !(start.error instanceof ApiError && start.error.field && FIELDS.includes(start.error.field));

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const v = validateFetchForm(effective, src, now());
    if (!v.ok) {
      setErrors(v.errors);
      return;
    }
    setErrors({});
    start.mutate(v.body);
  };

  const invalid = (field: string) => ({
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": errors[field] ? `fetch-err-${field}` : undefined,
  });
  const pct = job ? jobPercent(job) : null;

  return (
    <>
      <Card title="Fetch data" actions={<span className="muted small" data-testid="fetch-live">live: {ws}{ws !== "open" ? ` (polling every ${pollMs / 1000} s)` : ""}</span>}>
        {sources.isLoading ? <Loading label="Loading sources…" /> : sources.isError ? <ErrorBox error={sources.error} title="Sources unavailable" /> :
          <form className="row" onSubmit={submit} aria-label="Fetch data" noValidate>
            <label>Source
              <select value={effective.source} onChange={(e) => set("source", e.target.value)} aria-label="Fetch source" {...invalid("source")}>
                {list.map((s) => (
                  <option key={s.name} value={s.name}>{s.title}{s.configured ? "" : ` — ${unconfiguredReason(s)}`}</option>
                ))}
              </select>
              <FieldError field="source" errors={errors} />
            </label>
            <label>Symbol
              <input value={form.symbol} onChange={(e) => set("symbol", e.target.value)} aria-label="Fetch symbol" placeholder="AAPL" size={12} {...invalid("symbol")} />
              <FieldError field="symbol" errors={errors} />
            </label>
            <label>Timeframe
              <select value={timeframe} onChange={(e) => set("timeframe", e.target.value)} aria-label="Fetch timeframe" {...invalid("timeframe")}>
                {timeframes.map((t) => <option key={t}>{t}</option>)}
              </select>
              <FieldError field="timeframe" errors={errors} />
            </label>
            <label>Start (empty: continue)
              <input type="date" value={form.start} onChange={(e) => set("start", e.target.value)} aria-label="Fetch start" {...invalid("start")} />
              <FieldError field="start" errors={errors} />
            </label>
            <label>End (empty: now)
              <input type="date" value={form.end} onChange={(e) => set("end", e.target.value)} aria-label="Fetch end" {...invalid("end")} />
              <FieldError field="end" errors={errors} />
            </label>
            {hasAdjust && (
              <label>Adjust
                <select value={form.adjust} onChange={(e) => set("adjust", e.target.value as Adjust | "")} aria-label="Fetch adjust" {...invalid("adjust")}>
                  {ADJUSTS.map((a) => <option key={a}>{a}</option>)}
                </select>
                <FieldError field="adjust" errors={errors} />
              </label>
            )}
            <button className="primary" type="submit" disabled={start.isPending} data-testid="fetch-submit">
              {start.isPending ? "Starting…" : "Fetch"}
            </button>
            <details style={{ flexBasis: "100%" }}>
              <summary className="muted small">Advanced</summary>
              <div className="row" style={{ marginTop: 6 }}>
                <label>Catalog name (optional)
                  <input value={form.asSymbol} onChange={(e) => set("asSymbol", e.target.value)} aria-label="Fetch catalog name" size={12} {...invalid("as_symbol")} />
                  <FieldError field="as_symbol" errors={errors} />
                </label>
                <label>Options (key=value, comma separated)
                  <input value={form.options} onChange={(e) => set("options", e.target.value)} aria-label="Fetch options" placeholder="exchange=kraken" size={28} {...invalid("options")} />
                  <FieldError field="options" errors={errors} />
                </label>
                <label style={{ flexDirection: "row", alignItems: "center" }}>
                  <input type="checkbox" checked={form.force} onChange={(e) => set("force", e.target.checked)} aria-label="Fetch force" />
                  re-fetch ranges already in the catalog
                </label>
              </div>
            </details>
          </form>}
        {src && !src.configured && <div className="warn small" data-testid="fetch-source-note">{src.title}: {unconfiguredReason(src)}</div>}
        {src && (
          <div className="muted small">
            {src.title}: {src.timeframes.join(", ")}{src.options.length ? ` · options: ${src.options.join(", ")}` : ""}{src.live ? " · live" : ""}
          </div>
        )}
        {generalError && <ErrorBox error={start.error} title="Fetch not started" />}
        {job ? <JobView job={job} pct={pct} pollError={poll.isError ? (poll.error as Error).message : null} onShow={onShow} />
          : <Empty>Progress appears here live while a fetch runs.</Empty>}
      </Card>
      <RecentFetches />
    </>
  );
}

function JobView({ job, pct, pollError, onShow }: {
  job: FetchJob; pct: number | null; pollError: string | null; onShow?: (symbol: string, timeframe: string) => void;
}) {
  const finished = isFinished(job.status);
  const failed = job.status === "failed" || job.status === "rejected";
  const name = job.source_symbol && job.source_symbol !== job.symbol ? `${job.source_symbol} → ${job.symbol}` : job.symbol;
  return (
    <div data-testid="fetch-job" aria-live="polite">
      <div className="small">
        Fetch #{job.id} · {job.source} {name} {job.timeframe} · {fmtTs(job.start_ns)} → {fmtTs(job.end_ns)}:{" "}
        <span className={`pill ${pillClass(job.status)}`} data-testid="fetch-status">{job.status}</span>{" "}
        {!failed && <span data-testid="fetch-label">{jobLabel(job)}</span>}
      </div>
      {!finished && <progress max={100} value={pct ?? undefined} style={{ width: "100%" }} aria-label="Fetch progress" />}
      {finished && !failed && (
        <div className="small">
          {fmtNum(job.rows, 0)} rows · {job.requests} requests · {fmtDuration(job.duration_s)}
          {job.status === "ok" && onShow && (
            <button type="button" style={{ marginLeft: 10 }} onClick={() => onShow(job.symbol, job.timeframe)}>Show {job.symbol} on the chart</button>
          )}
        </div>
      )}
      {failed && <div className="down" role="alert" data-testid="fetch-error">{job.error ?? job.message}</div>}
      {pollError && <div className="muted small">polling: {pollError}</div>}
    </div>
  );
}

const COLUMNS: Column<FetchJob>[] = [
  { key: "id", label: "#", num: true },
  { key: "source", label: "Source" },
  { key: "symbol", label: "Symbol", render: (j) => (j.source_symbol && j.source_symbol !== j.symbol ? `${j.source_symbol} → ${j.symbol}` : j.symbol) },
  { key: "timeframe", label: "TF" },
  { key: "range", label: "Range", render: (j) => `${fmtTs(j.start_ns)} → ${fmtTs(j.end_ns)}` },
  { key: "status", label: "Status", render: (j) => <span className={`pill ${pillClass(j.status)}`}>{j.status}</span> },
  { key: "rows", label: "Rows", num: true, render: (j) => fmtNum(j.rows, 0) },
  { key: "requests", label: "Requests", num: true },
  { key: "duration_s", label: "Duration", num: true, render: (j) => fmtDuration(j.duration_s) },
  { key: "detail", label: "Detail", render: (j): ReactNode => (j.error ? <span className="down">{j.error}</span> : isFinished(j.status) ? j.message : jobLabel(j)) },
];

function RecentFetches() {
  const fetches = useQuery({ queryKey: ["fetches"], queryFn: () => listFetches(20) });
  return (
    <Card title="Recent fetches">
      {fetches.isLoading ? <Loading label="Loading fetches…" /> : fetches.isError ? <ErrorBox error={fetches.error} /> :
        !fetches.data?.length ? <Empty>No fetches yet.</Empty> :
        <DataTable rows={fetches.data} columns={COLUMNS} rowKey={(j) => j.id} testId="fetches-table" />}
    </Card>
  );
}
