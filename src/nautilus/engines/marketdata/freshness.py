"""Data freshness by the instrument's calendar: how long its market has been OPEN since the newest stored bar
closed (``nautilus_data_open_age_seconds``, the DataStale alert's input).

The calendars are the rule calendars of :mod:`nautilus.core.calendars` under their older labels: ``24x7``
(``24/7``) for crypto (the instrument's ``asset_class``, or a crypto-looking symbol when it has none) and
``weekdays`` (``24/5``: Monday..Friday, UTC days) for everything else. Exchange holidays and hours are not
counted here: the alert's threshold (open seconds) absorbs them.
Only series a source keeps up to date (fetched before: what ``update`` refreshes) are measured; sample,
generated and imported series are history that nobody promised to extend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from nautilus.core.calendars import calendar_for
from nautilus.core.calendars import open_ns as calendar_open_ns
from nautilus.core.timeframe import close_times

DAY_NS = 86_400 * 10**9
CALENDARS = ("24x7", "weekdays")


def calendar_of(symbol: str, asset_class: str | None) -> str:
    """``24x7`` when the instrument trades on the ``24/7`` calendar, else ``weekdays``."""
    return "24x7" if calendar_for(symbol, asset_class) == "24/7" else "weekdays"


def open_ns(calendar: str, start_ns: int, end_ns: int) -> int:
    """Nanoseconds of ``[start_ns, end_ns)`` during which a market on ``calendar`` is open."""
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}")
    return calendar_open_ns(calendar, start_ns, end_ns)


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
