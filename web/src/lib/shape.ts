/**
 * Data shaping for charts and tables (pure): drawdown from an equity curve, a histogram with VaR/CVaR cut
 * points, a sweep → heatmap grid, predictions vs realised direction, and number formatting.
 */

/** Drawdown (≤ 0, as a fraction of the running peak) at each point; nulls carry the previous value. */
export function drawdown(equity: (number | null)[]): number[] {
  let peak = -Infinity;
  let last = 0;
  return equity.map((v) => {
    if (v == null || !Number.isFinite(v)) return last;
    peak = Math.max(peak, v);
    last = peak > 0 ? v / peak - 1 : 0;
    return last;
  });
}

export interface Histogram {
  edges: number[]; // bins + 1 edges
  counts: number[];
  centers: number[];
}

/** Equal-width histogram of the finite values in `bins` bins over [min, max] (max falls in the last bin). */
export function histogram(values: (number | null)[], bins = 40): Histogram {
  const xs = values.filter((v): v is number => v != null && Number.isFinite(v));
  if (!xs.length || bins < 1) return { edges: [], counts: [], centers: [] };
  let lo = Math.min(...xs);
  let hi = Math.max(...xs);
  if (!((hi - lo) / bins > 0)) {
    // one value, or a spread so small the bin width underflows (e.g. [0, 5e-324]): widen around the middle
    const mid = lo / 2 + hi / 2;
    lo = mid - 0.5;
    hi = mid + 0.5;
  }
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * w);
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.floor((x - lo) / w))]++;
  const centers = counts.map((_, i) => lo + (i + 0.5) * w);
  return { edges, counts, centers };
}

/** The bin index a value falls in (for drawing a VaR marker on a category axis); -1 when outside. */
export function binIndex(h: Histogram, x: number): number {
  const n = h.counts.length;
  if (!n || x < h.edges[0] || x > h.edges[n]) return -1;
  for (let i = 0; i < n; i++) if (x < h.edges[i + 1]) return i;
  return n - 1;
}

export interface Heatmap {
  xName: string;
  yName: string;
  xs: (string | number)[];
  ys: (string | number)[];
  cells: [number, number, number | null][]; // [xIndex, yIndex, value]
  min: number;
  max: number;
}

/** Sweep rows (`{param1, param2, ..., metric}`) → a 2-D grid over the first two params (best value per cell). */
export function sweepHeatmap(rows: Record<string, unknown>[], params: string[], metric: string): Heatmap | null {
  if (params.length < 1 || !rows.length) return null;
  const [xName, yName] = [params[0], params[1] ?? ""];
  const uniq = (k: string) => [...new Set(rows.map((r) => r[k] as string | number))].sort((a, b) =>
    typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b)));
  const xs = uniq(xName);
  const ys = yName ? uniq(yName) : [metric];
  const best = new Map<string, number>();
  for (const r of rows) {
    const v = Number(r[metric]);
    if (!Number.isFinite(v)) continue;
    const key = `${xs.indexOf(r[xName] as never)},${yName ? ys.indexOf(r[yName] as never) : 0}`;
    const prev = best.get(key);
    if (prev === undefined || v > prev) best.set(key, v);
  }
  const cells: [number, number, number | null][] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    for (let j = 0; j < ys.length; j++) {
      const v = best.get(`${i},${j}`);
      cells.push([i, j, v ?? null]);
      if (v !== undefined) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  if (!Number.isFinite(min)) {
    min = 0;
    max = 0;
  }
  return { xName, yName, xs, ys, cells, min, max };
}

/**
 * Predictions vs realised next-bar direction: for each prediction at ts (ns), the realised direction is
 * 1 when the next bar's close is above this bar's close, 0 otherwise; unknown (last bar) → null.
 * `bars` are `t` in ms and `close`. Returns rows and the hit rate of (p ≥ 0.5) vs realised.
 */
export function predVsRealised(
  predTs: number[], preds: number[], barT: number[], close: number[],
): { rows: { t: number; p: number; realised: number | null }[]; hitRate: number | null } {
  const idx = new Map<number, number>();
  barT.forEach((t, i) => idx.set(t, i));
  const rows: { t: number; p: number; realised: number | null }[] = [];
  let hits = 0;
  let n = 0;
  for (let k = 0; k < predTs.length; k++) {
    const ms = predTs[k] > 1e15 ? Math.floor(predTs[k] / 1e6) : predTs[k];
    const i = idx.get(ms);
    let realised: number | null = null;
    if (i !== undefined && i + 1 < close.length && close[i] != null && close[i + 1] != null) {
      realised = close[i + 1] > close[i] ? 1 : 0;
      n++;
      if ((preds[k] >= 0.5 ? 1 : 0) === realised) hits++;
    }
    rows.push({ t: ms, p: preds[k], realised });
  }
  return { rows, hitRate: n ? hits / n : null };
}

export function fmtNum(v: unknown, digits = 2): string {
  if (v == null || v === "") return "—";
  const x = Number(v);
  if (!Number.isFinite(x)) return String(v);
  if (Math.abs(x) >= 1e6) return x.toLocaleString("en-US", { maximumFractionDigits: 0 });
  return x.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

export function fmtPct(v: unknown, digits = 2): string {
  const x = Number(v);
  if (v == null || !Number.isFinite(x)) return "—";
  return `${(x * 100).toFixed(digits)}%`;
}

/** Epoch (ns, ms or s) → "YYYY-MM-DD HH:MM" UTC ("YYYY-MM-DD" at midnight). */
export function fmtTs(ts: unknown): string {
  const x = Number(ts);
  if (ts == null || !Number.isFinite(x)) return "—";
  const ms = x > 1e15 ? x / 1e6 : x > 1e11 ? x : x * 1000;
  const iso = new Date(ms).toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.slice(0, 16).replace("T", " ");
}
