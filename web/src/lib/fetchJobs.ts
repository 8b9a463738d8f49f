/**
 * Market-data fetch jobs: the gateway's types, its four calls, and pure helpers for the Fetch panel.
 *
 * `POST /marketdata/fetch` answers 202 with a `FetchJob`; the job then reports on the WebSocket channel
 * `marketdata.fetch.<id>` (the whole job dict on every progress change and at the end) and at
 * `GET /marketdata/fetch/<id>`. Helpers here never touch the network or the DOM.
 */
import { get, post, V1 } from "./api";
import { fmtNum } from "./shape";

export type FetchStatus = "queued" | "running" | "ok" | "failed" | "rejected";
export type Adjust = "total" | "splits" | "none";
export const ADJUSTS: Adjust[] = ["total", "splits", "none"];

export interface SourceInfo {
  name: string;
  title: string;
  timeframes: string[];
  live: boolean;
  needs_key: boolean;
  configured: boolean;
  options: string[];
  /** What setup is missing when `configured` is false ("needs NAUTILUS_…", "not installed: …"). */
  note?: string | null;
}

export interface FetchJob {
  id: number;
  source: string;
  symbol: string;
  source_symbol: string;
  timeframe: string;
  start_ns: number;
  end_ns: number;
  adjust?: string;
  options?: Record<string, string>;
  status: FetchStatus;
  done: number;
  total: number | null;
  message: string;
  rows: number;
  requests: number;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  duration_s: number | null;
}

export interface FetchRequest {
  source: string;
  symbol: string;
  timeframe: string;
  start?: string;
  end?: string;
  as_symbol: string | null;
  adjust?: Adjust;
  options: Record<string, string>;
  force: boolean;
}

/**
 * What the form holds: strings as typed. Empty `start` continues the series from its last fetch, empty `end`
 * is now; `asSymbol`, `options` and `adjust` may be empty (not sent).
 */
export interface FetchForm {
  source: string;
  symbol: string;
  timeframe: string;
  start: string;
  end: string;
  asSymbol: string;
  adjust: Adjust | "";
  options: string;
  force: boolean;
}

export type Validation = { ok: true; body: FetchRequest } | { ok: false; errors: Record<string, string> };

const FETCH = `${V1}/marketdata`;

export const getSources = () => get<{ sources: SourceInfo[] }>(`${FETCH}/sources`).then((r) => r.sources);
export const startFetch = (body: FetchRequest) => post<FetchJob>(`${FETCH}/fetch`, body);
export const getFetch = (id: number) => get<FetchJob>(`${FETCH}/fetch/${id}`);
export const listFetches = (limit = 20) => get<{ fetches: FetchJob[] }>(`${FETCH}/fetches`, { limit }).then((r) => r.fetches);

/** The glob matching every job's live channel (`marketdata.fetch.<id>`). */
export const FETCH_CHANNELS = "marketdata.fetch.*";

const FINISHED: ReadonlySet<string> = new Set(["ok", "failed", "rejected"]);

export function isFinished(status: string): boolean {
  return FINISHED.has(status);
}

/** Why an unconfigured source cannot be used ("" when it is configured). */
export function unconfiguredReason(s: SourceInfo): string {
  if (s.configured) return "";
  if (s.note) return s.note;
  if (s.needs_key) return `needs NAUTILUS_${s.name.toUpperCase()}_API_KEY`;
  return "not configured";
}

/**
 * Progress in percent (0–100), or null when it cannot be known (total null or ≤ 0: an indeterminate bar).
 * A job that ended "ok" is 100; `done` beyond `total` is clamped.
 */
export function jobPercent(job: Pick<FetchJob, "status" | "done" | "total">): number | null {
  if (job.status === "ok") return 100;
  if (job.total == null || !(job.total > 0)) return null;
  return Math.min(100, Math.max(0, (100 * job.done) / job.total));
}

