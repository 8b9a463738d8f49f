"""Numba kernels of the extra indicators (rolling extremes, session VWAP, Supertrend); no I/O.

Kept apart from :mod:`nautilus.strategy.indicators.extra` so that listing and parsing indicator specs does
not load numba; the indicator functions import this module when they compute.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def rolling_extreme_nb(x, period, is_max):
    """Highest (``is_max``) or lowest value of ``x[i - period + 1 : i + 1]``; NaN for ``i < period - 1``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    window = np.empty(n, dtype=np.int64)  # indices, values monotonic from head to tail
    head = 0
    tail = 0
    for i in range(n):
        v = x[i]
        while tail > head and ((x[window[tail - 1]] <= v) if is_max else (x[window[tail - 1]] >= v)):
            tail -= 1
        window[tail] = i
        tail += 1
        if window[head] <= i - period:
            head += 1
        if i >= period - 1:
            out[i] = x[window[head]]
    return out


@njit(cache=True, nogil=True)
def session_vwap_nb(high, low, close, volume, session, start):
    """VWAP of the typical price, reset whenever ``session`` changes; NaN before ``start``."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    pv = 0.0
    vv = 0.0
    for i in range(start, n):
        if i == start or session[i] != session[i - 1]:
            pv = 0.0
            vv = 0.0
        pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        vv += volume[i]
        if vv > 0.0:
            out[i] = pv / vv
    return out


@njit(cache=True, nogil=True)
def supertrend_nb(high, low, close, atr, multiplier):
    n = close.shape[0]
    line = np.full(n, np.nan)
    direction = np.full(n, np.nan)
    start = 0
    while start < n and np.isnan(atr[start]):
        start += 1
    upper = 0.0
    lower = 0.0
    up = False
    for i in range(start, n):
        mid = (high[i] + low[i]) / 2.0
        basic_upper = mid + multiplier * atr[i]
        basic_lower = mid - multiplier * atr[i]
        if i == start:
            upper = basic_upper
            lower = basic_lower
            up = True
        else:
            if basic_upper < upper or close[i - 1] > upper:
                upper = basic_upper
            if basic_lower > lower or close[i - 1] < lower:
                lower = basic_lower
            if up:
                if close[i] < lower:
                    up = False
            elif close[i] > upper:
                up = True
        line[i] = lower if up else upper
        direction[i] = 1.0 if up else -1.0
    return line, direction
