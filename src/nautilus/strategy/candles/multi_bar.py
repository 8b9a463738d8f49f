"""Four- and five-candle kernels (strike, breakaway, methods, ladder) and the hikkake pair.

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
    NEAR,
    SHADOW_VERY_SHORT,
    candle_average,
    color,
    real_body,
    upper_shadow,
)
from nautilus.strategy.candles.scalars import (
    _PBL,
    _PN,
    _PVS,
    _av,
    _body,
    _col,
    _gap_down,
    _gap_up,
    _ls,
    _rl,
    _total,
    _u,
    _us,
)

# --------------------------------------------------------------------------------------------------
# CDL3LINESTRIKE: three same-colour candles each opening near the prior body, fourth striking back.
LB_3LINESTRIKE = 8


@njit(cache=True, nogil=True)
def cdl_3linestrike(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_3LINESTRIKE
    if start <= L:
        if n <= L:
            return
        n3 = _total(NEAR, o, h, l, c, L - 3)
        n2 = _total(NEAR, o, h, l, c, L - 2)
        i0 = L
    else:
        n3, n2 = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, c1 = o[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        o3, h3, l3, c3 = o[_u(i - 3)], h[_u(i - 3)], l[_u(i - 3)], c[_u(i - 3)]
        w1 = c1 >= o1
        cheap = (
            ((c3 >= o3) == (c2 >= o2))
            and ((c2 >= o2) == w1)
            and ((c0 >= o0) != w1)
            and (
                ((c1 >= o1) and (c1 > c2) and (c2 > c3) and (o0 > c1) and (c0 < o3))
                or ((c1 < o1) and (c1 < c2) and (c2 < c3) and (o0 < c1) and (c0 > o3))
            )
        )
        if cheap:
            a3 = _av(NEAR, n3, o3, h3, l3, c3)
            a2 = _av(NEAR, n2, o2, h2, l2, c2)
            if (
                o2 >= min(o3, c3) - a3
                and o2 <= max(o3, c3) + a3
                and o1 >= min(o2, c2) - a2
                and o1 <= max(o2, c2) + a2
            ):
                out[_u(i)] = _col(o1, c1) * 100
            else:
                out[_u(i)] = 0
        else:
            out[_u(i)] = 0
        m = _u(i - 3 - _PN)
        n3 = _rl(NEAR, n3, o3, h3, l3, c3, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PN)
        n2 = _rl(NEAR, n2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = n3, n2


# --------------------------------------------------------------------------------------------------
# CDLBREAKAWAY: long candle, gap, two more in the trend, fifth closing inside the gap.
LB_BREAKAWAY = 14


@njit(cache=True, nogil=True)
def cdl_breakaway(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_BREAKAWAY
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 4)
        i0 = L
    else:
        bl = state[0]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        h2, l2 = h[_u(i - 2)], l[_u(i - 2)]
        o3, h3, l3, c3 = o[_u(i - 3)], h[_u(i - 3)], l[_u(i - 3)], c[_u(i - 3)]
        o4, h4, l4, c4 = o[_u(i - 4)], h[_u(i - 4)], l[_u(i - 4)], c[_u(i - 4)]
        cheap = (
            ((c4 >= o4) == (c3 >= o3))
            and ((c3 >= o3) == (c1 >= o1))
            and ((c1 >= o1) != (c0 >= o0))
            and (
                (
                    (c4 < o4)
                    and _gap_down(o3, c3, o4, c4)
                    and (h2 < h3)
                    and (l2 < l3)
                    and (h1 < h2)
                    and (l1 < l2)
                    and (c0 > o3)
                    and (c0 < c4)
                )
                or (
                    (c4 >= o4)
                    and _gap_up(o3, c3, o4, c4)
                    and (h2 > h3)
                    and (l2 > l3)
                    and (h1 > h2)
                    and (l1 > l2)
                    and (c0 < o3)
                    and (c0 > c4)
                )
            )
        )
        if cheap and _body(o4, c4) > _av(BODY_LONG, bl, o4, h4, l4, c4):
            out[_u(i)] = _col(o0, c0) * 100
        else:
            out[_u(i)] = 0
        m = _u(i - 4 - _PBL)
        bl = _rl(BODY_LONG, bl, o4, h4, l4, c4, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = bl


# --------------------------------------------------------------------------------------------------
# CDLCONCEALBABYSWALL: two black marubozu, black gapping down with an upper shadow, black engulfing it.
LB_CONCEALBABYSWALL = 13


@njit(cache=True, nogil=True)
def cdl_concealbabyswall(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_CONCEALBABYSWALL
    if start <= L:
        if n <= L:
            return
        v3 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 3)
        v2 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 2)
        v1 = _total(SHADOW_VERY_SHORT, o, h, l, c, L - 1)
        i0 = L
    else:
        v3, v2, v1 = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        o3, h3, l3, c3 = o[_u(i - 3)], h[_u(i - 3)], l[_u(i - 3)], c[_u(i - 3)]
        cheap = (
            (c3 < o3)
            and (c2 < o2)
            and (c1 < o1)
            and (c0 < o0)
            and _gap_down(o1, c1, o2, c2)
            and (h1 > c2)
            and (h0 > h1)
            and (l0 < l1)
        )
        if cheap:
            a3 = _av(SHADOW_VERY_SHORT, v3, o3, h3, l3, c3)
            a2 = _av(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2)
            if (
                _ls(o3, l3, c3) < a3
                and _us(o3, h3, c3) < a3
                and _ls(o2, l2, c2) < a2
                and _us(o2, h2, c2) < a2
                and _us(o1, h1, c1) > _av(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1)
            ):
                out[_u(i)] = 100
            else:
                out[_u(i)] = 0
        else:
            out[_u(i)] = 0
        m = _u(i - 3 - _PVS)
        v3 = _rl(SHADOW_VERY_SHORT, v3, o3, h3, l3, c3, o[m], h[m], l[m], c[m])
        m = _u(i - 2 - _PVS)
        v2 = _rl(SHADOW_VERY_SHORT, v2, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PVS)
        v1 = _rl(SHADOW_VERY_SHORT, v1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = v3, v2, v1


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


# --------------------------------------------------------------------------------------------------
# CDLHIKKAKE: inside bar then a breakout bar (+-100), confirmed within 3 bars by a close beyond the
# inside bar (+-200). State: [pattern bar index, pattern result]. A fresh run scans the three bars
# before the lookback without output, as TA-Lib does, to pick up a pending pattern.
LB_HIKKAKE = 5


@njit(cache=True, nogil=True)
def cdl_hikkake(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HIKKAKE
    if start <= L:
        if n <= L:
            return
        pidx = 0
        pres = 0
        i0 = L - 3
    else:
        pidx = int(state[0])
        pres = int(state[1])
        i0 = start
    for i in range(i0, n):
        h0, l0, c0 = h[_u(i)], l[_u(i)], c[_u(i)]
        h1, l1 = h[_u(i - 1)], l[_u(i - 1)]
        h2, l2 = h[_u(i - 2)], l[_u(i - 2)]
        v = 0
        if (h1 < h2) and (l1 > l2) and (((h0 < h1) and (l0 < l1)) or ((h0 > h1) and (l0 > l1))):
            pres = 100 if h0 < h1 else -100
            pidx = i
            v = pres
        elif i <= pidx + 3 and ((pres > 0 and c0 > h[pidx - 1]) or (pres < 0 and c0 < l[pidx - 1])):
            v = pres + (100 if pres > 0 else -100)
            pidx = 0
        if i >= L:
            out[_u(i)] = v
    if i0 < n:
        state[0] = pidx
        state[1] = pres


# --------------------------------------------------------------------------------------------------
# CDLHIKKAKEMOD: hikkake whose first inside bar closes near its extreme. State: [near total for candle
# i - 2, pattern bar index, pattern result]. TA-Lib starts the total and the scan three bars early.
LB_HIKKAKEMOD = 10


@njit(cache=True, nogil=True)
def cdl_hikkakemod(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HIKKAKEMOD
    if start <= L:
        if n <= L:
            return
        nr = _total(NEAR, o, h, l, c, L - 5)
        pidx = 0
        pres = 0
        i0 = L - 3
    else:
        nr = state[0]
        pidx = int(state[1])
        pres = int(state[2])
        i0 = start
    for i in range(i0, n):
        h0, l0, c0 = h[_u(i)], l[_u(i)], c[_u(i)]
        h1, l1 = h[_u(i - 1)], l[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        h3, l3 = h[_u(i - 3)], l[_u(i - 3)]
        an = _av(NEAR, nr, o2, h2, l2, c2)
        v = 0
        if (
            (h2 < h3)
            & (l2 > l3)
            & (h1 < h2)
            & (l1 > l2)
            & (((h0 < h1) & (l0 < l1) & (c2 <= l2 + an)) | ((h0 > h1) & (l0 > l1) & (c2 >= h2 - an)))
        ):
            pres = 100 if h0 < h1 else -100
            pidx = i
            v = pres
        elif i <= pidx + 3 and ((pres > 0 and c0 > h[pidx - 1]) or (pres < 0 and c0 < l[pidx - 1])):
            v = pres + (100 if pres > 0 else -100)
            pidx = 0
        if i >= L:
            out[_u(i)] = v
        m = _u(i - 2 - _PN)
        nr = _rl(NEAR, nr, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = nr
        state[1] = pidx
        state[2] = pres


PATTERNS = (
    ("CDL3LINESTRIKE", cdl_3linestrike, LB_3LINESTRIKE, 2, 0.0),
    ("CDLBREAKAWAY", cdl_breakaway, LB_BREAKAWAY, 1, 0.0),
    ("CDLCONCEALBABYSWALL", cdl_concealbabyswall, LB_CONCEALBABYSWALL, 3, 0.0),
    ("CDLHIKKAKE", cdl_hikkake, LB_HIKKAKE, 2, 0.0),
    ("CDLHIKKAKEMOD", cdl_hikkakemod, LB_HIKKAKEMOD, 3, 0.0),
    ("CDLLADDERBOTTOM", cdl_ladderbottom, LADDERBOTTOM_LOOKBACK, 1, 0.0),
    ("CDLMATHOLD", cdl_mathold, MATHOLD_LOOKBACK, 4, 0.5),
    ("CDLRISEFALL3METHODS", cdl_risefall3methods, RISEFALL3METHODS_LOOKBACK, 5, 0.0),
)
