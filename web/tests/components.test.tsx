import { act, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { DataTable } from "../src/components/DataTable";
import { HealthBanner } from "../src/components/HealthBanner";
import { QueryView } from "../src/components/States";
import { ApiError } from "../src/lib/api";
import { setConfig } from "../src/lib/config";
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
