import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Headline } from "../src/pages/ML";

afterEach(cleanup);

const base = { name: "direction", version: 1, stage: "candidate", task: "direction", kind: "lightgbm", objective: "binary", symbols: ["AAA"], created_at: "" };

describe("ML headline", () => {
  it("is the out-of-sample hit rate, with the in-sample one apart and labelled", () => {
    render(<Headline m={{ ...base, metrics: {
      headline: { sample: "out_of_sample", accuracy: 0.5, hit_rate: 0.5, n: 400 },
      in_sample: { sample: "in_sample", hit_rate: 0.67 },
    } }} />);
    const text = screen.getByTestId("model-headline").textContent ?? "";
    expect(text).toContain("Hit rate, out-of-sample (walk-forward test): 50.0%");
    expect(text).toContain("in-sample (final model on its training rows): 67.0% (not a measure of skill)");
    expect(text.indexOf("67.0%")).toBeGreaterThan(text.indexOf("50.0%"));
  });
  it("says so when a version has no out-of-sample metrics", () => {
    render(<Headline m={{ ...base, metrics: {} }} />);
    expect(screen.getByText(/No out-of-sample metrics/)).toBeTruthy();
  });
});
