"""Star patterns: morning/evening star and their doji-star variants, from one kernel template.

A star is a long candle, a small candle whose body gaps away in the long candle's direction, and a
third candle of the opposite colour closing well back into the first body (``penetration``). The
morning variants are the bullish mirror (black, gap down, white, +100) of the evening ones (white, gap
up, black, -100); the doji variants judge the middle candle against BodyDoji instead of BodyShort.
``_make_star`` builds one kernel per (direction, middle setting) from the :func:`.templates.rolling` loop;
the closure's values are constants to numba, so each variant is as specialised as a hand-written kernel,
and numba's cache keys each variant by them.

TA-Lib's FMA clone rounds the morning threshold ``close + body * penetration`` once and the evening
threshold ``close - body * penetration`` twice; ``_plus_mul`` and the plain expression mirror that.
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.common import BODY_DOJI, BODY_LONG, BODY_SHORT
from nautilus.strategy.candles.scalars import _av, _body, _gap_down, _gap_up, _plus_mul
from nautilus.strategy.candles.templates import rolling

LB_STAR = 12


def _star(sign, middle):
    """The rule of a star: ``sign`` +1 for the morning (bullish) mirror, -1 for the evening one; ``middle``
    the setting the middle candle's body must not exceed. Totals: BodyLong@2, ``middle``@1, BodyShort@0."""

    @njit(inline="always")
    def star(param, b, t):
        o0, h0, l0, c0 = b[0]
        o1, h1, l1, c1 = b[1]
        o2, h2, l2, c2 = b[2]
        if sign > 0:
            cheap = (c2 < o2) & (c0 >= o0) & _gap_down(o1, c1, o2, c2) & (c0 > _plus_mul(c2, _body(o2, c2), param))
        else:
            cheap = (c2 >= o2) & (c0 < o0) & _gap_up(o1, c1, o2, c2) & (c0 < c2 - _body(o2, c2) * param)
        if (
            cheap
            and _body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2)
            and _body(o1, c1) <= _av(middle, t[1], o1, h1, l1, c1)
            and _body(o0, c0) > _av(BODY_SHORT, t[2], o0, h0, l0, c0)
        ):
            return 100 * sign
        return 0

    return star


def _make_star(name, sign, middle):
    return rolling(name, LB_STAR, ((BODY_LONG, 2), (middle, 1), (BODY_SHORT, 0)), _star(sign, middle))


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
