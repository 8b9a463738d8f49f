"""One-candle kernels judged on body length and shadows (marubozu, hammer family, belt hold, lines).

See :mod:`.scalars` for the kernels' resumable contract and :mod:`.templates` for the shared loops.
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
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_LONG,
    SHADOW_VERY_SHORT,
    candle_average,
    color,
    lower_shadow,
    real_body,
    upper_shadow,
)
from nautilus.strategy.candles.scalars import (
    _PBS,
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
from nautilus.strategy.candles.templates import one_bar

# --------------------------------------------------------------------------------------------------
# CDLHAMMER / CDLHANGINGMAN: small body, long lower shadow, very short upper shadow, body near the
# prior candle's low (hammer) or high (hanging man). ``sign`` picks which: +1 hammer, -1 hanging man.
LB_HAMMER = 11
LB_HANGINGMAN = 11


@njit(inline="always")
def _hammer_like(o, h, l, c, out, state, start, sign):
    n = o.shape[0]
    L = LB_HAMMER
    if start <= L:
        if n <= L:
            return
        bs = _total(BODY_SHORT, o, h, l, c, L)
        vs = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        nr = _total(NEAR, o, h, l, c, L - 1)
        i0 = L
    else:
        bs, vs, nr = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        an = _av(NEAR, nr, o1, h1, l1, c1)
        near = (min(c0, o0) <= l1 + an) if sign > 0 else (min(c0, o0) >= h1 - an)
        hit = (
            (_body(o0, c0) < _av(BODY_SHORT, bs, o0, h0, l0, c0))
            & (_ls(o0, l0, c0) > _av(SHADOW_LONG, 0.0, o0, h0, l0, c0))
            & (_us(o0, h0, c0) < _av(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0))
            & near
        )
        out[_u(i)] = sign * 100 if hit else 0
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        vs = _rl(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PN)
        nr = _rl(NEAR, nr, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = bs, vs, nr


@njit(cache=True, nogil=True)
def cdl_hammer(o, h, l, c, param, out, state, start):
    _hammer_like(o, h, l, c, out, state, start, 1)


@njit(cache=True, nogil=True)
def cdl_hangingman(o, h, l, c, param, out, state, start):
    _hammer_like(o, h, l, c, out, state, start, -1)


# --------------------------------------------------------------------------------------------------
# CDLHIGHWAVE: short body with very long upper and lower shadows.
LB_HIGHWAVE = 10


@njit(cache=True, nogil=True)
def cdl_highwave(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HIGHWAVE
    if start <= L:
        if n <= L:
            return
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bs = state[0]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        a = _av(SHADOW_VERY_LONG, 0.0, o0, h0, l0, c0)
        hit = (
            (_body(o0, c0) < _av(BODY_SHORT, bs, o0, h0, l0, c0))
            & (_us(o0, h0, c0) > a)
            & (_ls(o0, l0, c0) > a)
        )
        out[_u(i)] = _col(o0, c0) * 100 if hit else 0
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = bs


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


# --------------------------------------------------------------------------------------------------
# Long or short candles with shadows under a yardstick, from the one-bar template. CDLBELTHOLD and
# CDLCLOSINGMARUBOZU are mirror images: a long body with a very short shadow on the end it opens at
# (belt hold) or closes at (closing marubozu), signed by colour.


def _long_body_end(opening):
    @njit(inline="always")
    def rule(o1, c1, o0, h0, l0, c0, a1, a2):
        lo, up = _ls(o0, l0, c0), _us(o0, h0, c0)
        white_end, black_end = (lo, up) if opening else (up, lo)
        hit = (_body(o0, c0) > a1) & (((c0 >= o0) & (white_end < a2)) | ((c0 < o0) & (black_end < a2)))
        return _col(o0, c0) * 100 if hit else 0

    return rule


# CDLINVERTEDHAMMER (+100, body gapping down) and CDLSHOOTINGSTAR (-100, gapping up): short body, long
# upper shadow, very short lower shadow.
def _inverted_hammer(sign):
    @njit(inline="always")
    def rule(o1, c1, o0, h0, l0, c0, a1, a2):
        gap = _gap_down(o0, c0, o1, c1) if sign > 0 else _gap_up(o0, c0, o1, c1)
        long_upper = _us(o0, h0, c0) > _av(SHADOW_LONG, 0.0, o0, h0, l0, c0)
        hit = gap & (_body(o0, c0) < a1) & long_upper & (_ls(o0, l0, c0) < a2)
        return 100 * sign if hit else 0

    return rule


# CDLLONGLINE / CDLMARUBOZU (long body) and CDLSHORTLINE (short body): both shadows under the second
# yardstick (ShadowShort for the lines, ShadowVeryShort for the marubozu).
def _line(long):
    @njit(inline="always")
    def rule(o1, c1, o0, h0, l0, c0, a1, a2):
        b = _body(o0, c0)
        hit = ((b > a1) if long else (b < a1)) & (_us(o0, h0, c0) < a2) & (_ls(o0, l0, c0) < a2)
        return _col(o0, c0) * 100 if hit else 0

    return rule


LB_ONE_BAR = 10
LB_GAPPED_ONE_BAR = 11
cdl_belthold = one_bar("belthold", LB_ONE_BAR, BODY_LONG, SHADOW_VERY_SHORT, _long_body_end(True))
cdl_closingmarubozu = one_bar("closingmarubozu", LB_ONE_BAR, BODY_LONG, SHADOW_VERY_SHORT, _long_body_end(False))
cdl_invertedhammer = one_bar("invertedhammer", LB_GAPPED_ONE_BAR, BODY_SHORT, SHADOW_VERY_SHORT, _inverted_hammer(1))
cdl_shootingstar = one_bar("shootingstar", LB_GAPPED_ONE_BAR, BODY_SHORT, SHADOW_VERY_SHORT, _inverted_hammer(-1))
cdl_longline = one_bar("longline", LB_ONE_BAR, BODY_LONG, SHADOW_SHORT, _line(True))
cdl_shortline = one_bar("shortline", LB_ONE_BAR, BODY_SHORT, SHADOW_SHORT, _line(False))
cdl_marubozu = one_bar("marubozu", LB_ONE_BAR, BODY_LONG, SHADOW_VERY_SHORT, _line(True))


PATTERNS = (
    ("CDLBELTHOLD", cdl_belthold, LB_ONE_BAR, 2, 0.0),
    ("CDLCLOSINGMARUBOZU", cdl_closingmarubozu, LB_ONE_BAR, 2, 0.0),
    ("CDLHAMMER", cdl_hammer, LB_HAMMER, 3, 0.0),
    ("CDLHANGINGMAN", cdl_hangingman, LB_HANGINGMAN, 3, 0.0),
    ("CDLHIGHWAVE", cdl_highwave, LB_HIGHWAVE, 1, 0.0),
    ("CDLINVERTEDHAMMER", cdl_invertedhammer, LB_GAPPED_ONE_BAR, 2, 0.0),
    ("CDLLONGLINE", cdl_longline, LB_ONE_BAR, 2, 0.0),
    ("CDLMARUBOZU", cdl_marubozu, LB_ONE_BAR, 2, 0.0),
    ("CDLSHOOTINGSTAR", cdl_shootingstar, LB_GAPPED_ONE_BAR, 2, 0.0),
    ("CDLSHORTLINE", cdl_shortline, LB_ONE_BAR, 2, 0.0),
    ("CDLSPINNINGTOP", cdl_spinningtop, SPINNINGTOP_LOOKBACK, 1, 0.0),
)
