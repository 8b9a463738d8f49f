/**
 * Candlestick + volume chart (TradingView lightweight-charts) that holds only a data window around the
 * visible range (see lib/bars.ts `windowFor`), so 100,000+ bars pan smoothly: on every visible-range change
 * the chart is re-sliced when the view nears an edge of the held window. Overlays are line series over the
 * same rows; markers are candlestick/chart-pattern hits. Keyboard: ←/→ pan, +/− zoom when focused.
 */
import { useEffect, useRef } from "react";
import {
  createChart, CrosshairMode, type IChartApi, type ISeriesApi, type LogicalRange, type SeriesMarker, type Time,
} from "lightweight-charts";
import { DOWN, UP, needsReslice, toLine, toSeries, windowFor, type ColumnarBars, type DataWindow } from "../lib/bars";

export interface Overlay {
  key: string;
  values: (number | null)[];
  color: string;
}

export interface Marker {
  t: number; // ms
  text: string;
  up: boolean;
}

declare global {
  interface Window {
    __chartStats?: { total: number; held: number; reslices: number; from: number; to: number };
  }
}

export function PriceChart({ bars, overlays = [], markers = [], height = 420 }: {
  bars: ColumnarBars; overlays?: Overlay[]; markers?: Marker[]; height?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chartRef = useRef<IChartApi | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const chart = createChart(el.current, {
      height,
      autoSize: true,
      layout: { background: { color: "#0d1117" }, textColor: "#c9d1d9" },
      grid: { vertLines: { color: "#1f2630" }, horzLines: { color: "#1f2630" } },
      crosshair: { mode: CrosshairMode.Normal },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#30363d" },
      rightPriceScale: { borderColor: "#30363d" },
    });
    chartRef.current = chart;
    const candles = chart.addCandlestickSeries({
      upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false,
    });
    const volume = chart.addHistogramSeries({ priceScaleId: "vol", priceFormat: { type: "volume" } });
    chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    const lines: ISeriesApi<"Line">[] = overlays.map((o) =>
      chart.addLineSeries({ color: o.color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false }));
    const n = bars.t.length;
    const stats = { total: n, held: 0, reslices: 0, from: 0, to: 0 };
    window.__chartStats = stats;
    let win: DataWindow = { from: 0, to: 0 };
    let applying = false;
    const sortedMarkers = [...markers].sort((a, b) => a.t - b.t);

    const apply = (next: DataWindow, visible?: { from: number; to: number }) => {
      applying = true;
      win = next;
      const s = toSeries(bars, next.from, next.to);
      candles.setData(s.candles as never);
      volume.setData(s.volume as never);
      overlays.forEach((o, i) => lines[i].setData(toLine(bars.t, o.values, next.from, next.to) as never));
      const lo = n ? bars.t[next.from] ?? 0 : 0;
      const hi = n ? bars.t[Math.max(next.from, next.to - 1)] ?? 0 : 0;
      const ms: SeriesMarker<Time>[] = sortedMarkers.filter((m) => m.t >= lo && m.t <= hi).slice(0, 2000).map((m) => ({
        time: Math.floor(m.t / 1000) as Time, position: m.up ? "belowBar" : "aboveBar",
        color: m.up ? UP : DOWN, shape: m.up ? "arrowUp" : "arrowDown", text: m.text,
      }));
      candles.setMarkers(ms);
      if (visible) chart.timeScale().setVisibleLogicalRange({ from: visible.from - next.from, to: visible.to - next.from });
      stats.held = next.to - next.from;
      stats.from = next.from;
      stats.to = next.to;
      applying = false;
    };

    const initialSpan = Math.min(n, 300);
    apply(windowFor(n, n - initialSpan, n), { from: n - initialSpan, to: n + 3 });

    const onRange = (r: LogicalRange | null) => {
      if (!r || applying) return;
      const gFrom = win.from + r.from;
      const gTo = win.from + r.to;
      if (needsReslice(win, n, gFrom, gTo)) {
        stats.reslices++;
        apply(windowFor(n, gFrom, gTo), { from: gFrom, to: gTo });
      }
    };
    chart.timeScale().subscribeVisibleLogicalRangeChange(onRange);

    const onKey = (e: KeyboardEvent) => {
      const ts = chart.timeScale();
      const r = ts.getVisibleLogicalRange();
      if (!r) return;
      const span = r.to - r.from;
      let next: { from: number; to: number } | null = null;
      if (e.key === "ArrowLeft") next = { from: r.from - span * 0.2, to: r.to - span * 0.2 };
      else if (e.key === "ArrowRight") next = { from: r.from + span * 0.2, to: r.to + span * 0.2 };
      else if (e.key === "+" || e.key === "=") next = { from: r.from + span * 0.15, to: r.to - span * 0.15 };
      else if (e.key === "-") next = { from: r.from - span * 0.25, to: r.to + span * 0.25 };
      if (next) {
        e.preventDefault();
        ts.setVisibleLogicalRange(next);
      }
    };
    const node = el.current;
    node.addEventListener("keydown", onKey);
    return () => {
      node.removeEventListener("keydown", onKey);
      chart.timeScale().unsubscribeVisibleLogicalRangeChange(onRange);
      chart.remove();
      chartRef.current = null;
    };
  }, [bars, overlays, markers, height]);
  return (
    <div ref={el} className="price-chart" style={{ height }} tabIndex={0} data-testid="price-chart"
      aria-label="Price chart: arrow keys pan, + and - zoom" />
  );
}
