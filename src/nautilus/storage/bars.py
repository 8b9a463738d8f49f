"""The bar read path: range queries against the catalog, resampled on the fly from a finer stored timeframe.

Every engine that reads bars (MarketData's ``bars`` handler, Strategy, Risk, Features, ...) reads them here,
so every engine answers the same question with the same bars.

Symbols and timeframes are checked once, where a request enters an engine: the handler passes the symbol
through :func:`~nautilus.core.bounds.normalize_symbol` and the timeframe through
:func:`~nautilus.core.timeframe.validate_timeframe` (or ``timeframe_ns``), so the 4xx names the request's
field, and :func:`read_bars` and :func:`bars_extent` take those values as they are (the catalog below keeps
only its guard on the names it turns into paths, checked once per name and cached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nautilus.core.admission import admit
from nautilus.core.bars import Bars
from nautilus.core.calendars import calendar_for
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.timeframe import timeframe_ns

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog

MAX_LIMIT = 5_000_000
_INT64_MIN = -(2**63)
_INT64_END = 2**63  # one past the largest int64 timestamp


def read_bars(catalog: BarCatalog, symbol: str, timeframe: str, start_ns: int | None = None,
              end_ns: int | None = None, limit: int | None = None, *, max_bars: int | None = None) -> Bars:
    """Bars of ``symbol`` in [start_ns, end_ns), the last ``limit`` of them when given. ``symbol`` is
    :func:`~nautilus.core.bounds.normalize_symbol`'s result and ``timeframe`` a valid one (the handler checked both).

    ``max_bars`` (engines pass ``settings.max_bars_per_request``) bounds the stored bars the query may
    decode, resampled ones included: a range that may hold more is refused (422 naming ``start``) before
    anything is read, except that the last ``limit`` bars of it are read from the widest window under the
    cap when that window holds them. The bound costs no I/O unless the range could hold more than
    ``max_bars`` bars of the stored timeframe; then it reads the series' Parquet footers.
    """
    target_ns = timeframe_ns(timeframe)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise InvalidInput("end must be after start", field="end")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    stored = catalog.timeframes(symbol)
    if not stored:
        raise NotFound(f"no bars for symbol {symbol!r}", field="symbol")
    if timeframe in stored:
        source_tf = timeframe

        def read(start: int | None) -> Bars:
            return catalog.read(symbol, timeframe, start, end_ns)
    else:
        from nautilus.marketdata import resample  # numba kernels: loaded by the first resampled read

        finer = sorted((timeframe_ns(tf), tf) for tf in stored
                       if timeframe_ns(tf) < target_ns and resample.resample_problem(tf, timeframe) is None)
        if not finer:
            raise NotFound(f"no {timeframe} bars for {symbol!r} (stored: {', '.join(stored)})",
                           field="timeframe")
        source_tf = finer[-1][1]  # the coarsest stored timeframe that divides the request

        def read(start: int | None) -> Bars:
            start = None if start is None else resample.bucket_start(start, timeframe)
            return resample.resample(catalog.read(symbol, source_tf, start, end_ns), timeframe,
                                     calendar=calendar_for(symbol))
    if max_bars is None:
        bars = read(start_ns)
    else:
        bars = _bounded_read(catalog, read, symbol, source_tf, timeframe, start_ns, end_ns, limit, max_bars)
    if limit is not None and len(bars) > limit:
        bars = bars.slice(len(bars) - limit, len(bars))
    return bars


def bars_extent(catalog: BarCatalog, symbol: str, timeframe: str, start_ns: int | None = None,
                end_ns: int | None = None, limit: int | None = None, *, footers: bool = True) -> tuple[int, int, int]:
    """``(n, lo, hi)``: at most ``n`` bars, all in ``[lo, hi)``, answer this :func:`read_bars` query; nothing
    decoded. Without ``footers`` no I/O at all (the range alone bounds it); with them the stored series'
    Parquet footers tighten the bound. A series that is not stored gives ``(0, lo, hi)``: the read says why.
    Admission control sums these over a request's symbols before it reads any of them. ``symbol`` and
    ``timeframe`` as for :func:`read_bars`."""
    step = timeframe_ns(timeframe)
    lo = _INT64_MIN if start_ns is None else int(start_ns)
    hi = _INT64_END if end_ns is None else int(end_ns)
    n = _slots(lo, hi, step)
    if footers and not (limit is not None and limit < n):  # else the limit bounds it already
        try:
            stored = catalog.timeframes(symbol)
            sources = [tf for tf in stored if tf == timeframe] or sorted(
                (tf for tf in stored if timeframe_ns(tf) < step), key=timeframe_ns)[-1:]
            if not sources:
                return 0, lo, hi
            extent = catalog.stats(symbol, sources[0])
        except (NotFound, InvalidInput):
            return 0, lo, hi
        lo, hi = max(lo, extent.first_ts - step), min(hi, extent.last_ts + step)  # resampled bars: whole buckets
        n = min(extent.rows, _slots(lo, hi, step))
    return (n if limit is None else min(n, limit)), lo, hi


def _slots(lo: int, hi: int, step_ns: int) -> int:
    """Most bars ``step_ns`` apart that ``[lo, hi)`` can hold (Python ints: no overflow)."""
    return 0 if hi <= lo else (hi - lo - 1) // step_ns + 1


def _bounded_read(catalog: BarCatalog, read: Callable[[int | None], Bars], symbol: str, source_tf: str,
                  timeframe: str, start_ns: int | None, end_ns: int | None, limit: int | None,
                  max_bars: int) -> Bars:
    """``read(start_ns)`` once the stored bars it decodes are known to be at most ``max_bars``."""
    step = timeframe_ns(source_tf)
    lo = _INT64_MIN if start_ns is None else int(start_ns)
    hi = _INT64_END if end_ns is None else int(end_ns)
    if _slots(lo, hi, step) <= max_bars:  # daily and longer bars always: no I/O
        return read(start_ns)
    extent = catalog.stats(symbol, source_tf)  # Parquet footers only
    lo, hi = max(lo, extent.first_ts), min(hi, extent.last_ts + 1)
    stored = min(extent.rows, _slots(lo, hi, step))
    if stored <= max_bars:
        return read(start_ns)
    if limit is not None:  # the last `limit` bars: the widest window ending at the last bar under the cap
        window = hi - max_bars * step
        if source_tf != timeframe:  # whole buckets only: start at the first bucket inside the window
            from nautilus.marketdata.resample import bucket_start

            bucket = bucket_start(window, timeframe)
            if bucket < window:
                window = bucket_start(bucket + timeframe_ns(timeframe) * 3 // 2, timeframe)
        bars = read(window)
        if len(bars) >= limit:
            return bars
    admit(stored, max_bars, "start", "max_bars_per_request",
          f"{source_tf} bars of {symbol} in the requested range")
    return read(start_ns)  # not reached: admit refuses
