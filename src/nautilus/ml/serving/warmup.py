"""Compile (or load from numba's cache) the serving kernels on a tiny forest and MLP built from arrays."""

from __future__ import annotations

import numpy as np

from nautilus.ml.serving import mlp_kernels as mk
from nautilus.ml.serving.forest import CompiledForest
from nautilus.ml.serving.mlp import CompiledMLP


def tiny_forest(objective: str, quickscorer: bool = True) -> CompiledForest:
    """One stump per output: x[0] <= 0.5 -> -1.0, else +1.0 (NaN counts as 0.0, so left).

    ``quickscorer=False`` leaves out the QuickScorer tables, so the node-walking kernels run."""
    n_out = 2 if objective == "multiclass" else 1
    ints = np.array([[0, 1, 2, 0], [-1, 1, 1, 0], [-1, 2, 2, 0]] * n_out, dtype=np.int32)
    for t in range(n_out):
        ints[3 * t: 3 * t + 3, 1:3] += 3 * t
    floats = np.array([[0.5, 0.0], [0.0, -1.0], [0.0, 1.0]] * n_out)
    return CompiledForest(ints, floats, np.arange(n_out, dtype=np.int32) * 3, n_features=2, objective=objective,
                          n_classes=n_out, transform="softmax" if n_out > 1 else "sigmoid",
                          quickscorer=None if quickscorer else {})


def warm() -> None:
    X = np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 0.0]])
    for objective in ("binary", "multiclass"):
        for quickscorer in (True, False):
            forest = tiny_forest(objective, quickscorer)
            forest.predict(X)
            forest.predict_one(X[1])
    CompiledMLP([(np.eye(2), np.zeros(2), mk.RELU, 0.0), (np.ones((1, 2)), np.zeros(1), mk.IDENTITY, 0.0)]).predict_one(X[0])
