/**
 * A thin ECharts wrapper over the tree-shaken core (only the charts and components used here are bundled),
 * with the dark theme, resize on container changes and option updates without re-creating the chart.
 */
import { useEffect, useRef } from "react";
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, HeatmapChart, LineChart, ScatterChart, DataZoomComponent, GridComponent, LegendComponent,
  MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

export type EChartsOption = echarts.EChartsCoreOption;

const BASE = {
  backgroundColor: "transparent",
  textStyle: { color: "#c9d1d9" },
  grid: { left: 56, right: 20, top: 30, bottom: 40 },
  tooltip: { trigger: "axis" },
};

export function EChart({ option, height = 280, testId, label }: {
  option: EChartsOption; height?: number; testId?: string; label?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const c = echarts.init(el.current, "dark", { renderer: "canvas" });
    chart.current = c;
    const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => c.resize()) : null;
    ro?.observe(el.current);
    return () => {
      ro?.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption({ ...BASE, ...option }, { notMerge: true });
  }, [option]);
  return <div ref={el} style={{ height, width: "100%" }} data-testid={testId} role="img" aria-label={label} />;
}
