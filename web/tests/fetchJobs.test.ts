import fc from "fast-check";
import { setConfig } from "../src/lib/config";
import {
  FETCH_CHANNELS, fmtDuration, getFetch, getSources, isFinished, isoDate, jobFromFrame, jobLabel, jobPercent,
  listFetches, mergeJob, parseDate, parseOptions, startFetch, unconfiguredReason, upsertJob, validateFetchForm,
  type FetchForm, type FetchJob, type SourceInfo,
} from "../src/lib/fetchJobs";
import { globMatch } from "../src/lib/ws";

const DAY = 86_400_000;

const job = (over: Partial<FetchJob> = {}): FetchJob => ({
  id: 3, source: "yahoo", symbol: "AAPL", source_symbol: "AAPL", timeframe: "1d",
  start_ns: 1_577_836_800_000_000_000, end_ns: 1_704_067_200_000_000_000, status: "running", done: 2, total: 5,
  message: "page 2 of 5", rows: 0, requests: 2, error: null, started_at: "2026-11-26T10:00:00Z", finished_at: null,
  duration_s: null, ...over,
});

const yahoo: SourceInfo = {
  name: "yahoo", title: "Yahoo Finance", timeframes: ["1m", "5m", "1h", "1d", "1w", "1mo"], live: false,
  needs_key: false, configured: true, options: ["adjust"],
};
const fred: SourceInfo = { ...yahoo, name: "fred", title: "FRED", timeframes: ["1d", "1w", "1mo"], options: [] };
const alpha: SourceInfo = { ...yahoo, name: "alphavantage", title: "Alpha Vantage", needs_key: true, configured: false };

const form = (over: Partial<FetchForm> = {}): FetchForm => ({
  source: "yahoo", symbol: " AAPL ", timeframe: "1d", start: "2020-01-01", end: "2024-01-01", asSymbol: "",
  adjust: "", options: "", force: false, ...over,
});
const NOW = Date.UTC(2026, 10, 26, 12);

describe("jobPercent", () => {
  it("hand-worked", () => {
    expect(jobPercent(job({ done: 2, total: 5 }))).toBe(40);
    expect(jobPercent(job({ done: 0, total: 3 }))).toBe(0);
    expect(jobPercent(job({ done: 7, total: 5 }))).toBe(100); // clamped
    expect(jobPercent(job({ total: null }))).toBeNull(); // indeterminate
    expect(jobPercent(job({ done: 0, total: 0 }))).toBeNull();
    expect(jobPercent(job({ status: "ok", done: 1, total: null }))).toBe(100);
  });

  it("property: within [0, 100], exact below the total, non-decreasing in done", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (done, total) => {
      const p = jobPercent({ status: "running", done, total })!;
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(100);
      if (done <= total) expect(p).toBeCloseTo((done / total) * 100, 10);
      expect(jobPercent({ status: "running", done: done + 1, total })!).toBeGreaterThanOrEqual(p);
    }));
  });
});

describe("labels", () => {
  it("formats durations", () => {
    expect(fmtDuration(0.4234)).toBe("0.42 s");
    expect(fmtDuration(12.34)).toBe("12.3 s");
    expect(fmtDuration(125)).toBe("2m 05s");
    expect(fmtDuration(3600)).toBe("60m 00s");
    expect(fmtDuration(null)).toBe("—");
    expect(fmtDuration(-1)).toBe("—");
  });

  it("describes each state, the error verbatim", () => {
    expect(jobLabel(job({ status: "queued", done: 0, message: "" }))).toBe("queued");
    expect(jobLabel(job())).toBe("2 / 5 · page 2 of 5");
    expect(jobLabel(job({ done: 3, total: null, message: "request 3" }))).toBe("3 done · request 3");
    expect(jobLabel(job({ status: "ok", rows: 1234, duration_s: 2.3 }))).toBe("ok · 1,234 rows in 2.30 s");
    expect(jobLabel(job({ status: "failed", error: "yahoo: unknown symbol 'XXXX'" }))).toBe("failed: yahoo: unknown symbol 'XXXX'");
    expect(jobLabel(job({ status: "rejected", error: null, message: "" }))).toBe("rejected: no reason given");
  });

  it("names why a source is unusable", () => {
    expect(unconfiguredReason(alpha)).toBe("needs NAUTILUS_ALPHAVANTAGE_API_KEY");
    expect(unconfiguredReason({ ...alpha, note: "not installed: No module named 'ib_async'" })).toBe("not installed: No module named 'ib_async'");
    expect(unconfiguredReason({ ...alpha, needs_key: false })).toBe("not configured");
    expect(unconfiguredReason(yahoo)).toBe("");
  });

  it("channels and finished states", () => {
    expect(globMatch(FETCH_CHANNELS, "marketdata.fetch.12")).toBe(true);
    expect(globMatch(FETCH_CHANNELS, "marketdata.bars")).toBe(false);
    expect(["queued", "running", "ok", "failed", "rejected"].map(isFinished)).toEqual([false, false, true, true, true]);
  });
});

