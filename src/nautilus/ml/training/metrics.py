"""Out-of-sample metrics (pure numpy).

* binary (``p`` = predicted P(y = 1)): ``accuracy`` (threshold 0.5), ``auc`` (rank-based: the
  Mann-Whitney U over positives and negatives with average ranks for ties, divided by
  ``n_pos * n_neg``; NaN when one class is absent), ``log_loss`` (probabilities clipped to
  ``[1e-15, 1 - 1e-15]``).
* multiclass (``p`` = ``(n, k)`` probabilities): ``accuracy`` (argmax), ``log_loss``, ``macro_f1``
  (unweighted mean F1 over the classes present in the truth or the predictions; F1 = 0 for a class
  with no true positive).
* regression: ``rmse``, ``mae``, ``ic`` (Pearson correlation), ``rank_ic`` (Spearman: Pearson of the
  average ranks); a correlation is NaN when either side is constant.

Every metric dict also carries ``n``, the number of rows scored.
"""

from __future__ import annotations

import numpy as np

_CLIP = 1e-15


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.shape[0]]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(x.shape[0])
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auc(y: np.ndarray, p: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    n_pos = int(np.sum(y == 1))
    n_neg = y.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = average_ranks(p)
    u = r[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def binary_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=float), _CLIP, 1.0 - _CLIP)
    y = np.asarray(y, dtype=float)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def multiclass_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = np.clip(p / p.sum(axis=1, keepdims=True), _CLIP, 1.0)
    return float(-np.mean(np.log(p[np.arange(p.shape[0]), np.asarray(y, dtype=np.int64)])))


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    scores = []
    for c in np.union1d(y, pred):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        scores.append(0.0 if tp == 0 else 2.0 * tp / (2.0 * tp + fp + fn))
    return float(np.mean(scores))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float) - np.mean(a)
    b = np.asarray(b, dtype=float) - np.mean(b)
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / den) if den > 0 else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(average_ranks(a), average_ranks(b))


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    return {"n": int(y.shape[0]), "accuracy": float(np.mean((p >= 0.5) == (y == 1))), "auc": auc(y, p),
            "log_loss": binary_log_loss(y, p)}


def multiclass_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=np.int64)
    pred = np.argmax(p, axis=1)
    return {"n": int(y.shape[0]), "accuracy": float(np.mean(pred == y)), "log_loss": multiclass_log_loss(y, p),
            "macro_f1": macro_f1(y, pred)}


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    err = p - y
    return {"n": int(y.shape[0]), "rmse": float(np.sqrt(np.mean(err * err))), "mae": float(np.mean(np.abs(err))),
            "ic": pearson(p, y), "rank_ic": spearman(p, y)}


def score(objective: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The metrics of ``objective`` for truth ``y`` and predictions ``p``."""
    if objective == "binary":
        return binary_metrics(y, p)
    if objective == "multiclass":
        return multiclass_metrics(y, p)
    return regression_metrics(y, p)


def mean_metrics(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over folds (NaN folds ignored; ``n`` is summed)."""
    out: dict[str, float] = {}
    for key in per_fold[0]:
        values = np.array([m[key] for m in per_fold], dtype=float)
        if key == "n":
            out[key] = int(values.sum())
        else:
            finite = values[np.isfinite(values)]
            out[key] = float(finite.mean()) if finite.size else float("nan")
    return out
