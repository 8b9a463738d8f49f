import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { EChart } from "../components/EChart";
import { DataTable } from "../components/DataTable";
import { HealthBanner } from "../components/HealthBanner";
import { Card, Empty, ErrorBox, Loading, QueryView } from "../components/States";
import { get, post, V1 } from "../lib/api";
import { getConfig } from "../lib/config";
import { PAGE_ENGINES } from "../lib/health";
import { useInstruments } from "../lib/queries";
import { drawdown, fmtNum, fmtPct, fmtTs, sweepHeatmap } from "../lib/shape";

interface Param { name: string; type: string; default: number | string; doc?: string }
interface StrategyDef { name: string; description: string; params: Param[]; needs_predictions: boolean }
interface Backtest {
  id: number | null; strategy: string; symbol: string; stats: Record<string, number | null>;
  trades: Record<string, unknown>[]; t?: number[]; equity?: (number | null)[];
}
interface Sweep { params: string[]; rows: Record<string, unknown>[]; metric: string; evaluated: number; best: Record<string, unknown> }
interface ScanRow { symbol: string; ts: number; close: number; patterns: Record<string, number>; conditions: Record<string, boolean>; values: Record<string, number>; matched: boolean }

const PCT = new Set(["total_return", "annual_return", "annual_volatility", "max_drawdown", "win_rate", "exposure", "avg_trade_return"]);

export default function Strategy() {
  const strategies = useQuery({ queryKey: ["strategies"], queryFn: () => get<{ items: StrategyDef[] }>(`${V1}/strategy/strategies`).then((r) => r.items) });
  const instruments = useInstruments();
  const [name, setName] = useState("sma_cross");
  const [symbol, setSymbol] = useState("AAPL");
  const [params, setParams] = useState<Record<string, string>>({});
  const [fees, setFees] = useState("0");
  const def = strategies.data?.find((s) => s.name === name);
  const usable = (strategies.data ?? []).filter((s) => !s.needs_predictions);
  const paramValues = () => Object.fromEntries((def?.params ?? []).map((p) => {
    const raw = params[`${name}.${p.name}`] ?? String(p.default);
    return [p.name, p.type === "int" || p.type === "float" ? Number(raw) : raw];
  }));
  const qc = useQueryClient();
  const bt = useMutation({
    mutationFn: () => post<Backtest>(`${V1}/strategy/backtest`, { strategy: name, symbol, params: paramValues(), config: { fees_bps: Number(fees) }, save: true }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["backtests"] }),
  });
  const history = useQuery({ queryKey: ["backtests"], queryFn: () => get<{ items: Record<string, unknown>[] }>(`${V1}/strategy/backtests`, { limit: 20 }).then((r) => r.items) });

  return (
    <div>
      <h1>Strategy</h1>
      <HealthBanner engines={PAGE_ENGINES.strategy} />
      <Card title="Backtest">
        {strategies.isLoading ? <Loading /> : strategies.isError ? <ErrorBox error={strategies.error} /> :
          <form className="row" onSubmit={(e) => { e.preventDefault(); bt.mutate(); }} aria-label="Backtest">
            <label>Strategy
              <select value={name} onChange={(e) => setName(e.target.value)} aria-label="Strategy">
                {usable.map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
              </select>
            </label>
            <label>Symbol
              <select value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Backtest symbol">
                {(instruments.data ?? [{ symbol }]).map((i) => <option key={i.symbol}>{i.symbol}</option>)}
              </select>
            </label>
            {def?.params.map((p) => (
              <label key={p.name} title={p.doc}>{p.name}
                <input size={7} value={params[`${name}.${p.name}`] ?? String(p.default)} aria-label={`param ${p.name}`}
                  onChange={(e) => setParams({ ...params, [`${name}.${p.name}`]: e.target.value })} />
              </label>
            ))}
            <label>Fees (bps)<input size={5} value={fees} onChange={(e) => setFees(e.target.value)} aria-label="Fees bps" /></label>
            <button className="primary" type="submit" disabled={bt.isPending} data-testid="run-backtest">{bt.isPending ? "Running…" : "Run backtest"}</button>
          </form>}
        {def && <p className="muted small">{def.description}</p>}
        {bt.isError && <ErrorBox error={bt.error} title="Backtest failed" />}
        {bt.data && <BacktestResult r={bt.data} />}
        {!bt.data && !bt.isPending && !bt.isError && <Empty>Configure and run a backtest.</Empty>}
      </Card>
      <div className="grid">
        <SweepCard strategy={name} symbol={symbol} def={def} />
        <ScanCard symbols={(instruments.data ?? []).map((i) => i.symbol)} />
      </div>
      <Card title="Saved backtests">
        <QueryView q={history} isEmpty={(d) => !d.length} empty="No saved backtests yet.">
          {(d) => <DataTable rows={d} rowKey={(r) => String(r.id)} columns={[
            { key: "id", label: "ID", num: true }, { key: "strategy", label: "Strategy" }, { key: "symbol", label: "Symbol" },
            { key: "params", label: "Params", render: (r) => JSON.stringify(r.params ?? {}) },
            { key: "sharpe", label: "Sharpe", num: true, render: (r) => fmtNum((r.stats as Record<string, unknown> | undefined)?.sharpe ?? r.sharpe) },
            { key: "created_at", label: "Created", render: (r) => String(r.created_at ?? "—").slice(0, 19) },
            { key: "report", label: "", render: (r) => <a href={`${getConfig().apiBase}${V1}/analytics/report/${r.id}`} target="_blank" rel="noreferrer">tear sheet</a> },
          ]} />}
        </QueryView>
      </Card>
    </div>
  );
}

