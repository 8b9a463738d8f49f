"""Resumable numba kernels for TA-Lib's candlestick patterns CDLIDENTICAL3CROWS .. CDLONNECK.

Every kernel follows the shared contract ``cdl_x(o, h, l, c, param, out, state, start)``: with
``start <= LOOKBACK`` it starts fresh, building its rolling totals the way TA-Lib does for a call
that starts at the lookback, and writes ``out[LOOKBACK:]``; otherwise ``state`` holds the totals
left after bar ``start - 1`` and only ``out[start:]`` is written. Either way ``state`` is left valid
for resuming at ``len(c)``.

A rolling total "at offset k" is TA-Lib's ``XxxPeriodTotal[k]`` (or a total whose trailing index is
shifted by k): the sum of the candle range over the ``period`` candles before candle ``i - k``. It
starts as a plain forward sum and rolls with ``total + (range(i - k) - range(i - k - period))``;
settings with a period of 0 (ShadowLong, ShadowVeryLong) keep no total at all.

The installed TA-Lib build dispatches CDLMORNINGSTAR and CDLMORNINGDOJISTAR (and CDLPIERCING,
CDLTHRUSTING, where it cannot matter since the factor is 0.5) to a clone compiled with FMA when the
CPU has it, which fuses ``close + body * penetration`` into one rounding. ``HAS_FMA`` mirrors that
dispatch so the kernels agree with TA-Lib on the machine they run on.

Each pattern's tests are TA-Lib's, in TA-Lib's order and arithmetic. Most kernels join them with
``&`` (every test evaluated, no branches to mispredict on random bars); a few keep ``and`` where
LLVM produced faster code that way. The tests are pure comparisons, so both give the same answer.
"""

from __future__ import annotations

import llvmlite.binding as _llvm
from llvmlite import ir as _ir
from numba import njit, types
from numba.extending import intrinsic

from nautilus.strategy.candles.common import (
    BODY_DOJI,
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    HIGH_LOW,
    REAL_BODY,
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_SHORT,
    SHADOWS,
    candle_average,
    color,
    real_body,
    real_body_gap_down,
)

HAS_FMA = bool(_llvm.get_host_cpu_features().get("fma", False))


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add ``a * b + c`` with a single rounding (llvm.fma)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        dbl = _ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [dbl], _ir.FunctionType(dbl, [dbl, dbl, dbl]))
        return builder.call(fn, args)

    return sig, codegen


@njit(inline="always")
def mul_add(a, b, c):
    """``a * b + c`` rounded as the TA-Lib FMA clone rounds it on this machine."""
    if HAS_FMA:
        return _fma(a, b, c)
    return c + a * b


# The shadows below give the same values as common.upper_shadow/lower_shadow; reading open and close
# before choosing lets LLVM select instead of branching on the candle's colour, which random bars
# would mispredict half the time.
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
def candle_range(setting, o, h, l, c, i):
    """common.candle_range with the branch-free shadows."""
    rt = setting[0]
    if rt == REAL_BODY:
        return abs(c[i] - o[i])
    if rt == HIGH_LOW:
        return h[i] - l[i]
    if rt == SHADOWS:
        return upper_shadow(o, h, c, i) + lower_shadow(o, l, c, i)
    return 0.0


@njit(inline="always")
def init_total(setting, o, h, l, c, start, off):
    """TA-Lib's starting total at offset ``off`` for a run whose first output bar is ``start``."""
    total = 0.0
    for j in range(start - setting[1], start):
        total += candle_range(setting, o, h, l, c, j - off)
    return total


@njit(inline="always")
def roll_total(setting, o, h, l, c, total, i, off):
    """The total at offset ``off`` after bar ``i``: add the newest range, drop the oldest."""
    return total + (
        candle_range(setting, o, h, l, c, i - off) - candle_range(setting, o, h, l, c, i - off - setting[1])
    )


