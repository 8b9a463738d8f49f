import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { EChart } from "../components/EChart";
import { DataTable } from "../components/DataTable";
import { HealthBanner } from "../components/HealthBanner";
import { Card, Empty, ErrorBox, QueryView } from "../components/States";
import { api, get, post, V1 } from "../lib/api";
import { PAGE_ENGINES } from "../lib/health";
import { useLive } from "../lib/live";
import { useInstruments } from "../lib/queries";
import { fmtNum, fmtTs } from "../lib/shape";
import type { WsMessage } from "../lib/ws";

export interface Order {
  id: number; account_id: number; symbol: string; side: string; type: string; tif: string; quantity: number;
  limit_price: number | null; stop_price: number | null; status: string; filled: number; avg_fill_price: number | null;
  reason: string | null; strategy: string; created_at: string; updated_at: string;
}
interface Account { id: number; name: string; cash: Record<string, number>; equity: number; unrealised_pnl: number; realised_pnl: number; fees: number; open_orders: number }
const WORKING = new Set(["open", "new", "accepted", "working", "partially_filled", "pending"]);

/** Upsert an order event into the newest-first list (pure; exported for tests). */
export function upsertOrder(list: Order[] | undefined, order: Order): Order[] {
  const cur = list ?? [];
  const i = cur.findIndex((o) => o.id === order.id);
  if (i < 0) return [order, ...cur];
  const next = cur.slice();
  next[i] = { ...cur[i], ...order };
  return next;
}

/** The order carried by a live `orders` frame (`{"kind": "order", ...row}` or `{"order": row}`), if any. */
export function orderFromEvent(data: unknown): Order | null {
  if (!data || typeof data !== "object") return null;
  const d = data as Record<string, unknown>;
  const o = (d.order && typeof d.order === "object" ? d.order : d.data && typeof d.data === "object" ? d.data : d) as Record<string, unknown>;
  return typeof o.id === "number" && typeof o.symbol === "string" ? (o as unknown as Order) : null;
}

