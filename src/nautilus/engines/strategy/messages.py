"""Request and reply types of the Strategy engine (light: the gateway and CLI import these).

Every request that reads bars carries the same selector fields (symbol, timeframe, start_ns,
end_ns exclusive, limit = the last ``limit`` bars of the range).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from nautilus.core.bounds import Name, Timestamp


class BarsSelector(msgspec.Struct, kw_only=True):
    symbol: Name
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    limit: int | None = None


# Indicators ------------------------------------------------------------------------------------
class IndicatorsRequest(BarsSelector, kw_only=True):
    indicators: list[Any]  # specs: {"name": "rsi", "period": 14} or "rsi(14)"


class IndicatorsReply(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str
    ts: np.ndarray
    columns: dict[str, np.ndarray]
    specs: list[dict[str, Any]]
    warmup: int = 0  # bars read before the range to warm the indicators up (computed on, not returned)


class CatalogReply(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


# Patterns --------------------------------------------------------------------------------------
class PatternsRequest(BarsSelector, kw_only=True):
    candles: list[str] | None = None  # None: all 61; [] none
    chart: list[str] | None = None  # None: all chart pattern kinds; [] none
    backend: Literal["numba", "talib"] = "numba"
    chart_params: dict[str, Any] = {}


class CandleHit(msgspec.Struct, array_like=False, kw_only=True):
    pattern: str
    index: int
    ts: int
    value: int


class PatternsReply(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str
    bars: int
    first_ts: int | None
    last_ts: int | None
    candles: list[CandleHit]
    chart: list[dict[str, Any]]


# Scanner ---------------------------------------------------------------------------------------
class Condition(msgspec.Struct, kw_only=True):
    """``indicator op value`` (or ``indicator op other``) on the last bar, e.g. rsi(14) < 30."""

    indicator: Any
    op: Literal["<", "<=", ">", ">=", "crosses_above", "crosses_below"]
    value: float | None = None
    other: Any = None


class ScanRequest(msgspec.Struct, kw_only=True):
    symbols: list[Name] | None = None  # None: every symbol with bars of this timeframe
    timeframe: str = "1d"
    patterns: list[str] = []  # candlestick pattern names
    chart: list[str] = []  # chart pattern kinds
    conditions: list[Condition] = []
    within: int = 1  # a pattern counts when it fired in the last `within` bars
    history: int = 500  # bars per symbol kept by the scanner
    end_ns: Timestamp | None = None


class ScanRow(msgspec.Struct, kw_only=True):
    symbol: str
    ts: int
    close: float
    patterns: dict[str, int]  # pattern -> value of its latest hit within the window
    chart: list[str]
    conditions: dict[str, bool]
    values: dict[str, float | None]  # None: not enough history for the indicator yet
    matched: bool


class ScanReply(msgspec.Struct, kw_only=True):
    timeframe: str
    symbols: int
    matched: int
    rows: list[ScanRow]
    elapsed_ms: float
    mode: Literal["full", "incremental"]


# Backtests -------------------------------------------------------------------------------------
class BacktestRequest(BarsSelector, kw_only=True):
    strategy: str
    params: dict[str, Any] = {}
    config: dict[str, Any] = {}
    predictions: Any = None  # model_signal: one prediction per bar (array or list; null/NaN = none)
    # model_signal from a registered model instead: its predictions over these bars (production version, else
    # the latest, unless model_version is given; backtest outside the model's training range to stay honest)
    model: str | None = None
    model_version: int | None = None
    save: bool = True
    name: str | None = None
    include_equity: bool = True
    include_trades: bool = True


class BacktestReply(msgspec.Struct, kw_only=True):
    id: int | None
    strategy: str
    symbol: str
    timeframe: str
    params: dict[str, Any]
    config: dict[str, Any]
    stats: dict[str, Any]
    trades: list[dict[str, Any]]
    ts: np.ndarray | None = None
    equity: np.ndarray | None = None


class BacktestListRequest(msgspec.Struct, kw_only=True):
    limit: int = 50
    symbol: str | None = None
    strategy: str | None = None


class BacktestId(msgspec.Struct, kw_only=True):
    id: int


class BacktestList(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


# Sweeps ----------------------------------------------------------------------------------------
class WalkForward(msgspec.Struct, kw_only=True):
    folds: int = 4
    train_fraction: float = 0.7  # of each fold's span: in-sample share


class SweepRequest(BarsSelector, kw_only=True, forbid_unknown_fields=True):
    """A sweep; the Dask cluster it runs on is the admin's (``settings.dask_scheduler``), never named here."""

    strategy: str
    grid: dict[str, list[Any]] | None = None
    space: dict[str, list[float]] | None = None  # random search: param -> [low, high]
    samples: int = 100
    seed: int = 0
    config: dict[str, Any] = {}
    metric: str = "sharpe"
    top: int = 20
    walk_forward: WalkForward | None = None
    chunk: int = 256  # parameter sets per task


class SweepReply(msgspec.Struct, kw_only=True):
    strategy: str
    symbol: str
    metric: str
    evaluated: int
    params: list[str]
    rows: list[dict[str, Any]]  # top rows by metric, params + stats
    best: dict[str, Any] | None
    walk_forward: list[dict[str, Any]] | None = None
    elapsed_s: float = 0.0
    backend: str = "local"