# ---------------------------------------------------------------------------------------------------
# state: [ShadowVeryShort@2, ShadowVeryShort@1, ShadowVeryShort@0, Equal@2, Equal@1]
IDENTICAL3CROWS_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_identical3crows(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = IDENTICAL3CROWS_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 2)
        state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 1)
        state[2] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        state[3] = init_total(EQUAL, o, h, l, c, lb, 2)
        state[4] = init_total(EQUAL, o, h, l, c, lb, 1)
        start = lb
    svs2, svs1, svs0, eq2, eq1 = state[0], state[1], state[2], state[3], state[4]
    for i in range(start, n):
        hit = (
            color(o, c, i - 2) == -1
            and lower_shadow(o, l, c, i - 2) < candle_average(SHADOW_VERY_SHORT, svs2, o, h, l, c, i - 2)
            and color(o, c, i - 1) == -1
            and lower_shadow(o, l, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1)
            and color(o, c, i) == -1
            and lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i)
            and c[i - 2] > c[i - 1]
            and c[i - 1] > c[i]
            and o[i - 1] <= c[i - 2] + candle_average(EQUAL, eq2, o, h, l, c, i - 2)
            and o[i - 1] >= c[i - 2] - candle_average(EQUAL, eq2, o, h, l, c, i - 2)
            and o[i] <= c[i - 1] + candle_average(EQUAL, eq1, o, h, l, c, i - 1)
            and o[i] >= c[i - 1] - candle_average(EQUAL, eq1, o, h, l, c, i - 1)
        )
        out[i] = -100 if hit else 0
        svs2 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs2, i, 2)
        svs1 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs1, i, 1)
        svs0 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs0, i, 0)
        eq2 = roll_total(EQUAL, o, h, l, c, eq2, i, 2)
        eq1 = roll_total(EQUAL, o, h, l, c, eq1, i, 1)
    state[0], state[1], state[2], state[3], state[4] = svs2, svs1, svs0, eq2, eq1


# ---------------------------------------------------------------------------------------------------
# state: [Equal@1, BodyLong@1]
INNECK_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_inneck(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = INNECK_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(EQUAL, o, h, l, c, lb, 1)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 1)
        start = lb
    eq, bl = state[0], state[1]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 1) == -1)
            & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl, o, h, l, c, i - 1))
            & (color(o, c, i) == 1)
            & (o[i] < l[i - 1])
            & (c[i] <= c[i - 1] + candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (c[i] >= c[i - 1])
        )
        out[i] = -100 if hit else 0
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 1)
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 1)
    state[0], state[1] = eq, bl


# ---------------------------------------------------------------------------------------------------
# state: [BodyShort@0, ShadowVeryShort@0]
INVERTEDHAMMER_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_invertedhammer(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = INVERTEDHAMMER_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bs, svs = state[0], state[1]
    for i in range(start, n):
        hit = (
            (real_body_gap_down(o, c, i, i - 1))
            & (real_body(o, c, i) < candle_average(BODY_SHORT, bs, o, h, l, c, i))
            & (upper_shadow(o, h, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i))
            & (lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i))
        )
        out[i] = 100 if hit else 0
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 0)
    state[0], state[1] = bs, svs


# ---------------------------------------------------------------------------------------------------
# Kicking and kicking-by-length share their test (written out in both: numba compiles a long boolean
# returned from an inlined helper into much slower code); state: [ShadowVeryShort@1,
# ShadowVeryShort@0, BodyLong@1, BodyLong@0]
KICKING_LOOKBACK = 11


@njit(inline="always")
def _kicking_init(o, h, l, c, state, lb):
    state[0] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 1)
    state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
    state[2] = init_total(BODY_LONG, o, h, l, c, lb, 1)
    state[3] = init_total(BODY_LONG, o, h, l, c, lb, 0)


@njit(cache=True, nogil=True)
def cdl_kicking(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = KICKING_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        _kicking_init(o, h, l, c, state, lb)
        start = lb
    svs1, svs0, bl1, bl0 = state[0], state[1], state[2], state[3]
    for i in range(start, n):
        c1 = color(o, c, i - 1)
        c0 = color(o, c, i)
        hit = (
            c1 == -c0
            and real_body(o, c, i - 1) > candle_average(BODY_LONG, bl1, o, h, l, c, i - 1)
            and upper_shadow(o, h, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1)
            and lower_shadow(o, l, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1)
            and real_body(o, c, i) > candle_average(BODY_LONG, bl0, o, h, l, c, i)
            and upper_shadow(o, h, c, i) < candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i)
            and lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i)
            and ((c1 == -1 and l[i] > h[i - 1]) or (c1 == 1 and h[i] < l[i - 1]))
        )
        out[i] = c0 * 100 if hit else 0
        svs1 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs1, i, 1)
        svs0 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs0, i, 0)
        bl1 = roll_total(BODY_LONG, o, h, l, c, bl1, i, 1)
        bl0 = roll_total(BODY_LONG, o, h, l, c, bl0, i, 0)
    state[0], state[1], state[2], state[3] = svs1, svs0, bl1, bl0


