/**
 * `/health` → what the banner and the Overview show. An engine is `up`, `degraded` or `down`; the banner is
 * `down` when any engine is down or the gateway is unreachable, `degraded` when any engine is degraded or runs
 * on a fallback transport (tcp or in-process instead of the unix socket), else `ok`. Pure.
 */
export interface TransportInfo {
  up?: boolean;
  breaker?: string;
  calls?: number;
  failures?: number;
  p50_us?: number | null;
  p99_us?: number | null;
  last_error?: string | null;
}

export interface EngineHealth {
  engine?: string;
  status: "up" | "degraded" | "down" | string;
  path?: string | null;
  fallbacks?: number;
  pid?: number | null;
  uptime_s?: number | null;
  restarts?: number | null;
  server_p50_us?: number | null;
  server_p99_us?: number | null;
  backend?: string | null;
  transports?: Record<string, TransportInfo>;
}

export interface Health {
  status: string;
  version?: string;
  backend?: { name?: string; device?: string; [k: string]: unknown };
  engines: Record<string, EngineHealth>;
}

export type BannerLevel = "ok" | "degraded" | "down";

export interface BannerState {
  level: BannerLevel;
  down: string[];
  degraded: string[];
  fallback: string[];
  message: string;
}

export function bannerState(health: Health | undefined, error?: unknown): BannerState {
  if (!health) {
    if (error) {
      return { level: "down", down: ["gateway"], degraded: [], fallback: [],
        message: `Gateway unreachable: ${(error as Error)?.message ?? String(error)}` };
    }
    return { level: "ok", down: [], degraded: [], fallback: [], message: "" };
  }
  const down: string[] = [];
  const degraded: string[] = [];
  const fallback: string[] = [];
  for (const [name, e] of Object.entries(health.engines ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (e.status === "down") down.push(name);
    else if (e.status === "degraded") degraded.push(name);
    if (e.status !== "down" && e.path && e.path !== "unix") fallback.push(`${name} (${e.path})`);
  }
  const parts: string[] = [];
  if (down.length) parts.push(`Engine${down.length > 1 ? "s" : ""} down: ${down.join(", ")}`);
  if (degraded.length) parts.push(`degraded: ${degraded.join(", ")}`);
  if (fallback.length) parts.push(`on fallback transport: ${fallback.join(", ")}`);
  const level: BannerLevel = down.length ? "down" : degraded.length || fallback.length ? "degraded" : "ok";
  return { level, down, degraded, fallback, message: parts.join("; ") };
}

/** Which engines a page depends on; a page shows the banner for those (all pages show the global one). */
export const PAGE_ENGINES: Record<string, string[]> = {
  overview: [],
  market: ["marketdata", "strategy"],
  strategy: ["strategy", "marketdata"],
  risk: ["risk", "marketdata"],
  ml: ["ml", "factor", "features"],
  portfolio: ["portfolio", "risk"],
};

export function fmtUs(us: number | null | undefined): string {
  if (us == null || !Number.isFinite(us)) return "—";
  if (us < 1000) return `${us.toFixed(us < 10 ? 1 : 0)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function fmtUptime(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return "—";
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
