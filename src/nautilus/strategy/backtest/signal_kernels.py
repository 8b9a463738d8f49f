"""Numba kernels of the built-in strategies' indicators and crossing signals (no I/O).

Kept apart from :mod:`nautilus.strategy.backtest.strategies` so that listing and validating strategies
does not load numba; the builders import this module when they compute signals.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sma_nb(x, period):
    """Simple moving average (NaN for the first ``period - 1`` bars), compensated rolling sum."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period > n:
        return out
    s = 0.0
    comp = 0.0
    for i in range(n):
        v = x[i]
        y = v - comp
        tmp = s + y
        comp = (tmp - s) - y
        s = tmp
        if i >= period:
            y = -x[i - period] - comp
            tmp = s + y
            comp = (tmp - s) - y
            s = tmp
        if i >= period - 1:
            out[i] = s / period
    return out


@njit(cache=True, nogil=True)
def ema_nb(x, period):
    """EMA with ``alpha = 2 / (period + 1)`` seeded by the SMA of the first ``period`` values (TA-Lib)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period > n:
        return out
    k = 2.0 / (period + 1)
    s = 0.0
    for i in range(period):
        s += x[i]
    prev = s / period
    out[period - 1] = prev
    for i in range(period, n):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def rsi_nb(x, period):
    """Wilder's RSI as TA-Lib computes it (first value at index ``period``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period >= n:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        d = x[i] - x[i - 1]
        if d < 0:
            loss -= d
        else:
            gain += d
    gain /= period
    loss /= period
    tot = gain + loss
    out[period] = 100.0 * (gain / tot) if tot != 0.0 else 0.0
    for i in range(period + 1, n):
        d = x[i] - x[i - 1]
        loss *= period - 1
        gain *= period - 1
        if d < 0:
            loss -= d
        else:
            gain += d
        loss /= period
        gain /= period
        tot = gain + loss
        out[i] = 100.0 * (gain / tot) if tot != 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def prior_extreme_nb(x, period, want_max):
    """``max`` (or ``min``) of ``x[t-period .. t-1]`` (the previous ``period`` bars); NaN before."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, dtype=np.int64)  # monotonic deque of indices
    head = 0
    tail = 0
    for t in range(n):
        if t >= period:
            out[t] = x[dq[head]]
        # push x[t] for the windows of later bars
        v = x[t]
        if want_max:
            while tail > head and x[dq[tail - 1]] <= v:
                tail -= 1
        else:
            while tail > head and x[dq[tail - 1]] >= v:
                tail -= 1
        dq[tail] = t
        tail += 1
        if dq[head] <= t - period:
            head += 1
    return out


@njit(cache=True, nogil=True)
def cross_nb(a, b, up, down):
    """``up[t] = a[t] > b[t] and a[t-1] <= b[t-1]``; ``down`` the mirror (NaNs never cross)."""
    n = a.shape[0]
    up[0] = False
    down[0] = False
    for t in range(1, n):
        up[t] = a[t] > b[t] and a[t - 1] <= b[t - 1]
        down[t] = a[t] < b[t] and a[t - 1] >= b[t - 1]


@njit(cache=True, nogil=True)
def level_cross_nb(x, lower, upper, below, above):
    """``below[t]``: ``x`` crosses under ``lower``; ``above[t]``: ``x`` crosses over ``upper``."""
    n = x.shape[0]
    below[0] = False
    above[0] = False
    for t in range(1, n):
        below[t] = x[t] < lower and x[t - 1] >= lower
        above[t] = x[t] > upper and x[t - 1] <= upper
