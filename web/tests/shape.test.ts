import fc from "fast-check";
import { binIndex, drawdown, fmtNum, fmtPct, fmtTs, histogram, predVsRealised, sweepHeatmap } from "../src/lib/shape";
import { parsePortfolio } from "../src/lib/parse";

describe("drawdown", () => {
  it("hand-worked", () => {
    expect(drawdown([100, 110, 99, 121, null, 110])).toEqual([0, 0, 99 / 110 - 1, 0, 0, 110 / 121 - 1]);
  });
  it("property: ≤ 0 and 0 at every new high", () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), (eq) => {
      const dd = drawdown(eq);
      let peak = -Infinity;
      eq.forEach((v, i) => {
        expect(dd[i]).toBeLessThanOrEqual(0);
        if (v >= peak) { expect(dd[i]).toBe(0); peak = v; }
      });
    }));
  });
});

describe("histogram", () => {
  it("hand-worked: 4 bins over [0, 4]", () => {
    const h = histogram([0, 1, 1.5, 2, 4, null], 4);
    expect(h.edges).toEqual([0, 1, 2, 3, 4]);
    expect(h.counts).toEqual([1, 2, 1, 1]); // 4 falls in the last bin
    expect(h.centers).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(binIndex(h, -1)).toBe(-1);
    expect(binIndex(h, 2.5)).toBe(2);
    expect(binIndex(h, 4)).toBe(3);
  });
  it("a spread too small for the bin width still counts every value", () => {
    const h = histogram([0, 5e-324], 2);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(histogram([3, 3, 3], 5).counts.reduce((a, b) => a + b, 0)).toBe(3);
  });
  it("property: counts add up to the finite values", () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true })), fc.integer({ min: 1, max: 60 }), (xs, bins) => {
      const h = histogram(xs, bins);
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(xs.length);
    }));
  });
});

describe("sweepHeatmap", () => {
  it("lays the first two params on a grid, best value per cell, gaps as null", () => {
    const rows = [
      { fast: 10, slow: 50, sharpe: 0.5 }, { fast: 5, slow: 50, sharpe: -0.2 },
      { fast: 10, slow: 100, sharpe: 1.1 }, { fast: 10, slow: 100, sharpe: 0.9 },
    ];
    const h = sweepHeatmap(rows, ["fast", "slow"], "sharpe")!;
    expect(h.xs).toEqual([5, 10]);
    expect(h.ys).toEqual([50, 100]);
    expect(h.cells).toEqual([[0, 0, -0.2], [0, 1, null], [1, 0, 0.5], [1, 1, 1.1]]);
    expect([h.min, h.max]).toEqual([-0.2, 1.1]);
    expect(sweepHeatmap([], ["a"], "sharpe")).toBeNull();
  });
});

describe("predVsRealised", () => {
  it("aligns ns predictions to ms bars and scores the next bar's direction", () => {
    const day = 86_400_000;
    const barT = [0, 1, 2, 3].map((i) => 1_700_000_000_000 + i * day);
    const close = [10, 11, 10, 12];
    const r = predVsRealised(barT.map((t) => t * 1e6), [0.7, 0.6, 0.4, 0.9], barT, close);
    expect(r.rows.map((x) => x.realised)).toEqual([1, 0, 1, null]);
    expect(r.hitRate).toBeCloseTo(1 / 3); // hit, miss, miss
  });
});

describe("format & parse", () => {
  it("formats", () => {
    expect(fmtNum(1234.567)).toBe("1,234.57");
    expect(fmtNum(null)).toBe("—");
    expect(fmtPct(0.1234)).toBe("12.34%");
    expect(fmtTs(1_672_617_600_000_000_000)).toBe("2023-01-02");
    expect(fmtTs(1_672_617_660_000)).toBe("2023-01-02 00:01");
  });
  it("parses a portfolio or names the bad entry", () => {
    expect(parsePortfolio("aapl=100000, MSFT: 5e4\nSPY=-10")).toEqual({ AAPL: 100000, MSFT: 50000, SPY: -10 });
    expect(() => parsePortfolio("AAPL=abc")).toThrow(/AAPL=abc/);
    expect(() => parsePortfolio(" ")).toThrow(/empty/);
  });
});