@njit(cache=True, nogil=True)
def cdl_kickingbylength(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = KICKING_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        _kicking_init(o, h, l, c, state, lb)
        start = lb
    svs1, svs0, bl1, bl0 = state[0], state[1], state[2], state[3]
    for i in range(start, n):
        c1 = color(o, c, i - 1)
        c0 = color(o, c, i)
        hit = (
            (c1 == -c0)
            & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl1, o, h, l, c, i - 1))
            & (upper_shadow(o, h, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1))
            & (lower_shadow(o, l, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1))
            & (real_body(o, c, i) > candle_average(BODY_LONG, bl0, o, h, l, c, i))
            & (upper_shadow(o, h, c, i) < candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i))
            & (lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i))
            & (((c1 == -1) & (l[i] > h[i - 1])) | ((c1 == 1) & (h[i] < l[i - 1])))
        )
        if hit:
            out[i] = (c0 if real_body(o, c, i) > real_body(o, c, i - 1) else c1) * 100
        else:
            out[i] = 0
        svs1 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs1, i, 1)
        svs0 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs0, i, 0)
        bl1 = roll_total(BODY_LONG, o, h, l, c, bl1, i, 1)
        bl0 = roll_total(BODY_LONG, o, h, l, c, bl0, i, 0)
    state[0], state[1], state[2], state[3] = svs1, svs0, bl1, bl0


# ---------------------------------------------------------------------------------------------------
# state: [ShadowVeryShort@1]
LADDERBOTTOM_LOOKBACK = 14


@njit(cache=True, nogil=True)
def cdl_ladderbottom(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = LADDERBOTTOM_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 1)
        start = lb
    svs = state[0]
    for i in range(start, n):
        hit = (
            color(o, c, i - 4) == -1
            and color(o, c, i - 3) == -1
            and color(o, c, i - 2) == -1
            and o[i - 4] > o[i - 3]
            and o[i - 3] > o[i - 2]
            and c[i - 4] > c[i - 3]
            and c[i - 3] > c[i - 2]
            and color(o, c, i - 1) == -1
            and upper_shadow(o, h, c, i - 1) > candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i - 1)
            and color(o, c, i) == 1
            and o[i] > o[i - 1]
            and c[i] > h[i - 1]
        )
        out[i] = 100 if hit else 0
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 1)
    state[0] = svs


# ---------------------------------------------------------------------------------------------------
# state: [BodyDoji@0]
LONGLEGGEDDOJI_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_longleggeddoji(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = LONGLEGGEDDOJI_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_DOJI, o, h, l, c, lb, 0)
        start = lb
    bd = state[0]
    for i in range(start, n):
        hit = (real_body(o, c, i) <= candle_average(BODY_DOJI, bd, o, h, l, c, i)) & (
            (lower_shadow(o, l, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i))
            | (upper_shadow(o, h, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i))
        )
        out[i] = 100 if hit else 0
        bd = roll_total(BODY_DOJI, o, h, l, c, bd, i, 0)
    state[0] = bd


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@0, ShadowShort@0]
LONGLINE_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_longline(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = LONGLINE_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_SHORT, o, h, l, c, lb, 0)
        start = lb
    bl, ss = state[0], state[1]
    for i in range(start, n):
        hit = (
            (real_body(o, c, i) > candle_average(BODY_LONG, bl, o, h, l, c, i))
            & (upper_shadow(o, h, c, i) < candle_average(SHADOW_SHORT, ss, o, h, l, c, i))
            & (lower_shadow(o, l, c, i) < candle_average(SHADOW_SHORT, ss, o, h, l, c, i))
        )
        out[i] = color(o, c, i) * 100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 0)
        ss = roll_total(SHADOW_SHORT, o, h, l, c, ss, i, 0)
    state[0], state[1] = bl, ss


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@0, ShadowVeryShort@0]
MARUBOZU_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_marubozu(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = MARUBOZU_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bl, svs = state[0], state[1]
    for i in range(start, n):
        hit = (
            real_body(o, c, i) > candle_average(BODY_LONG, bl, o, h, l, c, i)
            and upper_shadow(o, h, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i)
            and lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i)
        )
        out[i] = color(o, c, i) * 100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 0)
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 0)
    state[0], state[1] = bl, svs


