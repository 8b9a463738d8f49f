"""Three-candle kernels: crows and soldiers, inside/outside, advance block, stalled, river and sandwich.

The kernels' resumable contract is described in :mod:`.scalars`.
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.common import (
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    FAR,
    NEAR,
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_SHORT,
)
from nautilus.strategy.candles.scalars import (
    _av,
    _body,
    _col,
    _gap_up,
    _ls,
    _u,
    _us,
)
from nautilus.strategy.candles.templates import rolling

# --------------------------------------------------------------------------------------------------
# CDL2CROWS: long white, black gapping up, black opening in the 2nd body and closing in the 1st body.
LB_2CROWS = 12


@njit(inline="always")
def _2crows(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
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
    if cheap and _body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2):
        return -100
    else:
        return 0


cdl_2crows = rolling("2crows", LB_2CROWS, ((BODY_LONG, 2),), _2crows)


# --------------------------------------------------------------------------------------------------
# CDL3BLACKCROWS: white, then three declining black candles with very short lower shadows.
LB_3BLACKCROWS = 13


@njit(inline="always")
def _3blackcrows(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    o3, h3, l3, c3 = b[3]
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
        and _ls(o2, l2, c2) < _av(SHADOW_VERY_SHORT, t[0], o2, h2, l2, c2)
        and _ls(o1, l1, c1) < _av(SHADOW_VERY_SHORT, t[1], o1, h1, l1, c1)
        and _ls(o0, l0, c0) < _av(SHADOW_VERY_SHORT, t[2], o0, h0, l0, c0)
    ):
        return -100
    else:
        return 0


cdl_3blackcrows = rolling(
    "3blackcrows",
    LB_3BLACKCROWS,
    (
        (SHADOW_VERY_SHORT, 2), (SHADOW_VERY_SHORT, 1), (SHADOW_VERY_SHORT, 0),
    ),
    _3blackcrows,
)


# --------------------------------------------------------------------------------------------------
# CDL3INSIDE: long candle, short body inside it, third closing beyond the first open.
LB_3INSIDE = 12


@njit(inline="always")
def _3inside(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    cheap = (
        (max(c1, o1) < max(c2, o2))
        & (min(c1, o1) > min(c2, o2))
        & (((c2 >= o2) & (c0 < o0) & (c0 < o2)) | ((c2 < o2) & (c0 >= o0) & (c0 > o2)))
    )
    if (
        cheap
        and _body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2)
        and _body(o1, c1) <= _av(BODY_SHORT, t[1], o1, h1, l1, c1)
    ):
        return -_col(o2, c2) * 100
    else:
        return 0


cdl_3inside = rolling("3inside", LB_3INSIDE, ((BODY_LONG, 2), (BODY_SHORT, 1)), _3inside)


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


@njit(inline="always")
def _3starsinsouth(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
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
        a0 = _av(SHADOW_VERY_SHORT, t[2], o0, h0, l0, c0)
        if (
            _body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2)
            and _ls(o1, l1, c1) > _av(SHADOW_VERY_SHORT, t[1], o1, h1, l1, c1)
            and _body(o0, c0) < _av(BODY_SHORT, t[3], o0, h0, l0, c0)
            and _ls(o0, l0, c0) < a0
            and _us(o0, h0, c0) < a0
        ):
            return 100
        else:
            return 0
    else:
        return 0


cdl_3starsinsouth = rolling(
    "3starsinsouth",
    LB_3STARSINSOUTH,
    (
        (BODY_LONG, 2), (SHADOW_VERY_SHORT, 1), (SHADOW_VERY_SHORT, 0), (BODY_SHORT, 0),
    ),
    _3starsinsouth,
)


# --------------------------------------------------------------------------------------------------
# CDL3WHITESOLDIERS: three rising white candles, short upper shadows, not shrinking, opening near prior.
LB_3WHITESOLDIERS = 12


@njit(inline="always")
def _3whitesoldiers(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    cheap = (c2 >= o2) & (c1 >= o1) & (c0 >= o0) & (c0 > c1) & (c1 > c2) & (o1 > o2) & (o0 > o1)
    if (
        cheap
        and _us(o2, h2, c2) < _av(SHADOW_VERY_SHORT, t[0], o2, h2, l2, c2)
        and _us(o1, h1, c1) < _av(SHADOW_VERY_SHORT, t[1], o1, h1, l1, c1)
        and _us(o0, h0, c0) < _av(SHADOW_VERY_SHORT, t[2], o0, h0, l0, c0)
        and o1 <= c2 + _av(NEAR, t[3], o2, h2, l2, c2)
        and o0 <= c1 + _av(NEAR, t[4], o1, h1, l1, c1)
        and _body(o1, c1) > _body(o2, c2) - _av(FAR, t[5], o2, h2, l2, c2)
        and _body(o0, c0) > _body(o1, c1) - _av(FAR, t[6], o1, h1, l1, c1)
        and _body(o0, c0) > _av(BODY_SHORT, t[7], o0, h0, l0, c0)
    ):
        return 100
    else:
        return 0


cdl_3whitesoldiers = rolling(
    "3whitesoldiers",
    LB_3WHITESOLDIERS,
    (
        (SHADOW_VERY_SHORT, 2), (SHADOW_VERY_SHORT, 1), (SHADOW_VERY_SHORT, 0), (NEAR, 2),
        (NEAR, 1), (FAR, 2), (FAR, 1), (BODY_SHORT, 0),
    ),
    _3whitesoldiers,
)


# --------------------------------------------------------------------------------------------------
# CDLADVANCEBLOCK: three rising white candles losing strength (shrinking bodies / long upper shadows).
LB_ADVANCEBLOCK = 12


@njit(inline="always")
def _advanceblock(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    cheap = (c2 >= o2) & (c1 >= o1) & (c0 >= o0) & (c0 > c1) & (c1 > c2) & (o1 > o2) & (o0 > o1)
    hit = False
    if cheap:
        b2 = _body(o2, c2)
        b1 = _body(o1, c1)
        b0 = _body(o0, c0)
        hit = (
            o1 <= c2 + _av(NEAR, t[3], o2, h2, l2, c2)
            and o0 <= c1 + _av(NEAR, t[4], o1, h1, l1, c1)
            and b2 > _av(BODY_LONG, t[7], o2, h2, l2, c2)
            and _us(o2, h2, c2) < _av(SHADOW_SHORT, t[0], o2, h2, l2, c2)
            and (
                (b1 < b2 - _av(FAR, t[5], o2, h2, l2, c2) and b0 < b1 + _av(NEAR, t[4], o1, h1, l1, c1))
                or b0 < b1 - _av(FAR, t[6], o1, h1, l1, c1)
                or (
                    b0 < b1
                    and b1 < b2
                    and (
                        _us(o0, h0, c0) > _av(SHADOW_SHORT, t[2], o0, h0, l0, c0)
                        or _us(o1, h1, c1) > _av(SHADOW_SHORT, t[1], o1, h1, l1, c1)
                    )
                )
                or (b0 < b1 and _us(o0, h0, c0) > _av(SHADOW_LONG, 0.0, o0, h0, l0, c0))
            )
        )
    return -100 if hit else 0


cdl_advanceblock = rolling(
    "advanceblock",
    LB_ADVANCEBLOCK,
    (
        (SHADOW_SHORT, 2), (SHADOW_SHORT, 1), (SHADOW_SHORT, 0), (NEAR, 2),
        (NEAR, 1), (FAR, 2), (FAR, 1), (BODY_LONG, 2),
    ),
    _advanceblock,
)


# ---------------------------------------------------------------------------------------------------
# state: [ShadowVeryShort@2, ShadowVeryShort@1, ShadowVeryShort@0, Equal@2, Equal@1]
IDENTICAL3CROWS_LOOKBACK = 12


@njit(inline="always")
def _identical3crows(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    hit = (
        _col(o2, c2) == -1
        and _ls(o2, l2, c2) < _av(SHADOW_VERY_SHORT, t[0], o2, h2, l2, c2)
        and _col(o1, c1) == -1
        and _ls(o1, l1, c1) < _av(SHADOW_VERY_SHORT, t[1], o1, h1, l1, c1)
        and _col(o0, c0) == -1
        and _ls(o0, l0, c0) < _av(SHADOW_VERY_SHORT, t[2], o0, h0, l0, c0)
        and c2 > c1
        and c1 > c0
        and o1 <= c2 + _av(EQUAL, t[3], o2, h2, l2, c2)
        and o1 >= c2 - _av(EQUAL, t[3], o2, h2, l2, c2)
        and o0 <= c1 + _av(EQUAL, t[4], o1, h1, l1, c1)
        and o0 >= c1 - _av(EQUAL, t[4], o1, h1, l1, c1)
    )
    return -100 if hit else 0


cdl_identical3crows = rolling(
    "identical3crows",
    IDENTICAL3CROWS_LOOKBACK,
    (
        (SHADOW_VERY_SHORT, 2), (SHADOW_VERY_SHORT, 1), (SHADOW_VERY_SHORT, 0), (EQUAL, 2),
        (EQUAL, 1),
    ),
    _identical3crows,
)


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyLong@1, BodyShort@0, ShadowVeryShort@1, Near@2, Near@1]
STALLEDPATTERN_LOOKBACK = 12


@njit(inline="always")
def _stalledpattern(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    hit = (
        _col(o2, c2) == 1
        and _col(o1, c1) == 1
        and _col(o0, c0) == 1
        and c0 > c1
        and c1 > c2
        and _body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2)
        and _body(o1, c1) > _av(BODY_LONG, t[1], o1, h1, l1, c1)
        and _us(o1, h1, c1) < _av(SHADOW_VERY_SHORT, t[3], o1, h1, l1, c1)
        and o1 > o2
        and o1 <= c2 + _av(NEAR, t[4], o2, h2, l2, c2)
        and _body(o0, c0) < _av(BODY_SHORT, t[2], o0, h0, l0, c0)
        and o0 >= c1 - _body(o0, c0) - _av(NEAR, t[5], o1, h1, l1, c1)
    )
    return -100 if hit else 0


cdl_stalledpattern = rolling(
    "stalledpattern",
    STALLEDPATTERN_LOOKBACK,
    (
        (BODY_LONG, 2), (BODY_LONG, 1), (BODY_SHORT, 0), (SHADOW_VERY_SHORT, 1),
        (NEAR, 2), (NEAR, 1),
    ),
    _stalledpattern,
)


# ---------------------------------------------------------------------------------------------------
# state: [Equal@2]
STICKSANDWICH_LOOKBACK = 7


@njit(inline="always")
def _sticksandwich(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    hit = (
        (_col(o2, c2) == -1)
        & (_col(o1, c1) == 1)
        & (_col(o0, c0) == -1)
        & (l1 > c2)
        & (c0 <= c2 + _av(EQUAL, t[0], o2, h2, l2, c2))
        & (c0 >= c2 - _av(EQUAL, t[0], o2, h2, l2, c2))
    )
    return 100 if hit else 0


cdl_sticksandwich = rolling("sticksandwich", STICKSANDWICH_LOOKBACK, ((EQUAL, 2),), _sticksandwich)


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyShort@0]
UNIQUE3RIVER_LOOKBACK = 12


@njit(inline="always")
def _unique3river(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    hit = (
        (_col(o2, c2) == -1)
        & (_col(o1, c1) == -1)
        & (_col(o0, c0) == 1)
        & (c1 > c2)
        & (o1 <= o2)
        & (l1 < l2)
        & (o0 > l1)
        & (_body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2))
        & (_body(o0, c0) < _av(BODY_SHORT, t[1], o0, h0, l0, c0))
    )
    return 100 if hit else 0


cdl_unique3river = rolling("unique3river", UNIQUE3RIVER_LOOKBACK, ((BODY_LONG, 2), (BODY_SHORT, 0)), _unique3river)


# ---------------------------------------------------------------------------------------------------
# state: [BodyLong@2, BodyShort@1]
UPSIDEGAP2CROWS_LOOKBACK = 12


@njit(inline="always")
def _upsidegap2crows(param, b, t):
    o0, h0, l0, c0 = b[0]
    o1, h1, l1, c1 = b[1]
    o2, h2, l2, c2 = b[2]
    hit = (
        (_col(o2, c2) == 1)
        & (_body(o2, c2) > _av(BODY_LONG, t[0], o2, h2, l2, c2))
        & (_col(o1, c1) == -1)
        & (_body(o1, c1) <= _av(BODY_SHORT, t[1], o1, h1, l1, c1))
        & (_gap_up(o1, c1, o2, c2))
        & (_col(o0, c0) == -1)
        & (o0 > o1)
        & (c0 < c1)
        & (c0 > c2)
    )
    return -100 if hit else 0


cdl_upsidegap2crows = rolling(
    "upsidegap2crows",
    UPSIDEGAP2CROWS_LOOKBACK,
    (
        (BODY_LONG, 2), (BODY_SHORT, 1),
    ),
    _upsidegap2crows,
)


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
