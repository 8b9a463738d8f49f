import { useMemo, useState } from "react";
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { EChart } from "../components/EChart";
import { DataTable } from "../components/DataTable";
import { HealthBanner } from "../components/HealthBanner";
import { Card, Empty, ErrorBox, Loading, QueryView } from "../components/States";
import { ApiError, api, get, post, V1 } from "../lib/api";
import { PAGE_ENGINES } from "../lib/health";
import { binIndex, fmtNum, fmtPct, fmtTs, histogram } from "../lib/shape";
import { parsePortfolio } from "../lib/parse";

const METHODS = ["historical", "historical_ew", "fhs", "normal", "t", "cornish_fisher"];
interface VarReply { method: string; var: number; cvar: number; components: Record<string, { component_var: number; component_cvar: number }>; observations: number }
interface VarBacktest { exceptions: { ts: number; pnl: number; var: number }[]; kupiec: Record<string, number>; christoffersen: Record<string, number>; zone: string; t: number[]; pnl: (number | null)[]; var: (number | null)[] }
interface Stress { results: { start_ts: number; end_ts: number; pnl: number; contributions: Record<string, number> }[] }

export default function Risk() {
  const [text, setText] = useState("AAPL=100000, MSFT=50000, SPY=80000");
  const [confidence, setConfidence] = useState("0.99");
  const [horizon, setHorizon] = useState("1");
  const [run, setRun] = useState<{ portfolio: Record<string, number>; confidence: number; horizon: number } | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const c = Number(confidence);
      if (!(c > 0.5 && c < 1)) throw new Error("confidence must be between 0.5 and 1");
      const h = Number(horizon);
      if (!Number.isInteger(h) || h < 1) throw new Error("horizon must be a whole number of days ≥ 1");
      setRun({ portfolio: parsePortfolio(text), confidence: c, horizon: h });
      setFormError(null);
    } catch (err) {
      setFormError((err as Error).message);
    }
  };
  return (
    <div>
      <h1>Risk</h1>
      <HealthBanner engines={PAGE_ENGINES.risk} />
      <Card title="Portfolio">
        <form className="row" onSubmit={submit} aria-label="Risk portfolio">
          <label>Positions (SYMBOL=value)<input size={44} value={text} onChange={(e) => setText(e.target.value)} aria-label="Positions" /></label>
          <label>Confidence<input size={5} value={confidence} onChange={(e) => setConfidence(e.target.value)} aria-label="Confidence" /></label>
          <label>Horizon (days)<input size={3} value={horizon} onChange={(e) => setHorizon(e.target.value)} aria-label="Horizon" /></label>
          <button className="primary" type="submit" data-testid="run-risk">Compute</button>
        </form>
        {formError && <div className="field-error" role="alert">{formError}</div>}
      </Card>
      {!run ? <Empty>Enter a portfolio and press Compute.</Empty> : <RiskResults {...run} />}
      <LimitsCard />
    </div>
  );
}

