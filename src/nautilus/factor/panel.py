"""Panel: bars of many symbols aligned on one date axis, as wide ``(dates x symbols)`` matrices.

Daily and longer bars are stamped by session date (the bar time model, ``docs/conventions.md``), so the
same session of two symbols has one stamp whatever zone each was imported in. The date axis of
:func:`load_panel` is the intersection of the symbols' sessions (the dates every symbol has a bar on);
:meth:`Panel.from_bars` takes ``align="union"`` for the sorted union, with NaN where a symbol has no bar. :func:`load_panel` reads through a reader the caller passes in: the
factor package itself reads no storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput, NotFound

MAX_SYMBOLS = 2_000
MAX_CELLS = 5_000_000  # dates x symbols per panel (5 float64 columns: 200 MB)

BarReader = Callable[[str], Bars]  # a symbol's bars (catalog name in, bars out)


@dataclass(frozen=True, eq=False)
class Panel:
    """Aligned bar matrices; ``ts`` are bar open times (int64 ns UTC), ``symbols`` the column order."""

    ts: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe: str = "1d"

    def __post_init__(self) -> None:
        shape = (self.ts.shape[0], len(self.symbols))
        for name in COLUMNS:
            if getattr(self, name).shape != shape:
                raise InvalidInput(f"panel column {name} has shape {getattr(self, name).shape}, expected {shape}",
                                   field=name)

    @property
    def shape(self) -> tuple[int, int]:
        return self.ts.shape[0], len(self.symbols)

    def column(self, name: str) -> np.ndarray:
        """One of open, high, low, close, volume, or ``returns`` (close-to-close simple returns)."""
        if name == "returns":
            return simple_returns(self.close)
        if name not in COLUMNS:
            raise InvalidInput(f"unknown panel column {name!r}; columns: {', '.join(COLUMNS)}, returns", field=name)
        return getattr(self, name)

    def index_of(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise InvalidInput(f"symbol {symbol!r} is not in the panel ({', '.join(self.symbols)})",
                               field="symbols") from None

    def take(self, rows: np.ndarray) -> Panel:
        """The panel restricted to the given date rows (an index array or boolean mask)."""
        return Panel(self.ts[rows], self.symbols, *(getattr(self, c)[rows] for c in COLUMNS),
                     timeframe=self.timeframe)

    @classmethod
    def from_bars(cls, bars: dict[str, Bars], align: str = "union") -> Panel:
        """Align several symbols' bars on the ``union`` of their timestamps (NaN where a symbol has no bar) or
        their ``intersection`` (the sessions they all have)."""
        if not bars:
            raise InvalidInput("give at least one symbol", field="symbols")
        symbols = tuple(bars)
        timeframes = {b.timeframe for b in bars.values()}
        if len(timeframes) > 1:
            raise InvalidInput(f"bars have different timeframes: {', '.join(sorted(timeframes))}", field="timeframe")
        if align not in ("union", "intersection"):
            raise InvalidInput(f"align {align!r} is not valid: use union or intersection", field="align")
        ts = np.unique(np.concatenate([np.asarray(b.ts, dtype=np.int64) for b in bars.values()]))
        if align == "intersection":
            for b in bars.values():
                ts = ts[np.isin(ts, np.asarray(b.ts, dtype=np.int64))]
        if ts.shape[0] * len(symbols) > MAX_CELLS:
            raise InvalidInput(f"the panel would hold {ts.shape[0] * len(symbols):,} cells (max {MAX_CELLS:,}); "
                               "narrow the range or the symbols", field="symbols")
        mats = {c: np.full((ts.shape[0], len(symbols)), np.nan) for c in COLUMNS}
        for j, b in enumerate(bars.values()):
            mine = np.isin(b.ts, ts)
            rows = np.searchsorted(ts, b.ts[mine])
            for c in COLUMNS:
                mats[c][rows, j] = getattr(b, c)[mine]
        return cls(ts=ts, symbols=symbols, timeframe=timeframes.pop(), **mats)


def simple_returns(close: np.ndarray) -> np.ndarray:
    """``close[t] / close[t-1] - 1`` per column; NaN in the first row and next to a missing close."""
    out = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = close[1:] / close[:-1] - 1.0
    out[~np.isfinite(out)] = np.nan
    return out


def load_panel(read: BarReader, symbols: Iterable[str], timeframe: str = "1d", *,
               align: str = "intersection") -> Panel:
    """Each symbol's bars, from ``read(symbol)``, aligned on the intersection of their sessions
    (``align="union"``: every date, NaN where a symbol has none).

    ``symbols`` are catalog names (the caller normalised them); duplicates are read once. ``read`` is the
    caller's bar reader (the Factor engine reads the catalog, with its range and caps): a NotFound it raises
    naming ``symbol``, or an empty read, becomes a NotFound naming ``symbols``.
    """
    names = list(dict.fromkeys(symbols))
    if not names:
        raise InvalidInput("give at least one symbol", field="symbols")
    if len(names) > MAX_SYMBOLS:
        raise InvalidInput(f"at most {MAX_SYMBOLS} symbols per panel", field="symbols")
    loaded: dict[str, Bars] = {}
    for name in names:
        try:
            bars = read(name)
        except NotFound as exc:
            raise NotFound(exc.message, field="symbols" if exc.field == "symbol" else exc.field) from None
        if len(bars) == 0:
            raise NotFound(f"no {timeframe} bars for {name!r} in the requested range", field="symbols")
        loaded[name] = bars
    return Panel.from_bars(loaded, align=align)
