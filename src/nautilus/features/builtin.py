"""Built-in feature sets: "standard" (the 14 features of the bench) and one per ML task."""

from __future__ import annotations

import functools
from typing import Any

from nautilus.features.spec import FeatureSet, parse_feature_set

STANDARD_FEATURES: list[dict[str, Any]] = [
    {"kind": "return", "window": 1},
    {"kind": "return", "window": 5},
    {"kind": "return", "window": 20},
    {"kind": "return", "window": 60},
    {"kind": "rolling", "stat": "std", "column": "log_return", "window": 20},
    {"kind": "rolling", "stat": "std", "column": "log_return", "window": 60},
    {"kind": "rolling", "stat": "zscore", "column": "close", "window": 20},
    {"kind": "rolling", "stat": "skew", "column": "log_return", "window": 60},
    {"kind": "indicator", "spec": "rsi(14)"},
    {"kind": "indicator", "spec": "atr(14)", "normalize": "close"},
    {"kind": "volume_zscore", "window": 20},
    {"kind": "distance", "side": "high", "window": 252},
    {"kind": "calendar", "field": "dayofweek"},
    {"kind": "calendar", "field": "month"},
]

DEFINITIONS: dict[str, dict[str, Any]] = {
    "standard": {
        "name": "standard",
        "description": "14 standard inputs: returns 1/5/20/60, log-return vol 20/60, close z-score 20, "
                       "skew 60, RSI 14, ATR 14 / close, volume z-score 20, distance to the 252-bar high, "
                       "day of week, month",
        "features": STANDARD_FEATURES,
        "targets": [{"kind": "forward_return", "h": 1}],
    },
    "direction": {
        "name": "direction",
        "description": "next-bar direction (1.0 up, 0.0 otherwise) from the standard inputs",
        "features": STANDARD_FEATURES,
        "targets": [{"kind": "direction", "h": 1}],
    },
    "volatility": {
        "name": "volatility",
        "description": "realised volatility of the next 5 bars (sqrt of the sum of squared log returns); "
                       "ret_1 lets a GARCH baseline be fitted on the same rows",
        "features": [
            {"kind": "return", "window": 1},
            {"kind": "log_return", "window": 1},
            {"kind": "rolling", "stat": "std", "column": "log_return", "window": 5},
            {"kind": "rolling", "stat": "std", "column": "log_return", "window": 20},
            {"kind": "rolling", "stat": "std", "column": "log_return", "window": 60},
            {"kind": "range", "window": 1},
            {"kind": "range", "window": 5},
            {"kind": "indicator", "spec": "atr(14)", "normalize": "close"},
            {"kind": "volume_zscore", "window": 20},
        ],
        "targets": [{"kind": "realized_vol", "h": 5}],
    },
    "regime": {
        "name": "regime",
        "description": "regime of the next 20 bars: 3 volatile if the per-bar vol of their log returns "
                       "> 0.02, else 0 bull if the 20-bar return > 0.03, 1 bear if < -0.03, 2 sideways",
        "features": STANDARD_FEATURES,
        "targets": [{"kind": "regime", "h": 20, "trend": 0.03, "vol": 0.02}],
    },
}


@functools.cache
def _parsed() -> dict[str, FeatureSet]:
    return {name: parse_feature_set(body) for name, body in DEFINITIONS.items()}


def builtin_feature_sets() -> dict[str, FeatureSet]:
    """The built-in sets by name (standard, direction, volatility, regime)."""
    return dict(_parsed())
