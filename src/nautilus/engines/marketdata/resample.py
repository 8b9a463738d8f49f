"""Aggregate bars to a coarser timeframe.

Contract: ``resample`` takes ``Bars`` with strictly increasing ``ts`` and returns ``Bars`` in the target
timeframe. A source bar opening at ``ts`` belongs to the bucket opening at
``floor((ts - origin_ns) / tf) * tf + origin_ns``; a bucket's open is its first bar's open, high the max,
low the min, close the last close and volume the sum (added in time order). Buckets with no source bar
are omitted, never fabricated. The target must be a whole multiple of the source timeframe.
A calendar target (``1mo``, ``1q``, ``1y``) buckets by calendar period instead (see
:func:`nautilus.core.timeframe.calendar_floor`); its source must be a calendar timeframe whose months divide
the target's, or a fixed one that divides a day (so no source bar straddles two periods).

``resample_nb`` is the single-pass kernel (``@njit(cache=True)``, NumPy arrays only); it returns a
status instead of raising: the number of buckets written, or ``-(i + 1)`` when ``ts[i]`` is not greater
than ``ts[i - 1]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import calendar_floor, calendar_months, timeframe_ns

DAY_NS = 86_400_000_000_000


def resample_problem(source: str, target: str) -> str | None:
    """Why bars of ``source`` cannot be aggregated to ``target`` (None when they can)."""
    source_ns, target_ns = timeframe_ns(source), timeframe_ns(target)
    if target_ns < source_ns:
        return f"timeframe {target!r} is finer than the bars' timeframe {source!r}: resampling only aggregates"
    source_months, target_months = calendar_months(source), calendar_months(target)
    if target_months is not None:
        ok = target_months % source_months == 0 if source_months is not None else DAY_NS % source_ns == 0
        return None if ok else (f"calendar timeframe {target!r} cannot be built from {source!r} bars (they "
                                "would straddle periods)")
    if source_months is not None or target_ns % source_ns:
        return f"timeframe {target!r} is not a whole multiple of the bars' timeframe {source!r}"
    return None


def bucket_start(ts: int, timeframe: str) -> int:
    """Open time of the ``timeframe`` bar (origin 0) holding ``ts``."""
    months = calendar_months(timeframe)
    if months is None:
        return ts - ts % timeframe_ns(timeframe)
    return int(calendar_floor(np.array([ts], dtype=np.int64), months)[0])


def resample(bars: Bars, timeframe: str, *, origin_ns: int = 0) -> Bars:
    """Bars of ``timeframe`` built from ``bars``; raises InvalidInput naming ``timeframe`` or ``bars``."""
    problem = resample_problem(bars.timeframe, timeframe)
    if problem is not None:
        raise InvalidInput(problem, field="timeframe")
    if len(bars) == 0:
        return Bars.empty(bars.symbol, timeframe)
    ts = np.ascontiguousarray(bars.ts, dtype=np.int64)
    months = calendar_months(timeframe)
    if months is None:
        target_ns = timeframe_ns(timeframe)
        buckets = (ts - origin_ns) // target_ns * target_ns + origin_ns
    else:
        buckets = calendar_floor(ts, months)
    capacity = len(bars)
    out_ts = np.empty(capacity, dtype=np.int64)
    out = np.empty((5, capacity), dtype=np.float64)
    inputs = [
        np.ascontiguousarray(getattr(bars, c), dtype=np.float64)
        for c in ("open", "high", "low", "close", "volume")
    ]
    count = resample_nb(ts, np.ascontiguousarray(buckets), *inputs, out_ts, out)
    if count < 0:
        row = -count - 1
        raise InvalidInput(
            f"bars.ts must be strictly increasing: ts[{row}]={ts[row]} follows ts[{row - 1}]={ts[row - 1]}",
            field="bars",
        )
    return Bars(
        symbol=bars.symbol,
        timeframe=timeframe,
        ts=out_ts[:count].copy(),
        open=out[0, :count].copy(),
        high=out[1, :count].copy(),
        low=out[2, :count].copy(),
        close=out[3, :count].copy(),
        volume=out[4, :count].copy(),
    )


@njit(cache=True)
def resample_nb(ts, buckets, open_, high, low, close, volume, out_ts, out):  # pragma: no cover
    """Aggregate runs of equal ``buckets`` (each bar's bucket open time) into ``out_ts`` and ``out`` rows (open,
    high, low, close, volume); return the bucket count or -(i+1)."""
    for i in range(1, ts.shape[0]):
        if ts[i] <= ts[i - 1]:
            return -(i + 1)
    k = -1
    bucket = np.int64(0)
    for i in range(ts.shape[0]):
        b = buckets[i]
        if k < 0 or b != bucket:
            k += 1
            bucket = b
            out_ts[k] = b
            out[0, k] = open_[i]
            out[1, k] = high[i]
            out[2, k] = low[i]
            out[4, k] = volume[i]
        else:
            out[1, k] = max(out[1, k], high[i])
            out[2, k] = min(out[2, k], low[i])
            out[4, k] += volume[i]
        out[3, k] = close[i]
    return k + 1
