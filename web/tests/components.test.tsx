import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { DataTable } from "../src/components/DataTable";
import { FetchPanel } from "../src/components/FetchPanel";
import { HealthBanner } from "../src/components/HealthBanner";
import { QueryView } from "../src/components/States";
import { ApiError } from "../src/lib/api";
import { setConfig } from "../src/lib/config";
import type { FetchJob } from "../src/lib/fetchJobs";
import { live } from "../src/lib/live";
import { orderFromEvent, upsertOrder, type Order } from "../src/pages/Portfolio";

function wrap(children: ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: 0 } } });
  return <QueryClientProvider client={qc}>{children}</QueryClientProvider>;
}

function stubHealth(engines: Record<string, unknown>) {
  vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ status: "ok", engines }), { status: 200 }));
}

describe("HealthBanner", () => {
  beforeEach(() => setConfig({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" }));
  afterEach(() => vi.unstubAllGlobals());

  it("shows nothing when all engines are up", async () => {
    stubHealth({ risk: { status: "up", path: "unix" } });
    const { container } = render(wrap(<HealthBanner />));
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(container.textContent).toBe("");
  });

  it("shows the down engine", async () => {
    stubHealth({ risk: { status: "down", path: null }, ml: { status: "up", path: "unix" } });
    render(wrap(<HealthBanner />));
    await waitFor(() => expect(screen.getByTestId("health-banner")).toHaveTextContent("Engine down: risk"));
  });

  it("page note only for the page's engines", async () => {
    stubHealth({ risk: { status: "degraded", path: "inproc" } });
    const { rerender } = render(wrap(<HealthBanner engines={["ml"]} />));
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(screen.queryByTestId("page-health-note")).toBeNull();
    rerender(wrap(<HealthBanner engines={["risk"]} />));
    await waitFor(() => expect(screen.getByTestId("page-health-note")).toHaveTextContent("risk"));
  });
});

describe("QueryView", () => {
  const base = { isLoading: false, isError: false, error: null, data: undefined as number[] | undefined };
  it("renders loading, error (with field), empty and data states", () => {
    const { rerender } = render(<QueryView q={{ ...base, isLoading: true }}>{() => "data"}</QueryView>);
    expect(screen.getByRole("status")).toHaveTextContent("Loading");
    rerender(<QueryView q={{ ...base, isError: true, error: new ApiError(422, "invalid_input", "bad", "symbol") }}>{() => "data"}</QueryView>);
    expect(screen.getByRole("alert")).toHaveTextContent("bad (field: symbol)");
    rerender(<QueryView q={{ ...base, data: [] }} isEmpty={(d) => !d.length} empty="none yet">{() => "data"}</QueryView>);
    expect(screen.getByText("none yet")).toBeInTheDocument();
    rerender(<QueryView q={{ ...base, data: [1] }} isEmpty={(d) => !d.length}>{(d) => `rows ${d.length}`}</QueryView>);
    expect(screen.getByText("rows 1")).toBeInTheDocument();
  });
});

describe("DataTable", () => {
  it("renders headers, custom cells and a cap", () => {
    render(<DataTable rows={[{ a: 1 }, { a: 2 }, { a: 3 }]} maxRows={2} columns={[
      { key: "a", label: "A", num: true }, { key: "b", label: "B", render: (r) => `x${r.a}` }]} />);
    expect(screen.getAllByRole("columnheader").map((h) => h.textContent)).toEqual(["A", "B"]);
    expect(screen.getAllByRole("row")).toHaveLength(3); // header + 2
    expect(screen.getByText("x2")).toBeInTheDocument();
    expect(screen.getByText("showing 2 of 3")).toBeInTheDocument();
  });
});

describe("orders live bookkeeping", () => {
  const o = (id: number, status: string) => ({ id, symbol: "AAPL", status } as Order);
  it("inserts new orders first and updates known ones in place", () => {
    let list = upsertOrder(undefined, o(1, "open"));
    list = upsertOrder(list, o(2, "open"));
    expect(list.map((x) => x.id)).toEqual([2, 1]);
    list = upsertOrder(list, o(1, "cancelled"));
    expect(list.map((x) => [x.id, x.status])).toEqual([[2, "open"], [1, "cancelled"]]);
  });
  it("reads the order from a live frame's data", () => {
    expect(orderFromEvent({ kind: "order", id: 5, symbol: "AAPL", status: "open" })?.id).toBe(5);
    expect(orderFromEvent({ kind: "order", data: { id: 6, symbol: "X" } })?.id).toBe(6);
    expect(orderFromEvent({ kind: "fill" })).toBeNull();
  });
});

describe("FetchPanel", () => {
  const NOW = Date.UTC(2026, 10, 26, 12);
  const SOURCES = [
    { name: "yahoo", title: "Yahoo Finance", timeframes: ["1h", "1d", "1w"], live: false, needs_key: false, configured: true, options: ["adjust"] },
    { name: "alphavantage", title: "Alpha Vantage", timeframes: ["1d"], live: false, needs_key: true, configured: false, options: [] },
  ];
  const job = (over: Partial<FetchJob>): FetchJob => ({
    id: 0, source: "yahoo", symbol: "AAPL", source_symbol: "AAPL", timeframe: "1d", start_ns: 1_577_836_800_000_000_000,
    end_ns: 1_704_067_200_000_000_000, status: "queued", done: 0, total: null, message: "", rows: 0, requests: 0, error: null,
    started_at: "2026-11-26T12:00:00Z", finished_at: null, duration_s: null, ...over,
  });

  /** A gateway stub routing "METHOD /path" (below /api/v1/marketdata); records every call and POST body. */
  function gateway(routes: Record<string, (body: unknown) => [number, unknown] | Promise<[number, unknown]>>) {
    const calls: string[] = [];
    const bodies: unknown[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
      const key = `${init.method ?? "GET"} ${new URL(url).pathname.replace("/api/v1/marketdata", "")}`;
      calls.push(key);
      const body = init.body ? JSON.parse(String(init.body)) : null;
      if (body) bodies.push(body);
      const [status, reply] = await routes[key]?.(body) ?? [404, { error: { code: "not_found", message: key, field: null } }];
      return new Response(JSON.stringify(reply), { status });
    });
    return { calls, bodies };
  }
  const base = {
    "GET /sources": (): [number, unknown] => [200, { sources: SOURCES }],
    "GET /fetches": (): [number, unknown] => [200, { fetches: [] }],
  };

  function renderPanel(onShow?: (s: string, tf: string) => void) {
    const qc = new QueryClient({ defaultOptions: { queries: { retry: 0 } } });
    const invalidated: unknown[] = [];
    const orig = qc.invalidateQueries.bind(qc);
    qc.invalidateQueries = ((f?: { queryKey?: unknown }) => { invalidated.push(f?.queryKey); return orig(f); }) as typeof qc.invalidateQueries;
    render(<QueryClientProvider client={qc}><FetchPanel pollMs={20} now={() => NOW} onShow={onShow} /></QueryClientProvider>);
    return { invalidated };
  }

  const fill = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });
  const submit = () => fireEvent.submit(screen.getByRole("form", { name: "Fetch data" }));

  class FakeWs {
    static made: FakeWs[] = [];
    readyState = 0;
    sent: Record<string, unknown>[] = [];
    onopen: ((ev: unknown) => void) | null = null;
    onclose: ((ev: { code: number; reason: string }) => void) | null = null;
    onmessage: ((ev: { data: unknown }) => void) | null = null;
    onerror: ((ev: unknown) => void) | null = null;
    constructor(public url: string) { FakeWs.made.push(this); }
    send(data: string) { this.sent.push(JSON.parse(data)); }
    close() { /* the test drives onclose */ }
    open() { this.readyState = 1; this.onopen?.({}); }
    frame(f: unknown) { this.onmessage?.({ data: JSON.stringify(f) }); }
  }

  beforeEach(() => setConfig({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" }));
  afterEach(() => { cleanup(); live.stop(); vi.unstubAllGlobals(); });

  it("submits, shows live progress over the socket (no polling while open) and the failed job's error verbatim", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    live.start();
    await vi.waitFor(() => expect(FakeWs.made.length).toBe(1)); // the URL (with a ticket when keyed) is async
    act(() => FakeWs.made[0].open());
    let release = () => {};
    const held = new Promise<void>((r) => { release = r; });
    const { calls, bodies } = gateway({
      ...base,
      "POST /fetch": () => [202, job({ id: 41 })],
      // the catch-up GET answers late, after the socket already reported progress: a stale report
      "GET /fetch/41": async () => { await held; return [200, job({ id: 41 })]; },
    });
    renderPanel();
    await screen.findByLabelText("Fetch symbol");
    expect(screen.getByRole("option", { name: "Alpha Vantage — needs NAUTILUS_ALPHAVANTAGE_API_KEY" })).toBeInTheDocument();
    expect(FakeWs.made[0].sent).toContainEqual({ op: "subscribe", channels: ["marketdata.fetch.*"] });
    fill("Fetch symbol", "AAPL");
    fill("Fetch start", "2020-01-01");
    fill("Fetch end", "2024-01-01");
    fill("Fetch adjust", "splits");
    submit();
    await waitFor(() => expect(bodies).toEqual([{ source: "yahoo", symbol: "AAPL", timeframe: "1d", start: "2020-01-01",
      end: "2024-01-01", as_symbol: null, adjust: "splits", options: {}, force: false }]));
    await waitFor(() => expect(screen.getByTestId("fetch-status")).toHaveTextContent("queued"));
    await act(() => new Promise((r) => setTimeout(r, 100))); // five poll periods
    expect(calls.filter((c) => c === "GET /fetch/41")).toHaveLength(1); // the one catch-up GET, then the socket only

    const ws = FakeWs.made[0];
    act(() => ws.frame({ type: "message", channel: "marketdata.fetch.41", seq: 1,
      data: job({ id: 41, status: "running", done: 2, total: 5, message: "page 2 of 5", requests: 2 }) }));
    expect(screen.getByTestId("fetch-label")).toHaveTextContent("2 / 5 · page 2 of 5");
    expect(screen.getByLabelText("Fetch progress")).toHaveAttribute("value", "40");
    await act(async () => { release(); await held; await new Promise((r) => setTimeout(r, 20)); });
    expect(calls.filter((c) => c === "GET /fetch/41")).toHaveLength(1);
    expect(screen.getByTestId("fetch-label")).toHaveTextContent("2 / 5 · page 2 of 5"); // the late "queued" is ignored

    const error = "yahoo: unknown symbol 'XXXX' (HTTP 404 from query1.finance.yahoo.com)";
    act(() => ws.frame({ type: "message", channel: "marketdata.fetch.41", seq: 2,
      data: job({ id: 41, status: "failed", done: 2, total: 5, error, finished_at: "2026-11-26T12:00:03Z", duration_s: 3.2 }) }));
    expect(screen.getByTestId("fetch-error").textContent).toBe(error);
    expect(screen.getByTestId("fetch-error")).toHaveClass("down");
    expect(screen.getByTestId("fetch-status")).toHaveTextContent("failed");
    expect(screen.queryByLabelText("Fetch progress")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("fetches-table")).toHaveTextContent(error));
  });

  it("keeps progress the socket reported before the 202 arrived", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    live.start();
    await vi.waitFor(() => expect(FakeWs.made.length).toBe(1)); // the URL (with a ticket when keyed) is async
    act(() => FakeWs.made[0].open());
    let release = () => {};
    const held = new Promise<void>((r) => { release = r; });
    gateway({
      ...base,
      "POST /fetch": async () => { await held; return [202, job({ id: 43 })]; },
      "GET /fetch/43": () => new Promise(() => {}), // never answers: only the socket and the 202 count here
    });
    renderPanel();
    await screen.findByLabelText("Fetch symbol");
    fill("Fetch symbol", "AAPL");
    fill("Fetch end", "2026-11-01");
    submit();
    act(() => FakeWs.made[0].frame({ type: "message", channel: "marketdata.fetch.43", seq: 1,
      data: job({ id: 43, status: "running", done: 3, total: 5, message: "page 3 of 5" }) }));
    await act(async () => { release(); await held; });
    await waitFor(() => expect(screen.getByTestId("fetch-label")).toHaveTextContent("3 / 5 · page 3 of 5"));
    expect(screen.getByLabelText("Fetch progress")).toHaveAttribute("value", "60");
  });

  it("polls every pollMs while the socket is closed: indeterminate progress, then the end; ok refreshes instruments and bars", async () => {
    let phase: "running" | "ok" = "running";
    const { calls } = gateway({
      ...base,
      "POST /fetch": () => [202, job({ id: 42, symbol: "SPX", source_symbol: "^GSPC" })],
      "GET /fetch/42": () => [200, phase === "running"
        ? job({ id: 42, symbol: "SPX", source_symbol: "^GSPC", status: "running", done: 1, total: null, message: "request 1" })
        : job({ id: 42, symbol: "SPX", source_symbol: "^GSPC", status: "ok", done: 3, total: null, rows: 1234, requests: 3, duration_s: 2.5 })],
    });
    const shown: string[] = [];
    const { invalidated } = renderPanel((s, tf) => shown.push(`${s} ${tf}`));
    await screen.findByLabelText("Fetch symbol");
    expect(screen.getByTestId("fetch-live")).toHaveTextContent("polling every 0.02 s");
    fill("Fetch symbol", "^GSPC");
    fill("Fetch start", "2020-01-01");
    fill("Fetch end", "2024-01-01");
    fireEvent.click(screen.getByText("Advanced"));
    fill("Fetch catalog name", "SPX");
    submit();
    await waitFor(() => expect(screen.getByTestId("fetch-label")).toHaveTextContent("1 done · request 1"));
    expect(screen.getByLabelText("Fetch progress")).not.toHaveAttribute("value"); // indeterminate: total unknown
    expect(screen.getByTestId("fetch-job")).toHaveTextContent("^GSPC → SPX");
    expect(invalidated).not.toContainEqual(["instruments"]);
    phase = "ok";
    await waitFor(() => expect(screen.getByTestId("fetch-status")).toHaveTextContent("ok"));
    expect(screen.getByTestId("fetch-job")).toHaveTextContent("1,234 rows · 3 requests · 2.50 s");
    expect(invalidated).toContainEqual(["instruments"]);
    expect(invalidated).toContainEqual(["bars"]);
    expect(calls.filter((c) => c === "GET /fetch/42").length).toBeGreaterThanOrEqual(2);
    fireEvent.click(screen.getByRole("button", { name: "Show SPX on the chart" }));
    expect(shown).toEqual(["SPX 1d"]);
  });

  it("shows validation messages next to their fields without a request, and the server's 422 next to its field", async () => {
    const { calls } = gateway({
      ...base,
      "POST /fetch": () => [422, { error: { code: "invalid_input", message: "yahoo: unknown symbol 'ZZZZ'", field: "symbol" } }],
    });
    renderPanel();
    await screen.findByLabelText("Fetch symbol");
    submit();
    expect(await screen.findByTestId("fetch-error-symbol")).toHaveTextContent("symbol is required");
    fill("Fetch symbol", "AAPL");
    fill("Fetch start", "2024-01-01");
    fill("Fetch end", "2020-01-01");
    submit();
    expect(await screen.findByTestId("fetch-error-end")).toHaveTextContent("start must be before end (2024-01-01 ≥ 2020-01-01)");
    expect(screen.queryByTestId("fetch-error-symbol")).toBeNull();
    expect(screen.getByLabelText("Fetch end")).toHaveAttribute("aria-invalid", "true");
    expect(calls.filter((c) => c.startsWith("POST"))).toEqual([]);

    fill("Fetch symbol", "ZZZZ");
    fill("Fetch end", "2024-06-01");
    submit();
    expect(await screen.findByTestId("fetch-error-symbol")).toHaveTextContent("yahoo: unknown symbol 'ZZZZ'");
    expect(calls.filter((c) => c.startsWith("POST"))).toEqual(["POST /fetch"]);
    expect(screen.queryByTestId("fetch-job")).toBeNull();
  });
});
