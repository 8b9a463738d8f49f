"""Preparing return series for the statistics: timestamps, equity to returns, benchmark alignment.

Pure functions (no I/O). Bad input raises :class:`nautilus.core.errors.InvalidInput` naming the field, so
the engine can pass user data straight in. Timestamps are epoch nanoseconds (int64, UTC) or ISO 8601 text
(naive means UTC) and must be strictly increasing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import iso_ns

MIN_RETURNS = 2
MAX_POINTS = 10_000_000


def parse_ts(values: Any, field: str = "ts") -> np.ndarray:
    """Timestamps as int64 epoch ns; ints pass through, strings are ISO 8601."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        out = values.astype(np.int64)
    else:
        items = list(values)
        out = np.empty(len(items), dtype=np.int64)
        for i, v in enumerate(items):
            if isinstance(v, bool) or v is None:
                raise InvalidInput(f"{field}[{i}] must be epoch nanoseconds or an ISO 8601 time", field=field)
            if isinstance(v, int | np.integer):
                out[i] = int(v)
            elif isinstance(v, str):
                out[i] = iso_ns(v, field, f"{field}[{i}]")
            else:
                raise InvalidInput(f"{field}[{i}] must be epoch nanoseconds or an ISO 8601 time", field=field)
    if out.shape[0] > 1 and not (np.diff(out) > 0).all():
        raise InvalidInput(f"{field} must be strictly increasing", field=field)
    return out


def as_values(values: Any, field: str) -> np.ndarray:
    """A 1-D float64 array (None → NaN); infinities are rejected."""
    try:
        out = np.array([np.nan if v is None else v for v in values] if not isinstance(values, np.ndarray)
                       else values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be numbers (null for none)", field=field) from None
    if out.ndim != 1:
        raise InvalidInput(f"{field} must be a list of numbers", field=field)
    if out.shape[0] > MAX_POINTS:
        raise InvalidInput(f"{field} has more than {MAX_POINTS} values", field=field)
    if np.isinf(out).any():
        raise InvalidInput(f"{field} must be finite numbers or null", field=field)
    return out


def returns_from_equity(equity: Any, field: str = "equity") -> np.ndarray:
    """Simple returns of an equity curve (one fewer value); the curve must be finite and positive."""
    eq = np.asarray(equity, dtype=np.float64)
    if not np.isfinite(eq).all():
        raise InvalidInput(f"{field} must be finite numbers (no null, NaN or infinity)", field=field)
    if (eq <= 0).any():
        raise InvalidInput(f"{field} must be positive", field=field)
    return eq[1:] / eq[:-1] - 1.0


def check_returns(returns: np.ndarray, field: str = "returns") -> np.ndarray:
    """Returns must be above -100 % (NaN allowed) and at least :data:`MIN_RETURNS` observed."""
    with np.errstate(invalid="ignore"):
        if (returns < -1.0).any():
            raise InvalidInput(f"{field} must be greater than or equal to -1 (a return of -100 %)", field=field)
    if np.count_nonzero(~np.isnan(returns)) < MIN_RETURNS:
        raise InvalidInput(f"{field} needs at least {MIN_RETURNS} observed returns (too few points)", field=field)
    return returns


def benchmark_asof(bar_ts: np.ndarray, close: np.ndarray, price_ts: np.ndarray) -> np.ndarray:
    """Close-to-close returns of a benchmark sampled at ``price_ts`` (the times of the series' values):
    at each time the last close at or before it; return ``i`` is ``c(price_ts[i+1]) / c(price_ts[i]) - 1``
    (NaN where either close is missing). ``len(price_ts) - 1`` values."""
    idx = np.searchsorted(bar_ts, price_ts, side="right") - 1
    c = np.where(idx >= 0, close[np.maximum(idx, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return c[1:] / c[:-1] - 1.0
