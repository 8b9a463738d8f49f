"""Bar range queries against the catalog, with on-the-fly resampling from a finer stored timeframe.

Shared by the MarketData engine's ``bars`` handler and by engines that read the catalog directly
(Strategy, Risk, ...), so every engine answers the same question with the same bars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.timeframe import timeframe_ns

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog

MAX_LIMIT = 5_000_000


def normalize_symbol(symbol: str) -> str:
    text = (symbol or "").strip().upper()
    if not text or len(text) > 32 or not all(ch.isalnum() or ch in "._-^=" for ch in text):
        raise InvalidInput(f"symbol {symbol!r} is not valid (1-32 letters, digits or ._-^=)", field="symbol")
    return text


def read_bars(catalog: BarCatalog, symbol: str, timeframe: str, start_ns: int | None = None,
              end_ns: int | None = None, limit: int | None = None) -> Bars:
    """Bars of ``symbol`` in [start_ns, end_ns), the last ``limit`` of them when given."""
    symbol = normalize_symbol(symbol)
    target_ns = timeframe_ns(timeframe)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise InvalidInput("end must be after start", field="end")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    stored = catalog.timeframes(symbol)
    if not stored:
        raise NotFound(f"no bars for symbol {symbol!r}", field="symbol")
    if timeframe in stored:
        bars = catalog.read(symbol, timeframe, start_ns, end_ns)
    else:
        from nautilus.engines.marketdata import resample  # numba kernels: loaded by the first resampled read

        finer = sorted((timeframe_ns(tf), tf) for tf in stored
                       if timeframe_ns(tf) < target_ns and resample.resample_problem(tf, timeframe) is None)
        if not finer:
            raise NotFound(f"no {timeframe} bars for {symbol!r} (stored: {', '.join(stored)})",
                           field="timeframe")
        source_tf = finer[-1][1]  # the coarsest stored timeframe that divides the request
        start = None if start_ns is None else resample.bucket_start(start_ns, timeframe)
        bars = resample.resample(catalog.read(symbol, source_tf, start, end_ns), timeframe)
    if limit is not None and len(bars) > limit:
        bars = bars.slice(len(bars) - limit, len(bars))
    return bars
