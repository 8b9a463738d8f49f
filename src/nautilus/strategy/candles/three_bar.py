"""Three-candle kernels: crows and soldiers, inside/outside, advance block, stalled, river and sandwich.

The kernels' resumable contract is described in :mod:`.scalars`.
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.arrays import (
    init_total,
    roll_total,
)
from nautilus.strategy.candles.common import (
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    FAR,
    NEAR,
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_SHORT,
    candle_average,
    color,
    lower_shadow,
    real_body,
    real_body_gap_up,
    upper_shadow,
)
from nautilus.strategy.candles.scalars import (
    _PBL,
    _PBS,
    _PF,
    _PN,
    _PSS,
    _PVS,
    _av,
    _body,
    _col,
    _gap_up,
    _ls,
    _rl,
    _total,
    _u,
    _us,
)

# --------------------------------------------------------------------------------------------------
# CDL2CROWS: long white, black gapping up, black opening in the 2nd body and closing in the 1st body.
LB_2CROWS = 12


@njit(cache=True, nogil=True)
def cdl_2crows(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_2CROWS
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        i0 = L
    else:
        bl = state[0]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, c1 = o[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (
            (c2 >= o2)
            & (c1 < o1)
            & _gap_up(o1, c1, o2, c2)
            & (c0 < o0)
            & (o0 < o1)
            & (o0 > c1)
            & (c0 > o2)
            & (c0 < c2)
        )
        if cheap and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2):
            out[_u(i)] = -100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = bl


# --------------------------------------------------------------------------------------------------
# CDL3BLACKCROWS: white, then three declining black candles with very short lower shadows.
LB_3BLACKCROWS = 13


@njit(cache=True, nogil=True)
def cdl_3blackcrows(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_3BLACKCROWS
    if start <= L:
        if n <= L:
            return
        v2 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 2)
        v1 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 1)
        v0 = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        v2, v1, v0 = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        o3, h3, c3 = o[_u(i - 3)], h[_u(i - 3)], c[_u(i - 3)]
        cheap = (
            (c3 >= o3)
            and (c2 < o2)
            and (c1 < o1)
            and (c0 < o0)
            and (o1 < o2)
            and (o1 > c2)
            and (o0 < o1)
            and (o0 > c1)
            and (h3 > c2)
            and (c2 > c1)
            and (c1 > c0)
        )
        if (
            cheap
            and _ls(o2, l2, c2) < _av(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2)
            and _ls(o1, l1, c1) < _av(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1)
            and _ls(o0, l0, c0) < _av(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0)
        ):
            out[_u(i)] = -100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PVS)
        v2 = _rl(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PVS)
        v1 = _rl(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        v0 = _rl(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = v2, v1, v0


# --------------------------------------------------------------------------------------------------
# CDL3INSIDE: long candle, short body inside it, third closing beyond the first open.
LB_3INSIDE = 12


@njit(cache=True, nogil=True)
def cdl_3inside(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_3INSIDE
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        bs = _total(BODY_SHORT, o, h, l, c, L - 1)
        i0 = L
    else:
        bl, bs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (
            (max(c1, o1) < max(c2, o2))
            & (min(c1, o1) > min(c2, o2))
            & (((c2 >= o2) & (c0 < o0) & (c0 < o2)) | ((c2 < o2) & (c0 >= o0) & (c0 > o2)))
        )
        if (
            cheap
            and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
            and _body(o1, c1) <= _av(BODY_SHORT, bs, o1, h1, l1, c1)
        ):
            out[_u(i)] = -_col(o2, c2) * 100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PBS)
        bs = _rl(BODY_SHORT, bs, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, bs


# --------------------------------------------------------------------------------------------------
# CDL3OUTSIDE: engulfing followed by a candle closing further in the engulfing direction.
LB_3OUTSIDE = 3


@njit(cache=True, nogil=True)
def cdl_3outside(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    i0 = LB_3OUTSIDE if start <= LB_3OUTSIDE else start
    for i in range(i0, n):
        c0 = c[_u(i)]
        o1, c1 = o[_u(i - 1)], c[_u(i - 1)]
        o2, c2 = o[_u(i - 2)], c[_u(i - 2)]
        hit = ((c1 >= o1) & (c2 < o2) & (c1 > o2) & (o1 < c2) & (c0 > c1)) | (
            (c1 < o1) & (c2 >= o2) & (o1 > c2) & (c1 < o2) & (c0 < c1)
        )
        out[_u(i)] = _col(o1, c1) * 100 if hit else 0


# --------------------------------------------------------------------------------------------------
# CDL3STARSINSOUTH: long black with long lower shadow, smaller black inside it, small black marubozu.
LB_3STARSINSOUTH = 12


@njit(cache=True, nogil=True)
def cdl_3starsinsouth(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_3STARSINSOUTH
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        v1 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 1)
        v0 = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, v1, v0, bs = state[0], state[1], state[2], state[3]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (
            (c2 < o2)
            and (c1 < o1)
            and (c0 < o0)
            and (_ls(o2, l2, c2) > _av(SHADOW_LONG, 0.0, o2, h2, l2, c2))
            and (_body(o1, c1) < _body(o2, c2))
            and (o1 > c2)
            and (o1 <= h2)
            and (l1 < c2)
            and (l1 >= l2)
            and (l0 > l1)
            and (h0 < h1)
        )
        if cheap:
            a0 = _av(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0)
            if (
                _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
                and _ls(o1, l1, c1) > _av(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1)
                and _body(o0, c0) < _av(BODY_SHORT, bs, o0, h0, l0, c0)
                and _ls(o0, l0, c0) < a0
                and _us(o0, h0, c0) < a0
            ):
                out[_u(i)] = 100
            else:
                out[_u(i)] = 0
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PVS)
        v1 = _rl(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        v0 = _rl(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2], state[3] = bl, v1, v0, bs


# --------------------------------------------------------------------------------------------------
# CDL3WHITESOLDIERS: three rising white candles, short upper shadows, not shrinking, opening near prior.
LB_3WHITESOLDIERS = 12


@njit(cache=True, nogil=True)
def cdl_3whitesoldiers(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_3WHITESOLDIERS
    if start <= L:
        if n <= L:
            return
        v2 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 2)
        v1 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 1)
        v0 = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        n2 = _total(NEAR, o, h, l, c, L - 2)
        n1 = _total(NEAR, o, h, l, c, L - 1)
        f2 = _total(FAR, o, h, l, c, L - 2)
        f1 = _total(FAR, o, h, l, c, L - 1)
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        v2, v1, v0 = state[0], state[1], state[2]
        n2, n1, f2, f1, bs = state[3], state[4], state[5], state[6], state[7]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (c2 >= o2) & (c1 >= o1) & (c0 >= o0) & (c0 > c1) & (c1 > c2) & (o1 > o2) & (o0 > o1)
        if (
            cheap
            and _us(o2, h2, c2) < _av(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2)
            and _us(o1, h1, c1) < _av(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1)
            and _us(o0, h0, c0) < _av(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0)
            and o1 <= c2 + _av(NEAR, n2, o2, h2, l2, c2)
            and o0 <= c1 + _av(NEAR, n1, o1, h1, l1, c1)
            and _body(o1, c1) > _body(o2, c2) - _av(FAR, f2, o2, h2, l2, c2)
            and _body(o0, c0) > _body(o1, c1) - _av(FAR, f1, o1, h1, l1, c1)
            and _body(o0, c0) > _av(BODY_SHORT, bs, o0, h0, l0, c0)
        ):
            out[_u(i)] = 100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PVS)
        v2 = _rl(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PVS)
        v1 = _rl(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        v0 = _rl(SHADOW_VERY_SHORT, v0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PF)
        f2 = _rl(FAR, f2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PN)
        n2 = _rl(NEAR, n2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PF)
        f1 = _rl(FAR, f1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PN)
        n1 = _rl(NEAR, n1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = v2, v1, v0
        state[3], state[4], state[5], state[6], state[7] = n2, n1, f2, f1, bs


# --------------------------------------------------------------------------------------------------
# CDLADVANCEBLOCK: three rising white candles losing strength (shrinking bodies / long upper shadows).
LB_ADVANCEBLOCK = 12


@njit(cache=True, nogil=True)
def cdl_advanceblock(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_ADVANCEBLOCK
    if start <= L:
        if n <= L:
            return
        s2 = _total(SHADOW_SHORT, o, h, l, c, L - 2)
        s1 = _total(SHADOW_SHORT, o, h, l, c, L - 1)
        s0 = _total(SHADOW_SHORT, o, h, l, c, L)
        n2 = _total(NEAR, o, h, l, c, L - 2)
        n1 = _total(NEAR, o, h, l, c, L - 1)
        f2 = _total(FAR, o, h, l, c, L - 2)
        f1 = _total(FAR, o, h, l, c, L - 1)
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        i0 = L
    else:
        s2, s1, s0 = state[0], state[1], state[2]
        n2, n1, f2, f1, bl = state[3], state[4], state[5], state[6], state[7]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (c2 >= o2) & (c1 >= o1) & (c0 >= o0) & (c0 > c1) & (c1 > c2) & (o1 > o2) & (o0 > o1)
        hit = False
        if cheap:
            b2 = _body(o2, c2)
            b1 = _body(o1, c1)
            b0 = _body(o0, c0)
            hit = (
                o1 <= c2 + _av(NEAR, n2, o2, h2, l2, c2)
                and o0 <= c1 + _av(NEAR, n1, o1, h1, l1, c1)
                and b2 > _av(BODY_LONG, bl, o2, h2, l2, c2)
                and _us(o2, h2, c2) < _av(SHADOW_SHORT, s2, o2, h2, l2, c2)
                and (
                    (b1 < b2 - _av(FAR, f2, o2, h2, l2, c2) and b0 < b1 + _av(NEAR, n1, o1, h1, l1, c1))
                    or b0 < b1 - _av(FAR, f1, o1, h1, l1, c1)
                    or (
                        b0 < b1
                        and b1 < b2
                        and (
                            _us(o0, h0, c0) > _av(SHADOW_SHORT, s0, o0, h0, l0, c0)
                            or _us(o1, h1, c1) > _av(SHADOW_SHORT, s1, o1, h1, l1, c1)
                        )
                    )
                    or (b0 < b1 and _us(o0, h0, c0) > _av(SHADOW_LONG, 0.0, o0, h0, l0, c0))
                )
            )
        out[_u(i)] = -100 if hit else 0
        m = _u(i - 2 - _PSS)
        s2 = _rl(SHADOW_SHORT, s2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PSS)
        s1 = _rl(SHADOW_SHORT, s1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PSS)
        s0 = _rl(SHADOW_SHORT, s0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PF)
        f2 = _rl(FAR, f2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PN)
        n2 = _rl(NEAR, n2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PF)
        f1 = _rl(FAR, f1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PN)
        n1 = _rl(NEAR, n1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = s2, s1, s0
        state[3], state[4], state[5], state[6], state[7] = n2, n1, f2, f1, bl


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


PATTERNS = (
    ("CDL2CROWS", cdl_2crows, LB_2CROWS, 1, 0.0),
    ("CDL3BLACKCROWS", cdl_3blackcrows, LB_3BLACKCROWS, 3, 0.0),
    ("CDL3INSIDE", cdl_3inside, LB_3INSIDE, 2, 0.0),
    ("CDL3OUTSIDE", cdl_3outside, LB_3OUTSIDE, 0, 0.0),
    ("CDL3STARSINSOUTH", cdl_3starsinsouth, LB_3STARSINSOUTH, 4, 0.0),
    ("CDL3WHITESOLDIERS", cdl_3whitesoldiers, LB_3WHITESOLDIERS, 8, 0.0),
    ("CDLADVANCEBLOCK", cdl_advanceblock, LB_ADVANCEBLOCK, 8, 0.0),
    ("CDLIDENTICAL3CROWS", cdl_identical3crows, IDENTICAL3CROWS_LOOKBACK, 5, 0.0),
    ("CDLSTALLEDPATTERN", cdl_stalledpattern, STALLEDPATTERN_LOOKBACK, 6, 0.0),
    ("CDLSTICKSANDWICH", cdl_sticksandwich, STICKSANDWICH_LOOKBACK, 1, 0.0),
    ("CDLUNIQUE3RIVER", cdl_unique3river, UNIQUE3RIVER_LOOKBACK, 2, 0.0),
    ("CDLUPSIDEGAP2CROWS", cdl_upsidegap2crows, UPSIDEGAP2CROWS_LOOKBACK, 2, 0.0),
)
