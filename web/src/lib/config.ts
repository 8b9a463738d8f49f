/**
 * Runtime configuration: the dashboard is a static build, so where the gateway lives is read at start from
 * `/config.json` (served by `python -m nautilus.web`): `{"apiBase": "http://127.0.0.1:8001", "wsUrl": ...}`.
 * Behind NGINX both are paths (`{"apiBase": "/", "wsUrl": "/ws"}`), resolved against the page's own origin:
 * the browser then only ever talks to that origin. Without it (vite dev) the gateway is assumed on the same
 * host, port 8001.
 */
export interface AppConfig {
  apiBase: string;
  wsUrl: string;
}

export function defaultConfig(loc: { protocol: string; hostname: string } = window.location): AppConfig {
  const apiBase = `${loc.protocol}//${loc.hostname}:8001`;
  return { apiBase, wsUrl: apiBase.replace(/^http/, "ws") + "/ws" };
}

/** `url` made absolute against the page (`href`): a path such as `/` or `/ws` stays on the page's origin. */
export function absoluteUrl(url: string, href: string): string {
  try {
    return new URL(url, href).href;
  } catch {
    return url;
  }
}

export function parseConfig(
  raw: unknown,
  fallback: AppConfig,
  href: string = typeof window === "undefined" ? "http://localhost/" : window.location.href,
): AppConfig {
  if (!raw || typeof raw !== "object") return fallback;
  const r = raw as Record<string, unknown>;
  const apiBase = typeof r.apiBase === "string" && r.apiBase
    ? absoluteUrl(r.apiBase, href).replace(/\/+$/, "")
    : fallback.apiBase;
  const wsUrl = typeof r.wsUrl === "string" && r.wsUrl
    ? absoluteUrl(r.wsUrl, href).replace(/^http/, "ws")
    : apiBase.replace(/^http/, "ws") + "/ws";
  return { apiBase, wsUrl };
}

let current: AppConfig | null = null;

export async function loadConfig(): Promise<AppConfig> {
  const fallback = defaultConfig();
  try {
    const res = await fetch("/config.json", { cache: "no-store" });
    current = res.ok ? parseConfig(await res.json(), fallback) : fallback;
  } catch {
    current = fallback;
  }
  return current;
}

export function getConfig(): AppConfig {
  return current ?? defaultConfig();
}

export function setConfig(cfg: AppConfig): void {
  current = cfg;
}
