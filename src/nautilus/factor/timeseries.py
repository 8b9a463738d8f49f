"""Rolling (time-series) operators on ``(dates x symbols)`` matrices, column by column.

Contract: a window of ``n`` rows ending at row t (rows t-n+1..t) gives a value only when all ``n``
values are finite, else NaN (pandas ``rolling(n)`` with ``min_periods=n``). Every operator is
point in time: row t depends on rows <= t only, and prefix sums are sequential, so a change at a
later row leaves earlier rows bit-identical.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nautilus.core.errors import InvalidInput

MAX_WINDOW = 10_000
_BLOCK_CELLS = 8_000_000  # window cells materialised at once by ts_rank


def check_window(n: int, field: str = "window", minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not minimum <= n <= MAX_WINDOW:
        raise InvalidInput(f"{field} must be an integer between {minimum} and {MAX_WINDOW}, got {n!r}", field=field)
    return int(n)


def _as2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(-1, 1) if x.ndim == 1 else x


def _window_diff(cum: np.ndarray, n: int) -> np.ndarray:
    """Sums over the last n rows from a prefix-sum matrix with a leading zero row (row t: cum[t+1]-cum[t+1-n])."""
    out = np.full((cum.shape[0] - 1, cum.shape[1]), np.nan)
    if n <= out.shape[0]:
        out[n - 1:] = cum[n:] - cum[:-n]
    return out


def _prefix(x: np.ndarray) -> np.ndarray:
    cum = np.zeros((x.shape[0] + 1, x.shape[1]))
    np.cumsum(x, axis=0, out=cum[1:])
    return cum


def _full(valid: np.ndarray, n: int) -> np.ndarray:
    """True where the n-row window ending at each row is entirely valid."""
    counts = _window_diff(_prefix(valid.astype(np.float64)), n)
    return counts == n


def _origin(x: np.ndarray) -> np.ndarray:
    """Each column's first finite value (0 when none): a point-in-time shift that keeps sums of squares small."""
    finite = np.isfinite(x)
    first = np.argmax(finite, axis=0)
    origin = x[first, np.arange(x.shape[1])]
    return np.where(finite.any(axis=0), origin, 0.0)


def ts_sum(x: np.ndarray, n: int) -> np.ndarray:
    x = _as2d(x)
    n = check_window(n)
    valid = np.isfinite(x)
    out = _window_diff(_prefix(np.where(valid, x, 0.0)), n)
    out[~_full(valid, n)] = np.nan
    return out


def ts_mean(x: np.ndarray, n: int) -> np.ndarray:
    return ts_sum(x, n) / check_window(n)


def ts_std(x: np.ndarray, n: int, ddof: int = 1) -> np.ndarray:
    """Rolling standard deviation (ddof=1 by default, like pandas); NaN when n <= ddof."""
    x = _as2d(x)
    n = check_window(n)
    if n <= ddof:
        return np.full(x.shape, np.nan)
    y = x - _origin(x)
    s1, s2 = ts_sum(y, n), ts_sum(y * y, n)
    var = (s2 - s1 * s1 / n) / (n - ddof)
    return np.sqrt(np.maximum(var, 0.0))


def ts_cov(x: np.ndarray, y: np.ndarray, n: int, ddof: int = 1) -> np.ndarray:
    """Rolling covariance over windows where both inputs are finite on all n rows."""
    x, y = np.broadcast_arrays(_as2d(x), _as2d(y))
    n = check_window(n)
    if n <= ddof:
        return np.full(x.shape, np.nan)
    both = np.isfinite(x) & np.isfinite(y)
    xs = np.where(both, x - _origin(x), np.nan)
    ys = np.where(both, y - _origin(y), np.nan)
    return (ts_sum(xs * ys, n) - ts_sum(xs, n) * ts_sum(ys, n) / n) / (n - ddof)


def ts_corr(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Rolling Pearson correlation; NaN where either series is constant over the window."""
    x, y = np.broadcast_arrays(_as2d(x), _as2d(y))
    both = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(both, x, np.nan), np.where(both, y, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ts_cov(x, y, n) / (ts_std(x, n) * ts_std(y, n))
    out[~np.isfinite(out)] = np.nan
    return np.clip(out, -1.0, 1.0)


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    """Read-only view (rows-n+1, symbols, n) of the n-row windows."""
    return sliding_window_view(x, n, axis=0)


def ts_max(x: np.ndarray, n: int) -> np.ndarray:
    x = _as2d(x)
    n = check_window(n)
    out = np.full(x.shape, np.nan)
    if n <= x.shape[0]:
        out[n - 1:] = _windows(x, n).max(axis=-1)  # NaN propagates: a window with a gap gives NaN
    return out


def ts_min(x: np.ndarray, n: int) -> np.ndarray:
    x = _as2d(x)
    n = check_window(n)
    out = np.full(x.shape, np.nan)
    if n <= x.shape[0]:
        out[n - 1:] = _windows(x, n).min(axis=-1)
    return out


def ts_rank(x: np.ndarray, n: int) -> np.ndarray:
    """Percentile of the last value within its window, in [0, 1]: (below + (equal - 1) / 2) / (n - 1)."""
    x = _as2d(x)
    n = check_window(n, minimum=2)
    out = np.full(x.shape, np.nan)
    if n > x.shape[0]:
        return out
    view = _windows(x, n)
    step = max(1, _BLOCK_CELLS // max(1, n * x.shape[1]))
    for start in range(0, view.shape[0], step):
        block = view[start:start + step]
        last = block[..., -1:]
        below = (block < last).sum(axis=-1)
        equal = (block == last).sum(axis=-1)
        value = (below + (equal - 1) / 2) / (n - 1)
        value[np.isnan(block).any(axis=-1)] = np.nan
        out[n - 1 + start:n - 1 + start + block.shape[0]] = value
    return out


def delay(x: np.ndarray, n: int) -> np.ndarray:
    """The value n rows earlier (NaN in the first n rows)."""
    x = _as2d(x)
    n = check_window(n, field="lag", minimum=0)
    out = np.full(x.shape, np.nan)
    out[n:] = x[:x.shape[0] - n]
    return out


def delta(x: np.ndarray, n: int) -> np.ndarray:
    """``x[t] - x[t-n]``."""
    return _as2d(x) - delay(x, n)


def pct_change(x: np.ndarray, n: int) -> np.ndarray:
    """``x[t] / x[t-n] - 1``; NaN where the base is zero or missing."""
    x = _as2d(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / delay(x, n) - 1.0
    out[~np.isfinite(out)] = np.nan
    return out
