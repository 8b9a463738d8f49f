"""Built-in ML tasks: next-period direction, volatility forecast and market regime, with baselines.

Each :class:`Task` names the feature set (built by :mod:`nautilus.features`) and target it trains on,
its objective, a default :class:`ModelSpec`, and a baseline scored on exactly the model's folds and
test rows (``TrainResult.baseline``: ``name``, ``folds`` (bounds and metrics), ``mean``, ``pooled``):

* ``direction`` (``direction_1``, binary): accuracy of always predicting the training fold's majority
  class; AUC and log-loss of the constant probability 0.5 (AUC 0.5, log-loss ln 2).
* ``volatility`` (``rvol_5``, regression): GARCH(1,1) (zero mean, normal, ``arch``) fitted per symbol
  on its one-bar returns up to the training fold's end, then run with those parameters fixed over the
  returns up to the test period's end; the forecast at row t, made from returns at or before t only,
  is ``sqrt(sum_{k=1..5} sigma^2_{t+k|t})``, matching ``rvol_5 = sqrt(sum of the next 5 squared log
  returns)``. Returns are ``logret_1`` when the frame has it, else ``ret_1``. A fit that fails or is
  not stationary falls back to a constant variance (the training returns' mean square).
* ``regime`` (``regime_20``, classes 0..3 bull/bear/sideways/volatile): the training fold's majority
  class, with its class frequencies (add-one smoothed) as probabilities for the log-loss.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.ml.training.metrics import (
    auc,
    binary_log_loss,
    mean_metrics,
    multiclass_metrics,
    regression_metrics,
)
from nautilus.ml.training.spec import ModelSpec

if TYPE_CHECKING:  # the trainer (lightgbm, torch) loads with the first training, not with the task list
    from nautilus.features.frame import FeatureFrame
    from nautilus.ml.training.trainer import Progress, TrainResult

Baseline = Callable[["FeatureFrame", "TrainResult"], dict]
RETURN_FEATURES = ("logret_1", "ret_1")  # the one-bar returns the GARCH baseline is fitted on, preferred first
GARCH_SCALE = 100.0  # returns are fitted in percent, which the optimiser handles best


@dataclass(frozen=True)
class Task:
    name: str
    feature_set: str  # built-in feature set of nautilus.features
    target: str
    objective: str
    spec: ModelSpec  # default model
    baseline: Baseline
    description: str
    needs_one_of: tuple[str, ...] = ()  # input features the baseline reads (the frame needs one of them)


def _per_fold(result: TrainResult, name: str,
              fold_metrics: Callable[[np.ndarray, np.ndarray], tuple[dict[str, float], np.ndarray | None]],
              pooled: Callable[[list[np.ndarray], list[np.ndarray]], dict[str, float]]) -> dict:
    folds, rows, preds = [], [], []
    for fold in result.folds:
        metrics, pred = fold_metrics(fold.train_idx, fold.test_idx)
        folds.append({**fold.bounds(), "metrics": metrics})
        rows.append(fold.test_idx)
        preds.append(pred)
    return {"name": name, "folds": folds, "mean": mean_metrics([f["metrics"] for f in folds]),
            "pooled": pooled(rows, preds)}


def _target(frame: FeatureFrame, result: TrainResult) -> np.ndarray:
    return frame.y[:, frame.target_index(result.target)]


def direction_baseline(frame: FeatureFrame, result: TrainResult) -> dict:
    y = _target(frame, result)

    def fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        majority = 1.0 if np.mean(y[train_idx]) >= 0.5 else 0.0
        pred = np.full(test_idx.size, majority)
        return _direction_metrics(y[test_idx], pred), pred

    def pooled(rows: list[np.ndarray], preds: list[np.ndarray]) -> dict[str, float]:
        return _direction_metrics(y[np.concatenate(rows)], np.concatenate(preds))

    return _per_fold(result, "majority class (accuracy), probability 0.5 (AUC, log-loss)", fold, pooled)


def _direction_metrics(y: np.ndarray, majority_pred: np.ndarray) -> dict[str, float]:
    half = np.full(y.size, 0.5)
    return {"n": int(y.size), "accuracy": float(np.mean(majority_pred == y)), "auc": auc(y, half),
            "log_loss": binary_log_loss(y, half)}


def regime_baseline(frame: FeatureFrame, result: TrainResult) -> dict:
    y = _target(frame, result)
    k = int(result.n_classes or 2)

    def fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        counts = np.bincount(y[train_idx].astype(np.int64), minlength=k)[:k] + 1.0
        prob = np.tile(counts / counts.sum(), (test_idx.size, 1))
        return multiclass_metrics(y[test_idx], prob), prob

    def pooled(rows: list[np.ndarray], preds: list[np.ndarray]) -> dict[str, float]:
        return multiclass_metrics(y[np.concatenate(rows)], np.vstack(preds))

    return _per_fold(result, "majority class", fold, pooled)


@dataclass(frozen=True)
class GarchForecast:
    """GARCH(1,1) forecasts from row ``start`` of a return series on: ``var1[i]`` = sigma^2 of the next
    bar given returns up to ``start + i``; ``rvol`` = ``sqrt(sum_{k=1..h} sigma^2_{t+k|t})``."""

    omega: float  # in squared return units
    alpha: float
    beta: float
    fitted: bool  # False: the constant-variance fallback
    var1: np.ndarray
    rvol: np.ndarray


def garch_rvol_forecast(returns: np.ndarray, n_fit: int, start: int, horizon: int) -> GarchForecast:
    """Fit GARCH(1,1) on ``returns[:n_fit]``, filter ``returns`` with the fitted parameters fixed and
    forecast ``horizon`` bars ahead at every row ``t >= start`` (using ``returns[:t+1]`` only)."""
    from arch import arch_model

    y = np.asarray(returns, dtype=float) * GARCH_SCALE
    fitted, omega, alpha, beta = False, float(np.mean(y[:n_fit] ** 2)), 0.0, 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_model(y[:n_fit], mean="Zero", vol="GARCH", p=1, q=1, dist="normal").fit(
                disp="off", show_warning=False)
        o, a, b = (float(res.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
        if res.convergence_flag == 0 and all(math.isfinite(v) and v >= 0 for v in (o, a, b)) and a + b < 1:
            fitted, omega, alpha, beta = True, o, a, b
    except Exception:  # any optimiser failure takes the fallback
        fitted = False
    if fitted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fixed = arch_model(y, mean="Zero", vol="GARCH", p=1, q=1, dist="normal").fix([omega, alpha, beta])
            variance = np.asarray(fixed.forecast(horizon=horizon, start=start, reindex=False).variance)
    else:
        variance = np.full((y.size - start, horizon), omega)
    scale2 = GARCH_SCALE**2
    return GarchForecast(omega / scale2, alpha, beta, fitted, variance[:, 0] / scale2,
                         np.sqrt(variance.sum(axis=1) / scale2))


def volatility_baseline(frame: FeatureFrame, result: TrainResult, horizon: int = 5) -> dict:
    y = _target(frame, result)
    column = next((c for c in RETURN_FEATURES if c in frame.feature_names), None)
    if column is None:
        raise InvalidInput("the volatility baseline needs a ret_1 (or logret_1) feature", field="feature_names")
    r = frame.X[:, frame.feature_names.index(column)]
    symbols = np.asarray(frame.symbols)
    fallbacks = 0

    def fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        nonlocal fallbacks
        train_end = int(frame.ts[train_idx].max())
        test_end = int(frame.ts[test_idx].max())
        pred = np.full(test_idx.size, np.nan)
        for symbol in np.unique(symbols[test_idx]):
            sym_rows = np.flatnonzero((symbols == symbol) & np.isfinite(r) & (frame.ts <= test_end))
            n_fit = int(np.sum(frame.ts[sym_rows] <= train_end))
            wanted = test_idx[symbols[test_idx] == symbol]
            pos = np.searchsorted(sym_rows, wanted)
            start = int(pos.min())
            forecast = garch_rvol_forecast(r[sym_rows], max(n_fit, 1), start, horizon)
            fallbacks += not forecast.fitted
            pred[symbols[test_idx] == symbol] = forecast.rvol[pos - start]
        return regression_metrics(y[test_idx], pred), pred

    def pooled(rows: list[np.ndarray], preds: list[np.ndarray]) -> dict[str, float]:
        return regression_metrics(y[np.concatenate(rows)], np.concatenate(preds))

    out = _per_fold(result, f"GARCH(1,1) on {column}", fold, pooled)
    out["fallbacks"] = fallbacks
    return out


TASKS: dict[str, Task] = {
    "direction": Task(
        "direction", "direction", "direction_1", "binary",
        ModelSpec(kind="lightgbm", objective="binary", early_stopping_rounds=30,
                  params={"num_boost_round": 300, "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 50,
                          "feature_fraction": 0.8, "lambda_l2": 1.0}),
        direction_baseline, "next-bar direction (up = 1) from the standard inputs"),
    "volatility": Task(
        "volatility", "volatility", "rvol_5", "regression",
        ModelSpec(kind="lightgbm", objective="regression", early_stopping_rounds=30,
                  params={"num_boost_round": 300, "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 50,
                          "lambda_l2": 1.0}),
        volatility_baseline, "realised volatility of the next 5 bars, judged against GARCH(1,1)",
        RETURN_FEATURES),
    "regime": Task(
        "regime", "regime", "regime_20", "multiclass",
        ModelSpec(kind="lightgbm", objective="multiclass", early_stopping_rounds=30,
                  params={"num_boost_round": 300, "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 50,
                          "feature_fraction": 0.8, "lambda_l2": 1.0}),
        regime_baseline, "market regime of the next 20 bars: 0 bull, 1 bear, 2 sideways, 3 volatile"),
}


def run_task(name: str, frame: FeatureFrame, spec: ModelSpec | None = None, n_folds: int = 5,
             scheme: str = "expanding", embargo: int | None = None, progress: Progress | None = None,
             cancel: threading.Event | None = None, train_size: int | None = None,
             test_size: int | None = None, device: str = "cpu") -> TrainResult:
    """Train task ``name`` on ``frame`` (its feature set's frame) and score its baseline on the same folds
    (``device``: where torch models train, see :func:`~nautilus.ml.training.trainer.train`)."""
    from nautilus.ml.training.trainer import train

    task = TASKS.get(name)
    if task is None:
        raise InvalidInput(f"unknown task {name!r}; tasks: {', '.join(TASKS)}", field="task")
    spec = task.spec if spec is None else spec
    if spec.objective != task.objective:
        raise InvalidInput(f"task {name!r} needs objective {task.objective!r}, got {spec.objective!r}",
                           field="objective")
    if task.target not in frame.target_names:
        raise InvalidInput(f"task {name!r} needs target {task.target!r} (feature set {task.feature_set!r}); "
                           f"the frame has {', '.join(frame.target_names) or 'none'}", field="target")
    if task.needs_one_of and not set(task.needs_one_of) & set(frame.feature_names):
        raise InvalidInput(f"task {name!r} needs a feature among {', '.join(task.needs_one_of)}",
                           field="feature_names")

    def scaled(fraction: float, message: str) -> None:
        if progress is not None:
            progress(0.95 * fraction, message)

    result = train(frame, task.target, spec, n_folds=n_folds, scheme=scheme, embargo=embargo, progress=scaled,
                   cancel=cancel, train_size=train_size, test_size=test_size, device=device)
    if progress is not None:
        progress(0.95, "baseline")
    result.baseline = task.baseline(frame, result)
    if progress is not None:
        progress(1.0, "done")
    return result
