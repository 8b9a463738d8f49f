"""Bar timeframes: ``1m 5m 15m 30m 1h 4h 1d 1w`` and any ``<n><unit>`` with unit in s/m/h/d/w, plus the
calendar timeframes ``<n>mo``, ``<n>q``, ``<n>y`` (months, quarters, years; economic series).

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


def validate_timeframe(timeframe: str) -> str:
    timeframe_ns(timeframe)
    return timeframe


def pandas_rule(timeframe: str) -> str:
    """The equivalent pandas offset alias (used by references and tests)."""
    months = calendar_months(timeframe)
    if months is not None:
        return f"{months}MS"
    n, unit = int(timeframe[:-1]), timeframe[-1]
    if unit == "w":
        return f"{n * 7}D"
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