function BacktestResult({ r }: { r: Backtest }) {
  const { eqOpt, ddOpt } = useMemo(() => {
    const t = r.t ?? [];
    const eq = r.equity ?? [];
    const dd = drawdown(eq);
    const x = t.map((v) => fmtTs(v));
    const zoom = [{ type: "inside" }, { type: "slider", height: 18, bottom: 4 }];
    return {
      eqOpt: { grid: { left: 64, right: 20, top: 20, bottom: 64 }, xAxis: { type: "category", data: x }, yAxis: { type: "value", scale: true }, dataZoom: zoom,
        series: [{ type: "line", name: "equity", data: eq, showSymbol: false, lineStyle: { width: 1.5 } }] },
      ddOpt: { xAxis: { type: "category", data: x }, yAxis: { type: "value", axisLabel: { formatter: (v: number) => `${(v * 100).toFixed(0)}%` } },
        series: [{ type: "line", name: "drawdown", data: dd, showSymbol: false, areaStyle: { opacity: 0.3 }, color: "#ef5350" }] },
    };
  }, [r]);
  return (
    <div data-testid="backtest-result">
      <h2 style={{ margin: "8px 0" }}>{r.strategy} on {r.symbol} {r.id != null && <span className="muted small">(saved as #{r.id})</span>}</h2>
      <div className="stats" data-testid="backtest-stats">
        {Object.entries(r.stats).map(([k, v]) => (
          <div className="stat" key={k}><div className="muted small">{k.replace(/_/g, " ")}</div>
            <div className="v">{PCT.has(k) ? fmtPct(v) : fmtNum(v)}</div></div>
        ))}
      </div>
      <div className="grid" style={{ marginTop: 12 }}>
        <div><h2>Equity</h2><EChart option={eqOpt} height={260} testId="equity-chart" label="Equity curve" /></div>
        <div><h2>Drawdown</h2><EChart option={ddOpt} height={260} label="Drawdown" /></div>
      </div>
      <h2>Trades</h2>
      {!r.trades.length ? <Empty>No trades.</Empty> :
        <DataTable testId="trades-table" rows={r.trades} columns={[
          { key: "direction", label: "Side" },
          { key: "entry_ts", label: "Entry", render: (t) => fmtTs(t.entry_ts) },
          { key: "exit_ts", label: "Exit", render: (t) => fmtTs(t.exit_ts) },
          { key: "entry_price", label: "Entry px", num: true, render: (t) => fmtNum(t.entry_price) },
          { key: "exit_price", label: "Exit px", num: true, render: (t) => fmtNum(t.exit_price) },
          { key: "size", label: "Size", num: true, render: (t) => fmtNum(t.size) },
          { key: "pnl", label: "P&L", num: true, render: (t) => <span className={Number(t.pnl) >= 0 ? "up" : "down"}>{fmtNum(t.pnl)}</span> },
          { key: "return", label: "Return", num: true, render: (t) => fmtPct(t.return) },
          { key: "exit_reason", label: "Exit reason" },
        ]} />}
    </div>
  );
}

function SweepCard({ strategy, symbol, def }: { strategy: string; symbol: string; def?: StrategyDef }) {
  const names = (def?.params ?? []).slice(0, 2).map((p) => p.name);
  const [grids, setGrids] = useState<Record<string, string>>({ "sma_cross.fast": "5,10,15,20,30", "sma_cross.slow": "40,60,100,150,200" });
  const [metric, setMetric] = useState("sharpe");
  const sweep = useMutation({
    mutationFn: () => {
      const grid = Object.fromEntries(names.map((n) => [n, (grids[`${strategy}.${n}`] ?? String(def?.params.find((p) => p.name === n)?.default ?? ""))
        .split(",").map((s) => s.trim()).filter(Boolean).map(Number)]));
      return post<Sweep>(`${V1}/strategy/sweep`, { strategy, symbol, grid, metric, top: 500 });
    },
  });
  const heat = useMemo(() => sweep.data ? sweepHeatmap(sweep.data.rows, sweep.data.params, sweep.data.metric) : null, [sweep.data]);
  const opt = heat && {
    tooltip: { position: "top" },
    xAxis: { type: "category", data: heat.xs, name: heat.xName },
    yAxis: { type: "category", data: heat.ys, name: heat.yName },
    visualMap: { min: heat.min, max: heat.max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
      inRange: { color: ["#ef5350", "#30363d", "#26a69a"] }, textStyle: { color: "#c9d1d9" } },
    grid: { left: 60, right: 20, top: 20, bottom: 70 },
    series: [{ type: "heatmap", data: heat.cells, label: { show: true, formatter: (p: { value: number[] }) => p.value[2] == null ? "" : Number(p.value[2]).toFixed(2) } }],
  };
  return (
    <Card title="Parameter sweep">
      <form className="row" onSubmit={(e) => { e.preventDefault(); sweep.mutate(); }} aria-label="Sweep">
        {names.map((n) => (
          <label key={n}>{n} values
            <input size={18} value={grids[`${strategy}.${n}`] ?? String(def?.params.find((p) => p.name === n)?.default ?? "")}
              onChange={(e) => setGrids({ ...grids, [`${strategy}.${n}`]: e.target.value })} aria-label={`grid ${n}`} />
          </label>
        ))}
        <label>Metric<select value={metric} onChange={(e) => setMetric(e.target.value)} aria-label="Metric">
          {["sharpe", "sortino", "total_return", "calmar", "max_drawdown"].map((m) => <option key={m}>{m}</option>)}
        </select></label>
        <button type="submit" disabled={sweep.isPending || !names.length}>{sweep.isPending ? "Sweeping…" : "Run sweep"}</button>
      </form>
      {sweep.isError && <ErrorBox error={sweep.error} />}
      {sweep.isPending && <Loading label="Sweeping…" />}
      {opt ? <EChart option={opt} height={300} testId="sweep-heatmap" label="Sweep heatmap" /> : !sweep.isPending && <Empty>Run a sweep to see the {metric} heatmap.</Empty>}
      {sweep.data && <p className="muted small">{sweep.data.evaluated} combinations; best: {JSON.stringify(Object.fromEntries(sweep.data.params.map((p) => [p, sweep.data!.best[p]])))} → {metric} {fmtNum(sweep.data.best[metric], 3)}</p>}
    </Card>
  );
}

function ScanCard({ symbols }: { symbols: string[] }) {
  const [pattern, setPattern] = useState("CDLENGULFING");
  const [cond, setCond] = useState("rsi(14) < 70");
  const [within, setWithin] = useState("5");
  const scan = useMutation({
    mutationFn: () => {
      const m = cond.trim().match(/^(.+?)\s*(<=|>=|<|>)\s*(-?[\d.]+)$/);
      const conditions = cond.trim() && m ? [{ indicator: m[1].trim(), op: m[2], value: Number(m[3]) }] : [];
      if (cond.trim() && !m) throw new Error("condition must look like 'rsi(14) < 30'");
      return post<{ rows: ScanRow[]; matched: number; elapsed_ms: number }>(`${V1}/strategy/scan`, {
        symbols, patterns: pattern ? [pattern] : [], conditions, within: Number(within) });
    },
  });
  return (
    <Card title="Scanner">
      <form className="row" onSubmit={(e) => { e.preventDefault(); scan.mutate(); }} aria-label="Scan">
        <label>Pattern<input value={pattern} onChange={(e) => setPattern(e.target.value)} size={16} aria-label="Scan pattern" /></label>
        <label>Condition<input value={cond} onChange={(e) => setCond(e.target.value)} size={16} aria-label="Scan condition" /></label>
        <label>Within bars<input value={within} onChange={(e) => setWithin(e.target.value)} size={3} aria-label="Within" /></label>
        <button type="submit" disabled={scan.isPending || !symbols.length}>{scan.isPending ? "Scanning…" : `Scan ${symbols.length} symbols`}</button>
      </form>
      {scan.isError && <ErrorBox error={scan.error} />}
      {!scan.data ? <Empty>Scan the universe for a pattern and a condition.</Empty> :
        <>
          <p className="muted small">{scan.data.matched} matched in {fmtNum(scan.data.elapsed_ms)} ms</p>
          <DataTable testId="scan-table" rows={scan.data.rows} rowKey={(r) => r.symbol} columns={[
            { key: "symbol", label: "Symbol" },
            { key: "matched", label: "Match", render: (r) => r.matched ? <span className="pill up">yes</span> : <span className="muted">no</span> },
            { key: "close", label: "Close", num: true, render: (r) => fmtNum(r.close) },
            { key: "patterns", label: "Patterns", render: (r) => Object.entries(r.patterns).map(([k, v]) => `${k}:${v}`).join(" ") || "—" },
            { key: "values", label: "Values", render: (r) => Object.entries(r.values).map(([k, v]) => `${k}=${fmtNum(v)}`).join(" ") },
            { key: "ts", label: "Bar", render: (r) => fmtTs(r.ts) },
          ]} />
        </>}
    </Card>
  );
}
