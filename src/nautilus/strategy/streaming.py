"""Resumable indicator kernels for the universe scanner's conditions.

Each kernel can run fresh over a whole series or resume from ``start`` with the ``state`` the
previous run left, and the two give bit-identical values: that is what makes the scanner's
incremental update equal to a full recompute. They follow TA-Lib's definitions (SMA, EMA seeded
with the SMA, RSI and ATR with Wilder smoothing, ROC, MOM, MAX, MIN, population STDDEV), agreeing
with TA-Lib to rounding; ``nautilus.strategy.indicators`` (TA-Lib itself) stays the reference.

Contract of every kernel: ``kernel(x, h, l, c, period, out, state, start)`` writes ``out[i]`` for
``i >= max(start, lookback)``, leaves earlier values untouched, and leaves ``state`` ready to
resume at ``len(x)``. ``x`` is the selected input column; ``h``/``l``/``c`` serve ATR.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SMA, EMA, RSI, ATR, ROC, MOM, MAX, MIN, STDDEV, PRICE = range(10)
KINDS = {"sma": SMA, "ema": EMA, "rsi": RSI, "atr": ATR, "roc": ROC, "mom": MOM, "max": MAX, "min": MIN,
         "stddev": STDDEV, "price": PRICE}
STATE_SIZE = 4


@njit(cache=True, nogil=True)
def lookback(kind, period):
    if kind == PRICE:
        return 0
    if kind in (SMA, EMA, MAX, MIN, STDDEV):
        return period - 1
    return period  # RSI, ATR, ROC, MOM


@njit(cache=True, nogil=True)
def _true_range(h, l, c, i):
    hl = h[i] - l[i]
    hc = abs(h[i] - c[i - 1])
    lc = abs(l[i] - c[i - 1])
    return max(hl, max(hc, lc))


@njit(cache=True, nogil=True)
def stream(kind, x, h, l, c, period, out, state, start):
    n = x.shape[0]
    lb = lookback(kind, period)
    fresh = start <= lb
    first = lb if fresh else start
    if first >= n:
        if fresh:
            state[0] = 0.0
        return
    if kind == PRICE:
        for i in range(first, n):
            out[i] = x[i]
    elif kind in (SMA, STDDEV):
        if fresh:
            s = 0.0
            s2 = 0.0
            for j in range(0, period - 1):
                s += x[j]
                s2 += x[j] * x[j]
        else:
            s = state[0]
            s2 = state[1]
        for i in range(first, n):
            s += x[i]
            s2 += x[i] * x[i]
            mean = s / period
            if kind == SMA:
                out[i] = mean
            else:
                var = s2 / period - mean * mean
                out[i] = math.sqrt(var) if var > 0.0 else 0.0
            t = i - period + 1
            s -= x[t]
            s2 -= x[t] * x[t]
        state[0] = s
        state[1] = s2
    elif kind == EMA:
        k = 2.0 / (period + 1)
        if fresh:
            s = 0.0
            for j in range(0, period):
                s += x[j]
            prev = s / period
            out[first] = prev
            first += 1
        else:
            prev = state[0]
        for i in range(first, n):
            prev = (x[i] - prev) * k + prev
            out[i] = prev
        state[0] = prev
    elif kind == RSI:
        if fresh:
            gain = 0.0
            loss = 0.0
            for j in range(1, period + 1):
                d = x[j] - x[j - 1]
                if d < 0.0:
                    loss -= d
                else:
                    gain += d
            gain /= period
            loss /= period
            total = gain + loss
            out[first] = 0.0 if total == 0.0 else 100.0 * (gain / total)
            first += 1
        else:
            gain = state[0]
            loss = state[1]
        for i in range(first, n):
            d = x[i] - x[i - 1]
            gain *= period - 1
            loss *= period - 1
            if d < 0.0:
                loss -= d
            else:
                gain += d
            gain /= period
            loss /= period
            total = gain + loss
            out[i] = 0.0 if total == 0.0 else 100.0 * (gain / total)
        state[0] = gain
        state[1] = loss
    elif kind == ATR:
        if fresh:
            s = 0.0
            for j in range(1, period + 1):
                s += _true_range(h, l, c, j)
            prev = s / period
            out[first] = prev
            first += 1
        else:
            prev = state[0]
        for i in range(first, n):
            prev = (prev * (period - 1) + _true_range(h, l, c, i)) / period
            out[i] = prev
        state[0] = prev
    elif kind in (ROC, MOM):
        for i in range(first, n):
            base = x[i - period]
            if kind == MOM:
                out[i] = x[i] - base
            else:
                out[i] = (x[i] / base - 1.0) * 100.0 if base != 0.0 else 0.0
    else:  # MAX / MIN over the window ending at i (a rescan: periods are short)
        for i in range(first, n):
            best = x[i - period + 1]
            for j in range(i - period + 2, i + 1):
                if (kind == MAX and x[j] > best) or (kind == MIN and x[j] < best):
                    best = x[j]
            out[i] = best


def run(kind: int, x: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, period: int) -> np.ndarray:
    """A fresh run over whole arrays (NaN in the warm-up): the scanner's reference path."""
    out = np.full(x.shape[0], np.nan)
    stream(kind, x, h, l, c, period, out, np.zeros(STATE_SIZE), 0)
    return out
