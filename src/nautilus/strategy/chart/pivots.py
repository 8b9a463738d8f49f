"""Swing pivots: a causal zigzag with a percent and/or ATR reversal threshold.

A leg runs from its last pivot to its *running extreme* (highest high of an up-leg, lowest low of a
down-leg). The extreme becomes a pivot once price has moved the threshold back from it: at bar ``i``
the furthest counter price since the extreme (lowest low after an up-leg's high, highest high after
a down-leg's low) must be at least ``threshold(i)`` away, where

* ``pct``: ``pct * |extreme price|`` (a fraction: 0.05 is 5 %),
* ``atr_mult``: ``atr_mult * ATR[i]`` (ATR at the confirming bar, Wilder smoothing, see :func:`atr`),
* both: the larger of the two (both moves must be made).

The bar at which that happens is the pivot's ``confirmed_at``; it is always after the pivot, and the
zigzag is strictly causal: running it on ``high[:m]`` gives exactly the pivots of the full run whose
``confirmed_at < m`` (plus a different unconfirmed tail). The last leg's running extreme is reported
as a final pivot with ``confirmed_at == -1``: it may still move, so never trade on it.

Conventions: a bar that makes a new extreme of the current leg does not count toward the reversal
(the order of its high and low inside the bar is unknown; the extreme is assumed to come last).
Before the first reversal the direction is unknown and both the highest high and the lowest low are
tracked; whichever is first retraced by the threshold is the first pivot. Bars with a NaN high or
low are skipped. Pivots alternate high/low and their indices strictly increase.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import msgspec
import numpy as np
from numba import njit

from nautilus.core.errors import InvalidInput

__all__ = ["Pivot", "Pivots", "atr", "zigzag", "as_price_arrays"]


class Pivot(msgspec.Struct, frozen=True):
    """One swing point, serialisable (``kind`` +1 swing high, -1 swing low; ``confirmed_at`` -1: not yet)."""

    index: int
    price: float
    kind: int
    confirmed_at: int


@dataclass(frozen=True, slots=True)
class Pivots:
    """Zigzag output as parallel arrays, in time order; the last entry may be the unconfirmed leg end."""

    indices: np.ndarray  # int64 bar index of each pivot
    prices: np.ndarray  # float64 pivot price (the high for +1, the low for -1)
    kinds: np.ndarray  # int8: +1 swing high, -1 swing low (alternating)
    confirmed_at: np.ndarray  # int64 bar at which the pivot became known; -1 for the running leg end

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def kind(self) -> np.ndarray:
        return self.kinds

    @property
    def confirmed(self) -> np.ndarray:
        """Boolean mask of confirmed pivots (all but possibly the last)."""
        return self.confirmed_at >= 0

    @property
    def last_unconfirmed(self) -> bool:
        """True when the last pivot is the running extreme of an unfinished leg."""
        return bool(self.indices.size) and int(self.confirmed_at[-1]) < 0

    def only_confirmed(self, before: int | None = None) -> Pivots:
        """The confirmed pivots, optionally only those known strictly before bar ``before``."""
        mask = self.confirmed_at >= 0
        if before is not None:
            mask &= self.confirmed_at < before
        return Pivots(self.indices[mask], self.prices[mask], self.kinds[mask], self.confirmed_at[mask])

    def to_list(self) -> list[Pivot]:
        return [
            Pivot(int(i), float(p), int(k), int(c))
            for i, p, k, c in zip(self.indices, self.prices, self.kinds, self.confirmed_at, strict=True)
        ]


def as_price_arrays(
    high, low, close=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and convert OHLC inputs to contiguous 1-D float64 arrays of equal length."""
    arrays = []
    for name, a in (("high", high), ("low", low), ("close", close)):
        if a is None:
            arrays.append(None)
            continue
        try:
            x = np.ascontiguousarray(a, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{name} must be a numeric array", field=name) from exc
        if x.ndim != 1:
            raise InvalidInput(f"{name} must be one-dimensional", field=name)
        arrays.append(x)
    h, l, c = arrays
    if l.size != h.size:
        raise InvalidInput("low must have the same length as high", field="low")
    if c is not None and c.size != h.size:
        raise InvalidInput("close must have the same length as high", field="close")
    return h, l, c


def real(value) -> float | None:
    """``value`` as a finite float, or None when it is not a finite real number (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def check_threshold(pct: float | None, atr_mult: float | None, atr_period: int) -> tuple[float, float]:
    """Validate zigzag thresholds; returns ``(pct, atr_mult)`` with 0.0 for an unused one."""
    p = real(pct)
    if pct is not None and (p is None or not 0.0 < p < 1.0):
        raise InvalidInput("pct must be a fraction in (0, 1), e.g. 0.05 for 5%", field="pct")
    m = real(atr_mult)
    if atr_mult is not None and (m is None or m <= 0.0):
        raise InvalidInput("atr_mult must be a positive number", field="atr_mult")
    if not isinstance(atr_period, int | np.integer) or isinstance(atr_period, bool) or atr_period < 1:
        raise InvalidInput("atr_period must be an integer >= 1", field="atr_period")
    return (p or 0.0), (m or 0.0)


@njit(cache=True, nogil=True)
def _atr_kernel(high, low, close, period):
    n = high.shape[0]
    out = np.full(n, np.nan)
    has_close = close.shape[0] == n
    prev_c = np.nan
    total = 0.0
    count = 0
    value = np.nan
    for i in range(n):
        h = high[i]
        l = low[i]
        tr = h - l
        if has_close and prev_c == prev_c:
            tr = max(tr, max(abs(h - prev_c), abs(l - prev_c)))
        if has_close and close[i] == close[i]:
            prev_c = close[i]
        if tr != tr:  # NaN bar: carry the last value
            out[i] = value
            continue
        if value != value:  # first valid bar: its own range, not part of the average
            value = tr
        elif count < period:
            total += tr
            count += 1
            value = total / count
        else:
            value = (value * (period - 1) + tr) / period
        out[i] = value
    return out


def atr(high, low, close=None, period: int = 14) -> np.ndarray:
    """Average true range, defined from bar 0 so thresholds exist from the start (causal).

    ``ATR[0]`` is bar 0's range; for ``1 <= i <= period`` it is the mean true range of bars
    ``1..i``; after that Wilder's recursion ``(ATR[i-1] * (period - 1) + TR[i]) / period``. From
    ``i >= period`` this is TA-Lib's ATR (to rounding). Without ``close`` the true range is the
    bar's high-low range. NaN bars carry the previous value.
    """
    h, l, c = as_price_arrays(high, low, close)
    check_threshold(None, None, period)
    return _atr_kernel(h, l, c if c is not None else np.empty(0), int(period))


@njit(cache=True, nogil=True)
def _threshold(price, pct, atr_value, atr_mult):
    t = pct * abs(price)
    if atr_mult > 0.0:
        a = atr_mult * atr_value
        if a != a:
            return np.inf
        if a > t:
            t = a
    return t


@njit(cache=True, nogil=True)
def _zigzag_kernel(high, low, atr_values, pct, atr_mult):
    n = high.shape[0]
    idx = np.empty(n + 1, np.int64)
    px = np.empty(n + 1, np.float64)
    kd = np.empty(n + 1, np.int8)
    cf = np.empty(n + 1, np.int64)
    k = 0
    trend = 0
    # direction unknown: running high/low and the counter extremes since each
    hi = -np.inf
    hi_i = -1
    lo = np.inf
    lo_i = -1
    hi_ctr = np.inf  # lowest low after hi_i
    hi_ctr_i = -1
    lo_ctr = -np.inf  # highest high after lo_i
    lo_ctr_i = -1
    # direction known: leg extreme and the counter extreme since it
    ext = 0.0
    ext_i = -1
    ctr = 0.0
    ctr_i = -1
    for i in range(n):
        h = high[i]
        l = low[i]
        if not (h == h and l == l):
            continue
        av = atr_values[i] if atr_mult > 0.0 else 0.0
        if trend == 0:
            new_hi = h > hi
            new_lo = l < lo
            if new_hi:
                hi = h
                hi_i = i
                hi_ctr = np.inf
                hi_ctr_i = -1
            elif l < hi_ctr:
                hi_ctr = l
                hi_ctr_i = i
            if new_lo:
                lo = l
                lo_i = i
                lo_ctr = -np.inf
                lo_ctr_i = -1
            elif h > lo_ctr:
                lo_ctr = h
                lo_ctr_i = i
            down = hi_ctr_i >= 0 and hi - hi_ctr > 0.0 and hi - hi_ctr >= _threshold(hi, pct, av, atr_mult)
            up = lo_ctr_i >= 0 and lo_ctr - lo > 0.0 and lo_ctr - lo >= _threshold(lo, pct, av, atr_mult)
            if down and (not up or hi_i <= lo_i):
                idx[k] = hi_i
                px[k] = hi
                kd[k] = 1
                cf[k] = i
                k += 1
                trend = -1
                ext = hi_ctr
                ext_i = hi_ctr_i
            elif up:
                idx[k] = lo_i
                px[k] = lo
                kd[k] = -1
                cf[k] = i
                k += 1
                trend = 1
                ext = lo_ctr
                ext_i = lo_ctr_i
            else:
                continue
            ctr_i = -1  # fall through: rebuild the counter extreme of the new leg
        elif trend == 1:
            if h > ext:
                ext = h
                ext_i = i
                ctr_i = -1
                continue
            if ctr_i < 0 or l < ctr:
                ctr = l
                ctr_i = i
        else:
            if l < ext:
                ext = l
                ext_i = i
                ctr_i = -1
                continue
            if ctr_i < 0 or h > ctr:
                ctr = h
                ctr_i = i
        # reversal loop: a confirmed pivot starts a leg whose extreme is the old counter extreme;
        # its own counter extreme is rebuilt from the (short) stretch of bars since that extreme.
        while True:
            if ctr_i < 0:
                if ext_i >= i:
                    break
                ctr = np.inf if trend == 1 else -np.inf
                for j in range(ext_i + 1, i + 1):
                    v = low[j] if trend == 1 else high[j]
                    if trend == 1 and v < ctr or trend == -1 and v > ctr:  # False for NaN
                        ctr = v
                        ctr_i = j
                if ctr_i < 0:  # only NaN bars since the extreme
                    break
            move = ext - ctr if trend == 1 else ctr - ext
            if not (move > 0.0 and move >= _threshold(ext, pct, av, atr_mult)):
                break
            idx[k] = ext_i
            px[k] = ext
            kd[k] = trend
            cf[k] = i
            k += 1
            trend = -trend
            ext = ctr
            ext_i = ctr_i
            ctr_i = -1
    if trend != 0:
        idx[k] = ext_i
        px[k] = ext
        kd[k] = trend
        cf[k] = -1
        k += 1
    return idx[:k].copy(), px[:k].copy(), kd[:k].copy(), cf[:k].copy()


def zigzag(
    high,
    low,
    close=None,
    pct: float | None = None,
    atr_mult: float | None = None,
    atr_period: int = 14,
) -> Pivots:
    """Swing pivots of ``high``/``low`` (see the module docstring for the exact rule).

    ``pct`` is a fraction (0.05 = 5 %); ``atr_mult`` multiplies :func:`atr` (``close`` improves
    the true range). Neither given: ``pct=0.05``. Both given: the larger threshold applies.
    Raises :class:`~nautilus.core.errors.InvalidInput` naming the bad argument.
    """
    h, l, c = as_price_arrays(high, low, close)
    if pct is None and atr_mult is None:
        pct = 0.05
    p, m = check_threshold(pct, atr_mult, atr_period)
    atr_values = _atr_kernel(h, l, c if c is not None else np.empty(0), int(atr_period)) if m > 0 else h
    idx, px, kd, cf = _zigzag_kernel(h, l, atr_values, p, m)
    return Pivots(idx, px, kd, cf)