function RiskResults({ portfolio, confidence, horizon }: { portfolio: Record<string, number>; confidence: number; horizon: number }) {
  const vars = useQueries({
    queries: METHODS.map((method) => ({
      queryKey: ["var", portfolio, confidence, horizon, method],
      queryFn: () => post<VarReply>(`${V1}/risk/var`, { portfolio, method, confidence, horizon }),
      retry: 0,
    })),
  });
  const vbt = useQuery({ queryKey: ["vbt", portfolio, confidence], retry: 0,
    queryFn: () => post<VarBacktest>(`${V1}/risk/backtest`, { portfolio, method: "historical", confidence, window: 250 }) });
  const stress = useQuery({ queryKey: ["stress", portfolio], retry: 0,
    queryFn: () => post<Stress>(`${V1}/risk/stress`, { portfolio, scenario: "historical", window: 5, count: 5 }) });
  const hist = vars[0].data;

  const byMethod = {
    xAxis: { type: "category", data: METHODS },
    yAxis: { type: "value" }, legend: { top: 0, textStyle: { color: "#c9d1d9" } },
    series: [
      { type: "bar", name: "VaR", data: vars.map((q) => q.data?.var ?? null) },
      { type: "bar", name: "CVaR", data: vars.map((q) => q.data?.cvar ?? null) },
    ],
  };
  const comp = hist && {
    xAxis: { type: "category", data: Object.keys(hist.components) }, yAxis: { type: "value" },
    legend: { top: 0, textStyle: { color: "#c9d1d9" } },
    series: [
      { type: "bar", name: "component VaR", data: Object.values(hist.components).map((c) => c.component_var) },
      { type: "bar", name: "component CVaR", data: Object.values(hist.components).map((c) => c.component_cvar) },
    ],
  };
  const distOpt = useMemo(() => {
    if (!vbt.data) return null;
    const h = histogram(vbt.data.pnl, 50);
    const lines = hist ? [
      { name: `VaR ${fmtNum(hist.var, 0)}`, xAxis: binIndex(h, -hist.var), lineStyle: { color: "#d29922" } },
      { name: `CVaR ${fmtNum(hist.cvar, 0)}`, xAxis: binIndex(h, -hist.cvar), lineStyle: { color: "#ef5350" } },
    ].filter((l) => l.xAxis >= 0) : [];
    return {
      xAxis: { type: "category", data: h.centers.map((c) => fmtNum(c, 0)), name: "daily P&L" }, yAxis: { type: "value", name: "days" },
      series: [{ type: "bar", name: "P&L", data: h.counts, barCategoryGap: "5%",
        markLine: { symbol: "none", label: { formatter: "{b}", color: "#c9d1d9" }, data: lines } }],
    };
  }, [vbt.data, hist]);
  const excOpt = useMemo(() => {
    if (!vbt.data) return null;
    const x = vbt.data.t.map(fmtTs);
    const excSet = new Map(vbt.data.exceptions.map((e) => [fmtTs(e.ts), e.pnl]));
    return {
      xAxis: { type: "category", data: x }, yAxis: { type: "value" }, legend: { top: 0, textStyle: { color: "#c9d1d9" } },
      dataZoom: [{ type: "inside" }],
      series: [
        { type: "line", name: "P&L", data: vbt.data.pnl, showSymbol: false, lineStyle: { width: 1 } },
        { type: "line", name: "−VaR", data: vbt.data.var.map((v) => v == null ? null : -v), showSymbol: false, color: "#d29922" },
        { type: "scatter", name: "exceptions", data: x.map((d) => excSet.get(d) ?? null), color: "#ef5350", symbolSize: 8 },
      ],
    };
  }, [vbt.data]);

  return (
    <>
      <div className="grid">
        <Card title="VaR / CVaR by method">
          <DataTable testId="var-table" rows={METHODS.map((m, i) => ({ m, q: vars[i] }))} rowKey={(r) => r.m} columns={[
            { key: "m", label: "Method" },
            { key: "var", label: `VaR ${fmtPct(confidence, 1)}`, num: true, render: (r) => r.q.isLoading ? "…" : r.q.isError ? <span className="down">{(r.q.error as ApiError).message}</span> : fmtNum(r.q.data?.var) },
            { key: "cvar", label: "CVaR", num: true, render: (r) => r.q.isLoading ? "…" : fmtNum(r.q.data?.cvar) },
            { key: "obs", label: "Obs", num: true, render: (r) => fmtNum(r.q.data?.observations) },
          ]} />
          <EChart option={byMethod} height={220} label="VaR and CVaR by method" />
        </Card>
        <Card title="P&L distribution (historical, with VaR / CVaR)">
          {vbt.isLoading ? <Loading /> : vbt.isError ? <ErrorBox error={vbt.error} /> : distOpt && <EChart option={distOpt} height={300} testId="pnl-hist" label="P&L histogram" />}
        </Card>
        <Card title="Component VaR">
          {vars[0].isLoading ? <Loading /> : vars[0].isError ? <ErrorBox error={vars[0].error} /> : comp && <EChart option={comp} height={260} label="Component VaR" />}
        </Card>
        <Card title="Stress test (worst historical 5-day windows)">
          <QueryView q={stress} isEmpty={(d) => !d.results.length} empty="No stress scenarios.">
            {(d) => <DataTable testId="stress-table" rows={d.results} columns={[
              { key: "start", label: "From", render: (r) => fmtTs(r.start_ts) }, { key: "end", label: "To", render: (r) => fmtTs(r.end_ts) },
              { key: "pnl", label: "P&L", num: true, render: (r) => <span className={r.pnl < 0 ? "down" : "up"}>{fmtNum(r.pnl, 0)}</span> },
              ...Object.keys(portfolio).map((s) => ({ key: s, label: s, num: true, render: (r: Stress["results"][number]) => fmtNum(r.contributions[s], 0) })),
            ]} />}
          </QueryView>
        </Card>
      </div>
      <Card title="VaR backtest (250-day rolling, historical)">
        {vbt.isLoading ? <Loading /> : vbt.isError ? <ErrorBox error={vbt.error} /> : vbt.data && <>
          <p className="small">Exceptions: <strong>{vbt.data.exceptions.length}</strong> (expected {fmtNum(vbt.data.kupiec.expected, 1)}) · Kupiec p = {fmtNum(vbt.data.kupiec.p_value, 3)}
            {" · "}Christoffersen p = {fmtNum(vbt.data.christoffersen.p_value_cc, 3)} · Basel zone <span className={`pill ${vbt.data.zone}`}>{vbt.data.zone}</span></p>
          {excOpt && <EChart option={excOpt} height={280} label="VaR exceptions" />}
        </>}
      </Card>
    </>
  );
}

