// Which sample a model's numbers come from (see nautilus.ml.samples): the headline is out-of-sample only.

export type Sample = "in_sample" | "out_of_sample";

export const SAMPLE_LABEL: Record<Sample, string> = {
  out_of_sample: "out-of-sample (walk-forward test)",
  in_sample: "in-sample (final model on its training rows)",
};

export interface PredRow { t: number; p: number; realised: number | null }

/** Hit rate (P >= 0.5 vs next bar up) of the rows of one sample; `samples[k]` labels `rows[k]`. */
export function hitRateOf(rows: PredRow[], samples: (Sample | string)[] | undefined, sample: Sample): { rate: number | null; n: number } {
  let hits = 0;
  let n = 0;
  rows.forEach((r, k) => {
    if ((samples?.[k] ?? "in_sample") !== sample || r.realised == null) return;
    n++;
    if ((r.p >= 0.5 ? 1 : 0) === r.realised) hits++;
  });
  return { rate: n ? hits / n : null, n };
}

/** One chart series per sample: values where the row belongs to it, null elsewhere (so lines do not join). */
export function splitBySample(rows: PredRow[], samples: (Sample | string)[] | undefined, sample: Sample): (number | null)[] {
  return rows.map((r, k) => ((samples?.[k] ?? "in_sample") === sample ? r.p : null));
}
