"""Trading calendars: which days are sessions, when each session opens and closes, and how many bars of a
timeframe a year holds under a calendar.

Calendar names
    Exchange calendars are the ISO 10383 MIC codes of the ``exchange_calendars`` library (``XNYS``,
    ``XNAS``, ``XLON``, ``XTKS``, ...: holidays and early closes as that library keeps them). Two rule
    calendars need no library data: ``24/7`` (every UTC day, 00:00-24:00 UTC: crypto) and ``24/5``
    (Monday..Friday UTC days, no holidays: FX, economic series). The freshness alert's older labels are
    aliases: ``24x7`` is ``24/7`` and ``weekdays`` is ``24/5``.

Which calendar an instrument trades on (:func:`calendar_for`)
    From its ``asset_class`` (the instruments table): ``crypto`` → ``24/7``; ``fx``/``forex``/``currency``
    and ``economic`` → ``24/5``; anything else is exchange traded: its ``exchange`` (a MIC code, or a
    common name such as ``NYSE``, ``NASDAQ``, ``LSE``: see ``EXCHANGE_ALIASES``) names the calendar, and
    without one (or an unknown one) it is ``XNYS`` (``DEFAULT_EQUITY_CALENDAR``). With no asset class the
    symbol decides: crypto-looking (BTC..., ETH...) → ``24/7``, a six-letter currency pair → ``24/5``,
    else an equity.

Session dates and times
    A session is named by its date, stamped 00:00 UTC of that date (the stamp of daily bars). Its open and
    close are UTC instants. Exchange sessions come from ``exchange_calendars`` over ``1970-01-01`` (or the
    calendar's first evaluable date) .. ``2050-12-31``; outside that span an exchange calendar falls back to
    Monday..Friday UTC days (documented approximation). Ranges are half-open ``[start, end)`` in ns UTC
    and select sessions by their date.

Periods per year (:func:`periods_per_year`)
    The mean number of bars of a timeframe a year holds under a calendar:

    - ``24/7``: 365.25 days a year; ``24/5``: 365.25 * 5 / 7 = 260.89 days a year (exact rules).
    - exchange calendars: the calendar's sessions over the reference span 2015-01-01..2024-12-31 divided by
      10 (XNYS: 2,516 sessions, 251.6 a year).
    - intraday timeframes: the bars each session holds counted by bar open, the bars being the UTC buckets
      of the timeframe counted from the epoch that overlap the session (an XNYS regular session,
      09:30-16:00 New York, holds 7 hourly bars; an early close at 13:00 holds 4), summed over the
      reference span's sessions and divided by its years; ``24/7`` and ``24/5`` days hold 86,400 s / bar.
    - ``<n>d``: a day's figure / n; ``<n>w``: 365.25 / 7 / n = 52.18 / n; ``<n>mo``, ``<n>q``, ``<n>y``:
      12 / months.

    Results are cached per (calendar, timeframe): a call after the first costs a dictionary look-up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import calendar_months, timeframe_ns

DAY_NS = 86_400_000_000_000
ALWAYS = "24/7"
WEEKDAYS = "24/5"
DEFAULT_EQUITY_CALENDAR = "XNYS"
LEGACY_ALIASES = {"24x7": ALWAYS, "weekdays": WEEKDAYS}
REFERENCE_YEARS = (2015, 2024)  # inclusive: the span exchange calendars' yearly counts come from
SPAN = ("1970-01-01", "2050-12-31")  # where exchange calendars are read from the library
DAYS_PER_YEAR = 365.25
EXCHANGE_ALIASES = {
    "NYSE": "XNYS", "NYQ": "XNYS", "NYS": "XNYS", "ARCA": "XNYS", "NYSEARCA": "XNYS", "PCX": "XNYS",
    "AMEX": "XNYS", "ASE": "XNYS", "BATS": "XNYS", "SMART": "XNYS",
    "NASDAQ": "XNAS", "NMS": "XNAS", "NGM": "XNAS", "NCM": "XNAS", "NAS": "XNAS", "ISLAND": "XNAS",
    "LSE": "XLON", "LON": "XLON", "TSE": "XTKS", "TYO": "XTKS", "JPX": "XTKS", "TSX": "XTSE", "TOR": "XTSE",
    "XETRA": "XETR", "GER": "XETR", "IBIS": "XETR", "FRA": "XFRA", "PAR": "XPAR", "EPA": "XPAR",
    "SBF": "XPAR", "AMS": "XAMS", "AEB": "XAMS", "HKEX": "XHKG", "HKG": "XHKG", "SEHK": "XHKG",
    "ASX": "XASX", "SIX": "XSWX", "EBS": "XSWX", "VTX": "XSWX", "BME": "XMAD", "MCE": "XMAD",
    "MIL": "XMIL", "BVME": "XMIL", "STO": "XSTO", "SFB": "XSTO", "KRX": "XKRX", "KSC": "XKRX",
}
_CRYPTO_PREFIXES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC")
_CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD"})
_FX_CLASSES = frozenset({"fx", "forex", "currency", "cash", "economic"})


# --- which calendar ---------------------------------------------------------------------------------


def instrument_kind(symbol: str) -> str:
    """``crypto``, ``fx`` or ``equity`` guessed from the symbol alone (used when no asset class is known)."""
    s = (symbol or "").upper()
    if s.startswith(_CRYPTO_PREFIXES):
        return "crypto"
    if len(s) == 6 and s[:3] in _CURRENCIES and s[3:] in _CURRENCIES:
        return "fx"
    return "equity"


def calendar_for(symbol: str, asset_class: str | None = None, exchange: str | None = None) -> str:
    """The calendar name an instrument trades on (see the module docstring for the rules)."""
    kind = (asset_class or "").strip().lower()
    if kind == "crypto":
        return ALWAYS
    if kind in _FX_CLASSES:
        return WEEKDAYS
    if not kind:
        guessed = instrument_kind(symbol)
        if guessed == "crypto":
            return ALWAYS
        if guessed == "fx":
            return WEEKDAYS
    if exchange:
        code = exchange.strip().upper()
        code = EXCHANGE_ALIASES.get(code, code)
        if code in _exchange_names():
            return code
    return DEFAULT_EQUITY_CALENDAR


@lru_cache(maxsize=1)
def _exchange_names() -> frozenset[str]:
    import exchange_calendars as xc

    return frozenset(name for name in xc.get_calendar_names(include_aliases=True) if name not in (ALWAYS, WEEKDAYS))


def check_calendar(name: str) -> str:
    """The canonical calendar name for ``name`` (aliases resolved); raises InvalidInput naming ``calendar``."""
    if isinstance(name, str):
        canonical = LEGACY_ALIASES.get(name, name.strip().upper() if name.strip()[:1].isalpha() else name.strip())
        if canonical in (ALWAYS, WEEKDAYS) or canonical in _exchange_names():
            return canonical
    raise InvalidInput(f"calendar {name!r} is not known: use 24/7, 24/5 or an exchange code such as XNYS, XLON",
                       field="calendar")


def calendar_zone(calendar: str) -> str:
    """The calendar's local time zone (``UTC`` for the rule calendars)."""
    calendar = check_calendar(calendar)
    if calendar in (ALWAYS, WEEKDAYS):
        return "UTC"
    return str(_library_calendar(calendar).tz)