function LimitsCard() {
  const qc = useQueryClient();
  const limits = useQuery({ queryKey: ["limits"], retry: 0, queryFn: async () => {
    try {
      return await get<{ account: string; limits: Record<string, unknown> }>(`${V1}/risk/limits`, { account: "default" });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  } });
  const decisions = useQuery({ queryKey: ["decisions"], queryFn: () => get<{ items: Record<string, unknown>[] }>(`${V1}/risk/decisions`, { limit: 50 }).then((r) => r.items) });
  const [maxNotional, setMaxNotional] = useState("");
  const [maxUnits, setMaxUnits] = useState("");
  const save = useMutation({
    mutationFn: () => api(`${V1}/risk/limits`, { method: "PUT", body: { account: "default", limits: {
      max_order_notional: maxNotional ? Number(maxNotional) : null, max_position_units: maxUnits ? Number(maxUnits) : null } } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["limits"] }),
  });
  const lim = limits.data?.limits ?? (limits.data as Record<string, unknown> | null | undefined);
  return (
    <div className="grid">
      <Card title="Pre-trade limits (account default)">
        {limits.isLoading ? <Loading /> : limits.isError ? <ErrorBox error={limits.error} /> : !lim ? <Empty>No limits configured.</Empty> :
          <DataTable rows={Object.entries(lim).filter(([, v]) => v != null && typeof v !== "object" || (v && typeof v === "object"))} rowKey={([k]) => k}
            columns={[{ key: "k", label: "Limit", render: ([k]) => k }, { key: "v", label: "Value", num: true, render: ([, v]) => typeof v === "object" ? JSON.stringify(v) : fmtNum(v) }]} />}
        <form className="row" style={{ marginTop: 8 }} onSubmit={(e) => { e.preventDefault(); save.mutate(); }} aria-label="Set limits">
          <label>Max order notional<input size={10} value={maxNotional} onChange={(e) => setMaxNotional(e.target.value)} aria-label="Max order notional" /></label>
          <label>Max position units<input size={10} value={maxUnits} onChange={(e) => setMaxUnits(e.target.value)} aria-label="Max position units" /></label>
          <button type="submit" disabled={save.isPending}>Save limits</button>
        </form>
        {save.isError && <ErrorBox error={save.error} />}
      </Card>
      <Card title="Recent decisions">
        <QueryView q={decisions} isEmpty={(d) => !d.length} empty="No decisions yet: orders are checked here before they reach the book.">
          {(d) => <DataTable rows={d} columns={[
            { key: "when", label: "When", render: (r) => String(r.created_at ?? r.ts ?? "—").slice(0, 19) },
            { key: "account", label: "Account" }, { key: "instrument", label: "Symbol", render: (r) => String(r.instrument ?? r.symbol ?? "—") },
            { key: "quantity", label: "Qty", num: true, render: (r) => fmtNum(r.quantity) },
            { key: "accepted", label: "Decision", render: (r) => r.accepted ? <span className="pill up">accepted</span> : <span className="pill down">rejected</span> },
            { key: "reasons", label: "Reasons", render: (r) => Array.isArray(r.reasons) ? r.reasons.map((x) => (x as Record<string, unknown>).message ?? (x as Record<string, unknown>).limit ?? JSON.stringify(x)).join("; ") : "" },
          ]} />}
        </QueryView>
      </Card>
    </div>
  );
}
