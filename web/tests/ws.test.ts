import fc from "fast-check";
import { backoffMs, globMatch, LiveSocket, ResumeTracker, wsUrlWithTicket, type SocketLike } from "../src/lib/ws";

describe("ResumeTracker", () => {
  it("drops duplicates and stale seqs, keeps the last seq per channel", () => {
    const t = new ResumeTracker();
    expect(t.accept("orders", 1)).toBe(true);
    expect(t.accept("orders", 2)).toBe(true);
    expect(t.accept("orders", 2)).toBe(false);
    expect(t.accept("orders", 1)).toBe(false);
    expect(t.accept("fills", 1)).toBe(true);
    expect(t.resumeFor(["orders", "fills"])).toEqual({ orders: 2, fills: 1 });
  });

  it("builds resume only for channels matching the patterns", () => {
    const t = new ResumeTracker();
    t.accept("jobs.abc", 4);
    t.accept("bars.AAPL", 9);
    t.accept("orders", 41);
    expect(t.resumeFor(["jobs.*", "orders"])).toEqual({ "jobs.abc": 4, orders: 41 });
    t.reset("orders");
    expect(t.resumeFor(["orders"])).toEqual({});
  });

  it("property: any delivery order with repeats yields each seq once, in increasing order", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 200 }), (seqs) => {
      const t = new ResumeTracker();
      const delivered = seqs.filter((s) => t.accept("c", s));
      for (let i = 1; i < delivered.length; i++) expect(delivered[i]).toBeGreaterThan(delivered[i - 1]);
      expect(new Set(delivered).size).toBe(delivered.length);
      if (seqs.length) expect(t.lastSeq("c")).toBe(Math.max(...seqs.slice(0, seqs.indexOf(Math.max(...seqs)) + 1)));
    }));
  });
});

describe("helpers", () => {
  it("glob matching like fnmatch", () => {
    expect(globMatch("jobs.*", "jobs.abc")).toBe(true);
    expect(globMatch("jobs.*", "jobsX")).toBe(false);
    expect(globMatch("bars.AAP?", "bars.AAPL")).toBe(true);
    expect(globMatch("orders", "orders")).toBe(true);
    expect(globMatch("orders", "orders2")).toBe(false);
  });

  it("backoff doubles up to the cap, within the jitter band", () => {
    expect(backoffMs(0, 500, 15000, 0.2, () => 0.5)).toBe(500);
    expect(backoffMs(3, 500, 15000, 0.2, () => 0.5)).toBe(4000);
    expect(backoffMs(20, 500, 15000, 0.2, () => 0.5)).toBe(15000);
    expect(backoffMs(0, 500, 15000, 0.2, () => 0)).toBe(400);
    expect(backoffMs(0, 500, 15000, 0.2, () => 1)).toBe(600);
  });

  it("puts the API key in the query", () => {
    expect(wsUrlWithTicket("ws://h:1/ws", "")).toBe("ws://h:1/ws");
    expect(wsUrlWithTicket("ws://h:1/ws", "a b")).toBe("ws://h:1/ws?ticket=a%20b");
  });
});

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(public url: string) {}
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close() { /* the test drives onclose */ }
  open() { this.readyState = 1; this.onopen?.({}); }
  frame(f: unknown) { this.onmessage?.({ data: JSON.stringify(f) }); }
}

describe("LiveSocket", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("subscribes on open, routes messages, and resumes from the last seq after a reconnect", () => {
    const sockets: FakeSocket[] = [];
    const live = new LiveSocket(() => "ws://x/ws", (u) => { const s = new FakeSocket(u); sockets.push(s); return s; });
    const got: number[] = [];
    live.subscribe("orders", (m) => got.push(m.seq));
    live.start();
    sockets[0].open();
    expect(sockets[0].sent).toEqual([{ op: "subscribe", channels: ["orders"] }]);
    sockets[0].frame({ type: "subscribed", channels: ["orders"], resumed: {} });
    expect(live.subscribed).toEqual(["orders"]);
    for (const seq of [1, 2, 2, 3]) sockets[0].frame({ type: "message", channel: "orders", seq, data: {} });
    sockets[0].frame({ type: "message", channel: "fills", seq: 1, data: {} }); // not subscribed here
    sockets[0].frame({ type: "heartbeat" });
    expect(got).toEqual([1, 2, 3]);

    sockets[0].onclose?.({ code: 1006, reason: "" });
    expect(live.status).toBe("closed");
    vi.advanceTimersByTime(1000); // first backoff ≤ 600 ms
    expect(sockets).toHaveLength(2);
    sockets[1].open();
    expect(sockets[1].sent).toEqual([{ op: "subscribe", channels: ["orders"], resume: { orders: 3 } }]);
    // replay overlaps what we had: only 4 is new
    for (const seq of [3, 4]) sockets[1].frame({ type: "message", channel: "orders", seq, data: {} });
    expect(got).toEqual([1, 2, 3, 4]);
    live.stop();
  });

  it("forgets a channel's seq when the server reports a reset, so the replay is delivered", () => {
    const sockets: FakeSocket[] = [];
    const live = new LiveSocket(() => "ws://x/ws", (u) => { const s = new FakeSocket(u); sockets.push(s); return s; });
    const got: number[] = [];
    live.subscribe("orders", (m) => got.push(m.seq));
    live.start();
    sockets[0].open();
    sockets[0].frame({ type: "message", channel: "orders", seq: 10, data: {} });
    sockets[0].frame({ type: "subscribed", channels: ["orders"], resumed: { orders: { reset: true } } });
    sockets[0].frame({ type: "message", channel: "orders", seq: 1, data: {} });
    expect(got).toEqual([10, 1]);
    live.stop();
  });

  it("unsubscribes when the last handler goes", () => {
    const sockets: FakeSocket[] = [];
    const live = new LiveSocket(() => "ws://x/ws", (u) => { const s = new FakeSocket(u); sockets.push(s); return s; });
    live.start();
    sockets[0].open();
    const off = live.subscribe("jobs.*", () => {});
    expect(sockets[0].sent.at(-1)).toEqual({ op: "subscribe", channels: ["jobs.*"] });
    off();
    expect(sockets[0].sent.at(-1)).toEqual({ op: "unsubscribe", channels: ["jobs.*"] });
    live.stop();
  });
});