# --- session tables ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _library_calendar(calendar: str) -> Any:
    import exchange_calendars as xc
    import pandas as pd

    cls = type(xc.get_calendar(calendar))
    lo, hi = pd.Timestamp(SPAN[0]), pd.Timestamp(SPAN[1])
    bound_min = cls.bound_min() if hasattr(cls, "bound_min") else None
    bound_max = cls.bound_max() if hasattr(cls, "bound_max") else None
    if bound_min is not None and bound_min > lo:
        lo = bound_min
    if bound_max is not None and bound_max < hi:
        hi = bound_max
    return xc.get_calendar(calendar, start=lo, end=hi)


@lru_cache(maxsize=64)
def _table(calendar: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(session date ns, open ns, close ns) of an exchange calendar over its evaluated span."""
    cal = _library_calendar(calendar)
    schedule = cal.schedule
    dates = schedule.index.to_numpy().astype("datetime64[ns]").astype(np.int64)
    opens = schedule["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    closes = schedule["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    for array in (dates, opens, closes):
        array.setflags(write=False)
    return dates, opens, closes


def _weekday_days(day_lo: int, day_hi: int, every_day: bool) -> np.ndarray:
    days = np.arange(day_lo, day_hi, dtype=np.int64)
    if not every_day:
        days = days[(days + 3) % 7 < 5]  # day 0 (1970-01-01) was a Thursday
    return days * DAY_NS


def session_table(calendar: str, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dates, opens, closes)`` (int64 ns UTC) of the sessions whose date is in ``[start_ns, end_ns)``."""
    calendar = check_calendar(calendar)
    day_lo = -(-int(start_ns) // DAY_NS)  # the first whole date at or after start
    day_hi = -(-int(end_ns) // DAY_NS)
    if day_hi <= day_lo:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    if calendar in (ALWAYS, WEEKDAYS):
        dates = _weekday_days(day_lo, day_hi, calendar == ALWAYS)
        return dates, dates.copy(), dates + DAY_NS
    table_dates, table_opens, table_closes = _table(calendar)
    first, last = int(table_dates[0]) // DAY_NS, int(table_dates[-1]) // DAY_NS + 1
    parts = []
    if day_lo < first:  # before the library's span: Monday..Friday UTC days
        d = _weekday_days(day_lo, min(day_hi, first), False)
        parts.append((d, d, d + DAY_NS))
    i, j = np.searchsorted(table_dates, [day_lo * DAY_NS, day_hi * DAY_NS])
    parts.append((table_dates[i:j], table_opens[i:j], table_closes[i:j]))
    if day_hi > last:
        d = _weekday_days(max(day_lo, last), day_hi, False)
        parts.append((d, d, d + DAY_NS))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def sessions(calendar: str, start: int | str, end: int | str) -> np.ndarray:
    """Session dates (00:00 UTC of each, int64 ns) in ``[start, end)``; ``start``/``end`` are ns or ISO dates."""
    return session_table(calendar, _ns(start), _ns(end))[0]


def is_session(calendar: str, days_ns: np.ndarray) -> np.ndarray:
    """True where the UTC date of each of ``days_ns`` is a session of ``calendar``."""
    days = np.asarray(days_ns, dtype=np.int64) // DAY_NS * DAY_NS
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    dates = sessions(calendar, int(days.min()), int(days.max()) + DAY_NS)
    return np.isin(days, dates)


def session_of(calendar: str, ts: np.ndarray) -> np.ndarray:
    """The session date (ns) whose ``[open, close)`` holds each instant of ``ts``; -1 where none does."""
    ts = np.asarray(ts, dtype=np.int64)
    if ts.size == 0:
        return np.empty(0, dtype=np.int64)
    dates, opens, closes = session_table(calendar, int(ts.min()) - 2 * DAY_NS, int(ts.max()) + 2 * DAY_NS)
    if len(dates) == 0:
        return np.full(ts.shape, -1, dtype=np.int64)
    k = np.clip(np.searchsorted(opens, ts, side="right") - 1, 0, None)
    inside = (ts >= opens[k]) & (ts < closes[k])
    return np.where(inside, dates[k], -1).astype(np.int64)


def is_open(calendar: str, ts: np.ndarray) -> np.ndarray:
    """True where the market of ``calendar`` is open at each instant of ``ts`` (ns UTC)."""
    return session_of(calendar, ts) != -1


def open_ns(calendar: str, start_ns: int, end_ns: int) -> int:
    """Nanoseconds of ``[start_ns, end_ns)`` during which a market on ``calendar`` is open."""
    if end_ns <= start_ns:
        return 0
    calendar = check_calendar(calendar)
    if calendar == ALWAYS:
        return end_ns - start_ns
    if calendar == WEEKDAYS:
        return _weekday_open_ns(start_ns, end_ns)
    _, opens, closes = session_table(calendar, start_ns - 2 * DAY_NS, end_ns + 2 * DAY_NS)
    overlap = np.minimum(closes, end_ns) - np.maximum(opens, start_ns)
    return int(np.clip(overlap, 0, None).sum())


def _weekday_open_ns(start_ns: int, end_ns: int) -> int:
    def weekday(day: int) -> bool:
        return (day + 3) % 7 < 5

    d0, d1 = start_ns // DAY_NS, end_ns // DAY_NS
    if d0 == d1:
        return end_ns - start_ns if weekday(d0) else 0
    total = ((d0 + 1) * DAY_NS - start_ns if weekday(d0) else 0) + (end_ns - d1 * DAY_NS if weekday(d1) else 0)
    weeks, rest = divmod(d1 - d0 - 1, 7)  # the whole days between: five open days a week, then the rest
    total += (weeks * 5 + sum(weekday(d0 + 1 + i) for i in range(rest))) * DAY_NS
    return total


def session_bar_opens(calendar: str, step_ns: int, start_ns: int, end_ns: int) -> np.ndarray:
    """Open times of the intraday bars (UTC buckets of ``step_ns`` counted from the epoch) that overlap a
    session of ``calendar`` whose date is in ``[start_ns, end_ns)``, sorted and unique. An early close
    shortens its session: no bar opens at or after the close."""
    _, opens, closes = session_table(calendar, start_ns, end_ns)
    if len(opens) == 0:
        return np.empty(0, dtype=np.int64)
    first = opens // step_ns * step_ns
    counts = (closes - 1) // step_ns - opens // step_ns + 1
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.unique(np.repeat(first, counts) + offsets * step_ns)


# --- periods per year -------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def periods_per_year(calendar: str, timeframe: str) -> float:
    """Mean bars of ``timeframe`` per year under ``calendar`` (see the module docstring for the rules)."""
    calendar = check_calendar(calendar)
    months = calendar_months(timeframe)
    if months is not None:
        return 12.0 / months
    step = timeframe_ns(timeframe)
    n = int(timeframe[:-1])
    if timeframe.endswith("w"):
        return DAYS_PER_YEAR / 7 / n
    if timeframe.endswith("d"):
        return _sessions_per_year(calendar) / n
    if calendar == ALWAYS:
        return DAYS_PER_YEAR * DAY_NS / step
    if calendar == WEEKDAYS:
        return DAYS_PER_YEAR * 5 / 7 * DAY_NS / step
    lo, hi = _reference_span()
    _, opens, closes = session_table(calendar, lo, hi)
    bars = int(((closes - 1) // step - opens // step + 1).sum())
    return bars / (REFERENCE_YEARS[1] - REFERENCE_YEARS[0] + 1)


def _sessions_per_year(calendar: str) -> float:
    if calendar == ALWAYS:
        return DAYS_PER_YEAR
    if calendar == WEEKDAYS:
        return DAYS_PER_YEAR * 5 / 7
    lo, hi = _reference_span()
    return len(sessions(calendar, lo, hi)) / (REFERENCE_YEARS[1] - REFERENCE_YEARS[0] + 1)


def _reference_span() -> tuple[int, int]:
    return _ns(f"{REFERENCE_YEARS[0]}-01-01"), _ns(f"{REFERENCE_YEARS[1] + 1}-01-01")


def _ns(value: int | str) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    return int(np.datetime64(str(value), "ns").astype(np.int64))


# --- the bar time model -----------------------------------------------------------------------------


def session_stamps(ts: np.ndarray, timeframe: str, calendar: str) -> np.ndarray:
    """The bar time model's stamps for daily and longer bars stamped ``ts``: a stamp at 00:00 UTC stays;
    any other is read as an instant of the session's day and becomes 00:00 UTC of its date in the
    calendar's zone (``America/New_York`` for XNYS: 04:00/05:00 UTC, local midnight, and 13:30 UTC, the
    open, both give that day); then weekly and calendar timeframes go to their period's stamp. Intraday
    timeframes are returned as they are."""
    from nautilus.core.timeframe import is_session_timeframe, period_floor

    ts = np.asarray(ts, dtype=np.int64)
    if not is_session_timeframe(timeframe):
        return ts
    off = ts % DAY_NS != 0
    days = ts.copy()
    if off.any():
        zone = calendar_zone(calendar)
        if zone == "UTC":
            days[off] = ts[off] // DAY_NS * DAY_NS
        else:
            import pandas as pd

            local = pd.DatetimeIndex(pd.to_datetime(ts[off], unit="ns", utc=True)).tz_convert(zone)
            days[off] = local.tz_localize(None).floor("D").as_unit("ns").asi8
    return period_floor(days, timeframe)
