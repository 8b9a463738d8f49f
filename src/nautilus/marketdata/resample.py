"""Aggregate bars to a coarser timeframe.

Contract: ``resample`` takes ``Bars`` with strictly increasing ``ts`` and returns ``Bars`` in the target
timeframe. A source bar opening at ``ts`` belongs to the bucket opening at
``floor((ts - origin_ns) / tf) * tf + origin_ns``; a bucket's open is its first bar's open, high the max,
low the min, close the last close and volume the sum (added in time order). Buckets with no source bar
are omitted, never fabricated. The target must be a whole multiple of the source timeframe.
A calendar target (``1mo``, ``1q``, ``1y``) buckets by calendar period instead (see
:func:`nautilus.core.timeframe.calendar_floor`); its source must be a calendar timeframe whose months divide
the target's, or a fixed one that divides a day (so no source bar straddles two periods). A weekly target
(``<n>w``) buckets by trading week: the week (anchor ``week_anchor``, Monday by default) of each bar's
session date, stamped 00:00 UTC of the anchor day (:func:`nautilus.core.timeframe.week_floor`).

Sessions: with an exchange ``calendar`` (``XNYS``, ...; see :mod:`nautilus.core.calendars`), intraday bars
build daily and longer bars by the session whose ``[open, close)`` holds their open instant: a ``1d`` bar is
one session (an early close ends it early) and bars outside every session (extended hours, holidays) are
left out. Without a calendar, or under ``24/7`` and ``24/5``, a session is the UTC day. ``origin_ns`` shifts
intraday targets only: daily and longer bars are stamped by session date.

``resample_nb`` is the single-pass kernel (``@njit(cache=True)``, NumPy arrays only); it returns a
status instead of raising: the number of buckets written, or ``-(i + 1)`` when ``ts[i]`` is not greater
than ``ts[i - 1]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nautilus.core.bars import Bars
from nautilus.core.calendars import ALWAYS, WEEKDAYS, check_calendar, session_of
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import (
    DEFAULT_WEEK_ANCHOR,
    calendar_floor,
    calendar_months,
    is_session_timeframe,
    period_floor,
    timeframe_ns,
    week_count,
)

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


def bucket_start(ts: int, timeframe: str, week_anchor: str = DEFAULT_WEEK_ANCHOR) -> int:
    """Open time of the ``timeframe`` bar (origin 0) holding ``ts``."""
    return int(period_floor(np.array([ts], dtype=np.int64), timeframe, week_anchor)[0])


def session_days(ts: np.ndarray, source: str, calendar: str | None) -> np.ndarray:
    """The session date (ns) of each bar opening at ``ts``; -1 for intraday bars outside every session."""
    ts = np.asarray(ts, dtype=np.int64)
    if is_session_timeframe(source):
        return ts
    if calendar is None or check_calendar(calendar) in (ALWAYS, WEEKDAYS):
        return ts // DAY_NS * DAY_NS
    return session_of(calendar, ts)


def resample(bars: Bars, timeframe: str, *, origin_ns: int = 0, calendar: str | None = None,
             week_anchor: str = DEFAULT_WEEK_ANCHOR) -> Bars:
    """Bars of ``timeframe`` built from ``bars``; raises InvalidInput naming ``timeframe`` or ``bars``."""
    problem = resample_problem(bars.timeframe, timeframe)
    if problem is not None:
        raise InvalidInput(problem, field="timeframe")
    if len(bars) == 0:
        return Bars.empty(bars.symbol, timeframe)
    months, weeks = calendar_months(timeframe), week_count(timeframe)
    if is_session_timeframe(timeframe) and not is_session_timeframe(bars.timeframe):
        days = session_days(bars.ts, bars.timeframe, calendar)
        inside = days != -1  # a session date is a multiple of a day: -1 marks bars outside every session
        if not inside.all():
            bars = _take(bars, inside)
            days = days[inside]
            if len(bars) == 0:
                return Bars.empty(bars.symbol, timeframe)
    else:
        days = np.asarray(bars.ts, dtype=np.int64)
    ts = np.ascontiguousarray(bars.ts, dtype=np.int64)
    if months is not None:
        buckets = calendar_floor(days, months)
    elif weeks is not None:
        buckets = period_floor(days, timeframe, week_anchor)
    elif is_session_timeframe(timeframe):  # <n>d: blocks of n days counted from the epoch
        buckets = days // timeframe_ns(timeframe) * timeframe_ns(timeframe)
    else:
        target_ns = timeframe_ns(timeframe)
        buckets = (ts - origin_ns) // target_ns * target_ns + origin_ns
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


def _take(bars: Bars, mask: np.ndarray) -> Bars:
    return Bars(symbol=bars.symbol, timeframe=bars.timeframe, ts=np.ascontiguousarray(bars.ts[mask]),
                **{c: np.ascontiguousarray(getattr(bars, c)[mask]) for c in ("open", "high", "low", "close", "volume")})


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