export default function Portfolio() {
  const qc = useQueryClient();
  const accounts = useQuery({ queryKey: ["accounts"], queryFn: () => get<{ items: Account[] }>(`${V1}/portfolio/accounts`).then((r) => r.items) });
  const [account, setAccount] = useState("default");
  const orders = useQuery({ queryKey: ["orders", account], queryFn: () => get<{ items: Order[] }>(`${V1}/portfolio/orders`, { account, limit: 200 }).then((r) => r.items) });
  const positions = useQuery({ queryKey: ["positions", account], queryFn: () => get<{ net: Record<string, unknown>[]; by_strategy: Record<string, unknown>[] }>(`${V1}/portfolio/positions`, { account }) });
  const fills = useQuery({ queryKey: ["fills", account], queryFn: () => get<{ items: Record<string, unknown>[] }>(`${V1}/portfolio/fills`, { account, limit: 200 }).then((r) => r.items) });
  const equity = useQuery({ queryKey: ["equity", account], queryFn: () => get<{ items: { ts: number; equity: number }[] }>(`${V1}/portfolio/equity`, { account }).then((r) => r.items) });
  const [liveCount, setLiveCount] = useState(0);

  useLive("orders", (m: WsMessage) => {
    const o = orderFromEvent(m.data);
    setLiveCount((c) => c + 1);
    if (o) qc.setQueryData<Order[]>(["orders", account], (list) => upsertOrder(list, o));
    else qc.invalidateQueries({ queryKey: ["orders"] });
    qc.invalidateQueries({ queryKey: ["accounts"] });
  });
  useLive("fills", () => { setLiveCount((c) => c + 1); qc.invalidateQueries({ queryKey: ["fills"] }); });
  useLive("positions", () => { setLiveCount((c) => c + 1); qc.invalidateQueries({ queryKey: ["positions"] }); });
  useLive("equity", () => { setLiveCount((c) => c + 1); qc.invalidateQueries({ queryKey: ["equity"] }); });

  const acct = accounts.data?.find((a) => a.name === account);
  const eqOpt = useMemo(() => equity.data?.length ? {
    xAxis: { type: "category", data: equity.data.map((p) => fmtTs(p.ts)) }, yAxis: { type: "value", scale: true },
    series: [{ type: "line", data: equity.data.map((p) => p.equity), showSymbol: false }],
  } : null, [equity.data]);

  return (
    <div>
      <h1>Portfolio</h1>
      <HealthBanner engines={PAGE_ENGINES.portfolio} />
      <Card title="Account" actions={<span className="muted small" data-testid="live-count">{liveCount} live updates</span>}>
        <div className="row">
          <label>Account<select value={account} onChange={(e) => setAccount(e.target.value)} aria-label="Account">
            {(accounts.data ?? [{ name: "default" } as Account]).map((a) => <option key={a.name}>{a.name}</option>)}
          </select></label>
        </div>
        {accounts.isError ? <ErrorBox error={accounts.error} /> : acct && <div className="stats">
          <div className="stat"><div className="muted small">equity</div><div className="v">{fmtNum(acct.equity)}</div></div>
          <div className="stat"><div className="muted small">cash</div><div className="v">{Object.entries(acct.cash).map(([c, v]) => `${fmtNum(v)} ${c}`).join(", ")}</div></div>
          <div className="stat"><div className="muted small">unrealised</div><div className="v">{fmtNum(acct.unrealised_pnl)}</div></div>
          <div className="stat"><div className="muted small">realised</div><div className="v">{fmtNum(acct.realised_pnl)}</div></div>
          <div className="stat"><div className="muted small">open orders</div><div className="v">{acct.open_orders}</div></div>
        </div>}
      </Card>
      <OrderForm account={account} />
      <LimitsCard account={account} />
      <Card title="Orders">
        <QueryView q={orders} isEmpty={(d) => !d.length} empty="No orders yet.">
          {(d) => <OrdersTable orders={d} />}
        </QueryView>
      </Card>
      <div className="grid">
        <Card title="Positions (net)">
          <QueryView q={positions} isEmpty={(d) => !d.net.length} empty="No positions.">
            {(d) => <DataTable testId="positions-table" rows={d.net} columns={Object.keys(d.net[0]).slice(0, 9).map((k) => ({ key: k, label: k, num: typeof d.net[0][k] === "number", render: (r: Record<string, unknown>) => typeof r[k] === "number" ? fmtNum(r[k]) : String(r[k] ?? "—") }))} />}
          </QueryView>
        </Card>
        <Card title="Equity">
          {equity.isError ? <ErrorBox error={equity.error} /> : eqOpt ? <EChart option={eqOpt} height={240} label="Account equity" /> : <Empty>No equity history yet (it moves as bars arrive).</Empty>}
        </Card>
      </div>
      <Card title="Fills">
        <QueryView q={fills} isEmpty={(d) => !d.length} empty="No fills yet.">
          {(d) => <DataTable rows={[...d].reverse()} columns={[
            { key: "ts", label: "When", render: (f) => fmtTs(f.ts ?? f.ts_ns) }, { key: "order_id", label: "Order", num: true },
            { key: "symbol", label: "Symbol" }, { key: "side", label: "Side" },
            { key: "quantity", label: "Qty", num: true, render: (f) => fmtNum(f.quantity) },
            { key: "price", label: "Price", num: true, render: (f) => fmtNum(f.price) }, { key: "fee", label: "Fee", num: true, render: (f) => fmtNum(f.fee ?? f.fees) },
          ]} />}
        </QueryView>
      </Card>
      <OptimizerCard />
    </div>
  );
}

