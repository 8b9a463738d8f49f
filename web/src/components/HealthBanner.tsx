import { bannerState } from "../lib/health";
import { useHealth } from "../lib/queries";

/**
 * Without `engines`: the app-wide banner — any engine down (red) or degraded / on a fallback transport
 * (amber); nothing when all is up. With `engines`: a page note, shown only when one of the engines that page
 * needs is affected.
 */
export function HealthBanner({ engines }: { engines?: string[] }) {
  const q = useHealth();
  const s = bannerState(q.data, q.isError ? q.error : undefined);
  if (s.level === "ok") return null;
  if (engines) {
    const hit = [...s.down, ...s.degraded, ...s.fallback.map((f) => f.split(" ")[0])].filter((e) => engines.includes(e));
    if (!hit.length) return null;
    return (
      <div className="banner banner-degraded small" role="status" data-testid="page-health-note">
        This page uses {[...new Set(hit)].join(", ")}: requests may fail or run slower until the engine is back.
      </div>
    );
  }
  return (
    <div className={`banner banner-${s.level}`} role="alert" data-testid="health-banner">
      <strong>{s.level === "down" ? "Service problem" : "Degraded"}:</strong> {s.message}
    </div>
  );
}
