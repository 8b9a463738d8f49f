"""Bar reads with a warm-up: the requested range plus the bars its indicators and features read before it.

Every consumer of indicators and features (the Features engine, the Strategy engine's indicators, backtests
and sweeps, the ML engine's feature frames) reads through :func:`read_warm`, computes over the whole block and
returns only the requested rows, so a value at time t is the same whatever range was asked for (see
docs/conventions.md, "Values independent of the requested range").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus.core.bars import Bars, concat_bars
from nautilus.storage.bars import read_bars

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog


def read_warm(catalog: BarCatalog, symbol: str, timeframe: str, start_ns: int | None, end_ns: int | None,
              limit: int | None, warmup: int | None, *, max_bars: int | None = None) -> tuple[Bars, int]:
    """``(bars, skip)``: the bars of the query (``read_bars``' ``[start_ns, end_ns)``, last ``limit``) preceded
    by up to ``warmup`` stored bars before its first one (``None``: all of them); ``skip`` is how many were
    prepended. Fewer are prepended where the history is shorter: values there equal the full-history ones."""
    bars = read_bars(catalog, symbol, timeframe, start_ns, end_ns, limit, max_bars=max_bars)
    if len(bars) == 0 or warmup == 0:
        return bars, 0
    before = read_bars(catalog, symbol, timeframe, None, int(bars.ts[0]), warmup, max_bars=max_bars)
    if len(before) == 0:
        return bars, 0
    return concat_bars([before, bars], bars.symbol, bars.timeframe), len(before)