function OrdersTable({ orders }: { orders: Order[] }) {
  const qc = useQueryClient();
  const cancel = useMutation({
    mutationFn: (id: number) => api<{ order: Order }>(`${V1}/portfolio/orders/${id}`, { method: "DELETE" }),
    onSuccess: (r) => { if (r?.order) qc.setQueriesData<Order[]>({ queryKey: ["orders"] }, (l) => upsertOrder(l, r.order)); },
  });
  return (
    <>
      {cancel.isError && <ErrorBox error={cancel.error} title="Cancel failed" />}
      <DataTable testId="orders-table" rows={orders} rowKey={(o) => o.id} columns={[
        { key: "id", label: "ID", num: true }, { key: "symbol", label: "Symbol" }, { key: "side", label: "Side", render: (o) => <span className={o.side === "buy" ? "up" : "down"}>{o.side}</span> },
        { key: "type", label: "Type" }, { key: "quantity", label: "Qty", num: true, render: (o) => fmtNum(o.quantity) },
        { key: "limit_price", label: "Limit", num: true, render: (o) => fmtNum(o.limit_price) },
        { key: "status", label: "Status", render: (o) => <span className={`pill ${o.status}`} data-testid={`order-status-${o.id}`}>{o.status}</span> },
        { key: "filled", label: "Filled", num: true, render: (o) => fmtNum(o.filled) },
        { key: "reason", label: "Reason", render: (o) => o.reason ?? "" },
        { key: "actions", label: "", render: (o) => WORKING.has(o.status) ?
          <button type="button" onClick={() => cancel.mutate(o.id)} disabled={cancel.isPending} aria-label={`Cancel order ${o.id}`} data-testid={`cancel-${o.id}`}>Cancel</button> : null },
      ]} />
    </>
  );
}

type Limits = Record<string, unknown> & { source?: string };
const DEFAULT_LIMIT_FIELDS: [string, string][] = [
  ["max_order_equity_pct", "Max order, % of equity"],
  ["max_concentration_pct", "Max position, % of equity"],
  ["min_cash", "Min cash after a buy (0 = no margin)"],
];

