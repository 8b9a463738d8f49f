"""Bar timeframes: ``1m 5m 15m 30m 1h 4h 1d 1w`` and any ``<n><unit>`` with unit in s/m/h/d/w, plus the
calendar timeframes ``<n>mo``, ``<n>q``, ``<n>y`` (months, quarters, years; economic series).

The bar time model (``docs/conventions.md``, "Time stamps and time zones"): an intraday bar (shorter than a
day) is stamped at its UTC open instant (``time_convention`` ``utc_open``); a daily or longer bar by its
session date, 00:00 UTC of that date whatever zone the input was in (``session_date``). Weekly bars are
trading weeks stamped 00:00 UTC of their anchor day (Monday by default, ``WEEK_ANCHORS``), even when that day
is a holiday; ``<n>w`` blocks count from the anchor day of the week of 1970-01-05.

A calendar bar opens at 00:00 UTC on the first day of its period (``3mo`` periods start in January, April,
July and October). Its length varies, so :func:`timeframe_ns` gives the mean Gregorian length (a year is
365.2425 days): right for ordering, annualisation and "is it daily or longer"; bucketing uses
:func:`calendar_floor`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np

from nautilus.core.bounds import TS_MAX_NS, TS_MIN_NS, TS_RANGE_TEXT
from nautilus.core.errors import InvalidInput

_UNIT_NS = {
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
_YEAR_NS = 31_556_952 * 1_000_000_000  # 365.2425 days
_CALENDAR_MONTHS = {"mo": 1, "q": 3, "y": 12}
_UNIT_NS.update({unit: _YEAR_NS // 12 * months for unit, months in _CALENDAR_MONTHS.items()})
_PATTERN = re.compile(r"^([1-9][0-9]*)(mo|[smhdwqy])$")


def timeframe_ns(timeframe: str) -> int:
    """Length of one bar in nanoseconds; raises InvalidInput naming ``timeframe``."""
    match = _PATTERN.match(timeframe or "")
    if not match:
        raise InvalidInput(
            f"timeframe {timeframe!r} is not valid: use <n><unit> with unit s, m, h, d, w, mo, q or y "
            "(e.g. 1m, 1d, 1mo)",
            field="timeframe",
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def calendar_months(timeframe: str) -> int | None:
    """Months per bar of a calendar timeframe (``1q`` → 3), None for a fixed-length one."""
    match = _PATTERN.match(timeframe or "")
    if not match:
        timeframe_ns(timeframe)  # raises naming it
    assert match is not None
    unit = match.group(2)
    return int(match.group(1)) * _CALENDAR_MONTHS[unit] if unit in _CALENDAR_MONTHS else None


def calendar_floor(ts: np.ndarray, months: int) -> np.ndarray:
    """Open time (ns UTC) of the ``months``-long calendar period holding each of ``ts`` (periods count from
    January 1970)."""
    month_index = np.asarray(ts, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    start = month_index - month_index % months
    return start.astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)


def close_times(ts: np.ndarray, timeframe: str) -> np.ndarray:
    """When each bar opening at ``ts`` closes: ``ts`` + its length, or the next calendar period's start."""
    ts = np.asarray(ts, dtype=np.int64)
    months = calendar_months(timeframe)
    if months is None:
        return ts + timeframe_ns(timeframe)
    start = calendar_floor(ts, months).astype("datetime64[ns]").astype("datetime64[M]")
    return (start + np.timedelta64(months, "M")).astype("datetime64[ns]").astype(np.int64)


DAY_NS = 86_400 * 1_000_000_000
WEEK_NS = 7 * DAY_NS
WEEK_ANCHORS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DEFAULT_WEEK_ANCHOR = "MON"
_FIRST_MONDAY_NS = 4 * DAY_NS  # 1970-01-05, a Monday


def is_session_timeframe(timeframe: str) -> bool:
    """True for daily and longer timeframes (stamped by session date), False for intraday ones."""
    return timeframe_ns(timeframe) >= DAY_NS


def time_convention(timeframe: str) -> str:
    """``session_date`` (daily and longer bars) or ``utc_open`` (intraday bars)."""
    return "session_date" if is_session_timeframe(timeframe) else "utc_open"


def week_count(timeframe: str) -> int | None:
    """Weeks per bar of a ``<n>w`` timeframe, None for any other."""
    match = _PATTERN.match(timeframe or "")
    if not match:
        timeframe_ns(timeframe)  # raises naming it
    assert match is not None
    return int(match.group(1)) if match.group(2) == "w" else None


def week_floor(ts: np.ndarray, weeks: int = 1, anchor: str = DEFAULT_WEEK_ANCHOR) -> np.ndarray:
    """00:00 UTC of the first day of the ``weeks``-week block holding each of ``ts``; weeks start on ``anchor``
    (one of ``WEEK_ANCHORS``) and blocks count from the anchor day of the week of 1970-01-05."""
    if anchor not in WEEK_ANCHORS:
        raise InvalidInput(f"week anchor {anchor!r} is not valid: use one of {', '.join(WEEK_ANCHORS)}",
                           field="week_anchor")
    origin = _FIRST_MONDAY_NS + WEEK_ANCHORS.index(anchor) * DAY_NS
    ts = np.asarray(ts, dtype=np.int64)
    block = weeks * WEEK_NS
    return (ts - origin) // block * block + origin


def period_floor(ts: np.ndarray, timeframe: str, week_anchor: str = DEFAULT_WEEK_ANCHOR) -> np.ndarray:
    """The stamp of the ``timeframe`` bar holding each of ``ts``: calendar periods for ``mo``/``q``/``y``,
    anchored weeks for ``w``, UTC buckets counted from the epoch otherwise."""
    ts = np.asarray(ts, dtype=np.int64)
    months = calendar_months(timeframe)
    if months is not None:
        return calendar_floor(ts, months)
    weeks = week_count(timeframe)
    if weeks is not None:
        return week_floor(ts, weeks, week_anchor)
    step = timeframe_ns(timeframe)
    return ts // step * step


def validate_timeframe(timeframe: str) -> str:
    timeframe_ns(timeframe)
    return timeframe


def pandas_rule(timeframe: str, week_anchor: str = DEFAULT_WEEK_ANCHOR) -> str:
    """The equivalent pandas offset alias (used by references and tests); for weeks (``W-MON`` for Monday
    weeks) resample with ``label="left", closed="left"``."""
    months = calendar_months(timeframe)
    if months is not None:
        return f"{months}MS"
    n, unit = int(timeframe[:-1]), timeframe[-1]
    if unit == "w":
        return f"W-{week_anchor}" if n == 1 else f"{n}W-{week_anchor}"
    return f"{n}{ {'s': 's', 'm': 'min', 'h': 'h', 'd': 'D'}[unit]}"


def iso_ns(text: str, field: str, label: str | None = None) -> int:
    """ISO 8601 date or datetime (naive means UTC) → int ns since the epoch; ``label`` names it in the error."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise InvalidInput(f"{label or field} {text!r} is not an ISO 8601 date or datetime", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    if not TS_MIN_NS <= ns <= TS_MAX_NS:
        raise InvalidInput(f"{label or field} {text!r} is outside {TS_RANGE_TEXT}", field=field)
    return ns