# ---------------------------------------------------------------------------------------------------
# state: [Equal@1]
MATCHINGLOW_LOOKBACK = 6


@njit(cache=True, nogil=True)
def cdl_matchinglow(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = MATCHINGLOW_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(EQUAL, o, h, l, c, lb, 1)
        start = lb
    eq = state[0]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 1) == -1)
            & (color(o, c, i) == -1)
            & (c[i] <= c[i - 1] + candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (c[i] >= c[i - 1] - candle_average(EQUAL, eq, o, h, l, c, i - 1))
        )
        out[i] = 100 if hit else 0
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 1)
    state[0] = eq


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@4, BodyShort@3, BodyShort@2, BodyShort@1]; param: penetration (TA-Lib default 0.5)
MATHOLD_LOOKBACK = 14


@njit(cache=True, nogil=True)
def cdl_mathold(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = MATHOLD_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 4)
        state[1] = init_total(BODY_SHORT, o, h, l, c, lb, 3)
        state[2] = init_total(BODY_SHORT, o, h, l, c, lb, 2)
        state[3] = init_total(BODY_SHORT, o, h, l, c, lb, 1)
        start = lb
    bl4, bs3, bs2, bs1 = state[0], state[1], state[2], state[3]
    for i in range(start, n):
        hit = (
            color(o, c, i - 4) == 1
            and color(o, c, i - 3) == -1
            and color(o, c, i) == 1
            and min(o[i - 3], c[i - 3]) > max(o[i - 4], c[i - 4])
            and min(o[i - 2], c[i - 2]) < c[i - 4]
            and min(o[i - 1], c[i - 1]) < c[i - 4]
            and min(o[i - 2], c[i - 2]) > c[i - 4] - real_body(o, c, i - 4) * param
            and min(o[i - 1], c[i - 1]) > c[i - 4] - real_body(o, c, i - 4) * param
            and max(c[i - 2], o[i - 2]) < o[i - 3]
            and max(c[i - 1], o[i - 1]) < max(c[i - 2], o[i - 2])
            and o[i] > c[i - 1]
            and c[i] > max(max(h[i - 3], h[i - 2]), h[i - 1])
            and real_body(o, c, i - 4) > candle_average(BODY_LONG, bl4, o, h, l, c, i - 4)
            and real_body(o, c, i - 3) < candle_average(BODY_SHORT, bs3, o, h, l, c, i - 3)
            and real_body(o, c, i - 2) < candle_average(BODY_SHORT, bs2, o, h, l, c, i - 2)
            and real_body(o, c, i - 1) < candle_average(BODY_SHORT, bs1, o, h, l, c, i - 1)
        )
        out[i] = 100 if hit else 0
        bl4 = roll_total(BODY_LONG, o, h, l, c, bl4, i, 4)
        bs3 = roll_total(BODY_SHORT, o, h, l, c, bs3, i, 3)
        bs2 = roll_total(BODY_SHORT, o, h, l, c, bs2, i, 2)
        bs1 = roll_total(BODY_SHORT, o, h, l, c, bs1, i, 1)
    state[0], state[1], state[2], state[3] = bl4, bs3, bs2, bs1


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyDoji@1, BodyShort@0]; param: penetration (TA-Lib default 0.3)
MORNINGDOJISTAR_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_morningdojistar(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = MORNINGDOJISTAR_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 2)
        state[1] = init_total(BODY_DOJI, o, h, l, c, lb, 1)
        state[2] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bl, bd, bs = state[0], state[1], state[2]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 2) == -1)
            & (color(o, c, i) == 1)
            & (real_body_gap_down(o, c, i - 1, i - 2))
            & (c[i] > mul_add(real_body(o, c, i - 2), param, c[i - 2]))
            & (real_body(o, c, i - 2) > candle_average(BODY_LONG, bl, o, h, l, c, i - 2))
            & (real_body(o, c, i - 1) <= candle_average(BODY_DOJI, bd, o, h, l, c, i - 1))
            & (real_body(o, c, i) > candle_average(BODY_SHORT, bs, o, h, l, c, i))
        )
        out[i] = 100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 2)
        bd = roll_total(BODY_DOJI, o, h, l, c, bd, i, 1)
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
    state[0], state[1], state[2] = bl, bd, bs


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyShort@1, BodyShort@0]; param: penetration (TA-Lib default 0.3)
MORNINGSTAR_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_morningstar(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = MORNINGSTAR_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 2)
        state[1] = init_total(BODY_SHORT, o, h, l, c, lb, 1)
        state[2] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bl, bs1, bs0 = state[0], state[1], state[2]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 2) == -1)
            & (color(o, c, i) == 1)
            & (real_body_gap_down(o, c, i - 1, i - 2))
            & (c[i] > mul_add(real_body(o, c, i - 2), param, c[i - 2]))
            & (real_body(o, c, i - 2) > candle_average(BODY_LONG, bl, o, h, l, c, i - 2))
            & (real_body(o, c, i - 1) <= candle_average(BODY_SHORT, bs1, o, h, l, c, i - 1))
            & (real_body(o, c, i) > candle_average(BODY_SHORT, bs0, o, h, l, c, i))
        )
        out[i] = 100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 2)
        bs1 = roll_total(BODY_SHORT, o, h, l, c, bs1, i, 1)
        bs0 = roll_total(BODY_SHORT, o, h, l, c, bs0, i, 0)
    state[0], state[1], state[2] = bl, bs1, bs0