/** The account's pre-trade limits (its own, else the defaults every new account gets), editable. */
function LimitsCard({ account }: { account: string }) {
  const qc = useQueryClient();
  const limits = useQuery({ queryKey: ["limits", account], queryFn: () => get<Limits>(`${V1}/risk/limits`, { account }) });
  const [edit, setEdit] = useState<Record<string, string>>({});
  const [err, setErr] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api<Limits>(`${V1}/risk/limits`, { method: "PUT", body }),
    onSuccess: (r) => { qc.setQueryData(["limits", account], r); setEdit({}); },
  });
  const reset = useMutation({
    mutationFn: () => api<Limits>(`${V1}/risk/limits`, { method: "DELETE", query: { account } }),
    onSuccess: (r) => { qc.setQueryData(["limits", account], r); setEdit({}); },
  });
  const onSave = (e: React.FormEvent) => {
    e.preventDefault();
    const { source: _source, ...current } = limits.data ?? {};
    const next: Record<string, unknown> = { ...current };
    for (const [key] of DEFAULT_LIMIT_FIELDS) {
      const text = edit[key];
      if (text === undefined) continue;
      if (text.trim() === "") { delete next[key]; continue; }
      const v = Number(text);
      if (!Number.isFinite(v)) return setErr(`${key} must be a number (empty: not checked)`);
      next[key] = v;
    }
    setErr(null);
    save.mutate({ account, limits: next });
  };
  const source = limits.data?.source;
  return (
    <Card title="Pre-trade limits" actions={<span className="muted small" data-testid="limits-source">{source === "default" ? "defaults (none of its own)" : source === "account" ? "the account's own" : ""}</span>}>
      {limits.isError ? <ErrorBox error={limits.error} /> : <form className="row" onSubmit={onSave} aria-label="Limits">
        {DEFAULT_LIMIT_FIELDS.map(([key, label]) => {
          const v = limits.data?.[key];
          return <label key={key}>{label}<input size={8} aria-label={key} value={edit[key] ?? (v === undefined || v === null ? "" : String(v))}
            onChange={(e) => setEdit({ ...edit, [key]: e.target.value })} /></label>;
        })}
        <button className="primary" type="submit" disabled={save.isPending} data-testid="save-limits">Save</button>
        <button type="button" disabled={reset.isPending || source === "default"} onClick={() => reset.mutate()} data-testid="reset-limits">Use defaults</button>
      </form>}
      {limits.data && <div className="muted small">Other limits: {Object.entries(limits.data).filter(([k]) => k !== "source" && !DEFAULT_LIMIT_FIELDS.some(([f]) => f === k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") || "none"}</div>}
      {err && <div className="field-error" role="alert">{err}</div>}
      {save.isError && <ErrorBox error={save.error} title="Limits refused" />}
    </Card>
  );
}

function OrderForm({ account }: { account: string }) {
  const qc = useQueryClient();
  const instruments = useInstruments();
  const [symbol, setSymbol] = useState("AAPL");
  const [side, setSide] = useState("buy");
  const [qty, setQty] = useState("10");
  const [type, setType] = useState("limit");
  const [limit, setLimit] = useState("100");
  const [err, setErr] = useState<string | null>(null);
  const submit = useMutation({
    mutationFn: (body: Record<string, unknown>) => post<{ order: Order }>(`${V1}/portfolio/orders`, body),
    onSuccess: (r) => qc.setQueryData<Order[]>(["orders", account], (l) => upsertOrder(l, r.order)),
  });
  const onSubmit = (e: React.FormEvent) => {
    e.preventDefault();
    const q = Number(qty);
    if (!(q > 0)) return setErr("quantity must be a positive number");
    const body: Record<string, unknown> = { account, symbol, side, quantity: q, type };
    if (type === "limit" || type === "stop_limit") {
      if (!(Number(limit) > 0)) return setErr("limit price must be positive");
      body.limit_price = Number(limit);
    }
    setErr(null);
    submit.mutate(body);
  };
  return (
    <Card title="Submit a paper order">
      <form className="row" onSubmit={onSubmit} aria-label="Order">
        <label>Symbol<select value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Order symbol">
          {(instruments.data ?? [{ symbol }]).map((i) => <option key={i.symbol}>{i.symbol}</option>)}
        </select></label>
        <label>Side<select value={side} onChange={(e) => setSide(e.target.value)} aria-label="Side"><option>buy</option><option>sell</option></select></label>
        <label>Quantity<input size={6} value={qty} onChange={(e) => setQty(e.target.value)} aria-label="Quantity" /></label>
        <label>Type<select value={type} onChange={(e) => setType(e.target.value)} aria-label="Order type">
          {["market", "limit", "stop", "stop_limit"].map((t) => <option key={t}>{t}</option>)}
        </select></label>
        {(type === "limit" || type === "stop_limit") && <label>Limit<input size={8} value={limit} onChange={(e) => setLimit(e.target.value)} aria-label="Limit price" /></label>}
        <button className="primary" type="submit" disabled={submit.isPending} data-testid="submit-order">Submit</button>
      </form>
      {err && <div className="field-error" role="alert">{err}</div>}
      {submit.isError && <ErrorBox error={submit.error} title="Order refused" />}
      {submit.data && <div className="small" role="status">Order #{submit.data.order.id}: {submit.data.order.status}{submit.data.order.reason ? ` (${submit.data.order.reason})` : ""}</div>}
    </Card>
  );
}

function OptimizerCard() {
  const instruments = useInstruments();
  const [method, setMethod] = useState("min_variance");
  const opt = useMutation({
    mutationFn: () => post<{ weights: Record<string, number> }>(`${V1}/portfolio/optimize`, { method, symbols: (instruments.data ?? []).map((i) => i.symbol) }),
  });
  const w = opt.data?.weights;
  return (
    <Card title="Optimiser">
      <form className="row" onSubmit={(e) => { e.preventDefault(); opt.mutate(); }} aria-label="Optimise">
        <label>Method<select value={method} onChange={(e) => setMethod(e.target.value)} aria-label="Optimiser method">
          {["min_variance", "max_sharpe", "risk_parity", "hrp", "equal_weight"].map((m) => <option key={m}>{m}</option>)}
        </select></label>
        <button type="submit" disabled={opt.isPending || !instruments.data?.length}>Optimise</button>
      </form>
      {opt.isError && <ErrorBox error={opt.error} title="Optimiser unavailable" />}
      {w ? <EChart height={220} label="Optimised weights" option={{ xAxis: { type: "category", data: Object.keys(w) }, yAxis: { type: "value" },
        series: [{ type: "bar", data: Object.values(w) }] }} /> : !opt.isError && <Empty>Weights for the instruments in the catalog.</Empty>}
    </Card>
  );
}
