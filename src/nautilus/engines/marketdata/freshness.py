"""Data freshness by the instrument's calendar: how long its market has been OPEN since the newest stored bar
closed (``nautilus_data_open_age_seconds``, the DataStale alert's input).

Calendars are the sessions the code models (see ``synthetic.bar_times``): ``24x7`` for crypto (the
instrument's ``asset_class``, or a crypto-looking symbol when it has none) and ``weekdays`` (Monday..Friday,
UTC days) for everything else. Exchange holidays are not modelled: the alert's threshold absorbs them.
Only series a source keeps up to date (fetched before: what ``update`` refreshes) are measured; sample,
generated and imported series are history that nobody promised to extend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from nautilus.core.timeframe import close_times

DAY_NS = 86_400 * 10**9
CALENDARS = ("24x7", "weekdays")


def calendar_of(symbol: str, asset_class: str | None) -> str:
    from nautilus.engines.marketdata.synthetic import _kind

    if asset_class:
        return "24x7" if asset_class.lower() == "crypto" else "weekdays"
    return "24x7" if _kind(symbol) == "crypto" else "weekdays"


def _weekday(day: int) -> bool:
    return (day + 3) % 7 < 5  # day 0 (1970-01-01) was a Thursday


def open_ns(calendar: str, start_ns: int, end_ns: int) -> int:
    """Nanoseconds of ``[start_ns, end_ns)`` during which a market on ``calendar`` is open."""
    if end_ns <= start_ns:
        return 0
    if calendar == "24x7":
        return end_ns - start_ns
    if calendar != "weekdays":
        raise ValueError(f"unknown calendar {calendar!r}")
    d0, d1 = start_ns // DAY_NS, end_ns // DAY_NS
    if d0 == d1:
        return end_ns - start_ns if _weekday(d0) else 0
    total = ((d0 + 1) * DAY_NS - start_ns if _weekday(d0) else 0) + (end_ns - d1 * DAY_NS if _weekday(d1) else 0)
    weeks, rest = divmod(d1 - d0 - 1, 7)  # the whole days between: five open days a week, then the rest
    total += (weeks * 5 + sum(_weekday(d0 + 1 + i) for i in range(rest))) * DAY_NS
    return total


def open_ages(instruments: Iterable[Mapping[str, Any]], targets: Iterable[Mapping[str, Any]],
              now_ns: int) -> list[tuple[str, str, str, float]]:
    """``(symbol, timeframe, calendar, open seconds since the newest bar closed)`` of every series in
    ``targets`` (the fetched ones) that ``instruments`` (``Database.list_instruments``) holds."""
    wanted = {(t["symbol"], t["timeframe"]) for t in targets}
    out = []
    for instrument in instruments:
        calendar = calendar_of(instrument["symbol"], instrument.get("asset_class"))
        for series in instrument["series"]:
            if (instrument["symbol"], series["timeframe"]) not in wanted:
                continue
            closed = int(close_times(np.array([series["last_ts"]], dtype=np.int64), series["timeframe"])[0])
            age = open_ns(calendar, closed, now_ns) / 1e9
            out.append((instrument["symbol"], series["timeframe"], calendar, age))
    return out