# ---------------------------------------------------------------------------------------------------
# state: [Equal@1, BodyLong@1]
ONNECK_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_onneck(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = ONNECK_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(EQUAL, o, h, l, c, lb, 1)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 1)
        start = lb
    eq, bl = state[0], state[1]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 1) == -1)
            & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl, o, h, l, c, i - 1))
            & (color(o, c, i) == 1)
            & (o[i] < l[i - 1])
            & (c[i] <= l[i - 1] + candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (c[i] >= l[i - 1] - candle_average(EQUAL, eq, o, h, l, c, i - 1))
        )
        out[i] = -100 if hit else 0
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 1)
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 1)
    state[0], state[1] = eq, bl


# (TA name, kernel, lookback, state size, default param), in TA-Lib's alphabetical order.
PATTERNS_A = (
    ("CDLIDENTICAL3CROWS", cdl_identical3crows, IDENTICAL3CROWS_LOOKBACK, 5, 0.0),
    ("CDLINNECK", cdl_inneck, INNECK_LOOKBACK, 2, 0.0),
    ("CDLINVERTEDHAMMER", cdl_invertedhammer, INVERTEDHAMMER_LOOKBACK, 2, 0.0),
    ("CDLKICKING", cdl_kicking, KICKING_LOOKBACK, 4, 0.0),
    ("CDLKICKINGBYLENGTH", cdl_kickingbylength, KICKING_LOOKBACK, 4, 0.0),
    ("CDLLADDERBOTTOM", cdl_ladderbottom, LADDERBOTTOM_LOOKBACK, 1, 0.0),
    ("CDLLONGLEGGEDDOJI", cdl_longleggeddoji, LONGLEGGEDDOJI_LOOKBACK, 1, 0.0),
    ("CDLLONGLINE", cdl_longline, LONGLINE_LOOKBACK, 2, 0.0),
    ("CDLMARUBOZU", cdl_marubozu, MARUBOZU_LOOKBACK, 2, 0.0),
    ("CDLMATCHINGLOW", cdl_matchinglow, MATCHINGLOW_LOOKBACK, 1, 0.0),
    ("CDLMATHOLD", cdl_mathold, MATHOLD_LOOKBACK, 4, 0.5),
    ("CDLMORNINGDOJISTAR", cdl_morningdojistar, MORNINGDOJISTAR_LOOKBACK, 3, 0.3),
    ("CDLMORNINGSTAR", cdl_morningstar, MORNINGSTAR_LOOKBACK, 3, 0.3),
    ("CDLONNECK", cdl_onneck, ONNECK_LOOKBACK, 2, 0.0),
)
