/**
 * Columnar bars (the gateway's `GET /marketdata/bars`: `t` in epoch ms UTC, `open`..`volume` arrays) →
 * lightweight-charts series, plus the data-window arithmetic that keeps a 100,000-bar chart smooth: the chart
 * only ever holds a window of bars around the visible range, re-sliced as the user pans. Pure, no I/O.
 */
export interface ColumnarBars {
  symbol?: string;
  timeframe?: string;
  count?: number;
  t: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

export interface Candle {
  time: number; // UTC seconds (lightweight-charts' UTCTimestamp)
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface VolumeBar {
  time: number;
  value: number;
  color: string;
}

export const UP = "#26a69a";
export const DOWN = "#ef5350";

/** Validate that every column has the same length as `t`; throws with the column's name otherwise. */
export function checkColumns(bars: ColumnarBars): number {
  const n = bars.t?.length ?? 0;
  for (const k of ["open", "high", "low", "close", "volume"] as const) {
    if ((bars[k]?.length ?? 0) !== n) throw new Error(`column ${k} has ${bars[k]?.length ?? 0} values, t has ${n}`);
  }
  return n;
}

/** Candles and volume bars for rows [from, to) (clamped). Times are ms → s; rows with a null price are skipped. */
export function toSeries(bars: ColumnarBars, from = 0, to?: number): { candles: Candle[]; volume: VolumeBar[] } {
  const n = checkColumns(bars);
  const lo = Math.max(0, Math.min(from, n));
  const hi = Math.max(lo, Math.min(to ?? n, n));
  const candles: Candle[] = [];
  const volume: VolumeBar[] = [];
  for (let i = lo; i < hi; i++) {
    const o = bars.open[i], h = bars.high[i], l = bars.low[i], c = bars.close[i];
    if (o == null || h == null || l == null || c == null) continue;
    const time = Math.floor(bars.t[i] / 1000);
    candles.push({ time, open: o, high: h, low: l, close: c });
    const v = bars.volume[i];
    volume.push({ time, value: v == null || !Number.isFinite(v) ? 0 : v, color: c >= o ? UP + "80" : DOWN + "80" });
  }
  return { candles, volume };
}

/** A line series (e.g. an indicator column) aligned to `t` (ms), nulls dropped. */
export function toLine(t: number[], values: (number | null)[], from = 0, to?: number): { time: number; value: number }[] {
  const out: { time: number; value: number }[] = [];
  const hi = Math.min(to ?? t.length, t.length);
  for (let i = Math.max(0, from); i < hi; i++) {
    const v = values[i];
    if (v != null && Number.isFinite(v)) out.push({ time: Math.floor(t[i] / 1000), value: v });
  }
  return out;
}

export interface DataWindow {
  from: number; // first row index held by the chart (inclusive)
  to: number; // last row index (exclusive)
}

/**
 * The window of rows to hold for a visible logical range [visFrom, visTo] expressed in row indices of the
 * whole series: the visible span plus `pad` spans on each side, at least `minSize` rows, clamped to [0, n).
 */
export function windowFor(n: number, visFrom: number, visTo: number, pad = 2, minSize = 2000): DataWindow {
  if (n <= 0) return { from: 0, to: 0 };
  const span = Math.max(1, Math.ceil(visTo - visFrom));
  const half = Math.max(Math.ceil(minSize / 2), Math.ceil(span * (pad + 0.5)));
  const mid = Math.round((visFrom + visTo) / 2);
  let from = mid - half;
  let to = mid + half;
  if (from < 0) {
    to -= from;
    from = 0;
  }
  if (to > n) {
    from = Math.max(0, from - (to - n));
    to = n;
  }
  return { from, to };
}

/**
 * Whether a held window must be re-sliced: the visible range came within `margin` spans of an edge that is
 * not the series' own edge.
 */
export function needsReslice(win: DataWindow, n: number, visFrom: number, visTo: number, margin = 0.5): boolean {
  const span = Math.max(1, visTo - visFrom);
  const nearLeft = visFrom - win.from < span * margin && win.from > 0;
  const nearRight = win.to - visTo < span * margin && win.to < n;
  return nearLeft || nearRight;
}

/** Map ns/ms epoch to ms (the APIs mix: bars use ms, engines' `*_ts` use ns). */
export function toMs(ts: number): number {
  return ts > 1e15 ? Math.floor(ts / 1e6) : ts;
}
