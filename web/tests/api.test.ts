import { api, ApiError, buildUrl, toApiError } from "../src/lib/api";
import { setApiKey } from "../src/lib/apiKey";
import { parseConfig, setConfig } from "../src/lib/config";

describe("toApiError", () => {
  it("reads the gateway's error envelope", () => {
    const e = toApiError(422, { error: { code: "invalid_input", message: "bad symbol", field: "symbol" } });
    expect([e.status, e.code, e.message, e.field]).toEqual([422, "invalid_input", "bad symbol", "symbol"]);
  });
  it("reads FastAPI's validation detail", () => {
    const e = toApiError(422, { detail: [{ loc: ["query", "timeframe"], msg: "String should match pattern" }] });
    expect(e.field).toBe("timeframe");
    expect(e.message).toMatch(/pattern/);
  });
  it("falls back to the status", () => {
    expect(toApiError(502, "").message).toBe("HTTP 502");
  });
});

describe("config", () => {
  const fb = { apiBase: "http://h:8001", wsUrl: "ws://h:8001/ws" };
  it("takes /config.json values and derives a missing wsUrl", () => {
    expect(parseConfig({ apiBase: "http://127.0.0.1:28001/" }, fb)).toEqual({ apiBase: "http://127.0.0.1:28001", wsUrl: "ws://127.0.0.1:28001/ws" });
    expect(parseConfig(null, fb)).toEqual(fb);
  });
  it("builds URLs, skipping empty query values", () => {
    expect(buildUrl("http://h:1/", "/api/v1/x", { a: 1, b: "", c: undefined, d: "x y" })).toBe("http://h:1/api/v1/x?a=1&d=x+y");
  });
});

describe("api()", () => {
  afterEach(() => { vi.unstubAllGlobals(); setApiKey(""); });
  it("sends the stored key as X-API-Key and JSON bodies, and throws ApiError on 4xx", async () => {
    setConfig({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" });
    setApiKey("k1");
    const calls: [string, RequestInit][] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push([url, init]);
      return url.endsWith("/bad")
        ? new Response(JSON.stringify({ error: { code: "not_found", message: "nope", field: "id" } }), { status: 404 })
        : new Response(JSON.stringify({ ok: true }), { status: 200 });
    });
    expect(await api("/api/v1/x", { method: "POST", body: { a: 1 } })).toEqual({ ok: true });
    expect(calls[0][0]).toBe("http://gw:8001/api/v1/x");
    expect((calls[0][1].headers as Record<string, string>)["X-API-Key"]).toBe("k1");
    expect((calls[0][1].headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(calls[0][1].body).toBe('{"a":1}');
    const err = (await api("/bad").catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.field]).toEqual([404, "not_found", "id"]);
  });
  it("maps a network failure to a readable error", async () => {
    vi.stubGlobal("fetch", async () => { throw new TypeError("Failed to fetch"); });
    const err = (await api("/x").catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe("network");
    expect(err.message).toMatch(/unreachable/);
  });
});
