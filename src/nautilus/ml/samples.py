"""Which sample a model's numbers come from, and the out-of-sample headline (pure: arrays in, dicts out).

Two samples exist for a registered model:

* ``out_of_sample``: the walk-forward test rows. Each fold's model never saw its test rows (purged and
  embargoed by the horizon); ``TrainResult.oos_rows``/``oos_pred`` are those predictions. Every headline
  number (the registry list, the model card, the dashboard's hit rate) is computed from them only.
* ``in_sample``: the final model (refit on every usable row) scored on the rows it was fitted on. Shown for
  comparison, always labelled; it overstates skill.

A prediction served later is ``in_sample`` when its (symbol, ts) lies in the training data (the model's
symbols, ``first_ts <= ts <= last_ts``), else ``out_of_sample``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IN_SAMPLE = "in_sample"
OUT_OF_SAMPLE = "out_of_sample"


def hit_rate(y: np.ndarray, p: np.ndarray) -> float:
    """Share of rows where ``P(1) >= 0.5`` agrees with the binary truth ``y``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean((p >= 0.5) == (y == 1.0))) if y.size else float("nan")


def headline(objective: str, pooled_oos: dict[str, Any], y_oos: np.ndarray, p_oos: np.ndarray) -> dict[str, Any]:
    """The model's headline: the pooled out-of-sample metrics, plus the hit rate for a binary model."""
    out: dict[str, Any] = {"sample": OUT_OF_SAMPLE, **pooled_oos}
    if objective == "binary":
        out["hit_rate"] = hit_rate(y_oos, p_oos)
    return out


def labelled_metrics(objective: str, summary: dict[str, Any], baseline: dict[str, Any] | None,
                     in_sample: dict[str, Any], y_oos: np.ndarray, p_oos: np.ndarray) -> dict[str, Any]:
    """A registry ``metrics`` object in which every group names its sample."""
    pooled = dict(summary.get("pooled") or {})
    out: dict[str, Any] = {
        "headline": headline(objective, pooled, y_oos, p_oos),
        OUT_OF_SAMPLE: {"sample": OUT_OF_SAMPLE, "scheme": "walk_forward_test", "mean": summary.get("mean"),
                        "pooled": pooled},
        IN_SAMPLE: {"sample": IN_SAMPLE, "scheme": "final_model_on_training_rows", **in_sample},
    }
    if baseline is not None:
        out["baseline"] = {"sample": OUT_OF_SAMPLE, **baseline}
    return out


def sample_of(symbols: np.ndarray, ts: np.ndarray, trained_symbols: list[str], first_ts: int,
              last_ts: int) -> list[str]:
    """``in_sample`` or ``out_of_sample`` for each (symbol, ts) of served predictions."""
    inside = np.isin(np.asarray(symbols, dtype=object), list(trained_symbols)) & \
        (np.asarray(ts) >= first_ts) & (np.asarray(ts) <= last_ts)
    return [IN_SAMPLE if v else OUT_OF_SAMPLE for v in inside]
