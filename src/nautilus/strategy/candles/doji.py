"""Doji-family candlestick kernels: a body no bigger than a tenth of the average range, and its variants.

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
    NEAR,
    SHADOW_LONG,
    SHADOW_VERY_LONG,
    SHADOW_VERY_SHORT,
    candle_average,
    lower_shadow,
    real_body,
    real_body_gap_down,
    real_body_gap_up,
    upper_shadow,
)
from nautilus.strategy.candles.scalars import (
    _PBD,
    _av,
    _body,
    _ls,
    _rl,
    _total,
    _u,
    _us,
)
from nautilus.strategy.candles.templates import one_bar

# --------------------------------------------------------------------------------------------------
# CDLDOJI: body no bigger than a tenth of the average high-low range.
LB_DOJI = 10


@njit(cache=True, nogil=True)
def cdl_doji(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_DOJI
    if start <= L:
        if n <= L:
            return
        bd = _total(BODY_DOJI, o, h, l, c, L)
        i0 = L
    else:
        bd = state[0]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        out[_u(i)] = 100 if _body(o0, c0) <= _av(BODY_DOJI, bd, o0, h0, l0, c0) else 0
        m = _u(i - _PBD)
        bd = _rl(BODY_DOJI, bd, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0] = bd


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


# --------------------------------------------------------------------------------------------------
# Doji with one very short shadow, from the one-bar template: CDLDRAGONFLYDOJI (upper shadow very
# short, lower not) and CDLGRAVESTONEDOJI (its mirror) compare the other shadow with the same
# ShadowVeryShort yardstick; CDLTAKURI wants that lower shadow very long instead.


def _doji_tail(lower_tail):
    @njit(inline="always")
    def rule(o1, c1, o0, h0, l0, c0, a1, a2):
        lo, up = _ls(o0, l0, c0), _us(o0, h0, c0)
        bare, tail = (up, lo) if lower_tail else (lo, up)
        return 100 if (_body(o0, c0) <= a1) and (bare < a2) and (tail > a2) else 0

    return rule


@njit(inline="always")
def _takuri(o1, c1, o0, h0, l0, c0, a1, a2):
    very_long = _ls(o0, l0, c0) > _av(SHADOW_VERY_LONG, 0.0, o0, h0, l0, c0)
    return 100 if (_body(o0, c0) <= a1) and (_us(o0, h0, c0) < a2) and very_long else 0


LB_ONE_BAR = 10
cdl_dragonflydoji = one_bar("dragonflydoji", LB_ONE_BAR, BODY_DOJI, SHADOW_VERY_SHORT, _doji_tail(True))
cdl_gravestonedoji = one_bar("gravestonedoji", LB_ONE_BAR, BODY_DOJI, SHADOW_VERY_SHORT, _doji_tail(False))
cdl_takuri = one_bar("takuri", LB_ONE_BAR, BODY_DOJI, SHADOW_VERY_SHORT, _takuri)


PATTERNS = (
    ("CDLDOJI", cdl_doji, LB_DOJI, 1, 0.0),
    ("CDLDRAGONFLYDOJI", cdl_dragonflydoji, LB_ONE_BAR, 2, 0.0),
    ("CDLGRAVESTONEDOJI", cdl_gravestonedoji, LB_ONE_BAR, 2, 0.0),
    ("CDLLONGLEGGEDDOJI", cdl_longleggeddoji, LONGLEGGEDDOJI_LOOKBACK, 1, 0.0),
    ("CDLRICKSHAWMAN", cdl_rickshawman, RICKSHAWMAN_LOOKBACK, 2, 0.0),
    ("CDLTAKURI", cdl_takuri, LB_ONE_BAR, 2, 0.0),
    ("CDLTRISTAR", cdl_tristar, TRISTAR_LOOKBACK, 1, 0.0),
)
