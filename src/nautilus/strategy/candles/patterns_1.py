"""Resumable numba kernels for TA-Lib's first 31 candlestick patterns (CDL2CROWS .. CDLHOMINGPIGEON).

Every kernel follows the shared contract (see ``kernel.py``)::

    cdl_<name>(o, h, l, c, param, out, state, start)

A fresh run (``start <= LOOKBACK``) builds its rolling totals exactly as TA-Lib does for a call over the
whole array (a forward sum over the trailing window of the first output bar) and writes ``out[LOOKBACK:]``;
a resumed run (``start > LOOKBACK``) reads the totals TA-Lib would hold at bar ``start`` from ``state`` and
writes ``out[start:]``. Either way ``state`` ends up holding the totals for bar ``n``, so a later call on the
same arrays extended by new bars continues bit for bit.

A rolling total for setting ``s`` that judges candle ``i - k`` is the sum of ``s``'s range over the
``period`` candles before ``i - k``; it starts as a forward sum (``_total``) and moves one bar with
``_rl`` (add the newest range minus the dropped one, the difference first), TA-Lib's operation order.
Settings with a period of 0 (ShadowLong, ShadowVeryLong) use the candle's own range and keep no total.

Performance note: inside the bar loops the arrays are only indexed, never passed to helpers. Passing an
array to another jitted function (inlined or not) makes numba emit NRT incref/decref calls that its
refcount pruning cannot remove from loops with this much branching (up to 15x slower); the helpers
below therefore take the candle's scalars.
"""

from __future__ import annotations

import llvmlite.binding as _llvm
from llvmlite import ir as _ir
from numba import njit, types, uint64
from numba.extending import intrinsic

from nautilus.strategy.candles.common import (
    BODY_DOJI,
    BODY_LONG,
    BODY_SHORT,
    EQUAL,
    FAR,
    HIGH_LOW,
    NEAR,
    REAL_BODY,
    SHADOW_LONG,
    SHADOW_SHORT,
    SHADOW_VERY_LONG,
    SHADOW_VERY_SHORT,
    SHADOWS,
    candle_range,
)

# The installed TA-Lib ships CDLABANDONEDBABY (among a few others) as an ifunc that picks a clone built
# with FMA on CPUs that have it; there ``close + body * penetration`` (the black-first branch) is rounded
# once, while ``close - body * penetration`` is not fused (checked against the library). Mirror that.
HAS_FMA = bool(_llvm.get_host_cpu_features().get("fma", False))

# Bar indices inside the loops are cast to unsigned (all are >= 0 there): numba then skips the
# negative-index wraparound it adds to every signed array access (about 40% of a kernel's time).
_u = uint64

