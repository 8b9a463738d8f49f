"""Array-indexing candle helpers (the style of the kernels ported second), bit-for-bit TA-Lib arithmetic.

Every kernel follows the shared contract ``cdl_x(o, h, l, c, param, out, state, start)``: with
``start <= LOOKBACK`` it starts fresh, building its rolling totals the way TA-Lib does for a call
that starts at the lookback, and writes ``out[LOOKBACK:]``; otherwise ``state`` holds the totals
left after bar ``start - 1`` and only ``out[start:]`` is written. Either way ``state`` is left valid
for resuming at ``len(c)``.

A rolling total "at offset k" is TA-Lib's ``XxxPeriodTotal[k]`` (or a total whose trailing index is
shifted by k): the sum of the candle range over the ``period`` candles before candle ``i - k``. It
starts as a plain forward sum and rolls with ``total + (range(i - k) - range(i - k - period))``;
settings with a period of 0 (ShadowLong, ShadowVeryLong) keep no total at all.

The installed TA-Lib build dispatches CDLMORNINGSTAR and CDLMORNINGDOJISTAR (and CDLPIERCING,
CDLTHRUSTING, where it cannot matter since the factor is 0.5) to a clone compiled with FMA when the
CPU has it, which fuses ``close + body * penetration`` into one rounding. ``HAS_FMA`` mirrors that
dispatch so the kernels agree with TA-Lib on the machine they run on.

Each pattern's tests are TA-Lib's, in TA-Lib's order and arithmetic. Most kernels join them with
``&`` (every test evaluated, no branches to mispredict on random bars); a few keep ``and`` where
LLVM produced faster code that way. The tests are pure comparisons, so both give the same answer.
"""

from __future__ import annotations

from numba import njit

from nautilus.strategy.candles.common import candle_range
from nautilus.strategy.candles.scalars import _plus_mul


@njit(inline="always")
def mul_add(a, b, c):
    """``a * b + c`` rounded as the TA-Lib FMA clone rounds it on this machine."""
    return _plus_mul(c, a, b)


@njit(inline="always")
def init_total(setting, o, h, l, c, start, off):
    """TA-Lib's starting total at offset ``off`` for a run whose first output bar is ``start``."""
    total = 0.0
    for j in range(start - setting[1], start):
        total += candle_range(setting, o, h, l, c, j - off)
    return total


@njit(inline="always")
def roll_total(setting, o, h, l, c, total, i, off):
    """The total at offset ``off`` after bar ``i``: add the newest range, drop the oldest."""
    return total + (
        candle_range(setting, o, h, l, c, i - off) - candle_range(setting, o, h, l, c, i - off - setting[1])
    )
