"""Universe scanner: N symbols x M candlestick patterns, chart patterns and indicator conditions.

A :class:`UniverseScanner` keeps each symbol's bars in padded columns, the candlestick kernels'
and streaming indicators' resumable states, and the last ``within`` pattern values. A full scan
runs one numba kernel parallel over symbols; when bars are appended only the new tail is computed,
from the kept states, so an incremental update equals a full recompute over the same bars bit for
bit. Conditions on indicators outside :mod:`nautilus.strategy.streaming` (any TA-Lib indicator) are
recomputed for the symbols that changed, over their kept bars: same answer, just not O(new bars).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.strategy import candles, chart, indicators, streaming
from nautilus.strategy.candles import kernel as candle_kernel

OPS = ("<", "<=", ">", ">=", "crosses_above", "crosses_below")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
MAX_WITHIN = 500
MAX_HISTORY = 1_000_000


# Specs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """One operand of a condition: a streaming kernel or a TA-Lib indicator column."""

    label: str
    kind: int = -1  # streaming kind, -1 for a TA-Lib indicator
    period: int = 0
    column: str = "close"  # input column of a streaming kernel
    spec: Any = None  # indicators.IndicatorSpec when kind == -1
    output: str = ""  # TA-Lib output column


@dataclass(frozen=True)
class ConditionSpec:
    label: str
    left: Series
    op: str
    value: float | None
    right: Series | None


@dataclass(frozen=True)
class ScanSpec:
    patterns: tuple[str, ...]
    chart: tuple[str, ...]
    conditions: tuple[ConditionSpec, ...]
    within: int
    history: int

    @classmethod
    def build(cls, patterns: Sequence[str] = (), chart_kinds: Sequence[str] = (),
              conditions: Sequence[dict[str, Any]] = (), within: int = 1, history: int = 500) -> ScanSpec:
        if not 1 <= within <= MAX_WITHIN:
            raise InvalidInput(f"within must be between 1 and {MAX_WITHIN} bars", field="within")
        if not 2 <= history <= MAX_HISTORY:
            raise InvalidInput(f"history must be between 2 and {MAX_HISTORY} bars", field="history")
        names = tuple(candles.resolve_names(list(patterns))) if patterns else ()
        kinds = tuple(dict.fromkeys(_chart_kind(k) for k in chart_kinds))
        conds = tuple(_condition(c, i) for i, c in enumerate(conditions))
        if not names and not kinds and not conds:
            raise InvalidInput("give at least one pattern, chart pattern or condition", field="patterns")
        return cls(names, kinds, conds, within, history)

    @property
    def streaming_series(self) -> list[Series]:
        out: list[Series] = []
        for cond in self.conditions:
            for s in (cond.left, cond.right):
                if s is not None and s.kind >= 0 and s not in out:
                    out.append(s)
        return out

    @property
    def talib_series(self) -> list[Series]:
        out: list[Series] = []
        for cond in self.conditions:
            for s in (cond.left, cond.right):
                if s is not None and s.kind < 0 and s not in out:
                    out.append(s)
        return out


def _chart_kind(kind: str) -> str:
    name = kind.strip().lower()
    if name not in chart.CHART_PATTERN_KINDS:
        raise InvalidInput(f"unknown chart pattern {kind!r} ({', '.join(chart.CHART_PATTERN_KINDS)})", field="chart")
    return name


def _series(raw: Any, field_name: str) -> Series:
    if isinstance(raw, str) and raw.strip().lower() in PRICE_COLUMNS:
        col = raw.strip().lower()
        return Series(label=col, kind=streaming.PRICE, period=1, column=col)
    output = None
    if isinstance(raw, dict) and "output" in raw:
        raw = dict(raw)
        output = raw.pop("output")
    try:
        spec = indicators.parse_spec(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"{field_name}: {exc.message}", field=field_name) from None
    params = dict(spec.params)
    column = params.pop("input", "close") or "close"
    if spec.name == "stddev" and params.get("nbdev") == 1.0:
        params.pop("nbdev")  # the streaming kernel is TA-Lib's STDDEV with nbdev 1
    period = params.get("timeperiod")
    simple = spec.name in streaming.KINDS and set(params) <= {"timeperiod"} and output is None
    if simple and column in PRICE_COLUMNS and period is not None:
        if spec.name == "atr" and column != "close":
            simple = False
        if simple:
            return Series(label=spec.key, kind=streaming.KINDS[spec.name], period=int(period), column=column)
    outputs = indicators.output_columns(spec)
    if output is None:
        chosen = outputs[0]
    else:
        matches = [c for c in outputs if c == output or c.endswith(f".{output}")]
        if not matches:
            raise InvalidInput(f"{field_name}: {spec.name} has no output {output!r} ({', '.join(outputs)})",
                               field=field_name)
        chosen = matches[0]
    return Series(label=chosen, spec=spec, output=chosen)


def _condition(raw: dict[str, Any], i: int) -> ConditionSpec:
    op = raw.get("op")
    if op not in OPS:
        raise InvalidInput(f"conditions[{i}].op must be one of {', '.join(OPS)}", field=f"conditions[{i}].op")
    left = _series(raw.get("indicator"), f"conditions[{i}].indicator")
    value, other = raw.get("value"), raw.get("other")
    if (value is None) == (other is None):
        raise InvalidInput("give exactly one of value or other", field=f"conditions[{i}].value")
    right = None if other is None else _series(other, f"conditions[{i}].other")
    if value is not None and not np.isfinite(value):
        raise InvalidInput("value must be finite", field=f"conditions[{i}].value")
    label = f"{left.label} {op} {value if right is None else right.label}"
    return ConditionSpec(label, left, op, None if value is None else float(value), right)


# Kernel ----------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def _scan_kernel(o, h, l, c, v, lengths, starts, pids, params, pstates, recent,
                 kinds, periods, cols, sstates, last2):
    """Run every pattern and streaming indicator from ``starts[s]`` to ``lengths[s]``, parallel over symbols.

    recent[s, p, :] keeps the last ``within`` values of pattern p (oldest first); last2[s, k, :]
    the last two values of streaming series k (NaN where not yet defined).
    """
    n_sym = lengths.shape[0]
    within = recent.shape[2]
    for s in prange(n_sym):
        n = lengths[s]
        start = starts[s]
        if n <= start:
            continue
        os_, hs, ls, cs, vs = o[s, :n], h[s, :n], l[s, :n], c[s, :n], v[s, :n]
        new = n - start
        lo = max(start, n - within)
        scratch = np.zeros(n, dtype=np.int32)
        for p in range(pids.shape[0]):
            scratch[lo:n] = 0
            candle_kernel.run_one(pids[p], os_, hs, ls, cs, params[p], scratch, pstates[s, p], start)
            keep = within - new if new < within else 0
            for j in range(keep):
                recent[s, p, j] = recent[s, p, j + new]
            for j in range(keep, within):
                recent[s, p, j] = scratch[n - within + j] if n - within + j >= 0 else 0
        fscratch = np.empty(n, dtype=np.float64)
        for k in range(kinds.shape[0]):
            col = cols[k]
            x = cs if col == 3 else (os_ if col == 0 else (hs if col == 1 else (ls if col == 2 else vs)))
            fscratch[start:n] = np.nan
            streaming.stream(kinds[k], x, hs, ls, cs, periods[k], fscratch, sstates[s, k], start)
            last2[s, k, 0] = fscratch[n - 2] if new >= 2 else last2[s, k, 1]
            last2[s, k, 1] = fscratch[n - 1]


candle_kernel.bind_cache_to_candles(_scan_kernel, extra=(Path(streaming.__file__),))


# Scanner ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SymbolScan:
    """One symbol's scan at its last bar: pattern hits, chart patterns, condition outcomes and the values
    they compared (None: not enough history for the indicator yet)."""

    symbol: str
    ts: int
    close: float
    patterns: dict[str, int]  # pattern -> value of its latest hit within the window
    chart: list[str]
    conditions: dict[str, bool]
    values: dict[str, float | None]
    matched: bool


@dataclass
class ScanResult:
    rows: list[SymbolScan]
    mode: str


@dataclass
class UniverseScanner:
    spec: ScanSpec
    symbols: list[str]
    capacity: int = 0
    lengths: np.ndarray = field(default=None)  # type: ignore[assignment]
    ts: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.index = {s: i for i, s in enumerate(self.symbols)}
        names = list(candles.PATTERN_NAMES)
        self.pids = np.array([names.index(p) for p in self.spec.patterns], dtype=np.int64)
        self.params = candle_kernel.DEFAULT_PARAMS[self.pids].copy()
        self.stream = self.spec.streaming_series
        self.kinds = np.array([s.kind for s in self.stream], dtype=np.int64)
        self.periods = np.array([s.period for s in self.stream], dtype=np.int64)
        self.cols = np.array([PRICE_COLUMNS.index(s.column) for s in self.stream], dtype=np.int64)
        self.talib_values: dict[tuple[str, str], tuple[float, float]] = {}
        self.chart_hits: dict[str, list[str]] = {}

    # Layout --------------------------------------------------------------------------------------
    def _allocate(self, capacity: int) -> None:
        n_sym = len(self.symbols)
        old = None if self.capacity == 0 else (self.o, self.h, self.l, self.c, self.v, self.ts)
        self.o, self.h, self.l, self.c, self.v = (np.zeros((n_sym, capacity)) for _ in range(5))
        ts = np.zeros((n_sym, capacity), dtype=np.int64)
        if old is not None:
            for new_arr, old_arr in zip((self.o, self.h, self.l, self.c, self.v, ts), old, strict=True):
                new_arr[:, : self.capacity] = old_arr
        self.ts = ts
        self.capacity = capacity

    def load(self, bars: dict[str, Bars]) -> None:
        """Full computation over the given bars of every symbol."""
        n_sym = len(self.symbols)
        self.lengths = np.zeros(n_sym, dtype=np.int64)
        self.capacity = 0
        longest = max((len(bars.get(s, ())) for s in self.symbols), default=0)
        self._allocate(max(16, int(longest * 1.25) + 16))
        for s, i in self.index.items():
            b = bars.get(s)
            if b is not None and len(b):
                self._put(i, 0, b)
        self.pstates = np.zeros((n_sym, len(self.pids), candle_kernel.MAX_STATE), dtype=np.float64)
        self.recent = np.zeros((n_sym, len(self.pids), self.spec.within), dtype=np.int32)
        self.sstates = np.zeros((n_sym, len(self.stream), streaming.STATE_SIZE), dtype=np.float64)
        self.last2 = np.full((n_sym, len(self.stream), 2), np.nan)
        self._run(np.zeros(n_sym, dtype=np.int64), self.symbols)

    def append(self, bars: dict[str, Bars]) -> None:
        """Add newer bars (each after the symbol's last kept bar) and compute only the tail."""
        starts = self.lengths.copy()
        need = max((self.lengths[self.index[s]] + len(b) for s, b in bars.items() if s in self.index),
                   default=0)
        if need > self.capacity:
            self._allocate(int(need * 1.5) + 16)
        changed = []
        for s, b in bars.items():
            i = self.index.get(s)
            if i is None or not len(b):
                continue
            n = self.lengths[i]
            if n and b.ts[0] <= self.ts[i, n - 1]:
                raise InvalidInput(f"bars for {s} must start after its last scanned bar", field="bars")
            self._put(i, n, b)
            changed.append(s)
        if changed:
            self._run(starts, changed)

    def append_bar(self, symbols: Sequence[str], ts: np.ndarray, open: np.ndarray, high: np.ndarray,
                   low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> None:
        """One new bar for each of ``symbols`` (arrays aligned with it): a universe-wide bar event."""
        idx = np.fromiter((self.index[s] for s in symbols), dtype=np.int64, count=len(symbols))
        if np.unique(idx).size != idx.size:
            raise InvalidInput("each symbol may appear once in a bar event", field="symbols")
        at = self.lengths[idx]
        last = self.ts[idx, np.maximum(at - 1, 0)]
        if np.any((at > 0) & (np.asarray(ts) <= last)):
            raise InvalidInput("a new bar must start after the symbol's last scanned bar", field="ts")
        if int(at.max(initial=0)) + 1 > self.capacity:
            self._allocate(int(self.capacity * 1.5) + 16)
        starts = self.lengths.copy()
        for arr, values in ((self.o, open), (self.h, high), (self.l, low), (self.c, close), (self.v, volume),
                            (self.ts, ts)):
            arr[idx, at] = values
        self.lengths[idx] = at + 1
        self._run(starts, symbols)

    def _put(self, i: int, at: int, b: Bars) -> None:
        end = at + len(b)
        self.o[i, at:end], self.h[i, at:end], self.l[i, at:end] = b.open, b.high, b.low
        self.c[i, at:end], self.v[i, at:end], self.ts[i, at:end] = b.close, b.volume, b.ts
        self.lengths[i] = end

    def _run(self, starts: np.ndarray, changed: Sequence[str]) -> None:
        _scan_kernel(self.o, self.h, self.l, self.c, self.v, self.lengths, starts, self.pids, self.params,
                     self.pstates, self.recent, self.kinds, self.periods, self.cols, self.sstates, self.last2)
        talib_series = self.spec.talib_series
        if not talib_series and not self.spec.chart:
            return
        for s in changed:
            i = self.index[s]
            n = int(self.lengths[i])
            if not n:
                continue
            if talib_series:
                cols = self._columns(i, n)
                for series in talib_series:
                    values = indicators.compute(series.spec, cols)[series.output]
                    prev = float(values[-2]) if n >= 2 else np.nan
                    self.talib_values[(s, series.label)] = (prev, float(values[-1]))
            if self.spec.chart:
                found = chart.detect_chart_patterns(self.h[i, :n], self.l[i, :n], self.c[i, :n],
                                                    kinds=list(self.spec.chart))
                horizon = n - self.spec.within
                self.chart_hits[s] = sorted({p.kind for p in found if p.end >= horizon})

    def _columns(self, i: int, n: int) -> dict[str, np.ndarray]:
        return {"ts": self.ts[i, :n], "open": self.o[i, :n], "high": self.h[i, :n], "low": self.l[i, :n],
                "close": self.c[i, :n], "volume": self.v[i, :n]}

    # Results -------------------------------------------------------------------------------------
    def _values(self, s: str, i: int, series: Series) -> tuple[float, float]:
        if series.kind >= 0:
            k = self.stream.index(series)
            return float(self.last2[i, k, 0]), float(self.last2[i, k, 1])
        return self.talib_values.get((s, series.label), (np.nan, np.nan))

    def rows(self) -> list[SymbolScan]:
        out = []
        for s, i in self.index.items():
            n = int(self.lengths[i])
            if not n:
                continue
            hits = {}
            for p, name in enumerate(self.spec.patterns):
                nz = np.flatnonzero(self.recent[i, p])
                if nz.size:
                    hits[name] = int(self.recent[i, p, nz[-1]])
            values: dict[str, float] = {}
            conds: dict[str, bool] = {}
            for cond in self.spec.conditions:
                lp, lv = self._values(s, i, cond.left)
                values[cond.left.label] = lv
                if cond.right is None:
                    rp = rv = cond.value
                else:
                    rp, rv = self._values(s, i, cond.right)
                    values[cond.right.label] = rv
                conds[cond.label] = _compare(cond.op, lp, lv, rp, rv)
            chart_hits = self.chart_hits.get(s, [])
            matched = ((not self.spec.patterns or bool(hits)) and (not self.spec.chart or bool(chart_hits))
                       and all(conds.values()))
            out.append(SymbolScan(symbol=s, ts=int(self.ts[i, n - 1]), close=float(self.c[i, n - 1]),
                                  patterns=hits, chart=chart_hits, conditions=conds,
                                  values={k: (None if np.isnan(x) else x) for k, x in values.items()},
                                  matched=matched))
        return out


def _compare(op: str, lp: float, lv: float, rp: float | None, rv: float | None) -> bool:
    if rv is None or np.isnan(lv) or np.isnan(rv):
        return False
    if op == "<":
        return lv < rv
    if op == "<=":
        return lv <= rv
    if op == ">":
        return lv > rv
    if op == ">=":
        return lv >= rv
    if rp is None or np.isnan(lp) or np.isnan(rp):
        return False
    if op == "crosses_above":
        return lp <= rp and lv > rv
    return lp >= rp and lv < rv  # crosses_below


# Engine-side cache -----------------------------------------------------------------------------
Loader = Callable[[str, "int | None"], Bars]


class ScannerCache:
    """Keeps the last scanners so a repeated scan only loads and computes bars that are new."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: dict[tuple, UniverseScanner] = {}

    def scan(self, spec: ScanSpec, timeframe: str, symbols: list[str], load: Loader,
             end_ns: int | None = None) -> ScanResult:
        key = (spec, timeframe, tuple(symbols))
        scanner = self._items.get(key) if end_ns is None else None
        if scanner is not None:
            new = {}
            for s, i in scanner.index.items():
                n = int(scanner.lengths[i])
                after = int(scanner.ts[i, n - 1]) if n else None
                fresh = load(s, after) if after is not None else load(s, None)
                if len(fresh):
                    new[s] = fresh
            scanner.append(new)
            return ScanResult(scanner.rows(), "incremental")
        scanner = UniverseScanner(spec, list(symbols))
        scanner.load({s: load(s, None) for s in symbols})
        if end_ns is None:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = scanner
        return ScanResult(scanner.rows(), "full")

