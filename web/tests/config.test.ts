import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/lib/config";

describe("config behind a reverse proxy", () => {
  const fb = { apiBase: "http://h:8001", wsUrl: "ws://h:8001/ws" };
  it("resolves relative apiBase and wsUrl against the page's own origin", () => {
    expect(parseConfig({ apiBase: "/", wsUrl: "/ws" }, fb, "https://trade.example/portfolio?x=1"))
      .toEqual({ apiBase: "https://trade.example", wsUrl: "wss://trade.example/ws" });
    expect(parseConfig({ apiBase: "/", wsUrl: "/ws" }, fb, "http://127.0.0.1:8080/"))
      .toEqual({ apiBase: "http://127.0.0.1:8080", wsUrl: "ws://127.0.0.1:8080/ws" });
    expect(parseConfig({ apiBase: "/nautilus/" }, fb, "http://proxy/")).toEqual({
      apiBase: "http://proxy/nautilus", wsUrl: "ws://proxy/nautilus/ws" });
  });
  it("keeps absolute values", () => {
    expect(parseConfig({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" }, fb, "http://other/"))
      .toEqual({ apiBase: "http://gw:8001", wsUrl: "ws://gw:8001/ws" });
  });
});
