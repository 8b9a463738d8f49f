"""One-off migration of a bar catalog to the bar time model (daily and longer bars at 00:00 UTC of their
session date; weekly bars at the Monday of their trading week).

Catalogs written before the model hold daily series ingested with a zone (``--tz America/New_York`` stamped
them 04:00/05:00 UTC) and ``1w`` series of 7-day blocks counted from the epoch (Thursday starts). The
migration rewrites every daily-or-longer series that has a stamp off the model:

- a stamp off 00:00 UTC goes to its date in the instrument's calendar zone
  (:func:`nautilus.core.calendars.session_stamps`); when that date already has a bar stamped 00:00 UTC, the
  00:00 one is kept and the shifted one dropped (both describe one session);
- a ``<n>w`` series whose bars do not start on Mondays is rebuilt from the symbol's stored ``1d`` series
  when there is one (old weeks mix two trading weeks: relabelling them would not make them trading weeks),
  else relabelled to the Monday of the week each bar opened in.

It runs once per catalog: a marker file ``.bar-time-v1`` at the catalog root records that it ran, and a
second run over a migrated catalog changes nothing anyway (idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.calendars import calendar_for, session_stamps
from nautilus.core.errors import NotFound
from nautilus.core.timeframe import is_session_timeframe, period_floor, week_count

log = logging.getLogger("nautilus.storage.bar_time")
MARKER = ".bar-time-v1"


def normalize_bars(bars: Bars, calendar: str) -> tuple[Bars, int]:
    """``bars`` restamped by the bar time model and the number of bars dropped as duplicates of a session."""
    new_ts = session_stamps(bars.ts, bars.timeframe, calendar)
    if np.array_equal(new_ts, bars.ts):
        return bars, 0
    canonical = new_ts == bars.ts
    order = np.lexsort((~canonical, new_ts))  # by new stamp, the bar already on the model first
    ts = new_ts[order]
    first = np.ones(len(ts), dtype=bool)
    first[1:] = ts[1:] != ts[:-1]
    keep = order[first]
    out = Bars(symbol=bars.symbol, timeframe=bars.timeframe, ts=np.ascontiguousarray(new_ts[keep]),
               **{c: np.ascontiguousarray(getattr(bars, c)[keep]) for c in COLUMNS})
    return out, len(bars) - len(out)


def off_model(bars: Bars) -> bool:
    """True when a daily-or-longer series holds a stamp that the bar time model would move."""
    if not is_session_timeframe(bars.timeframe) or len(bars) == 0:
        return False
    return not np.array_equal(period_floor(bars.ts, bars.timeframe), bars.ts) or bool(np.any(bars.ts % 86_400_000_000_000))


def migrate_catalog(catalog, root: Path, calendar_of: Callable[[str], str] = calendar_for,
                    write: Callable[[Bars], object] | None = None, force: bool = False,
                    resample: Callable[[Bars, str], Bars] | None = None) -> list[tuple[str, str, int, int]]:
    """Migrate every off-model series of ``catalog`` once; returns ``(symbol, timeframe, rows, dropped)`` of
    each rewritten series. ``write`` stores a rewritten series whole (default ``catalog.write(bars, "series")``; the
    MarketData engine passes its own, which keeps the SQL mirror in step); ``resample`` (bars, timeframe)
    rebuilds weekly series from daily ones (without it they are relabelled)."""
    marker = Path(root) / MARKER
    if marker.exists() and not force:
        return []
    store = write or (lambda bars: catalog.write(bars, mode="series"))
    changed: list[tuple[str, str, int, int]] = []
    for symbol in catalog.symbols():
        timeframes = catalog.timeframes(symbol)
        calendar = calendar_of(symbol)
        for timeframe in sorted(timeframes, key=lambda tf: week_count(tf) is not None):  # days before weeks
            if not is_session_timeframe(timeframe):
                continue
            try:
                bars = catalog.read(symbol, timeframe)
            except NotFound:
                continue
            if not off_model(bars):
                continue
            weeks = week_count(timeframe)
            if weeks is not None and "1d" in timeframes and resample is not None:
                fixed, dropped = resample(catalog.read(symbol, "1d"), timeframe), 0
            else:
                fixed, dropped = normalize_bars(bars, calendar)
            store(fixed)
            changed.append((symbol, timeframe, len(fixed), dropped))
            log.warning("bar time model: %s %s restamped (%d bars, %d duplicate sessions dropped)", symbol,
                        timeframe, len(fixed), dropped)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return changed
