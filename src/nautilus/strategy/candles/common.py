"""Candle arithmetic shared by every pattern kernel, bit-for-bit as TA-Lib does it.

TA-Lib judges a candle against a yardstick: the average of one of three ranges (real body,
high-low, upper+lower shadows) over the previous ``period`` candles, times a factor. Each
setting below is ``(range_type, period, factor)`` with TA-Lib's default values; a period of 0
means the candle's own range is the yardstick.

Exactness rule for kernels built on this module: keep TA-Lib's order of floating-point
operations. Rolling totals start with a plain loop over the trailing window and are updated with
``total += range(i) - range(i - period)`` (the difference first), and averages are
``factor * (total / period) / divisor``. Any other order can flip a comparison on ties.
"""

from __future__ import annotations

from numba import njit

REAL_BODY = 0
HIGH_LOW = 1
SHADOWS = 2

# (range type, average period, factor): TA-Lib's TA_CandleDefaultSettings.
BODY_LONG = (REAL_BODY, 10, 1.0)
BODY_VERY_LONG = (REAL_BODY, 10, 3.0)
BODY_SHORT = (REAL_BODY, 10, 1.0)
BODY_DOJI = (HIGH_LOW, 10, 0.1)
SHADOW_LONG = (REAL_BODY, 0, 1.0)
SHADOW_VERY_LONG = (REAL_BODY, 0, 2.0)
SHADOW_SHORT = (SHADOWS, 10, 1.0)
SHADOW_VERY_SHORT = (HIGH_LOW, 10, 0.1)
NEAR = (HIGH_LOW, 5, 0.2)
FAR = (HIGH_LOW, 5, 0.6)
EQUAL = (HIGH_LOW, 5, 0.05)


@njit(inline="always")
def real_body(o, c, i):
    return abs(c[i] - o[i])


# Reading open and close before choosing lets LLVM select instead of branching on the candle's
# colour, which random bars would mispredict half the time.
@njit(inline="always")
def upper_shadow(o, h, c, i):
    oi = o[i]
    ci = c[i]
    return h[i] - (ci if ci >= oi else oi)


@njit(inline="always")
def lower_shadow(o, l, c, i):
    oi = o[i]
    ci = c[i]
    return (oi if ci >= oi else ci) - l[i]


@njit(inline="always")
def high_low_range(h, l, i):
    return h[i] - l[i]


@njit(inline="always")
def color(o, c, i):
    """+1 for a white (rising or flat) candle, -1 for a black one."""
    return 1 if c[i] >= o[i] else -1


@njit(inline="always")
def candle_range(setting, o, h, l, c, i):
    rt = setting[0]
    if rt == REAL_BODY:
        return abs(c[i] - o[i])
    if rt == HIGH_LOW:
        return h[i] - l[i]
    if rt == SHADOWS:
        return upper_shadow(o, h, c, i) + lower_shadow(o, l, c, i)
    return 0.0


@njit(inline="always")
def candle_average(setting, total, o, h, l, c, i):
    """TA_CANDLEAVERAGE: the yardstick for candle ``i`` given the rolling ``total``."""
    rt, period, factor = setting
    base = total / period if period != 0 else candle_range(setting, o, h, l, c, i)
    return factor * base / (2.0 if rt == SHADOWS else 1.0)


@njit(inline="always")
def real_body_gap_up(o, c, i, j):
    """Candle ``i``'s body is entirely above candle ``j``'s (TA_REALBODYGAPUP)."""
    return min(o[i], c[i]) > max(o[j], c[j])


@njit(inline="always")
def real_body_gap_down(o, c, i, j):
    return max(o[i], c[i]) < min(o[j], c[j])


@njit(inline="always")
def candle_gap_up(h, l, i, j):
    """Candle ``i``'s low is above candle ``j``'s high (TA_CANDLEGAPUP)."""
    return l[i] > h[j]


@njit(inline="always")
def candle_gap_down(h, l, i, j):
    return h[i] < l[j]
