import { bannerState, fmtUptime, fmtUs, type Health } from "../src/lib/health";

const h = (engines: Health["engines"]): Health => ({ status: "ok", engines });
const up = { status: "up", path: "unix" };

describe("bannerState", () => {
  it("is ok when every engine is up on the unix socket", () => {
    expect(bannerState(h({ risk: up, ml: up })).level).toBe("ok");
  });

  it("is down when an engine is down, naming it", () => {
    const s = bannerState(h({ risk: { status: "down", path: null }, ml: up }));
    expect(s.level).toBe("down");
    expect(s.down).toEqual(["risk"]);
    expect(s.message).toBe("Engine down: risk");
  });

  it("is degraded on a fallback transport (what a killed engine looks like before its restart)", () => {
    const s = bannerState(h({ risk: { status: "degraded", path: "inproc" }, ml: { status: "up", path: "tcp" } }));
    expect(s.level).toBe("degraded");
    expect(s.degraded).toEqual(["risk"]);
    expect(s.fallback).toEqual(["ml (tcp)", "risk (inproc)"]);
    expect(s.message).toContain("risk");
  });

  it("down wins over degraded; gateway unreachable is down", () => {
    expect(bannerState(h({ a: { status: "down" }, b: { status: "degraded", path: "unix" } })).level).toBe("down");
    const s = bannerState(undefined, new Error("Failed to fetch"));
    expect(s.level).toBe("down");
    expect(s.down).toEqual(["gateway"]);
    expect(bannerState(undefined).level).toBe("ok"); // still loading
  });
});

describe("formatting", () => {
  it("formats latencies and uptimes", () => {
    expect(fmtUs(21.3)).toBe("21 µs");
    expect(fmtUs(5.25)).toBe("5.3 µs");
    expect(fmtUs(1500)).toBe("1.5 ms");
    expect(fmtUs(2_500_000)).toBe("2.50 s");
    expect(fmtUs(null)).toBe("—");
    expect(fmtUptime(59)).toBe("59s");
    expect(fmtUptime(125)).toBe("2m 5s");
    expect(fmtUptime(7260)).toBe("2h 1m");
  });
});
