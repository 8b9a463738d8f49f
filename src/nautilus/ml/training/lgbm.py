"""LightGBM fits: one booster per call, deterministic for a seed, cancellable between rounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

from nautilus.ml.training.spec import ModelSpec

RoundHook = Callable[[int, int], None]  # (rounds done, maximum rounds); may raise to stop the fit


def booster_params(spec: ModelSpec, num_class: int) -> dict[str, Any]:
    """LightGBM parameters for ``spec`` (deterministic, row-wise, silent)."""
    p = spec.resolved_params()
    p.pop("num_boost_round")
    if p["num_threads"] == 0:
        p.pop("num_threads")
    p.update(seed=spec.seed, deterministic=True, force_row_wise=True, verbosity=-1)
    if spec.objective == "binary":
        p.update(objective="binary", metric="binary_logloss")
    elif spec.objective == "multiclass":
        p.update(objective="multiclass", metric="multi_logloss", num_class=num_class)
    else:
        p.update(objective="regression", metric="l2")
    return p


def fit_booster(spec: ModelSpec, num_class: int, x_fit: np.ndarray, y_fit: np.ndarray,
                x_val: np.ndarray | None = None, y_val: np.ndarray | None = None, rounds: int | None = None,
                on_round: RoundHook | None = None) -> tuple[lgb.Booster, int]:
    """Fit a booster; returns ``(booster, best_iteration)``.

    With a validation set and ``spec.early_stopping_rounds > 0`` the fit stops once the validation
    loss has not improved for that many rounds and ``best_iteration`` is the best round; otherwise it
    runs ``rounds`` (default ``params["num_boost_round"]``) and ``best_iteration`` is that count.
    """
    max_rounds = rounds if rounds is not None else spec.resolved_params()["num_boost_round"]
    params = booster_params(spec, num_class)
    train_set = lgb.Dataset(x_fit, label=y_fit, free_raw_data=True)
    callbacks: list[Callable] = []
    valid_sets = []
    early = x_val is not None and y_val is not None and len(y_val) > 0 and spec.early_stopping_rounds > 0
    if early:
        valid_sets = [lgb.Dataset(x_val, label=y_val, reference=train_set)]
        callbacks.append(lgb.early_stopping(spec.early_stopping_rounds, first_metric_only=True, verbose=False))
    if on_round is not None:
        def _hook(env: lgb.callback.CallbackEnv) -> None:
            on_round(env.iteration + 1, max_rounds)

        callbacks.append(_hook)
    booster = lgb.train(params, train_set, num_boost_round=max_rounds, valid_sets=valid_sets, callbacks=callbacks)
    best = booster.best_iteration if early and booster.best_iteration > 0 else booster.current_iteration()
    return booster, int(best)


def predict_booster(booster: lgb.Booster, x: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
    """P(1) (binary), ``(n, k)`` probabilities (multiclass) or values (regression)."""
    return np.asarray(booster.predict(x, num_iteration=num_iteration), dtype=float)

