"""Scalar candle helpers for the resumable numba pattern kernels, and the kernels' shared contract.

Every kernel (in the family modules: ``single``, ``doji``, ``two_bar``, ``three_bar``, ``stars``,
``gaps``, ``multi_bar``) follows the shared contract (see ``kernel.py``)::

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
    SHADOW_SHORT,
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