describe("mergeJob / upsertJob", () => {
  it("keeps the newer report", () => {
    expect(mergeJob(null, job())).toEqual(job());
    expect(mergeJob(job({ done: 3 }), job({ done: 2 })).done).toBe(3); // a late poll does not go back
    expect(mergeJob(job({ done: 2 }), job({ done: 3 })).done).toBe(3);
    expect(mergeJob(job({ status: "failed" }), job({ done: 4 })).status).toBe("failed");
    expect(mergeJob(job({ done: 4 }), job({ status: "ok", done: 5 })).status).toBe("ok");
    expect(mergeJob(job({ id: 1, done: 4 }), job({ id: 2, done: 0 })).id).toBe(2); // another job replaces
  });

  it("property: any arrival order of a job's reports, with repeats, ends at its final report", () => {
    // every report arrives at least once (the socket) plus arbitrary replays (polls), in any order
    const arb = fc.integer({ min: 1, max: 12 }).chain((n) =>
      fc.array(fc.integer({ min: 0, max: n }), { maxLength: 30 }).chain((extra) => fc.record({
        n: fc.constant(n),
        arrivals: fc.shuffledSubarray([...Array.from({ length: n + 1 }, (_, i) => i), ...extra], { minLength: n + 1 + extra.length }),
        final: fc.constantFrom<FetchJob["status"]>("ok", "failed", "rejected"),
      })));
    fc.assert(fc.property(arb, ({ n, arrivals, final }) => {
      const reports = Array.from({ length: n }, (_, i) => job({ done: i, total: n, message: `page ${i}` }));
      reports.push(job({ status: final, done: n, total: n, message: "end" }));
      let cur: FetchJob | null = null;
      let lastDone = -1;
      for (const r of arrivals.map((i) => reports[i])) {
        const wasFinished = !!cur && isFinished(cur.status);
        cur = mergeJob(cur, r);
        if (wasFinished) expect(isFinished(cur.status)).toBe(true);
        if (!isFinished(cur.status)) { expect(cur.done).toBeGreaterThanOrEqual(lastDone); lastDone = cur.done; }
      }
      expect(cur).toEqual(reports[n]);
    }));
  });

  it("upserts newest first, merges a known id, caps the list", () => {
    let rows = upsertJob(undefined, job({ id: 1 }));
    rows = upsertJob(rows, job({ id: 2 }));
    expect(rows.map((r) => r.id)).toEqual([2, 1]);
    rows = upsertJob(rows, job({ id: 1, status: "failed", error: "x" }));
    expect(rows.map((r) => [r.id, r.status])).toEqual([[2, "running"], [1, "failed"]]);
    rows = upsertJob(rows, job({ id: 1, done: 4 })); // stale after the end: ignored
    expect(rows[1].status).toBe("failed");
    expect(upsertJob(rows, job({ id: 9 }), 2).map((r) => r.id)).toEqual([9, 2]);
  });

  it("reads a job from a live frame", () => {
    expect(jobFromFrame(job())?.id).toBe(3);
    expect(jobFromFrame({ id: "3", status: "ok", source: "yahoo" })).toBeNull();
    expect(jobFromFrame(null)).toBeNull();
  });
});

describe("dates and options", () => {
  it("parses calendar dates only", () => {
    expect(parseDate("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDate("2020-01-01")).toBe(1_577_836_800_000);
    for (const bad of ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "01/02/2024", "", "2024-04-31"]) {
      expect(parseDate(bad)).toBeNull();
    }
    expect(isoDate(1_577_836_800_000 + 5 * 3_600_000)).toBe("2020-01-01");
  });

  it("property: every day from 1800 to 2200 round-trips", () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(1800, 0, 1) / DAY, max: Date.UTC(2200, 0, 1) / DAY }), (d) => {
      expect(parseDate(isoDate(d * DAY))).toBe(d * DAY);
    }));
  });

  it("parses key=value options, naming the bad pair", () => {
    expect(parseOptions("")).toEqual({});
    expect(parseOptions("exchange=kraken, limit=100\nquote=USD")).toEqual({ exchange: "kraken", limit: "100", quote: "USD" });
    expect(parseOptions("url=a=b")).toEqual({ url: "a=b" });
    expect(() => parseOptions("exchange")).toThrow('option "exchange" is not key=value');
    expect(() => parseOptions("=x")).toThrow('option "=x"');
    expect(() => parseOptions("a=")).toThrow('option "a="');
    expect(() => parseOptions("a=1,a=2")).toThrow('option "a" is given twice');
  });

  it("property: options round-trip through their text form", () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,8}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9/:=._-]{1,10}$/);
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 6 }), fc.constantFrom(",", ", ", " ", "\n"), (opts, sep) => {
      const text = Object.entries(opts).map(([k, v]) => `${k}=${v}`).join(sep);
      expect(parseOptions(text)).toEqual(opts);
    }));
  });
});

