import { useMemo, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { FetchPanel } from "../components/FetchPanel";
import { PriceChart, type Marker, type Overlay } from "../components/PriceChart";
import { Card, Empty, ErrorBox, Loading } from "../components/States";
import { HealthBanner } from "../components/HealthBanner";
import { api, ApiError, get, post, V1 } from "../lib/api";
import { toMs, type ColumnarBars } from "../lib/bars";
import { PAGE_ENGINES } from "../lib/health";
import { useInstruments } from "../lib/queries";
import { fmtNum, fmtTs } from "../lib/shape";

const OVERLAYS = [
  { spec: "sma(20)", color: "#f2cc60" },
  { spec: "ema(50)", color: "#58a6ff" },
  { spec: "bbands(20)", color: "#a371f7" },
  { spec: "vwap", color: "#ff7b72" },
];
const CANDLES = ["CDLENGULFING", "CDLHAMMER", "CDLDOJI", "CDLMORNINGSTAR", "CDLEVENINGSTAR"];
const CHARTS = ["double_top", "double_bottom", "head_and_shoulders", "ascending_triangle", "bull_flag", "bear_flag"];

interface IndicatorsReply { t: number[]; columns: Record<string, (number | null)[]> }
interface PatternsReply { candles: { pattern: string; ts: number; value: number }[]; chart: { kind: string; direction: number; end_ts: number; confidence: number }[] }

export default function Market() {
  const instruments = useInstruments();
  const [symbol, setSymbol] = useState("");
  const [timeframe, setTimeframe] = useState("1d");
  const [overlays, setOverlays] = useState<string[]>(["sma(20)"]);
  const [candles, setCandles] = useState<string[]>(["CDLENGULFING"]);
  const [charts, setCharts] = useState<string[]>(["double_top", "double_bottom"]);
  const [search, setSearch] = useState("");
  const sym = symbol || instruments.data?.[0]?.symbol || "";
  const inst = instruments.data?.find((i) => i.symbol === sym);
  const timeframes = [...new Set(["1m", "5m", "15m", "1h", "1d", "1w", ...(inst?.series.map((s) => s.timeframe) ?? [])])];

  const bars = useQuery({
    queryKey: ["bars", sym, timeframe],
    queryFn: () => get<ColumnarBars>(`${V1}/marketdata/bars`, { symbol: sym, timeframe }),
    enabled: !!sym,
  });
  const ind = useQuery({
    queryKey: ["ind", sym, timeframe, overlays],
    queryFn: () => post<IndicatorsReply>(`${V1}/strategy/indicators`, { symbol: sym, timeframe, indicators: overlays }),
    enabled: !!sym && overlays.length > 0 && !!bars.data?.t.length,
  });
  const pats = useQuery({
    queryKey: ["pats", sym, timeframe, candles, charts],
    queryFn: () => post<PatternsReply>(`${V1}/strategy/patterns`, { symbol: sym, timeframe, candles, chart: charts }),
    enabled: !!sym && (candles.length > 0 || charts.length > 0) && !!bars.data?.t.length,
  });

  const lines: Overlay[] = useMemo(() => {
    if (!bars.data || !ind.data) return [];
    const pos = new Map<number, number>();
    ind.data.t.forEach((t, i) => pos.set(t, i));
    const colors = ["#f2cc60", "#58a6ff", "#a371f7", "#ff7b72", "#3fb950", "#db6d28"];
    return Object.entries(ind.data.columns).map(([key, vals], k) => ({
      key, color: OVERLAYS.find((o) => key.startsWith(o.spec.replace(/\(.*/, "")))?.color ?? colors[k % colors.length],
      values: bars.data!.t.map((t) => { const i = pos.get(t); return i === undefined ? null : vals[i]; }),
    }));
  }, [bars.data, ind.data]);
  const markers: Marker[] = useMemo(() => {
    if (!pats.data) return [];
    return [
      ...pats.data.candles.map((c) => ({ t: toMs(c.ts), text: c.pattern.replace(/^CDL/, "").slice(0, 3), up: c.value > 0 })),
      ...pats.data.chart.map((c) => ({ t: toMs(c.end_ts), text: c.kind, up: c.direction > 0 })),
    ];
  }, [pats.data]);

  const toggle = (list: string[], set: (v: string[]) => void, v: string) => set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);
  const filtered = (instruments.data ?? []).filter((i) => i.symbol.toLowerCase().includes(search.toLowerCase()));

  return (
    <div>
      <h1>Market</h1>
      <HealthBanner engines={PAGE_ENGINES.market} />
      <Card>
        <div className="row">
          <label>Search symbol
            <input value={search} onChange={(e) => setSearch(e.target.value)} placeholder="AAPL" aria-label="Search symbol"
              onKeyDown={(e) => { if (e.key === "Enter" && filtered[0]) setSymbol(filtered[0].symbol); }} />
          </label>
          <label>Symbol
            <select value={sym} onChange={(e) => setSymbol(e.target.value)} aria-label="Symbol" data-testid="symbol-select">
              {filtered.map((i) => <option key={i.symbol} value={i.symbol}>{i.symbol}</option>)}
            </select>
          </label>
          <label>Timeframe
            <select value={timeframe} onChange={(e) => setTimeframe(e.target.value)} aria-label="Timeframe">
              {timeframes.map((t) => <option key={t}>{t}</option>)}
            </select>
          </label>
          <fieldset className="row" style={{ border: 0, margin: 0, padding: 0 }}>
            <legend className="muted small">Overlays</legend>
            {OVERLAYS.map((o) => (
              <label key={o.spec} style={{ flexDirection: "row", alignItems: "center" }}>
                <input type="checkbox" checked={overlays.includes(o.spec)} onChange={() => toggle(overlays, setOverlays, o.spec)} />
                <span style={{ color: o.color }}>{o.spec}</span>
              </label>
            ))}
          </fieldset>
        </div>
        <div className="row small">
          <span className="muted">Candles:</span>
          {CANDLES.map((c) => (
            <label key={c} style={{ flexDirection: "row", alignItems: "center" }}>
              <input type="checkbox" checked={candles.includes(c)} onChange={() => toggle(candles, setCandles, c)} />{c.replace(/^CDL/, "")}
            </label>
          ))}
          <span className="muted">Chart patterns:</span>
          {CHARTS.map((c) => (
            <label key={c} style={{ flexDirection: "row", alignItems: "center" }}>
              <input type="checkbox" checked={charts.includes(c)} onChange={() => toggle(charts, setCharts, c)} />{c}
            </label>
          ))}
        </div>
        {instruments.isLoading ? <Loading /> : instruments.isError ? <ErrorBox error={instruments.error} /> :
          !instruments.data?.length ? <Empty>No instruments yet: ingest a CSV below or run `nautilus sample`.</Empty> :
          bars.isLoading ? <Loading label="Loading bars…" /> : bars.isError ? <ErrorBox error={bars.error} /> :
          !bars.data?.t.length ? <Empty>No {timeframe} bars for {sym}.</Empty> :
          <>
            <div className="muted small" data-testid="bars-info">
              {sym} {timeframe}: {bars.data.t.length.toLocaleString()} bars, {fmtTs(bars.data.t[0])} → {fmtTs(bars.data.t[bars.data.t.length - 1])}
              {" · last close "}{fmtNum(bars.data.close[bars.data.close.length - 1])}
              {ind.isError && <span className="down"> · indicators: {(ind.error as Error).message}</span>}
              {pats.isError && <span className="down"> · patterns: {(pats.error as Error).message}</span>}
              {pats.data && ` · ${markers.length} pattern markers`}
            </div>
            <PriceChart bars={bars.data} overlays={lines} markers={markers} />
          </>}
      </Card>
      <FetchPanel onShow={(s, tf) => { setSearch(""); setSymbol(s); setTimeframe(tf); }} />
      <IngestForm />
    </div>
  );
}

function IngestForm() {
  const qc = useQueryClient();
  const file = useRef<HTMLInputElement>(null);
  const [symbol, setSymbol] = useState("");
  const [timeframe, setTimeframe] = useState("1d");
  const [tz, setTz] = useState("UTC");
  const [local, setLocal] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: (fd: FormData) => api<{ symbol: string; rows_written: number; total_rows: number; first_ts: number; last_ts: number }>(
      `${V1}/marketdata/ingest`, { method: "POST", body: fd }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["instruments"] }),
  });
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const f = file.current?.files?.[0];
    if (!f) return setLocal("choose a CSV or Parquet file");
    if (!symbol.trim()) return setLocal("symbol is required");
    if (!/^[1-9][0-9]*[smhdw]$/.test(timeframe)) return setLocal("timeframe must look like 1m, 5m, 1h, 1d");
    setLocal(null);
    const fd = new FormData();
    fd.append("file", f);
    fd.append("symbol", symbol.trim().toUpperCase());
    fd.append("timeframe", timeframe);
    fd.append("tz", tz);
    m.mutate(fd);
  };
  return (
    <Card title="Ingest a CSV">
      <form className="row" onSubmit={submit} aria-label="Ingest CSV">
        <label>File<input type="file" ref={file} accept=".csv,.parquet,text/csv" aria-label="CSV file" /></label>
        <label>Symbol<input value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Ingest symbol" size={10} /></label>
        <label>Timeframe<input value={timeframe} onChange={(e) => setTimeframe(e.target.value)} size={5} aria-label="Ingest timeframe" /></label>
        <label>Time zone<input value={tz} onChange={(e) => setTz(e.target.value)} size={16} aria-label="Time zone" /></label>
        <button className="primary" type="submit" disabled={m.isPending}>{m.isPending ? "Uploading…" : "Ingest"}</button>
      </form>
      {local && <div className="field-error" role="alert">{local}</div>}
      {m.isError && <div className="field-error" role="alert" data-testid="ingest-error">
        {(m.error as ApiError).message}{(m.error as ApiError).field ? ` (field: ${(m.error as ApiError).field})` : ""}</div>}
      {m.data && <div className="up small" role="status">Ingested {m.data.rows_written} rows into {m.data.symbol} ({m.data.total_rows} total).</div>}
      <p className="muted small">Columns: a timestamp (ts/date/datetime) and open, high, low, close, volume. Validation errors from the server are shown here.</p>
    </Card>
  );
}
