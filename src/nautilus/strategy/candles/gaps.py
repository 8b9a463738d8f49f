"""Gap kernels: side-by-side white lines, tasuki gap, gap three methods and the abandoned baby.

The kernels' resumable contract is described in :mod:`.scalars`.
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
    NEAR,
    candle_average,
    color,
    real_body,
    real_body_gap_down,
    real_body_gap_up,
)
from nautilus.strategy.candles.scalars import (
    _PBD,
    _PBL,
    _PBS,
    _PE,
    _PN,
    _av,
    _body,
    _col,
    _gap_down,
    _gap_up,
    _plus_mul,
    _rl,
    _total,
    _u,
)

# --------------------------------------------------------------------------------------------------
# CDLGAPSIDESIDEWHITE: gap, then two white candles of about the same size and open.
LB_GAPSIDESIDEWHITE = 7


@njit(cache=True, nogil=True)
def cdl_gapsidesidewhite(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_GAPSIDESIDEWHITE
    if start <= L:
        if n <= L:
            return
        nr = _total(NEAR, o, h, l, c, L - 1)
        eq = _total(EQUAL, o, h, l, c, L - 1)
        i0 = L
    else:
        nr, eq = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, c0 = o[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, c2 = o[_u(i - 2)], c[_u(i - 2)]
        up = _gap_up(o1, c1, o2, c2)
        cheap = (
            ((up and _gap_up(o0, c0, o2, c2)) or (_gap_down(o1, c1, o2, c2) and _gap_down(o0, c0, o2, c2)))
            and (c1 >= o1)
            and (c0 >= o0)
        )
        hit = False
        if cheap:
            an = _av(NEAR, nr, o1, h1, l1, c1)
            ae = _av(EQUAL, eq, o1, h1, l1, c1)
            hit = (
                _body(o0, c0) >= _body(o1, c1) - an
                and _body(o0, c0) <= _body(o1, c1) + an
                and o0 >= o1 - ae
                and o0 <= o1 + ae
            )
        out[_u(i)] = (100 if up else -100) if hit else 0
        m = _u(i - 1 - _PN)
        nr = _rl(NEAR, nr, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PE)
        eq = _rl(EQUAL, eq, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = nr, eq


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


# --------------------------------------------------------------------------------------------------
# CDLABANDONEDBABY: long candle, doji gapping away (shadows apart), opposite candle gapping back.
LB_ABANDONEDBABY = 12


@njit(cache=True, nogil=True)
def cdl_abandonedbaby(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_ABANDONEDBABY
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        bd = _total(BODY_DOJI, o, h, l, c, L - 1)
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, bd, bs = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = ((c2 >= o2) & (c0 < o0) & (l1 > h2) & (h0 < l1)) | (
            (c2 < o2) & (c0 >= o0) & (h1 < l2) & (l0 > h1)
        )
        if (
            cheap
            and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
            and _body(o1, c1) <= _av(BODY_DOJI, bd, o1, h1, l1, c1)
            and _body(o0, c0) > _av(BODY_SHORT, bs, o0, h0, l0, c0)
            and (
                (c2 >= o2 and c0 < o0 and c0 < c2 - _body(o2, c2) * param)
                or (c2 < o2 and c0 >= o0 and c0 > _plus_mul(c2, _body(o2, c2), param))
            )
        ):
            out[_u(i)] = _col(o0, c0) * 100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PBD)
        bd = _rl(BODY_DOJI, bd, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = bl, bd, bs


PATTERNS = (
    ("CDLABANDONEDBABY", cdl_abandonedbaby, LB_ABANDONEDBABY, 3, 0.3),
    ("CDLGAPSIDESIDEWHITE", cdl_gapsidesidewhite, LB_GAPSIDESIDEWHITE, 2, 0.0),
    ("CDLTASUKIGAP", cdl_tasukigap, TASUKIGAP_LOOKBACK, 1, 0.0),
    ("CDLXSIDEGAP3METHODS", cdl_xsidegap3methods, XSIDEGAP3METHODS_LOOKBACK, 0, 0.0),
)
