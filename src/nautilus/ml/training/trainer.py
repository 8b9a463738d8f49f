"""``train``: walk-forward validation of a model on a FeatureFrame target, then a final fit on all rows.

Rows used: a finite target and finite inputs (for LSTM/TCN, a full window of finite inputs of the
same symbol ending at the row). Folds come from :func:`walk_forward_splits` on those rows' timestamps
with the frame's ``horizon`` (purge) and ``embargo`` (default: the horizon). In each fold the model is
fitted on the training rows minus a purged validation tail (the last ``spec.validation_fraction`` of
the training bars) used for early stopping, then predicts the test rows. The final model is fitted on
all rows for the mean of the folds' best iteration counts (boosting rounds or epochs), no early stopping.

``progress(fraction, message)`` is called as folds and rounds advance (fraction in [0, 1], ending at
1.0); ``cancel`` (a ``threading.Event``) is checked between boosting rounds / epochs and between
folds, and raises :class:`Cancelled` once set. Torch models train on ``device`` (a compute backend's name:
``cpu``, ``cuda`` or ``mps``), which the caller resolves; LightGBM runs on the CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.features.frame import FeatureFrame
from nautilus.ml.training.lgbm import fit_booster
from nautilus.ml.training.metrics import mean_metrics, score
from nautilus.ml.training.prediction import predict_rows
from nautilus.ml.training.spec import Cancelled, ModelSpec
from nautilus.ml.training.splits import Fold, holdout_tail, walk_forward_splits
from nautilus.ml.training.torch_models import fit_network, sequence_rows

Progress = Callable[[float, str], None]


@dataclass
class TrainResult:
    """A trained model and how it did out of sample.

    ``oos_rows``/``oos_pred``: frame row indices (ascending) of every test row and their predictions
    (P(1), value, or ``(n, k)`` class probabilities). ``summary`` holds ``"mean"`` (metric means over
    folds) and ``"pooled"`` (metrics on all OOS rows at once). ``baseline`` is filled by
    :func:`nautilus.ml.tasks.run_task` in the same shape (``name``, ``folds``, ``mean``, ``pooled``).
    """

    model: Any  # lightgbm.Booster or torch.nn.Module (CPU, eval mode)
    spec: ModelSpec
    target: str
    feature_names: list[str]
    n_classes: int | None  # multiclass only
    folds: list[Fold]  # row indices into the frame
    fold_metrics: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    oos_rows: np.ndarray
    oos_pred: np.ndarray
    best_iteration: int  # boosting rounds / epochs of the final model
    data_start: int  # first and last ts of the rows used
    data_end: int
    n_rows: int
    horizon: int
    embargo: int
    scheme: str
    duration_s: float
    baseline: dict[str, Any] | None = None

    def oos_predictions(self) -> dict[int, float | list[float]]:
        """Row index -> out-of-sample prediction."""
        return {int(r): (p.tolist() if isinstance(p, np.ndarray) else float(p))
                for r, p in zip(self.oos_rows, self.oos_pred, strict=True)}

    def report(self) -> dict[str, Any]:
        """Everything but the model and the prediction arrays, JSON-able."""
        import msgspec

        return {"spec": msgspec.to_builtins(self.spec), "target": self.target,
                "feature_names": list(self.feature_names), "n_classes": self.n_classes,
                "fold_metrics": self.fold_metrics, "summary": self.summary, "baseline": self.baseline,
                "best_iteration": self.best_iteration, "data_start": self.data_start, "data_end": self.data_end,
                "n_rows": self.n_rows, "horizon": self.horizon, "embargo": self.embargo, "scheme": self.scheme,
                "duration_s": self.duration_s}


def _labels(y: np.ndarray, objective: str) -> int | None:
    """Check target values for ``objective``; the class count for multiclass."""
    if objective == "binary" and not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput("a binary target must hold only 0 and 1", field="target")
    if objective == "multiclass":
        if not (np.all(y == np.round(y)) and np.all(y >= 0)):
            raise InvalidInput("a multiclass target must hold class numbers 0, 1, 2, ...", field="target")
        return max(2, int(y.max()) + 1)
    return None


def usable_rows(frame: FeatureFrame, target: str, spec: ModelSpec) -> np.ndarray:
    """Rows ``train`` uses for ``target`` (see the module docstring)."""
    try:
        y = frame.y[:, frame.target_index(target)]
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0]), field="target") from None
    finite = np.isfinite(frame.X).all(axis=1)
    ok = np.isfinite(y) & finite
    if spec.is_sequence:
        ok &= sequence_rows(frame.symbols, finite, spec.sequence_length)
    return np.flatnonzero(ok)


class _Ticker:
    """Progress over ``n_steps`` equal steps (folds + final fit), throttled within a step, with cancel checks."""

    def __init__(self, n_steps: int, progress: Progress | None, cancel: threading.Event | None) -> None:
        self.n_steps, self.progress, self.cancel = n_steps, progress, cancel
        self.step, self.label = 0, ""

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("training cancelled")

    def begin(self, step: int, label: str) -> None:
        self.check()
        self.step, self.label = step, label
        if self.progress is not None:
            self.progress(step / self.n_steps, label)

    def __call__(self, done: int, total: int) -> None:
        self.check()
        if self.progress is not None and (done == total or done % max(1, total // 10) == 0):
            self.progress((self.step + done / total) / self.n_steps, f"{self.label}: {done}/{total}")

    def end(self) -> None:
        if self.progress is not None:
            self.progress(1.0, "done")


def _fit(spec: ModelSpec, n_outputs: int, x: np.ndarray, y: np.ndarray, fit_rows: np.ndarray,
         val_rows: np.ndarray | None, iterations: int | None, hook: _Ticker, device: str) -> tuple[Any, int]:
    if spec.kind == "lightgbm":
        x_val = None if val_rows is None else x[val_rows]
        y_val = None if val_rows is None else y[val_rows]
        return fit_booster(spec, n_outputs, x[fit_rows], y[fit_rows], x_val, y_val, iterations, hook)
    return fit_network(spec, n_outputs, x, y, fit_rows, val_rows, iterations, hook, device=device)


def train(frame: FeatureFrame, target: str, spec: ModelSpec, n_folds: int = 5, scheme: str = "expanding",
          embargo: int | None = None, progress: Progress | None = None, cancel: threading.Event | None = None,
          train_size: int | None = None, test_size: int | None = None, device: str = "cpu") -> TrainResult:
    """Walk-forward validate ``spec`` on ``frame``'s ``target`` and fit the final model (module docstring)."""
    started = time.perf_counter()
    if not isinstance(spec, ModelSpec):
        raise InvalidInput("spec must be a ModelSpec", field="spec")
    rows = usable_rows(frame, target, spec)
    if rows.size == 0:
        raise InvalidInput(f"no row has finite inputs and a finite {target!r}", field="frame")
    x = np.ascontiguousarray(frame.X, dtype=np.float64)
    y_raw = frame.y[:, frame.target_index(target)]
    y = np.where(np.isfinite(y_raw), y_raw, 0.0)
    n_classes = _labels(y[rows], spec.objective)
    n_outputs = n_classes if n_classes is not None else 1
    horizon = int(frame.horizon)
    embargo = horizon if embargo is None else embargo
    local = walk_forward_splits(frame.ts[rows], n_folds, scheme, train_size, test_size, horizon, embargo)
    folds = [Fold(f.index, rows[f.train_idx], rows[f.test_idx], f.train_start, f.train_end, f.test_start,
                  f.test_end) for f in local]

    ticker = _Ticker(len(folds) + 1, progress, cancel)
    fold_metrics: list[dict[str, Any]] = []
    oos_rows, oos_pred, best_iterations = [], [], []
    for fold in folds:
        ticker.begin(fold.index, f"fold {fold.index + 1}/{len(folds)}")
        if spec.early_stopping_rounds > 0:
            fit_rows, val_rows = holdout_tail(frame.ts, fold.train_idx, spec.validation_fraction, horizon)
        else:
            fit_rows, val_rows = fold.train_idx, fold.train_idx[:0]
        model, best = _fit(spec, n_outputs, x, y, fit_rows, val_rows, None, ticker, device)
        pred = predict_rows(model, x, fold.test_idx, best if spec.kind == "lightgbm" else None)
        best_iterations.append(best)
        fold_metrics.append({**fold.bounds(), "n_train": int(fold.train_idx.size), "n_fit": int(fit_rows.size),
                             "n_validation": int(val_rows.size), "n_test": int(fold.test_idx.size),
                             "best_iteration": best, "metrics": score(spec.objective, y[fold.test_idx], pred)})
        oos_rows.append(fold.test_idx)
        oos_pred.append(pred)

    final_iterations = max(1, int(round(float(np.mean(best_iterations)))))
    ticker.begin(len(folds), "final model")
    model, _ = _fit(spec, n_outputs, x, y, rows, None, final_iterations, ticker, device)
    ticker.end()

    all_rows = np.concatenate(oos_rows)
    order = np.argsort(all_rows, kind="stable")
    all_rows, all_pred = all_rows[order], np.concatenate(oos_pred)[order]
    summary = {"mean": mean_metrics([m["metrics"] for m in fold_metrics]),
               "pooled": score(spec.objective, y[all_rows], all_pred)}
    return TrainResult(
        model=model, spec=spec, target=target, feature_names=list(frame.feature_names), n_classes=n_classes,
        folds=folds, fold_metrics=fold_metrics, summary=summary, oos_rows=all_rows, oos_pred=all_pred,
        best_iteration=final_iterations, data_start=int(frame.ts[rows].min()), data_end=int(frame.ts[rows].max()),
        n_rows=int(rows.size), horizon=horizon, embargo=int(embargo), scheme=scheme,
        duration_s=time.perf_counter() - started)
