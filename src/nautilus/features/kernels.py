"""Numba kernels of the feature engine: 1-D float64 arrays in, one float64 array out.

Contract: output ``t`` reads inputs ``t - window + 1 .. t`` only (forward kernels ``t + 1 .. t + h``
only), so a value never depends on data after it; and it is computed the same way wherever the
array starts once ``2 * window`` values precede it (see :func:`rolling_nb`), so computing the tail of
a longer series gives bit-for-bit the values of the full computation (what incremental updates
rely on). A window holding a NaN
gives NaN; so does a zero variance for std-scaled statistics (zscore, skew, kurt, corr, beta).
"""

from __future__ import annotations

import numpy as np
from numba import njit

STAT_MEAN, STAT_STD, STAT_SKEW, STAT_KURT, STAT_MIN, STAT_MAX, STAT_ZSCORE = range(7)
STAT_CODES = {"mean": STAT_MEAN, "std": STAT_STD, "skew": STAT_SKEW, "kurt": STAT_KURT, "min": STAT_MIN,
              "max": STAT_MAX, "zscore": STAT_ZSCORE}


@njit(cache=True, nogil=True)
def nan_prefix_nb(x: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """``c[i]`` = NaNs among ``x[:i]``, so a window ``[lo, hi)`` is clean when ``c[hi] == c[lo]``."""
    c = np.zeros(x.shape[0] + 1, dtype=np.int64)
    for i in range(x.shape[0]):
        c[i + 1] = c[i] + (1 if x[i] != x[i] else 0)
    return c


@njit(cache=True, nogil=True)
def rolling_nb(x: np.ndarray, window: int, stat: int, offset: int = 0) -> np.ndarray:  # pragma: no cover
    """Rolling mean, std, zscore, skew or kurt of the last ``window`` values (min and max: see
    :func:`rolling_max_nb`); ``offset`` is the absolute index of ``x[0]`` in its series.

    O(n): power sums of ``x - c`` are updated as the window slides and recomputed from scratch
    (with ``c`` = the newest value) at every absolute index divisible by ``window`` and wherever
    the window has just become NaN-free. A value therefore depends only on the bars since the
    last such reset, at most ``2 * window`` bars back, so a series' tail computed from
    ``2 * window + 1`` bars earlier equals the full computation bit for bit.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    nans = nan_prefix_nb(x)
    higher = stat in (STAT_SKEW, STAT_KURT)
    nn = float(window)
    c = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    valid = False
    phase = (offset + window - 1) % window  # (offset + t) % window, kept without a division per row
    for t in range(window - 1, n):
        lo = t - window + 1
        anchor = phase == 0
        phase = phase + 1 if phase + 1 < window else 0
        if nans[t + 1] != nans[lo]:
            valid = False
            continue
        if not valid or anchor:
            c = x[t]
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            s4 = 0.0
            for i in range(lo, t + 1):
                d = x[i] - c
                d2 = d * d
                s1 += d
                s2 += d2
                if higher:
                    s3 += d2 * d
                    s4 += d2 * d2
            valid = True
        else:
            d = x[t] - c
            e = x[lo - 1] - c
            d2 = d * d
            e2 = e * e
            s1 += d - e
            s2 += d2 - e2
            if higher:
                s3 += d2 * d - e2 * e
                s4 += d2 * d2 - e2 * e2
        mu = s1 / nn  # mean of x - c
        if stat == STAT_MEAN:
            out[t] = c + mu
            continue
        m2 = max(s2 - s1 * mu, 0.0)  # sum of squared deviations
        if stat == STAT_STD:
            out[t] = np.sqrt(m2 / (nn - 1.0))
            continue
        mean = c + mu
        if m2 <= 1e-14 * nn * max(mean * mean, 1e-300):
            continue  # (numerically) constant window: scaled statistics are undefined
        if stat == STAT_ZSCORE:
            out[t] = (x[t] - mean) / np.sqrt(m2 / (nn - 1.0))
            continue
        m3 = s3 - 3.0 * mu * s2 + 2.0 * nn * mu * mu * mu
        if stat == STAT_SKEW:
            g1 = np.sqrt(nn) * m3 / (m2 * np.sqrt(m2))
            out[t] = g1 * np.sqrt(nn * (nn - 1.0)) / (nn - 2.0)
        else:  # excess kurtosis, bias-corrected (pandas / Excel KURT)
            m4 = s4 - 4.0 * mu * s3 + 6.0 * mu * mu * s2 - 3.0 * nn * mu * mu * mu * mu
            g2 = nn * m4 / (m2 * m2) - 3.0
            out[t] = ((nn + 1.0) * g2 + 6.0) * (nn - 1.0) / ((nn - 2.0) * (nn - 3.0))
    return out


@njit(cache=True, nogil=True)
def rolling_max_nb(x: np.ndarray, window: int, is_max: bool) -> np.ndarray:  # pragma: no cover - numba
    """Rolling max (or min) in O(n) with a monotonic deque; exact, so start-independent."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    last_nan = -1
    for t in range(n):
        v = x[t]
        if v != v:
            last_nan = t
            head = tail
        else:
            while tail > head and ((is_max and x[dq[tail - 1]] <= v) or (not is_max and x[dq[tail - 1]] >= v)):
                tail -= 1
            dq[tail] = t
            tail += 1
        while tail > head and dq[head] <= t - window:
            head += 1
        if t >= window - 1 and last_nan <= t - window and tail > head:
            out[t] = x[dq[head]]
    return out


@njit(cache=True, nogil=True)
def rolling_pair_nb(x: np.ndarray, y: np.ndarray, window: int, beta: bool) -> np.ndarray:  # pragma: no cover
    """Rolling correlation of x and y, or the beta of x on y (cov(x, y) / var(y))."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        lo = t - window + 1
        sx = 0.0
        sy = 0.0
        bad = False
        for i in range(lo, t + 1):
            if x[i] != x[i] or y[i] != y[i]:
                bad = True
                break
            sx += x[i]
            sy += y[i]
        if bad:
            continue
        mx = sx / window
        my = sy / window
        cxy = 0.0
        cxx = 0.0
        cyy = 0.0
        for i in range(lo, t + 1):
            dx = x[i] - mx
            dy = y[i] - my
            cxy += dx * dy
            cxx += dx * dx
            cyy += dy * dy
        if cyy <= 0.0 or (not beta and cxx <= 0.0):
            continue
        out[t] = cxy / cyy if beta else cxy / np.sqrt(cxx * cyy)
    return out


@njit(cache=True, nogil=True)
def forward_sumsq_nb(r: np.ndarray, h: int) -> np.ndarray:  # pragma: no cover - numba
    """``sum(r[t+1 .. t+h] ** 2)``; NaN where t + h runs past the end."""
    n = r.shape[0]
    out = np.full(n, np.nan)
    for t in range(n - h):
        s = 0.0
        for i in range(t + 1, t + h + 1):
            s += r[i] * r[i]
        out[t] = s
    return out


@njit(cache=True, nogil=True)
def civil_nb(ts: np.ndarray, field: int) -> np.ndarray:  # pragma: no cover - numba
    """UTC calendar field of int64 ns timestamps: 0 month (1-12), 1 day of month, 2 day of year
    (1-366). Proleptic Gregorian (H. Hinnant's days-to-civil algorithm)."""
    n = ts.shape[0]
    out = np.empty(n)
    day_ns = 86_400_000_000_000
    for k in range(n):
        z = ts[k] // day_ns + 719468
        era = (z if z >= 0 else z - 146096) // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the March-based year
        mp = (5 * doy + 2) // 153
        month = mp + 3 if mp < 10 else mp - 9
        if field == 0:
            out[k] = month
        elif field == 1:
            out[k] = doy - (153 * mp + 2) // 5 + 1
        else:
            year = yoe + era * 400 + (1 if month <= 2 else 0)
            leap = 1 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 0
            out[k] = doy + 60 + leap if doy < 306 else doy - 305
    return out


def warm() -> None:
    """Compile (or load from numba's cache) every kernel here on tiny inputs."""
    x = np.linspace(1.0, 2.0, 16) ** 2
    for stat in STAT_CODES.values():
        rolling_nb(x, 4, stat, 0)
    rolling_max_nb(x, 4, True)
    rolling_pair_nb(x, x[::-1].copy(), 4, True)
    forward_sumsq_nb(x, 2)
    civil_nb(np.arange(16, dtype=np.int64) * 86_400_000_000_000, 0)