/** Seconds as "0.42 s", "12.3 s", "2m 05s"; "—" for null. */
export function fmtDuration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s) || s < 0) return "—";
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, "0")}s`;
}

/**
 * One line for the job's state: "queued", "2 / 5 · page 2 of 5", "3 done · …" (unknown total),
 * "ok · 1,234 rows in 2.30 s", or "failed: <error verbatim>".
 */
export function jobLabel(job: FetchJob): string {
  const msg = job.message ? ` · ${job.message}` : "";
  switch (job.status) {
    case "queued":
      return `queued${msg}`;
    case "running":
      return job.total != null && job.total > 0 ? `${job.done} / ${job.total}${msg}` : `${job.done} done${msg}`;
    case "ok":
      return `ok · ${fmtNum(job.rows, 0)} rows in ${fmtDuration(job.duration_s)}`;
    default:
      return `${job.status}: ${job.error ?? (job.message || "no reason given")}`;
  }
}

/**
 * The newer of two reports of the same job (WebSocket and polling race each other): a finished job never
 * goes back to running, and while both are unfinished the one with more `done` wins (ties: the incoming one).
 */
export function mergeJob(cur: FetchJob | null, next: FetchJob): FetchJob {
  if (!cur || cur.id !== next.id) return next;
  if (isFinished(cur.status)) return isFinished(next.status) ? next : cur;
  if (isFinished(next.status)) return next;
  return next.done >= cur.done ? next : cur;
}

/** Put `job` into a newest-first list: replace the entry with its id (merged), or insert it first; at most `limit`. */
export function upsertJob(list: FetchJob[] | undefined, job: FetchJob, limit = 20): FetchJob[] {
  const rows = list ?? [];
  const i = rows.findIndex((r) => r.id === job.id);
  if (i < 0) return [job, ...rows].slice(0, limit);
  const out = rows.slice();
  out[i] = mergeJob(rows[i], job);
  return out;
}

/** Read a FetchJob from a live frame's `data` (null when it is not one). */
export function jobFromFrame(data: unknown): FetchJob | null {
  if (!data || typeof data !== "object") return null;
  const d = data as Record<string, unknown>;
  if (typeof d.id !== "number" || typeof d.status !== "string" || typeof d.source !== "string") return null;
  return d as unknown as FetchJob;
}

/** `YYYY-MM-DD` (UTC) of an epoch in milliseconds. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Milliseconds since the epoch at UTC midnight of a `YYYY-MM-DD` calendar date, or null when it is not one. */
export function parseDate(s: string): number | null {
  const m = DATE.exec(s.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (y < 1800 || back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return ms;
}

const OPTION_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Parse "key=value" pairs separated by commas or whitespace; throws an Error naming the bad pair. */
export function parseOptions(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(/[\s,]+/).filter(Boolean)) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    if (eq < 0 || !OPTION_KEY.test(key) || !value) throw new Error(`option "${pair}" is not key=value`);
    if (key in out) throw new Error(`option "${key}" is given twice`);
    out[key] = value;
  }
  return out;
}

/**
 * Check the form and build the request body. Errors are keyed by the request's field names (the same names
 * the gateway's 422 `field` uses): symbol required; timeframe one of the source's; start and end each empty
 * or a valid date; start before end (or before `nowMs` when end is empty, meaning now);
 * options key=value. `adjust` is sent only when the source lists the "adjust" option.
 */
export function validateFetchForm(form: FetchForm, source: SourceInfo | undefined, nowMs: number): Validation {
  const errors: Record<string, string> = {};
  const symbol = form.symbol.trim();
  if (!form.source) errors.source = "choose a source";
  else if (!source) errors.source = `unknown source "${form.source}"`;
  else if (!source.configured) errors.source = `${source.title}: ${unconfiguredReason(source)}`;
  if (!symbol) errors.symbol = "symbol is required";
  else if (/\s/.test(symbol)) errors.symbol = "symbol must not contain spaces";
  if (!form.timeframe) errors.timeframe = "choose a timeframe";
  else if (source && !source.timeframes.includes(form.timeframe)) {
    errors.timeframe = `${source.title} has no ${form.timeframe} bars (${source.timeframes.join(", ")})`;
  }
  const start = form.start.trim() ? parseDate(form.start) : null;
  const end = form.end.trim() ? parseDate(form.end) : null;
  if (form.start.trim() && start === null) errors.start = `start "${form.start}" is not a date (YYYY-MM-DD)`;
  if (form.end.trim() && end === null) errors.end = `end "${form.end}" is not a date (YYYY-MM-DD)`;
  if (start !== null && !errors.end) {
    if (end !== null && start >= end) errors.end = `start must be before end (${form.start.trim()} ≥ ${form.end.trim()})`;
    else if (end === null && start >= nowMs) errors.start = "start must be in the past (end is now)";
  }
  let options: Record<string, string> = {};
  try {
    options = parseOptions(form.options);
  } catch (e) {
    errors.options = (e as Error).message;
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  const body: FetchRequest = {
    source: form.source,
    symbol,
    timeframe: form.timeframe,
    as_symbol: form.asSymbol.trim() || null,
    options,
    force: form.force,
  };
  if (form.start.trim()) body.start = form.start.trim();
  if (form.end.trim()) body.end = form.end.trim();
  if (form.adjust && source?.options.includes("adjust")) body.adjust = form.adjust;
  return { ok: true, body };
}
