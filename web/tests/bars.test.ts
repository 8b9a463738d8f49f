import fc from "fast-check";
import { checkColumns, needsReslice, toLine, toMs, toSeries, windowFor } from "../src/lib/bars";

const bars = {
  t: [1_700_000_000_000, 1_700_000_060_000, 1_700_000_120_000],
  open: [10, 11, 12], high: [12, 12, 13], low: [9, 10, 11], close: [11, 10.5, 12.5], volume: [100, 200, 300],
};

describe("toSeries", () => {
  it("maps columnar bars to candles in seconds with coloured volume", () => {
    const s = toSeries(bars);
    expect(s.candles).toEqual([
      { time: 1_700_000_000, open: 10, high: 12, low: 9, close: 11 },
      { time: 1_700_000_060, open: 11, high: 12, low: 10, close: 10.5 },
      { time: 1_700_000_120, open: 12, high: 13, low: 11, close: 12.5 },
    ]);
    expect(s.volume.map((v) => v.value)).toEqual([100, 200, 300]);
    expect(s.volume[0].color.startsWith("#26a69a")).toBe(true); // up bar
    expect(s.volume[1].color.startsWith("#ef5350")).toBe(true); // down bar
  });

  it("slices a window and clamps bounds", () => {
    expect(toSeries(bars, 1, 2).candles.map((c) => c.time)).toEqual([1_700_000_060]);
    expect(toSeries(bars, -5, 99).candles).toHaveLength(3);
    expect(toSeries(bars, 3, 1).candles).toHaveLength(0);
  });

  it("rejects ragged columns, naming the column", () => {
    expect(() => checkColumns({ ...bars, close: [1] })).toThrow(/close/);
  });

  it("drops null values in lines", () => {
    expect(toLine(bars.t, [null, 2, Number.NaN])).toEqual([{ time: 1_700_000_060, value: 2 }]);
  });

  it("normalises ns and ms epochs", () => {
    expect(toMs(1_700_000_000_000_000_000)).toBe(1_700_000_000_000);
    expect(toMs(1_700_000_000_000)).toBe(1_700_000_000_000);
  });
});

describe("windowFor", () => {
  it("hand-worked: centre of a long series", () => {
    // span 100, pad 2 → half = max(1000, 250) = 1000 around mid 50_050
    expect(windowFor(100_000, 50_000, 50_100)).toEqual({ from: 49_050, to: 51_050 });
  });

  it("clamps at both ends and never exceeds the series", () => {
    expect(windowFor(100_000, 99_800, 100_000)).toEqual({ from: 98_000, to: 100_000 });
    expect(windowFor(500, 0, 100)).toEqual({ from: 0, to: 500 });
    expect(windowFor(0, 0, 10)).toEqual({ from: 0, to: 0 });
  });

  it("property: in bounds, covers the visible range, at least min(n, minSize) rows", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 5000 }),
      (n, pos, span) => {
        const from = Math.floor(pos * Math.max(0, n - 1));
        const to = Math.min(n, from + span);
        const w = windowFor(n, from, to);
        expect(w.from).toBeGreaterThanOrEqual(0);
        expect(w.to).toBeLessThanOrEqual(n);
        expect(w.from).toBeLessThanOrEqual(from);
        expect(w.to).toBeGreaterThanOrEqual(to);
        expect(w.to - w.from).toBeGreaterThanOrEqual(Math.min(n, 2000));
        // a fresh window never needs re-slicing for the range it was built for
        expect(needsReslice(w, n, from, to)).toBe(false);
      }));
  });

  it("needsReslice only near an inner edge", () => {
    const w = { from: 1000, to: 3000 };
    expect(needsReslice(w, 10_000, 1010, 1110)).toBe(true); // near the left edge, more data to the left
    expect(needsReslice(w, 10_000, 2000, 2100)).toBe(false);
    expect(needsReslice({ from: 0, to: 2000 }, 10_000, 0, 100)).toBe(false); // the series' own start
  });
});
