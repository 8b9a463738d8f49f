"""Compute a feature set over bars: one symbol (:func:`compute`) or a panel (:func:`compute_panel`).

Pure functions on :class:`~nautilus.core.bars.Bars` (no I/O). A feature in row t reads bars 0..t
only; a target in row t reads bars t+1..t+h only. :func:`compute_rows` computes just the rows from
a given index on, reading only :func:`tail_margin` bars before it for features computed from a
bounded window (``FeatureSpec.stable``) and the whole history for the others (TA-Lib indicators,
whose running sums and EMA seeds depend on where the series starts), so its output equals the
full computation's tail bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import close_times
from nautilus.features import kernels
from nautilus.features.frame import FeatureFrame
from nautilus.features.spec import BAR_COLUMNS, FeatureSet, FeatureSpec

DAY_NS = 86_400_000_000_000
HOUR_NS = 3_600_000_000_000


class _Source:
    """Bars from index ``start`` on, with derived columns and computed features made once."""

    def __init__(self, bars: Bars, start: int, others: Mapping[str, Bars]) -> None:
        self.bars = bars.slice(start, len(bars)) if start else bars
        self.start = start
        self.others = others
        self.n = len(self.bars)
        self._columns: dict[str, np.ndarray] = {}
        self.features: dict[str, np.ndarray] = {}

    def column(self, name: str) -> np.ndarray:
        col = self._columns.get(name)
        if col is None:
            if name in BAR_COLUMNS:
                col = np.ascontiguousarray(getattr(self.bars, name), dtype=np.float64)
            else:
                close = self.column("close")
                col = np.full(self.n, np.nan)
                if name == "return":
                    col[1:] = close[1:] / close[:-1] - 1.0
                else:  # log_return
                    col[1:] = np.log(close[1:] / close[:-1])
            self._columns[name] = col
        return col


def _shift(x: np.ndarray, periods: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    if periods < x.shape[0]:
        out[periods:] = x[: x.shape[0] - periods]
    return out


def _ratio(x: np.ndarray, window: int, log: bool) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    if window < x.shape[0]:
        out[window:] = np.log(x[window:] / x[:-window]) if log else x[window:] / x[:-window] - 1.0
    return out


def _aligned_close(other: Bars, bars: Bars) -> np.ndarray:
    """The other symbol's close as known when each of ``bars`` closes: its last bar that closed by then (NaN
    before its first). Same timeframes: the other bar opening at or before t. A coarser other series (a monthly
    economic one next to daily bars) counts only from its period's end, never from its open."""
    idx = np.searchsorted(close_times(other.ts, other.timeframe), close_times(bars.ts, bars.timeframe),
                          side="right") - 1
    out = np.asarray(other.close, dtype=np.float64)[np.maximum(idx, 0)].copy()
    out[idx < 0] = np.nan
    return out