describe("validateFetchForm", () => {
  it("builds the request body", () => {
    expect(validateFetchForm(form({ adjust: "splits", options: "a=1" }), yahoo, NOW)).toEqual({ ok: true, body: {
      source: "yahoo", symbol: "AAPL", timeframe: "1d", start: "2020-01-01", end: "2024-01-01", as_symbol: null,
      adjust: "splits", options: { a: "1" }, force: false,
    } });
    const v = validateFetchForm(
      form({ source: "fred", symbol: "DGS10", end: "", asSymbol: " US10Y ", adjust: "total", force: true, timeframe: "1mo" }), fred, NOW);
    expect(v).toEqual({ ok: true, body: {
      source: "fred", symbol: "DGS10", timeframe: "1mo", start: "2020-01-01", as_symbol: "US10Y", options: {}, force: true,
    } }); // no end (= now), no adjust: FRED does not list the option
    const cont = validateFetchForm(form({ start: "", end: "" }), yahoo, NOW);
    expect(cont.ok && cont.body).toEqual({ source: "yahoo", symbol: "AAPL", timeframe: "1d", as_symbol: null, options: {},
      force: false }); // no start: continue the series from its last fetch
  });

  it("names each bad field", () => {
    const errs = (f: Partial<FetchForm>, s: SourceInfo | undefined = yahoo) => {
      const v = validateFetchForm(form(f), s, NOW);
      return v.ok ? {} : v.errors;
    };
    expect(errs({ symbol: "  " })).toEqual({ symbol: "symbol is required" });
    expect(errs({ symbol: "BRK B" })).toEqual({ symbol: "symbol must not contain spaces" });
    expect(errs({ start: "2024-01-01", end: "2020-01-01" })).toEqual({ end: "start must be before end (2024-01-01 ≥ 2020-01-01)" });
    expect(errs({ start: "2024-01-01", end: "2024-01-01" })).toHaveProperty("end");
    expect(errs({ start: "2023-02-30" })).toEqual({ start: 'start "2023-02-30" is not a date (YYYY-MM-DD)' });
    expect(errs({ end: "tomorrow" })).toEqual({ end: 'end "tomorrow" is not a date (YYYY-MM-DD)' });
    expect(errs({ start: "2026-11-27", end: "" })).toEqual({ start: "start must be in the past (end is now)" });
    expect(errs({ timeframe: "2h" })).toEqual({ timeframe: "Yahoo Finance has no 2h bars (1m, 5m, 1h, 1d, 1w, 1mo)" });
    expect(errs({ options: "exchange" })).toEqual({ options: 'option "exchange" is not key=value' });
    expect(errs({ source: "alphavantage" }, alpha)).toEqual({ source: "Alpha Vantage: needs NAUTILUS_ALPHAVANTAGE_API_KEY" });
    expect(validateFetchForm(form({ source: "nope" }), undefined, NOW)).toEqual({ ok: false, errors: { source: 'unknown source "nope"' } });
  });

  it("property: two valid dates pass exactly when start < end", () => {
    const day = fc.integer({ min: Date.UTC(1990, 0, 1) / DAY, max: Date.UTC(2030, 0, 1) / DAY });
    fc.assert(fc.property(day, day, (a, b) => {
      const v = validateFetchForm(form({ start: isoDate(a * DAY), end: isoDate(b * DAY) }), yahoo, NOW);
      expect(v.ok).toBe(a < b);
      if (!v.ok) expect(Object.keys(v.errors)).toEqual(["end"]);
    }));
  });
});

describe("API calls", () => {
  afterEach(() => vi.unstubAllGlobals());
  it("hit the documented paths", async () => {
    setConfig({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" });
    const calls: [string, string, unknown][] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push([init.method ?? "GET", url, init.body ? JSON.parse(String(init.body)) : null]);
      const body = url.endsWith("/sources") ? { sources: [yahoo] } : url.includes("/fetches") ? { fetches: [job()] } : job();
      return new Response(JSON.stringify(body), { status: url.endsWith("/fetch") ? 202 : 200 });
    });
    expect(await getSources()).toEqual([yahoo]);
    expect(await listFetches()).toEqual([job()]);
    expect(await getFetch(3)).toEqual(job());
    const req = { source: "yahoo", symbol: "AAPL", timeframe: "1d", start: "2020-01-01", as_symbol: null, options: {}, force: false };
    expect(await startFetch(req)).toEqual(job());
    expect(calls).toEqual([
      ["GET", "http://gw:8001/api/v1/marketdata/sources", null],
      ["GET", "http://gw:8001/api/v1/marketdata/fetches?limit=20", null],
      ["GET", "http://gw:8001/api/v1/marketdata/fetch/3", null],
      ["POST", "http://gw:8001/api/v1/marketdata/fetch", req],
    ]);
  });
});
