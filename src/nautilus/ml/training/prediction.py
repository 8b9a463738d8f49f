"""Predictions of a trained model (LightGBM booster or torch module) on a FeatureFrame's rows."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.features.frame import FeatureFrame
from nautilus.ml.training.lgbm import predict_booster
from nautilus.ml.training.torch_models import predict_network, sequence_rows


def predictable_rows(frame: FeatureFrame, sequence_length: int | None = None) -> np.ndarray:
    """Rows with finite inputs (and, for a sequence model, a full window of them within the symbol)."""
    finite = np.isfinite(frame.X).all(axis=1)
    if sequence_length:
        finite = sequence_rows(frame.symbols, finite, sequence_length)
    return np.flatnonzero(finite)


def predict_rows(model: Any, x: np.ndarray, rows: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
    """Predictions for ``rows`` of the raw feature matrix ``x`` (P(1), values, or ``(n, k)`` probabilities)."""
    if isinstance(model, lgb.Booster):
        return predict_booster(model, x[rows], num_iteration)
    return predict_network(model, x, rows)


def predict(model: Any, frame: FeatureFrame, feature_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, predictions)`` for every predictable row of ``frame``.

    ``feature_names`` (the training features, in order) selects and orders the frame's columns;
    a missing one raises :class:`InvalidInput` (``field="feature_names"``).
    """
    x = frame.X
    if feature_names is not None:
        missing = [n for n in feature_names if n not in frame.feature_names]
        if missing:
            raise InvalidInput(f"the frame lacks features {', '.join(missing)}", field="feature_names")
        x = frame.X[:, [frame.feature_names.index(n) for n in feature_names]]
        frame = FeatureFrame(frame.symbols, frame.ts, x, list(feature_names), frame.y, frame.target_names,
                             frame.horizon, frame.lookback, frame.meta)
    length = None if isinstance(model, lgb.Booster) else model.arch.get("sequence_length")
    rows = predictable_rows(frame, length)
    return rows, predict_rows(model, x, rows)
