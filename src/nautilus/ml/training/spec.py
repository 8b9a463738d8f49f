"""What to train: :class:`ModelSpec` (model kind, objective, hyper-parameters, seed) and its validation.

``params`` may only hold the keys listed in :data:`DEFAULT_PARAMS` for the spec's ``kind``; a missing
key takes its default, an unknown key or a value of the wrong type or range raises
:class:`~nautilus.core.errors.InvalidInput` whose ``field`` is ``params.<key>``.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from nautilus.core.errors import InvalidInput

KINDS = ("lightgbm", "mlp", "lstm", "tcn")
OBJECTIVES = ("binary", "multiclass", "regression")
SEQUENCE_KINDS = ("lstm", "tcn")

_TORCH_COMMON: dict[str, Any] = {
    "hidden": 32,  # units per hidden layer (MLP, LSTM) or channels per level (TCN)
    "layers": 2,  # hidden layers (MLP), stacked LSTM layers, TCN levels (dilation 2**level)
    "dropout": 0.1,
    "lr": 1e-3,  # Adam learning rate
    "weight_decay": 0.0,
    "epochs": 50,  # maximum epochs; early stopping picks the best one
    "batch_size": 256,
    "num_threads": 1,  # torch CPU threads while fitting (restored afterwards); 0 = leave torch's setting
}

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "num_boost_round": 200,  # maximum rounds; early stopping picks the best one
        "learning_rate": 0.05,
        "num_leaves": 15,
        "max_depth": -1,
        "min_data_in_leaf": 20,
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "lambda_l1": 0.0,
        "lambda_l2": 0.0,
        "min_gain_to_split": 0.0,
        "num_threads": 1,  # 0 = LightGBM's default (all cores); 1 because two busy cores made 2 ~100x slower
    },
    "mlp": dict(_TORCH_COMMON),
    "lstm": {**_TORCH_COMMON, "layers": 1},
    "tcn": {**_TORCH_COMMON, "hidden": 16, "kernel_size": 3},
}

# (lower bound, upper bound, lower inclusive) per key; keys absent here accept any finite number.
_RANGES: dict[str, tuple[float, float, bool]] = {
    "num_boost_round": (1, 100_000, True),
    "learning_rate": (0.0, 10.0, False),
    "num_leaves": (2, 131_072, True),
    "max_depth": (-1, 1_000, True),
    "min_data_in_leaf": (1, 1e9, True),
    "feature_fraction": (0.0, 1.0, False),
    "bagging_fraction": (0.0, 1.0, False),
    "bagging_freq": (0, 1e9, True),
    "lambda_l1": (0.0, 1e9, True),
    "lambda_l2": (0.0, 1e9, True),
    "min_gain_to_split": (0.0, 1e9, True),
    "num_threads": (0, 1_024, True),
    "hidden": (1, 4_096, True),
    "layers": (1, 16, True),
    "dropout": (0.0, 0.95, True),
    "lr": (0.0, 10.0, False),
    "weight_decay": (0.0, 1.0, True),
    "epochs": (1, 100_000, True),
    "batch_size": (1, 1_000_000, True),
    "kernel_size": (2, 64, True),
}


class Cancelled(Exception):
    """A training job stopped because its cancel event was set."""


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A model to train.

    Parameters
    ----------
    kind : str, default "lightgbm"
        ``"lightgbm"`` (gradient boosted trees), ``"mlp"`` (feed-forward net on one row),
        ``"lstm"`` or ``"tcn"`` (over the last ``sequence_length`` rows of the same symbol).
    objective : str, default "binary"
        ``"binary"`` (target 0/1, predicts P(1)), ``"multiclass"`` (target 0..k-1, predicts k
        probabilities) or ``"regression"`` (predicts the value).
    params : dict, default {}
        Hyper-parameters overriding :data:`DEFAULT_PARAMS` for ``kind``.
    seed : int, default 0
        Seeds LightGBM and torch; the same spec on the same data gives the same model.
    sequence_length : int, default 16
        Rows per input sequence for ``lstm``/``tcn`` (ignored otherwise), at least 2.
    early_stopping_rounds : int, default 20
        Rounds (LightGBM) or epochs (torch, the patience) without improvement of the validation
        loss before a fit stops; 0 turns early stopping off (every fit runs its maximum).
    validation_fraction : float, default 0.2
        Share of a training fold's bars (its most recent ones, purged) held out for early stopping.
    """

    kind: str = "lightgbm"
    objective: str = "binary"
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    seed: int = 0
    sequence_length: int = 16
    early_stopping_rounds: int = 20
    validation_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(f"kind {self.kind!r} is not one of {', '.join(KINDS)}", field="kind")
        if self.objective not in OBJECTIVES:
            raise InvalidInput(f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}",
                               field="objective")
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("sequence_length", self.sequence_length, 2, 10_000)
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 0, 100_000)
        if (isinstance(self.validation_fraction, bool) or not isinstance(self.validation_fraction, int | float)
                or not 0.0 < self.validation_fraction < 1.0):
            raise InvalidInput(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}",
                               field="validation_fraction")
        self.resolved_params()

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_KINDS

    def resolved_params(self) -> dict[str, Any]:
        """``params`` over the defaults of ``kind``, validated."""
        defaults = DEFAULT_PARAMS[self.kind]
        out = dict(defaults)
        for key, value in self.params.items():
            field = f"params.{key}"
            if key not in defaults:
                raise InvalidInput(f"unknown parameter {key!r} for kind {self.kind!r}; known: "
                                   f"{', '.join(sorted(defaults))}", field=field)
            default = defaults[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"parameter {key!r} must be a number, got {value!r}", field=field)
            if isinstance(default, int) and float(value) != int(value):
                raise InvalidInput(f"parameter {key!r} must be an integer, got {value!r}", field=field)
            if not math.isfinite(float(value)):
                raise InvalidInput(f"parameter {key!r} must be finite, got {value!r}", field=field)
            lo, hi, lo_inclusive = _RANGES[key]
            if value > hi or value < lo or (value == lo and not lo_inclusive):
                bracket = "[" if lo_inclusive else "("
                raise InvalidInput(f"parameter {key!r} = {value!r} is outside {bracket}{lo}, {hi}]", field=field)
            out[key] = int(value) if isinstance(default, int) else float(value)
        return out


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
