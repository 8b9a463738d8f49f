"""Resumable numba kernels for TA-Lib's candlestick patterns CDLPIERCING .. CDLXSIDEGAP3METHODS.

Same contract and conventions as :mod:`nautilus.strategy.candles.patterns_2a` (state layout noted
above each kernel; "X@k" is the rolling total of setting X at candle offset k).
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.common import (
    BODY_DOJI,
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    NEAR,
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_LONG,
    SHADOW_VERY_SHORT,
    candle_average,
    color,
    real_body,
    real_body_gap_down,
    real_body_gap_up,
)
from nautilus.strategy.candles.patterns_2a import init_total, lower_shadow, roll_total, upper_shadow

# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@1, BodyLong@0]
PIERCING_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_piercing(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = PIERCING_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 1)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 0)
        start = lb
    bl1, bl0 = state[0], state[1]
    for i in range(start, n):
        # TA-Lib's FMA clone fuses the last test; the product with 0.5 is exact, so it cannot differ.
        hit = (
            (color(o, c, i - 1) == -1)
            & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl1, o, h, l, c, i - 1))
            & (color(o, c, i) == 1)
            & (real_body(o, c, i) > candle_average(BODY_LONG, bl0, o, h, l, c, i))
            & (o[i] < l[i - 1])
            & (c[i] < o[i - 1])
            & (c[i] > c[i - 1] + real_body(o, c, i - 1) * 0.5)
        )
        out[i] = 100 if hit else 0
        bl1 = roll_total(BODY_LONG, o, h, l, c, bl1, i, 1)
        bl0 = roll_total(BODY_LONG, o, h, l, c, bl0, i, 0)
    state[0], state[1] = bl1, bl0


# ---------------------------------------------------------------------------------------------------
# state: [BodyDoji@0, Near@0]
RICKSHAWMAN_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_rickshawman(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = RICKSHAWMAN_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_DOJI, o, h, l, c, lb, 0)
        state[1] = init_total(NEAR, o, h, l, c, lb, 0)
        start = lb
    bd, nr = state[0], state[1]
    for i in range(start, n):
        hit = (
            real_body(o, c, i) <= candle_average(BODY_DOJI, bd, o, h, l, c, i)
            and lower_shadow(o, l, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i)
            and upper_shadow(o, h, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i)
            and min(o[i], c[i]) <= l[i] + (h[i] - l[i]) / 2 + candle_average(NEAR, nr, o, h, l, c, i)
            and max(o[i], c[i]) >= l[i] + (h[i] - l[i]) / 2 - candle_average(NEAR, nr, o, h, l, c, i)
        )
        out[i] = 100 if hit else 0
        bd = roll_total(BODY_DOJI, o, h, l, c, bd, i, 0)
        nr = roll_total(NEAR, o, h, l, c, nr, i, 0)
    state[0], state[1] = bd, nr


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@4, BodyShort@3, BodyShort@2, BodyShort@1, BodyLong@0]
RISEFALL3METHODS_LOOKBACK = 14


@njit(cache=True, nogil=True)
def cdl_risefall3methods(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = RISEFALL3METHODS_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 4)
        state[1] = init_total(BODY_SHORT, o, h, l, c, lb, 3)
        state[2] = init_total(BODY_SHORT, o, h, l, c, lb, 2)
        state[3] = init_total(BODY_SHORT, o, h, l, c, lb, 1)
        state[4] = init_total(BODY_LONG, o, h, l, c, lb, 0)
        start = lb
    bl4, bs3, bs2, bs1, bl0 = state[0], state[1], state[2], state[3], state[4]
    for i in range(start, n):
        c4 = color(o, c, i - 4)
        c3 = color(o, c, i - 3)
        c2 = color(o, c, i - 2)
        c1 = color(o, c, i - 1)
        hit = (
            c4 == -c3
            and c3 == c2
            and c2 == c1
            and c1 == -color(o, c, i)
            and min(o[i - 3], c[i - 3]) < h[i - 4]
            and max(o[i - 3], c[i - 3]) > l[i - 4]
            and min(o[i - 2], c[i - 2]) < h[i - 4]
            and max(o[i - 2], c[i - 2]) > l[i - 4]
            and min(o[i - 1], c[i - 1]) < h[i - 4]
            and max(o[i - 1], c[i - 1]) > l[i - 4]
            and c[i - 2] * c4 < c[i - 3] * c4
            and c[i - 1] * c4 < c[i - 2] * c4
            and o[i] * c4 > c[i - 1] * c4
            and c[i] * c4 > c[i - 4] * c4
            and real_body(o, c, i - 4) > candle_average(BODY_LONG, bl4, o, h, l, c, i - 4)
            and real_body(o, c, i - 3) < candle_average(BODY_SHORT, bs3, o, h, l, c, i - 3)
            and real_body(o, c, i - 2) < candle_average(BODY_SHORT, bs2, o, h, l, c, i - 2)
            and real_body(o, c, i - 1) < candle_average(BODY_SHORT, bs1, o, h, l, c, i - 1)
            and real_body(o, c, i) > candle_average(BODY_LONG, bl0, o, h, l, c, i)
        )
        out[i] = 100 * c4 if hit else 0
        bl4 = roll_total(BODY_LONG, o, h, l, c, bl4, i, 4)
        bs3 = roll_total(BODY_SHORT, o, h, l, c, bs3, i, 3)
        bs2 = roll_total(BODY_SHORT, o, h, l, c, bs2, i, 2)
        bs1 = roll_total(BODY_SHORT, o, h, l, c, bs1, i, 1)
        bl0 = roll_total(BODY_LONG, o, h, l, c, bl0, i, 0)
    state[0], state[1], state[2], state[3], state[4] = bl4, bs3, bs2, bs1, bl0


# ---------------------------------------------------------------------------------------------------
# state: [ShadowVeryShort@0, BodyLong@0, Equal@1]
SEPARATINGLINES_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_separatinglines(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = SEPARATINGLINES_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 0)
        state[2] = init_total(EQUAL, o, h, l, c, lb, 1)
        start = lb
    svs, bl, eq = state[0], state[1], state[2]
    for i in range(start, n):
        col = color(o, c, i)
        hit = (
            (color(o, c, i - 1) == -col)
            & (o[i] <= o[i - 1] + candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (o[i] >= o[i - 1] - candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (real_body(o, c, i) > candle_average(BODY_LONG, bl, o, h, l, c, i))
            & (
                (
                    (col == 1)
                    & (lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i))
                )
                | (
                    (col == -1)
                    & (upper_shadow(o, h, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i))
                )
            )
        )
        out[i] = col * 100 if hit else 0
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 0)
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 0)
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 1)
    state[0], state[1], state[2] = svs, bl, eq


# ---------------------------------------------------------------------------------------------------
# state: [BodyShort@0, ShadowVeryShort@0]
SHOOTINGSTAR_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_shootingstar(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = SHOOTINGSTAR_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bs, svs = state[0], state[1]
    for i in range(start, n):
        hit = (
            (real_body_gap_up(o, c, i, i - 1))
            & (real_body(o, c, i) < candle_average(BODY_SHORT, bs, o, h, l, c, i))
            & (upper_shadow(o, h, c, i) > candle_average(SHADOW_LONG, 0.0, o, h, l, c, i))
            & (lower_shadow(o, l, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i))
        )
        out[i] = -100 if hit else 0
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 0)
    state[0], state[1] = bs, svs


# ---------------------------------------------------------------------------------------------------
# state: [BodyShort@0, ShadowShort@0]
SHORTLINE_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_shortline(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = SHORTLINE_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_SHORT, o, h, l, c, lb, 0)
        start = lb
    bs, ss = state[0], state[1]
    for i in range(start, n):
        hit = (
            (real_body(o, c, i) < candle_average(BODY_SHORT, bs, o, h, l, c, i))
            & (upper_shadow(o, h, c, i) < candle_average(SHADOW_SHORT, ss, o, h, l, c, i))
            & (lower_shadow(o, l, c, i) < candle_average(SHADOW_SHORT, ss, o, h, l, c, i))
        )
        out[i] = color(o, c, i) * 100 if hit else 0
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
        ss = roll_total(SHADOW_SHORT, o, h, l, c, ss, i, 0)
    state[0], state[1] = bs, ss


# ---------------------------------------------------------------------------------------------------
# state: [BodyShort@0]
SPINNINGTOP_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_spinningtop(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = SPINNINGTOP_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bs = state[0]
    for i in range(start, n):
        body = real_body(o, c, i)
        hit = (
            (upper_shadow(o, h, c, i) > body)
            & (lower_shadow(o, l, c, i) > body)
            & (body < candle_average(BODY_SHORT, bs, o, h, l, c, i))
        )
        out[i] = color(o, c, i) * 100 if hit else 0
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
    state[0] = bs


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyLong@1, BodyShort@0, ShadowVeryShort@1, Near@2, Near@1]
STALLEDPATTERN_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_stalledpattern(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = STALLEDPATTERN_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 2)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 1)
        state[2] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        state[3] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 1)
        state[4] = init_total(NEAR, o, h, l, c, lb, 2)
        state[5] = init_total(NEAR, o, h, l, c, lb, 1)
        start = lb
    bl2, bl1, bs, svs, nr2, nr1 = state[0], state[1], state[2], state[3], state[4], state[5]
    for i in range(start, n):
        hit = (
            color(o, c, i - 2) == 1
            and color(o, c, i - 1) == 1
            and color(o, c, i) == 1
            and c[i] > c[i - 1]
            and c[i - 1] > c[i - 2]
            and real_body(o, c, i - 2) > candle_average(BODY_LONG, bl2, o, h, l, c, i - 2)
            and real_body(o, c, i - 1) > candle_average(BODY_LONG, bl1, o, h, l, c, i - 1)
            and upper_shadow(o, h, c, i - 1) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i - 1)
            and o[i - 1] > o[i - 2]
            and o[i - 1] <= c[i - 2] + candle_average(NEAR, nr2, o, h, l, c, i - 2)
            and real_body(o, c, i) < candle_average(BODY_SHORT, bs, o, h, l, c, i)
            and o[i] >= c[i - 1] - real_body(o, c, i) - candle_average(NEAR, nr1, o, h, l, c, i - 1)
        )
        out[i] = -100 if hit else 0
        bl2 = roll_total(BODY_LONG, o, h, l, c, bl2, i, 2)
        bl1 = roll_total(BODY_LONG, o, h, l, c, bl1, i, 1)
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 1)
        nr2 = roll_total(NEAR, o, h, l, c, nr2, i, 2)
        nr1 = roll_total(NEAR, o, h, l, c, nr1, i, 1)
    state[0], state[1], state[2], state[3], state[4], state[5] = bl2, bl1, bs, svs, nr2, nr1


# ---------------------------------------------------------------------------------------------------
# state: [Equal@2]
STICKSANDWICH_LOOKBACK = 7


@njit(cache=True, nogil=True)
def cdl_sticksandwich(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = STICKSANDWICH_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(EQUAL, o, h, l, c, lb, 2)
        start = lb
    eq = state[0]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 2) == -1)
            & (color(o, c, i - 1) == 1)
            & (color(o, c, i) == -1)
            & (l[i - 1] > c[i - 2])
            & (c[i] <= c[i - 2] + candle_average(EQUAL, eq, o, h, l, c, i - 2))
            & (c[i] >= c[i - 2] - candle_average(EQUAL, eq, o, h, l, c, i - 2))
        )
        out[i] = 100 if hit else 0
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 2)
    state[0] = eq


# ---------------------------------------------------------------------------------------------------
# state: [BodyDoji@0, ShadowVeryShort@0]
TAKURI_LOOKBACK = 10


@njit(cache=True, nogil=True)
def cdl_takuri(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = TAKURI_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_DOJI, o, h, l, c, lb, 0)
        state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bd, svs = state[0], state[1]
    for i in range(start, n):
        hit = (
            real_body(o, c, i) <= candle_average(BODY_DOJI, bd, o, h, l, c, i)
            and upper_shadow(o, h, c, i) < candle_average(SHADOW_VERY_SHORT, svs, o, h, l, c, i)
            and lower_shadow(o, l, c, i) > candle_average(SHADOW_VERY_LONG, 0.0, o, h, l, c, i)
        )
        out[i] = 100 if hit else 0
        bd = roll_total(BODY_DOJI, o, h, l, c, bd, i, 0)
        svs = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs, i, 0)
    state[0], state[1] = bd, svs


# ---------------------------------------------------------------------------------------------------
# state: [Near@1]
TASUKIGAP_LOOKBACK = 7


@njit(cache=True, nogil=True)
def cdl_tasukigap(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = TASUKIGAP_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(NEAR, o, h, l, c, lb, 1)
        start = lb
    nr = state[0]
    for i in range(start, n):
        near = candle_average(NEAR, nr, o, h, l, c, i - 1)
        same_size = abs(real_body(o, c, i - 1) - real_body(o, c, i)) < near
        hit = (
            (real_body_gap_up(o, c, i - 1, i - 2))
            & (color(o, c, i - 1) == 1)
            & (color(o, c, i) == -1)
            & (o[i] < c[i - 1])
            & (o[i] > o[i - 1])
            & (c[i] < o[i - 1])
            & (c[i] > max(c[i - 2], o[i - 2]))
            & (same_size)
        ) | (
            (real_body_gap_down(o, c, i - 1, i - 2))
            & (color(o, c, i - 1) == -1)
            & (color(o, c, i) == 1)
            & (o[i] < o[i - 1])
            & (o[i] > c[i - 1])
            & (c[i] > o[i - 1])
            & (c[i] < min(c[i - 2], o[i - 2]))
            & (same_size)
        )
        out[i] = color(o, c, i - 1) * 100 if hit else 0
        nr = roll_total(NEAR, o, h, l, c, nr, i, 1)
    state[0] = nr


# ---------------------------------------------------------------------------------------------------
# state: [Equal@1, BodyLong@1]
THRUSTING_LOOKBACK = 11


@njit(cache=True, nogil=True)
def cdl_thrusting(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = THRUSTING_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(EQUAL, o, h, l, c, lb, 1)
        state[1] = init_total(BODY_LONG, o, h, l, c, lb, 1)
        start = lb
    eq, bl = state[0], state[1]
    for i in range(start, n):
        # As in CDLPIERCING, the FMA in TA-Lib's clone is exact here (factor 0.5).
        hit = (
            (color(o, c, i - 1) == -1)
            & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl, o, h, l, c, i - 1))
            & (color(o, c, i) == 1)
            & (o[i] < l[i - 1])
            & (c[i] > c[i - 1] + candle_average(EQUAL, eq, o, h, l, c, i - 1))
            & (c[i] <= c[i - 1] + real_body(o, c, i - 1) * 0.5)
        )
        out[i] = -100 if hit else 0
        eq = roll_total(EQUAL, o, h, l, c, eq, i, 1)
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 1)
    state[0], state[1] = eq, bl


# ---------------------------------------------------------------------------------------------------
# state: [BodyDoji@2] (TA-Lib judges all three candles against the first one's yardstick)
TRISTAR_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_tristar(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = TRISTAR_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_DOJI, o, h, l, c, lb, 2)
        start = lb
    bd = state[0]
    for i in range(start, n):
        doji = candle_average(BODY_DOJI, bd, o, h, l, c, i - 2)
        three_doji = (
            (real_body(o, c, i - 2) <= doji) & (real_body(o, c, i - 1) <= doji) & (real_body(o, c, i) <= doji)
        )
        bear = real_body_gap_up(o, c, i - 1, i - 2) & (max(o[i], c[i]) < max(o[i - 1], c[i - 1]))
        bull = real_body_gap_down(o, c, i - 1, i - 2) & (min(o[i], c[i]) > min(o[i - 1], c[i - 1]))
        # TA-Lib tests the bearish case first and lets the bullish one overwrite it.
        v = 100 if bull else (-100 if bear else 0)
        out[i] = v if three_doji else 0
        bd = roll_total(BODY_DOJI, o, h, l, c, bd, i, 2)
    state[0] = bd


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyShort@0]
UNIQUE3RIVER_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_unique3river(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = UNIQUE3RIVER_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 2)
        state[1] = init_total(BODY_SHORT, o, h, l, c, lb, 0)
        start = lb
    bl, bs = state[0], state[1]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 2) == -1)
            & (color(o, c, i - 1) == -1)
            & (color(o, c, i) == 1)
            & (c[i - 1] > c[i - 2])
            & (o[i - 1] <= o[i - 2])
            & (l[i - 1] < l[i - 2])
            & (o[i] > l[i - 1])
            & (real_body(o, c, i - 2) > candle_average(BODY_LONG, bl, o, h, l, c, i - 2))
            & (real_body(o, c, i) < candle_average(BODY_SHORT, bs, o, h, l, c, i))
        )
        out[i] = 100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 2)
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 0)
    state[0], state[1] = bl, bs


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyShort@1]
UPSIDEGAP2CROWS_LOOKBACK = 12


@njit(cache=True, nogil=True)
def cdl_upsidegap2crows(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = UPSIDEGAP2CROWS_LOOKBACK
    if start <= lb:
        if n <= lb:
            return
        state[0] = init_total(BODY_LONG, o, h, l, c, lb, 2)
        state[1] = init_total(BODY_SHORT, o, h, l, c, lb, 1)
        start = lb
    bl, bs = state[0], state[1]
    for i in range(start, n):
        hit = (
            (color(o, c, i - 2) == 1)
            & (real_body(o, c, i - 2) > candle_average(BODY_LONG, bl, o, h, l, c, i - 2))
            & (color(o, c, i - 1) == -1)
            & (real_body(o, c, i - 1) <= candle_average(BODY_SHORT, bs, o, h, l, c, i - 1))
            & (real_body_gap_up(o, c, i - 1, i - 2))
            & (color(o, c, i) == -1)
            & (o[i] > o[i - 1])
            & (c[i] < c[i - 1])
            & (c[i] > c[i - 2])
        )
        out[i] = -100 if hit else 0
        bl = roll_total(BODY_LONG, o, h, l, c, bl, i, 2)
        bs = roll_total(BODY_SHORT, o, h, l, c, bs, i, 1)
    state[0], state[1] = bl, bs


# ---------------------------------------------------------------------------------------------------
# No rolling totals: state is empty.
XSIDEGAP3METHODS_LOOKBACK = 2


@njit(cache=True, nogil=True)
def cdl_xsidegap3methods(o, h, l, c, param, out, state, start):
    n = c.shape[0]
    lb = XSIDEGAP3METHODS_LOOKBACK
    if start < lb:
        start = lb
    for i in range(start, n):
        c2 = color(o, c, i - 2)
        hit = (
            c2 == color(o, c, i - 1)
            and color(o, c, i - 1) == -color(o, c, i)
            and o[i] < max(c[i - 1], o[i - 1])
            and o[i] > min(c[i - 1], o[i - 1])
            and c[i] < max(c[i - 2], o[i - 2])
            and c[i] > min(c[i - 2], o[i - 2])
            and (
                (c2 == 1 and real_body_gap_up(o, c, i - 1, i - 2))
                or (c2 == -1 and real_body_gap_down(o, c, i - 1, i - 2))
            )
        )
        out[i] = c2 * 100 if hit else 0


PATTERNS_B = (
    ("CDLPIERCING", cdl_piercing, PIERCING_LOOKBACK, 2, 0.0),
    ("CDLRICKSHAWMAN", cdl_rickshawman, RICKSHAWMAN_LOOKBACK, 2, 0.0),
    ("CDLRISEFALL3METHODS", cdl_risefall3methods, RISEFALL3METHODS_LOOKBACK, 5, 0.0),
    ("CDLSEPARATINGLINES", cdl_separatinglines, SEPARATINGLINES_LOOKBACK, 3, 0.0),
    ("CDLSHOOTINGSTAR", cdl_shootingstar, SHOOTINGSTAR_LOOKBACK, 2, 0.0),
    ("CDLSHORTLINE", cdl_shortline, SHORTLINE_LOOKBACK, 2, 0.0),
    ("CDLSPINNINGTOP", cdl_spinningtop, SPINNINGTOP_LOOKBACK, 1, 0.0),
    ("CDLSTALLEDPATTERN", cdl_stalledpattern, STALLEDPATTERN_LOOKBACK, 6, 0.0),
    ("CDLSTICKSANDWICH", cdl_sticksandwich, STICKSANDWICH_LOOKBACK, 1, 0.0),
    ("CDLTAKURI", cdl_takuri, TAKURI_LOOKBACK, 2, 0.0),
    ("CDLTASUKIGAP", cdl_tasukigap, TASUKIGAP_LOOKBACK, 1, 0.0),
    ("CDLTHRUSTING", cdl_thrusting, THRUSTING_LOOKBACK, 2, 0.0),
    ("CDLTRISTAR", cdl_tristar, TRISTAR_LOOKBACK, 1, 0.0),
    ("CDLUNIQUE3RIVER", cdl_unique3river, UNIQUE3RIVER_LOOKBACK, 2, 0.0),
    ("CDLUPSIDEGAP2CROWS", cdl_upsidegap2crows, UPSIDEGAP2CROWS_LOOKBACK, 2, 0.0),
    ("CDLXSIDEGAP3METHODS", cdl_xsidegap3methods, XSIDEGAP3METHODS_LOOKBACK, 0, 0.0),
)