# Averaging periods, for the trailing candle of each rolling total.
_PBL = BODY_LONG[1]
_PBS = BODY_SHORT[1]
_PBD = BODY_DOJI[1]
_PVS = SHADOW_VERY_SHORT[1]
_PSS = SHADOW_SHORT[1]
_PN = NEAR[1]
_PF = FAR[1]
_PE = EQUAL[1]


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` with a single rounding (llvm.fma)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        dbl = _ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [dbl], _ir.FunctionType(dbl, [dbl, dbl, dbl]))
        return builder.call(fn, args)

    return sig, codegen


@njit(inline="always")
def _plus_mul(c, b, p):
    """``c + b * p`` rounded as TA-Lib's FMA clone rounds it on this machine."""
    if HAS_FMA:
        return _fma(b, p, c)
    return c + b * p


# Scalar twins of common.py's candle helpers (same operations, same order).
@njit(inline="always")
def _col(oo, cc):
    return 1 if cc >= oo else -1


@njit(inline="always")
def _body(oo, cc):
    return abs(cc - oo)


@njit(inline="always")
def _us(oo, hh, cc):
    return hh - (cc if cc >= oo else oo)


@njit(inline="always")
def _ls(oo, ll, cc):
    return (oo if cc >= oo else cc) - ll


@njit(inline="always")
def _gap_up(oa, ca, ob, cb):
    """Candle a's real body lies entirely above candle b's (TA_REALBODYGAPUP(a, b))."""
    return min(oa, ca) > max(ob, cb)


@njit(inline="always")
def _gap_down(oa, ca, ob, cb):
    return max(oa, ca) < min(ob, cb)


@njit(inline="always")
def _rg(s, oo, hh, ll, cc):
    """TA_CANDLERANGE of setting ``s`` for one candle."""
    rt = s[0]
    if rt == REAL_BODY:
        return abs(cc - oo)
    if rt == HIGH_LOW:
        return hh - ll
    if rt == SHADOWS:
        return (hh - (cc if cc >= oo else oo)) + ((oo if cc >= oo else cc) - ll)
    return 0.0


@njit(inline="always")
def _av(s, t, oo, hh, ll, cc):
    """TA_CANDLEAVERAGE: ``factor * (total / period) / divisor`` (own range when the period is 0)."""
    rt, period, factor = s
    base = t / period if period != 0 else _rg(s, oo, hh, ll, cc)
    return factor * base / (2.0 if rt == SHADOWS else 1.0)


@njit(inline="always")
def _rl(s, t, oa, ha, la, ca, ob, hb, lb, cb):
    """Roll a total: add candle a's range (the newest), drop candle b's (the oldest), difference first."""
    return t + (_rg(s, oa, ha, la, ca) - _rg(s, ob, hb, lb, cb))


@njit(inline="always")
def _total(s, o, h, l, c, end):
    """Forward sum of setting ``s``'s range over the ``period`` candles before candle ``end`` (setup only)."""
    t = 0.0
    for m in range(end - s[1], end):
        t += candle_range(s, o, h, l, c, m)
    return t


# The plain price comparisons of a pattern form a cheap filter, evaluated first; the yardstick (average)
# comparisons only run for the bars that pass it. Whether the filter uses ``&``/``|`` (no short-circuit)
# or ``and``/``or`` was picked per kernel by timing: LLVM lays out the branches differently and neither
# form wins everywhere. Either way it is the same comparisons of the same values as TA-Lib.

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


# --------------------------------------------------------------------------------------------------
# CDLBELTHOLD: long body opening on its extreme (very short lower shadow if white, upper if black).
LB_BELTHOLD = 10


@njit(cache=True, nogil=True)
def cdl_belthold(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_BELTHOLD
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L)
        vs = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, vs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        a = _av(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0)
        hit = (_body(o0, c0) > _av(BODY_LONG, bl, o0, h0, l0, c0)) & (
            ((c0 >= o0) & (_ls(o0, l0, c0) < a)) | ((c0 < o0) & (_us(o0, h0, c0) < a))
        )
        out[_u(i)] = _col(o0, c0) * 100 if hit else 0
        m = _u(i - _PBL)
        bl = _rl(BODY_LONG, bl, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        vs = _rl(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, vs


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
# CDLCLOSINGMARUBOZU: long body closing on its extreme (very short upper shadow if white, lower if black).
LB_CLOSINGMARUBOZU = 10


@njit(cache=True, nogil=True)
def cdl_closingmarubozu(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_CLOSINGMARUBOZU
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L)
        vs = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, vs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        a = _av(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0)
        hit = (_body(o0, c0) > _av(BODY_LONG, bl, o0, h0, l0, c0)) & (
            ((c0 >= o0) & (_us(o0, h0, c0) < a)) | ((c0 < o0) & (_ls(o0, l0, c0) < a))
        )
        out[_u(i)] = _col(o0, c0) * 100 if hit else 0
        m = _u(i - _PBL)
        bl = _rl(BODY_LONG, bl, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        vs = _rl(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, vs


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


# --------------------------------------------------------------------------------------------------
# CDLDOJISTAR: long candle, doji whose body gaps away in the candle's direction.
LB_DOJISTAR = 11


@njit(cache=True, nogil=True)
def cdl_dojistar(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_DOJISTAR
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 1)
        bd = _total(BODY_DOJI, o, h, l, c, L)
        i0 = L
    else:
        bl, bd = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        cheap = ((c1 >= o1) & _gap_up(o0, c0, o1, c1)) | ((c1 < o1) & _gap_down(o0, c0, o1, c1))
        if (
            cheap
            and _body(o1, c1) > _av(BODY_LONG, bl, o1, h1, l1, c1)
            and _body(o0, c0) <= _av(BODY_DOJI, bd, o0, h0, l0, c0)
        ):
            out[_u(i)] = -_col(o1, c1) * 100
        else:
            out[_u(i)] = 0
        m = _u(i - 1 - _PBL)
        bl = _rl(BODY_LONG, bl, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBD)
        bd = _rl(BODY_DOJI, bd, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, bd


# --------------------------------------------------------------------------------------------------
# CDLDRAGONFLYDOJI: doji with a very short upper shadow and a lower shadow that is not very short.
LB_DRAGONFLYDOJI = 10


@njit(cache=True, nogil=True)
def cdl_dragonflydoji(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_DRAGONFLYDOJI
    if start <= L:
        if n <= L:
            return
        bd = _total(BODY_DOJI, o, h, l, c, L)
        vs = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bd, vs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        a = _av(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0)
        hit = (
            (_body(o0, c0) <= _av(BODY_DOJI, bd, o0, h0, l0, c0))
            and (_us(o0, h0, c0) < a)
            and (_ls(o0, l0, c0) > a)
        )
        out[_u(i)] = 100 if hit else 0
        m = _u(i - _PBD)
        bd = _rl(BODY_DOJI, bd, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        vs = _rl(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bd, vs


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


# --------------------------------------------------------------------------------------------------
# CDLEVENINGDOJISTAR: long white, doji gapping up, black closing well into the first body.
LB_EVENINGDOJISTAR = 12


@njit(cache=True, nogil=True)
def cdl_eveningdojistar(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_EVENINGDOJISTAR
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
        cheap = (c2 >= o2) & (c0 < o0) & _gap_up(o1, c1, o2, c2) & (c0 < c2 - _body(o2, c2) * param)
        if (
            cheap
            and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
            and _body(o1, c1) <= _av(BODY_DOJI, bd, o1, h1, l1, c1)
            and _body(o0, c0) > _av(BODY_SHORT, bs, o0, h0, l0, c0)
        ):
            out[_u(i)] = -100
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


# --------------------------------------------------------------------------------------------------
# CDLEVENINGSTAR: long white, short body gapping up, black closing well into the first body.
LB_EVENINGSTAR = 12


@njit(cache=True, nogil=True)
def cdl_eveningstar(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_EVENINGSTAR
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 2)
        bs = _total(BODY_SHORT, o, h, l, c, L - 1)
        bs2 = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, bs, bs2 = state[0], state[1], state[2]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        o2, h2, l2, c2 = o[_u(i - 2)], h[_u(i - 2)], l[_u(i - 2)], c[_u(i - 2)]
        cheap = (c2 >= o2) & (c0 < o0) & _gap_up(o1, c1, o2, c2) & (c0 < c2 - _body(o2, c2) * param)
        if (
            cheap
            and _body(o2, c2) > _av(BODY_LONG, bl, o2, h2, l2, c2)
            and _body(o1, c1) <= _av(BODY_SHORT, bs, o1, h1, l1, c1)
            and _body(o0, c0) > _av(BODY_SHORT, bs2, o0, h0, l0, c0)
        ):
            out[_u(i)] = -100
        else:
            out[_u(i)] = 0
        m = _u(i - 2 - _PBL)
        bl = _rl(BODY_LONG, bl, o2, h2, l2, c2, o[m], h[m], l[m], c[m])
        m = _u(i - 1 - _PBS)
        bs = _rl(BODY_SHORT, bs, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs2 = _rl(BODY_SHORT, bs2, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1], state[2] = bl, bs, bs2


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


# --------------------------------------------------------------------------------------------------
# CDLGRAVESTONEDOJI: doji with a very short lower shadow and an upper shadow that is not very short.
LB_GRAVESTONEDOJI = 10


@njit(cache=True, nogil=True)
def cdl_gravestonedoji(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_GRAVESTONEDOJI
    if start <= L:
        if n <= L:
            return
        bd = _total(BODY_DOJI, o, h, l, c, L)
        vs = _total(SHADOW_VERY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bd, vs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        a = _av(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0)
        hit = (
            (_body(o0, c0) <= _av(BODY_DOJI, bd, o0, h0, l0, c0))
            and (_ls(o0, l0, c0) < a)
            and (_us(o0, h0, c0) > a)
        )
        out[_u(i)] = 100 if hit else 0
        m = _u(i - _PBD)
        bd = _rl(BODY_DOJI, bd, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        m = _u(i - _PVS)
        vs = _rl(SHADOW_VERY_SHORT, vs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bd, vs


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
# CDLHARAMI / CDLHARAMICROSS: long candle, then a short body (doji for the cross) inside its body;
# 80 instead of 100 when one end of the bodies matches.
LB_HARAMI = 11
LB_HARAMICROSS = 11


@njit(inline="always")
def _harami_value(o0, c0, o1, c1):
    k1 = _col(o1, c1)
    hi0 = max(c0, o0)
    lo0 = min(c0, o0)
    hi1 = max(c1, o1)
    lo1 = min(c1, o1)
    if hi0 < hi1 and lo0 > lo1:
        return -k1 * 100
    if hi0 <= hi1 and lo0 >= lo1:
        return -k1 * 80
    return 0


@njit(cache=True, nogil=True)
def cdl_harami(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HARAMI
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 1)
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, bs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        hit = (_body(o1, c1) > _av(BODY_LONG, bl, o1, h1, l1, c1)) & (
            _body(o0, c0) <= _av(BODY_SHORT, bs, o0, h0, l0, c0)
        )
        out[_u(i)] = _harami_value(o0, c0, o1, c1) if hit else 0
        m = _u(i - 1 - _PBL)
        bl = _rl(BODY_LONG, bl, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, bs


@njit(cache=True, nogil=True)
def cdl_haramicross(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HARAMICROSS
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 1)
        bd = _total(BODY_DOJI, o, h, l, c, L)
        i0 = L
    else:
        bl, bd = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        hit = (_body(o1, c1) > _av(BODY_LONG, bl, o1, h1, l1, c1)) & (
            _body(o0, c0) <= _av(BODY_DOJI, bd, o0, h0, l0, c0)
        )
        out[_u(i)] = _harami_value(o0, c0, o1, c1) if hit else 0
        m = _u(i - 1 - _PBL)
        bl = _rl(BODY_LONG, bl, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBD)
        bd = _rl(BODY_DOJI, bd, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, bd


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


# --------------------------------------------------------------------------------------------------
# CDLHOMINGPIGEON: long black, then a short black body inside it.
LB_HOMINGPIGEON = 11


@njit(cache=True, nogil=True)
def cdl_homingpigeon(o, h, l, c, param, out, state, start):
    n = o.shape[0]
    L = LB_HOMINGPIGEON
    if start <= L:
        if n <= L:
            return
        bl = _total(BODY_LONG, o, h, l, c, L - 1)
        bs = _total(BODY_SHORT, o, h, l, c, L)
        i0 = L
    else:
        bl, bs = state[0], state[1]
        i0 = start
    for i in range(i0, n):
        o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
        o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
        cheap = (c1 < o1) and (c0 < o0) and (o0 < o1) and (c0 > c1)
        if (
            cheap
            and _body(o1, c1) > _av(BODY_LONG, bl, o1, h1, l1, c1)
            and _body(o0, c0) <= _av(BODY_SHORT, bs, o0, h0, l0, c0)
        ):
            out[_u(i)] = 100
        else:
            out[_u(i)] = 0
        m = _u(i - 1 - _PBL)
        bl = _rl(BODY_LONG, bl, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        m = _u(i - _PBS)
        bs = _rl(BODY_SHORT, bs, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
    if i0 < n:
        state[0], state[1] = bl, bs


# (TA-Lib name, kernel, lookback, state size, default penetration), in TA-Lib's alphabetical order.
PATTERNS = (
    ("CDL2CROWS", cdl_2crows, LB_2CROWS, 1, 0.0),
    ("CDL3BLACKCROWS", cdl_3blackcrows, LB_3BLACKCROWS, 3, 0.0),
    ("CDL3INSIDE", cdl_3inside, LB_3INSIDE, 2, 0.0),
    ("CDL3LINESTRIKE", cdl_3linestrike, LB_3LINESTRIKE, 2, 0.0),
    ("CDL3OUTSIDE", cdl_3outside, LB_3OUTSIDE, 0, 0.0),
    ("CDL3STARSINSOUTH", cdl_3starsinsouth, LB_3STARSINSOUTH, 4, 0.0),
    ("CDL3WHITESOLDIERS", cdl_3whitesoldiers, LB_3WHITESOLDIERS, 8, 0.0),
    ("CDLABANDONEDBABY", cdl_abandonedbaby, LB_ABANDONEDBABY, 3, 0.3),
    ("CDLADVANCEBLOCK", cdl_advanceblock, LB_ADVANCEBLOCK, 8, 0.0),
    ("CDLBELTHOLD", cdl_belthold, LB_BELTHOLD, 2, 0.0),
    ("CDLBREAKAWAY", cdl_breakaway, LB_BREAKAWAY, 1, 0.0),
    ("CDLCLOSINGMARUBOZU", cdl_closingmarubozu, LB_CLOSINGMARUBOZU, 2, 0.0),
    ("CDLCONCEALBABYSWALL", cdl_concealbabyswall, LB_CONCEALBABYSWALL, 3, 0.0),
    ("CDLCOUNTERATTACK", cdl_counterattack, LB_COUNTERATTACK, 3, 0.0),
    ("CDLDARKCLOUDCOVER", cdl_darkcloudcover, LB_DARKCLOUDCOVER, 1, 0.5),
    ("CDLDOJI", cdl_doji, LB_DOJI, 1, 0.0),
    ("CDLDOJISTAR", cdl_dojistar, LB_DOJISTAR, 2, 0.0),
    ("CDLDRAGONFLYDOJI", cdl_dragonflydoji, LB_DRAGONFLYDOJI, 2, 0.0),
    ("CDLENGULFING", cdl_engulfing, LB_ENGULFING, 0, 0.0),
    ("CDLEVENINGDOJISTAR", cdl_eveningdojistar, LB_EVENINGDOJISTAR, 3, 0.3),
    ("CDLEVENINGSTAR", cdl_eveningstar, LB_EVENINGSTAR, 3, 0.3),
    ("CDLGAPSIDESIDEWHITE", cdl_gapsidesidewhite, LB_GAPSIDESIDEWHITE, 2, 0.0),
    ("CDLGRAVESTONEDOJI", cdl_gravestonedoji, LB_GRAVESTONEDOJI, 2, 0.0),
    ("CDLHAMMER", cdl_hammer, LB_HAMMER, 3, 0.0),
    ("CDLHANGINGMAN", cdl_hangingman, LB_HANGINGMAN, 3, 0.0),
    ("CDLHARAMI", cdl_harami, LB_HARAMI, 2, 0.0),
    ("CDLHARAMICROSS", cdl_haramicross, LB_HARAMICROSS, 2, 0.0),
    ("CDLHIGHWAVE", cdl_highwave, LB_HIGHWAVE, 1, 0.0),
    ("CDLHIKKAKE", cdl_hikkake, LB_HIKKAKE, 2, 0.0),
    ("CDLHIKKAKEMOD", cdl_hikkakemod, LB_HIKKAKEMOD, 3, 0.0),
    ("CDLHOMINGPIGEON", cdl_homingpigeon, LB_HOMINGPIGEON, 2, 0.0),
)