def calendar(ts: np.ndarray, field: str) -> np.ndarray:
    """Calendar field of UTC ns timestamps: dayofweek (0 = Monday), month (1-12), dayofmonth,
    dayofyear (1-366), hour."""
    ts = np.asarray(ts, dtype=np.int64)
    if field == "dayofweek":
        return ((ts // DAY_NS + 3) % 7).astype(np.float64)
    if field == "hour":
        return (ts // HOUR_NS % 24).astype(np.float64)
    return kernels.civil_nb(ts, {"month": 0, "dayofmonth": 1, "dayofyear": 2}[field])


@functools.lru_cache(maxsize=1024)
def _indicator_spec(items: tuple[tuple[str, Any], ...]) -> Any:
    """The parsed indicator spec (parsing costs more than computing an indicator on 4,000 bars)."""
    from nautilus.strategy import indicators

    return indicators.parse_spec(dict(items))


def _feature(spec: FeatureSpec, src: _Source, fs: FeatureSet) -> np.ndarray:
    done = src.features.get(spec.name)
    if done is not None:
        return done
    p = spec.params
    kind = spec.kind
    if kind in ("return", "log_return"):
        out = _shift(_ratio(src.column(p["column"]), p["window"], kind == "log_return"), p["lag"])
    elif kind == "rolling":
        x = src.column(p["column"])
        if p["stat"] in ("min", "max"):
            out = kernels.rolling_max_nb(x, p["window"], p["stat"] == "max")
        else:
            out = kernels.rolling_nb(x, p["window"], kernels.STAT_CODES[p["stat"]], src.start)
    elif kind == "volume_zscore":
        out = kernels.rolling_nb(src.column("volume"), p["window"], kernels.STAT_ZSCORE, src.start)
    elif kind == "range":
        hl = (src.column("high") - src.column("low")) / src.column("close")
        out = kernels.rolling_nb(hl, p["window"], kernels.STAT_MEAN, src.start)
    elif kind == "distance":
        is_high = p["side"] == "high"
        extreme = kernels.rolling_max_nb(src.column("high" if is_high else "low"), p["window"], is_high)
        out = src.column("close") / extreme - 1.0
    elif kind == "indicator":
        from nautilus.strategy import indicators

        columns = indicators.compute(_indicator_spec(tuple(p["spec"].items())), src.bars)
        out = next(iter(columns.values())) if p["output"] is None else columns[
            next(c for c in columns if c.rsplit(".", 1)[-1] == p["output"])]
        if p["normalize"] == "close":
            out = out / src.column("close")
    elif kind == "calendar":
        out = calendar(src.bars.ts, p["field"])
    elif kind == "cross_asset":
        other = src.others.get(p["symbol"])
        if other is None:
            raise InvalidInput(f"feature {spec.name!r} needs the bars of {p['symbol']!r}; pass them to "
                               "compute_panel", field="symbols")
        aligned = _aligned_close(other, src.bars)
        if p["what"] == "return":
            out = _ratio(aligned, p["window"], False)
        else:
            out = kernels.rolling_pair_nb(src.column("return"), _ratio(aligned, 1, False), p["window"],
                                          p["what"] == "beta")
    else:  # lag
        base = next(f for f in fs.features if f.name == p["of"])
        out = _shift(_feature(base, src, fs), p["periods"])
    out = np.asarray(out, dtype=np.float64)
    src.features[spec.name] = out
    return out


def targets(fs: FeatureSet, bars: Bars) -> np.ndarray:
    """The target matrix (n, len(fs.targets)): row t from bars t+1..t+h; NaN past the end."""
    close = np.asarray(bars.close, dtype=np.float64)
    n = close.shape[0]
    y = np.full((n, len(fs.targets)), np.nan)
    log_ret = np.full(n, np.nan)
    log_ret[1:] = np.log(close[1:] / close[:-1])
    for j, spec in enumerate(fs.targets):
        h = spec.params["h"]
        if h >= n:
            continue
        fwd = close[h:] / close[:-h] - 1.0
        if spec.kind == "forward_return":
            y[: n - h, j] = fwd
        elif spec.kind == "direction":
            y[: n - h, j] = np.where(np.isnan(fwd), np.nan, (close[h:] > close[:-h]).astype(np.float64))
        elif spec.kind == "realized_vol":
            y[:, j] = np.sqrt(kernels.forward_sumsq_nb(log_ret, h))
        else:
            y[:, j] = regime(fwd, np.sqrt(kernels.forward_sumsq_nb(log_ret, h)[: n - h] / h),
                             spec.params["trend"], spec.params["vol"], n)
    return y


def regime(fwd_return: np.ndarray, vol: np.ndarray, trend: float, vol_threshold: float, n: int) -> np.ndarray:
    """Regime class of the next h bars: 3 volatile when the per-bar volatility (root mean square of
    the h one-bar log returns) exceeds ``vol_threshold``; otherwise 0 bull when the h-bar return
    exceeds ``trend``, 1 bear when it is below ``-trend``, 2 sideways. NaN past the end."""
    out = np.full(n, np.nan)
    m = fwd_return.shape[0]
    label = np.where(fwd_return > trend, 0.0, np.where(fwd_return < -trend, 1.0, 2.0))
    label = np.where(vol > vol_threshold, 3.0, label)
    label[np.isnan(fwd_return) | np.isnan(vol)] = np.nan
    out[:m] = label
    return out


def tail_margin(spec: FeatureSpec) -> int:
    """Bars before a row that a stable feature's tail computation starts from: twice its lookback
    (the rolling kernels reset their running sums at least once per window) plus two."""
    return 2 * spec.lookback + 2


def compute_rows(fs: FeatureSet, bars: Bars, others: Mapping[str, Bars] | None = None,
                 from_row: int = 0, out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` for rows ``from_row`` .. ``len(bars) - 1`` of one symbol's bars, written into
    ``out`` (two arrays of that many rows) when given."""
    n = len(bars)
    if not 0 <= from_row <= n:
        raise InvalidInput(f"from_row {from_row} is outside 0..{n}", field="from_row")
    others = others or {}
    rows = n - from_row
    if out is None:  # column-major: each feature is written contiguously
        out = np.empty((len(fs.features), rows)).T, np.empty((len(fs.targets), rows)).T
    X, y = out
    if X.shape != (rows, len(fs.features)) or y.shape != (rows, len(fs.targets)):
        raise ValueError(f"out arrays have shapes {X.shape}, {y.shape}; expected {rows} rows")
    sources: dict[int, _Source] = {}
    for j, spec in enumerate(fs.features):
        start = max(0, from_row - tail_margin(spec)) if spec.stable else 0
        src = sources.get(start)
        if src is None:
            src = sources[start] = _Source(bars, start, others)
        X[:, j] = _feature(spec, src, fs)[from_row - start:]
    if fs.targets:
        y[:] = targets(fs, bars)[from_row:]
    return X, y


def _meta(fs: FeatureSet, timeframe: str | None) -> dict:
    return {"feature_set": fs.name, "digest": fs.digest(), "timeframe": timeframe}


def compute(fs: FeatureSet, bars: Bars) -> FeatureFrame:
    """The feature set over one symbol's bars (cross-asset features need :func:`compute_panel`)."""
    if fs.cross_symbols:
        raise InvalidInput(f"feature set {fs.name!r} has cross-asset features ({', '.join(fs.cross_symbols)}); "
                           "use compute_panel with those symbols' bars", field="features")
    X, y = compute_rows(fs, bars)
    symbols = np.full(len(bars), bars.symbol, dtype=object)
    return FeatureFrame(symbols, np.asarray(bars.ts, dtype=np.int64), X, fs.feature_names, y, fs.target_names,
                        fs.horizon, fs.lookback, _meta(fs, bars.timeframe))


def compute_panel(fs: FeatureSet, bars_by_symbol: Mapping[str, Bars], workers: int = 1) -> FeatureFrame:
    """The feature set over every symbol's bars, rows sorted by symbol then ts. Cross-asset
    features read the named symbol from ``bars_by_symbol`` (aligned on ts, no look-ahead).
    ``workers`` > 1 computes symbols in that many threads (the kernels release the GIL)."""
    missing = [s for s in fs.cross_symbols if s not in bars_by_symbol]
    if missing:
        raise InvalidInput(f"cross-asset features need the bars of {', '.join(missing)}", field="symbols")
    return compute_universe(fs, list(bars_by_symbol), bars_by_symbol.__getitem__, workers)


def compute_universe(fs: FeatureSet, symbols: Sequence[str], load: Callable[[str], Bars],
                     workers: int = 1) -> FeatureFrame:
    """Like :func:`compute_panel`, with each symbol's bars fetched by ``load(symbol)`` (e.g. a
    catalog read); loading and computing each run in ``workers`` threads."""
    order = sorted(set(symbols))
    others = {s: load(s) for s in fs.cross_symbols}

    def fetch(symbol: str) -> Bars:
        return others[symbol] if symbol in others else load(symbol)

    pool = ThreadPoolExecutor(min(workers, len(order))) if workers > 1 and len(order) > 1 else None
    try:
        run = map if pool is None else pool.map
        loaded = list(run(fetch, order))
        starts = np.concatenate([[0], np.cumsum([len(b) for b in loaded])]).astype(np.int64)
        total = int(starts[-1])
        X = np.empty((len(fs.features), total)).T  # column-major: each feature is written contiguously
        y = np.empty((len(fs.targets), total)).T

        def fill(k: int) -> None:
            bars = loaded[k]
            rows = slice(int(starts[k]), int(starts[k + 1]))
            compute_rows(fs, bars, {**others, order[k]: bars}, out=(X[rows], y[rows]))

        list(run(fill, range(len(order))))
    finally:
        if pool is not None:
            pool.shutdown()
    ts = np.concatenate([b.ts for b in loaded]).astype(np.int64, copy=False) if loaded else np.empty(0, np.int64)
    symbols_col = np.repeat(np.array(order, dtype=object), np.diff(starts))
    timeframes = {b.timeframe for b in loaded}
    return FeatureFrame(symbols_col, ts, X, fs.feature_names, y, fs.target_names, fs.horizon, fs.lookback,
                        _meta(fs, timeframes.pop() if len(timeframes) == 1 else None))
