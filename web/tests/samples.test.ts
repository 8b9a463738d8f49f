import { describe, expect, it } from "vitest";
import { hitRateOf, splitBySample } from "../src/lib/samples";

const rows = [
  { t: 1, p: 0.7, realised: 1 }, { t: 2, p: 0.2, realised: 1 }, // in-sample: 1 of 2
  { t: 3, p: 0.6, realised: 0 }, { t: 4, p: 0.4, realised: 0 }, { t: 5, p: 0.9, realised: null }, // oos: 1 of 2
];
const samples = ["in_sample", "in_sample", "out_of_sample", "out_of_sample", "out_of_sample"];

describe("samples", () => {
  it("scores each sample apart", () => {
    expect(hitRateOf(rows, samples, "out_of_sample")).toEqual({ rate: 0.5, n: 2 });
    expect(hitRateOf(rows, samples, "in_sample")).toEqual({ rate: 0.5, n: 2 });
    expect(hitRateOf(rows, undefined, "out_of_sample")).toEqual({ rate: null, n: 0 });
  });
  it("splits a series by sample", () => {
    expect(splitBySample(rows, samples, "in_sample")).toEqual([0.7, 0.2, null, null, null]);
    expect(splitBySample(rows, samples, "out_of_sample")).toEqual([null, null, 0.6, 0.4, 0.9]);
  });
});
