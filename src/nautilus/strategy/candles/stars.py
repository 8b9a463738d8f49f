"""Star patterns: morning/evening star and their doji-star variants, from one kernel template.

A star is a long candle, a small candle whose body gaps away in the long candle's direction, and a
third candle of the opposite colour closing well back into the first body (``penetration``). The
morning variants are the bullish mirror (black, gap down, white, +100) of the evening ones (white, gap
up, black, -100); the doji variants judge the middle candle against BodyDoji instead of BodyShort.
``_make_star`` compiles one kernel per (direction, middle setting); the closure's values are constants
to numba, so each variant is as specialised as a hand-written kernel, and numba's cache keys each
variant by them.

TA-Lib's FMA clone rounds the morning threshold ``close + body * penetration`` once and the evening
threshold ``close - body * penetration`` twice; ``_plus_mul`` and the plain expression mirror that.
"""

from __future__ import annotations

from nautilus.strategy.candles.common import BODY_DOJI, BODY_LONG, BODY_SHORT
from nautilus.strategy.candles.scalars import (
    _PBL,
    _PBS,
    _av,
    _body,
    _gap_down,
    _gap_up,
    _plus_mul,
    _rl,
    _total,
    _u,
)
from nautilus.strategy.candles.templates import compile_kernel

LB_STAR = 12


def _make_star(name, sign, middle):
    """Kernel for a star: ``sign`` +1 for the morning (bullish) mirror, -1 for the evening one;
    ``middle`` the setting the middle candle's body must not exceed."""
    pm = middle[1]

    def cdl_star(o, h, l, c, param, out, state, start):
        n = o.shape[0]
        L = LB_STAR
        if start <= L:
            if n <= L:
                return
            bl = _total(BODY_LONG, o, h, l, c, L - 2)
            bm = _total(middle, o, h, l, c, L - 1)
            bs = _total(BODY_SHORT, o, h, l, c, L)
            i0 = L
        else:
            bl, bm, bs = state[0], state[1], state[2]
            i0 = start
        for i in range(i0, n):
            o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
            o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
            o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
            if sign > 0:
                cheap = (c2 < o2) & (c0 >= o0) & _gap_down(o1, c1, o2, c2) & (c0 > _plus_mul(c2, _body(o2, c2), param))
            else:
                cheap = (c2 >= o2) & (c0 < o0) & _gap_up(o1, c1, o2, c2) & (c0 < c2 - _body(o2, c2) * param)
            if (
                cheap
                and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
                and _body(o1, c1) <= _av(middle, bm, o1, h1, l1, c1)
                and _body(o0, c0) > _av(BODY_SHORT, bs, o0, h0, l0, c0)
            ):
                out[_u(i)] = 100 * sign
            else:
                out[_u(i)] = 0
            m = _u(i - 2 - _PBL)
            bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
            m = _u(i - 1 - pm)
            bm = _rl(middle, bm, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
            m = _u(i - _PBS)
            bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        if i0 < n:
            state[0], state[1], state[2] = bl, bm, bs

    return compile_kernel(name, cdl_star)


cdl_morningstar = _make_star("morningstar", 1, BODY_SHORT)
cdl_morningdojistar = _make_star("morningdojistar", 1, BODY_DOJI)
cdl_eveningstar = _make_star("eveningstar", -1, BODY_SHORT)
cdl_eveningdojistar = _make_star("eveningdojistar", -1, BODY_DOJI)

PATTERNS = (
    ("CDLEVENINGDOJISTAR", cdl_eveningdojistar, LB_STAR, 3, 0.3),
    ("CDLEVENINGSTAR", cdl_eveningstar, LB_STAR, 3, 0.3),
    ("CDLMORNINGDOJISTAR", cdl_morningdojistar, LB_STAR, 3, 0.3),
    ("CDLMORNINGSTAR", cdl_morningstar, LB_STAR, 3, 0.3),
)
