"""Two-candle kernels: counterattack, piercing/dark cloud, engulfing, harami, necks, kicking and more.

See :mod:`.scalars` for the kernels' resumable contract and :mod:`.templates` for the shared loops.
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.arrays import (
    init_total,
    roll_total,
)
from nautilus.strategy.candles.common import (
    BODY_DOJI,
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    SHADOW_VERY_SHORT,
    candle_average,
    color,
    lower_shadow,
    real_body,
    upper_shadow,
)
from nautilus.strategy.candles.scalars import (
    _PBL,
    _PE,
    _av,
    _body,
    _col,
    _gap_down,
    _gap_up,
    _rl,
    _total,
    _u,
)
from nautilus.strategy.candles.templates import compile_kernel, two_bar

# --------------------------------------------------------------------------------------------------
# CDLCOUNTERATTACK: two long opposite candles with (about) equal closes.
LB_COUNTERATTACK = 11


@njit(cache=True, nogil=True)
def cdl_counterattack(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_COUNTERATTACK
    if start <= L:
        if n <= L:
            return
        eq = _total(EQUAL, o, h, l, c, L - 1)
        b1 = _total(BODY_LONG, o, h, l, c, L - 1)
        b0 = _total(BODY_LONG, o, h, l, c, L)
        i0 = L
    else:
        eq, b1, b0 = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        ae = _av(EQUAL, eq, o1, h1, l1, c1)
        hit = (
            ((c1 >= o1) != (c0 >= o0))
            & (_body(o1, c1) > _av(BODY_LONG, b1, o1, h1, l1, c1))
            & (_body(o0, c0) > _av(BODY_LONG, b0, o0, h0, l0, c0))
            & (c0 <= c1 + ae)
            & (c0 >= c1 - ae)
        )
        out[_u(i)] = _col(o0, c0) * 100 if hit else 0
        m = _u(i - 1 - _PE)
        eq = _rl(EQUAL, eq, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PBL)
        b1 = _rl(BODY_LONG, b1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBL)
        b0 = _rl(BODY_LONG, b0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = eq, b1, b0


# --------------------------------------------------------------------------------------------------
# CDLDARKCLOUDCOVER: long white, black opening above its high and closing deep into its body.
LB_DARKCLOUDCOVER = 11


@njit(cache=True, nogil=True)
def cdl_darkcloudcover(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_DARKCLOUDCOVER
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 1)
        i0 = L
    else:
        bl = state[0]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        cheap = (c1 >= o1) & (c0 < o0) & (o0 > h1) & (c0 > o1) & (c0 < c1 - _body(o1, c1) * param)
        if cheap and _body(o1, c1) > _av(BODY_LONG, bl, o1, h1, l1, c1):
            out[_u(i)] = -100
        else:
            out[_u(i)] = 0
        m = _u(i - 1 - _PBL)
        bl = _rl(BODY_LONG, bl, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = bl


# --------------------------------------------------------------------------------------------------
# CDLENGULFING: the second body engulfs the first opposite body (80 when one end matches).
LB_ENGULFING = 2


@njit(cache=True, nogil=True)
def cdl_engulfing(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    i0 = LB_ENGULFING if start <= LB_ENGULFING else start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, c1 = o[_u(i - 1)], c[_u(i - 1)]
        hit = ((c0 >= o0) & (c1 < o1) & (((c0 >= o1) & (o0 < c1)) | ((c0 > o1) & (o0 <= c1)))) | (
            (c0 < o0) & (c1 >= o1) & (((o0 >= c1) & (c0 < o1)) | ((o0 > c1) & (c0 <= o1)))
        )
        full = (o0 != c1) & (c0 != o1)
        out[_u(i)] = (_col(o0, c0) * (100 if full else 80)) if hit else 0


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


# --------------------------------------------------------------------------------------------------
# Long candle followed by a small one, from the two-bar template (candle i - 1 long, candle i judged
# against a short or doji yardstick).
#
# CDLHARAMI / CDLHARAMICROSS: a short body (doji for the cross) inside the long one, signed against the
# long candle's colour; 80 instead of 100 when one end of the bodies matches.
@njit(inline="always")
def _harami(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0):
    if not ((_body(o1, c1) > a1) & (_body(o0, c0) <= a0)):
        return 0
    k1 = _col(o1, c1)
    hi0, lo0 = max(c0, o0), min(c0, o0)
    hi1, lo1 = max(c1, o1), min(c1, o1)
    if hi0 < hi1 and lo0 > lo1:
        return -k1 * 100
    if hi0 <= hi1 and lo0 >= lo1:
        return -k1 * 80
    return 0


# CDLDOJISTAR: the doji's body gaps away in the long candle's direction.
@njit(inline="always")
def _dojistar(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0):
    cheap = ((c1 >= o1) & _gap_up(o0, c0, o1, c1)) | ((c1 < o1) & _gap_down(o0, c0, o1, c1))
    return -_col(o1, c1) * 100 if cheap and _body(o1, c1) > a1 and _body(o0, c0) <= a0 else 0


# CDLHOMINGPIGEON: long black, then a short black body inside it.
@njit(inline="always")
def _homingpigeon(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0):
    cheap = (c1 < o1) and (c0 < o0) and (o0 < o1) and (c0 > c1)
    return 100 if cheap and _body(o1, c1) > a1 and _body(o0, c0) <= a0 else 0


# CDLPIERCING: long black, long white opening below its low and closing above its midpoint, inside its
# body. TA-Lib's FMA clone fuses the last test; the product with 0.5 is exact, so it cannot differ.
@njit(inline="always")
def _piercing(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0):
    hit = (
        (c1 < o1)
        & (_body(o1, c1) > a1)
        & (c0 >= o0)
        & (_body(o0, c0) > a0)
        & (o0 < l1)
        & (c0 < o1)
        & (c0 > c1 + _body(o1, c1) * 0.5)
    )
    return 100 if hit else 0


LB_TWO_BAR = 11
cdl_harami = two_bar("harami", LB_TWO_BAR, BODY_LONG, BODY_SHORT, _harami)
cdl_haramicross = two_bar("haramicross", LB_TWO_BAR, BODY_LONG, BODY_DOJI, _harami)
cdl_dojistar = two_bar("dojistar", LB_TWO_BAR, BODY_LONG, BODY_DOJI, _dojistar)
cdl_homingpigeon = two_bar("homingpigeon", LB_TWO_BAR, BODY_LONG, BODY_SHORT, _homingpigeon)
cdl_piercing = two_bar("piercing", LB_TWO_BAR, BODY_LONG, BODY_LONG, _piercing)


# --------------------------------------------------------------------------------------------------
# CDLKICKING / CDLKICKINGBYLENGTH: two opposite marubozu with a gap between them. Kicking is signed by
# the second candle, kicking by length by the longer of the two. State: [ShadowVeryShort@1,
# ShadowVeryShort@0, BodyLong@1, BodyLong@0].
def _kicking(name, by_length):
    def cdl_kicking_variant(o, h, l, c, param, out, state, start):
        n = c.shape[0]
        lb = LB_TWO_BAR
        if start <= lb:
            if n <= lb:
                return
            state[0] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 1)
            state[1] = init_total(SHADOW_VERY_SHORT, o, h, l, c, lb, 0)
            state[2] = init_total(BODY_LONG, o, h, l, c, lb, 1)
            state[3] = init_total(BODY_LONG, o, h, l, c, lb, 0)
            start = lb
        svs1, svs0, bl1, bl0 = state[0], state[1], state[2], state[3]
        for i in range(start, n):
            k1 = color(o, c, i - 1)
            k0 = color(o, c, i)
            a1 = candle_average(SHADOW_VERY_SHORT, svs1, o, h, l, c, i - 1)
            a0 = candle_average(SHADOW_VERY_SHORT, svs0, o, h, l, c, i)
            hit = (
                (k1 == -k0)
                & (real_body(o, c, i - 1) > candle_average(BODY_LONG, bl1, o, h, l, c, i - 1))
                & (upper_shadow(o, h, c, i - 1) < a1)
                & (lower_shadow(o, l, c, i - 1) < a1)
                & (real_body(o, c, i) > candle_average(BODY_LONG, bl0, o, h, l, c, i))
                & (upper_shadow(o, h, c, i) < a0)
                & (lower_shadow(o, l, c, i) < a0)
                & (((k1 == -1) & (l[i] > h[i - 1])) | ((k1 == 1) & (h[i] < l[i - 1])))
            )
            if not hit:
                out[i] = 0
            elif by_length:
                out[i] = (k0 if real_body(o, c, i) > real_body(o, c, i - 1) else k1) * 100
            else:
                out[i] = k0 * 100
            svs1 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs1, i, 1)
            svs0 = roll_total(SHADOW_VERY_SHORT, o, h, l, c, svs0, i, 0)
            bl1 = roll_total(BODY_LONG, o, h, l, c, bl1, i, 1)
            bl0 = roll_total(BODY_LONG, o, h, l, c, bl0, i, 0)
        state[0], state[1], state[2], state[3] = svs1, svs0, bl1, bl0

    return compile_kernel(name, cdl_kicking_variant)


cdl_kicking = _kicking("kicking", False)
cdl_kickingbylength = _kicking("kickingbylength", True)


# --------------------------------------------------------------------------------------------------
# CDLINNECK / CDLONNECK / CDLTHRUSTING: long black, then a white candle opening below its low and
# closing just into its body (in-neck), at its low (on-neck) or above its close but under its midpoint
# (thrusting). Two-bar template, both yardsticks (Equal, BodyLong) on the black candle. As in
# CDLPIERCING, the FMA in TA-Lib's thrusting clone is exact here (factor 0.5).
IN_NECK, ON_NECK, THRUSTING = 0, 1, 2


def _neck(variant):
    @njit(inline="always")
    def rule(o1, h1, l1, c1, o0, h0, l0, c0, ae, al):
        if variant == IN_NECK:
            close_ok = (c0 <= c1 + ae) & (c0 >= c1)
        elif variant == ON_NECK:
            close_ok = (c0 <= l1 + ae) & (c0 >= l1 - ae)
        else:
            close_ok = (c0 > c1 + ae) & (c0 <= c1 + _body(o1, c1) * 0.5)
        hit = (c1 < o1) & (_body(o1, c1) > al) & (c0 >= o0) & (o0 < l1) & close_ok
        return -100 if hit else 0

    return rule


cdl_inneck = two_bar("inneck", LB_TWO_BAR, EQUAL, BODY_LONG, _neck(IN_NECK), k0=1)
cdl_onneck = two_bar("onneck", LB_TWO_BAR, EQUAL, BODY_LONG, _neck(ON_NECK), k0=1)
cdl_thrusting = two_bar("thrusting", LB_TWO_BAR, EQUAL, BODY_LONG, _neck(THRUSTING), k0=1)


PATTERNS = (
    ("CDLCOUNTERATTACK", cdl_counterattack, LB_COUNTERATTACK, 3, 0.0),
    ("CDLDARKCLOUDCOVER", cdl_darkcloudcover, LB_DARKCLOUDCOVER, 1, 0.5),
    ("CDLDOJISTAR", cdl_dojistar, LB_TWO_BAR, 2, 0.0),
    ("CDLENGULFING", cdl_engulfing, LB_ENGULFING, 0, 0.0),
    ("CDLHARAMI", cdl_harami, LB_TWO_BAR, 2, 0.0),
    ("CDLHARAMICROSS", cdl_haramicross, LB_TWO_BAR, 2, 0.0),
    ("CDLHOMINGPIGEON", cdl_homingpigeon, LB_TWO_BAR, 2, 0.0),
    ("CDLINNECK", cdl_inneck, LB_TWO_BAR, 2, 0.0),
    ("CDLKICKING", cdl_kicking, LB_TWO_BAR, 4, 0.0),
    ("CDLKICKINGBYLENGTH", cdl_kickingbylength, LB_TWO_BAR, 4, 0.0),
    ("CDLMATCHINGLOW", cdl_matchinglow, MATCHINGLOW_LOOKBACK, 1, 0.0),
    ("CDLONNECK", cdl_onneck, LB_TWO_BAR, 2, 0.0),
    ("CDLPIERCING", cdl_piercing, LB_TWO_BAR, 2, 0.0),
    ("CDLSEPARATINGLINES", cdl_separatinglines, SEPARATINGLINES_LOOKBACK, 3, 0.0),
    ("CDLTHRUSTING", cdl_thrusting, LB_TWO_BAR, 2, 0.0),
)
