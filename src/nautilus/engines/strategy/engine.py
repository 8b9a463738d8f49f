"""Strategy engine: indicators, candlestick and chart patterns, universe scans, backtests, sweeps.

Orchestration only: the math lives in :mod:`nautilus.strategy` (indicators, candles, chart,
backtest, scanner, sweep); bars come straight from the Parquet catalog through the same query
the MarketData engine answers with; saved backtests go to SQL plus an artifact folder.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.admission import admit
from nautilus.core.bars import Bars
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.talib_loader import preload_talib
from nautilus.core.timeframe import timeframe_ns, validate_timeframe
from nautilus.engines.base import StorageEngine
from nautilus.engines.features.warm import read_warm
from nautilus.engines.strategy.messages import (
    BacktestId,
    BacktestList,
    BacktestListRequest,
    BacktestReply,
    BacktestRequest,
    BarsSelector,
    CandleHit,
    CatalogReply,
    IndicatorsReply,
    IndicatorsRequest,
    PatternsReply,
    PatternsRequest,
    ScanReply,
    ScanRequest,
    ScanRow,
    SweepReply,
    SweepRequest,
)
from nautilus.runtime.engine import handler
from nautilus.storage import artifacts
from nautilus.storage.bars import read_bars

MAX_SCAN_SYMBOLS = 5_000
SWEEP_CHUNK_CELLS = 32_000_000  # bars x parameter sets one sweep task holds at once (memory; same result)


class StrategyEngine(StorageEngine):
    name = "strategy"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._scans: Any = None  # the scanner's incremental cache, made by the first scan
        self._predictors: dict[tuple[str, int], Any] = {}  # warm model predictors for model_signal
        self._sweep_lock = threading.Lock()
        self._scans_lock = threading.Lock()

    def start(self) -> None:
        super().start()
        preload_talib()  # before the host serves: TA-Lib without its pandas/polars wrappers (~5 MB, not ~120)

    def close(self) -> None:
        sweep = sys.modules.get("nautilus.strategy.sweep")  # no sweep ran: no clients to close
        if sweep is not None:
            sweep.close_clients()
        super().close()

    def _bars(self, sel: BarsSelector) -> Bars:
        bars = read_bars(self.catalog, normalize_symbol(sel.symbol), validate_timeframe(sel.timeframe),
                         sel.start_ns, sel.end_ns, sel.limit, max_bars=self.settings.max_bars_per_request)
        if len(bars) == 0:
            raise NotFound(f"no {sel.timeframe} bars for {sel.symbol!r} in the requested range", field="start")
        return bars

    def _warm_bars(self, sel: BarsSelector, warmup: int | None) -> tuple[Bars, int]:
        """The selected bars preceded by ``warmup`` earlier ones (``None``: all of them) and how many those are:
        indicators and signals warm up on them, replies and trades cover the selection only."""
        bars, skip = read_warm(self.catalog, normalize_symbol(sel.symbol), validate_timeframe(sel.timeframe),
                               sel.start_ns, sel.end_ns, sel.limit, warmup, max_bars=self.settings.max_bars_per_request)
        if len(bars) == skip:
            raise NotFound(f"no {sel.timeframe} bars for {sel.symbol!r} in the requested range", field="start")
        return bars, skip

    # Catalogues ---------------------------------------------------------------------------------
    @handler
    def list_indicators(self) -> CatalogReply:
        from nautilus.strategy import indicators

        return CatalogReply(items=indicators.list_indicators())

    @handler
    def list_patterns(self) -> CatalogReply:
        from nautilus.strategy import candles, chart

        items = [dict(info._asdict(), family="candlestick") for info in candles.pattern_info()]
        items += [{"name": kind, "family": "chart"} for kind in chart.CHART_PATTERN_KINDS]
        return CatalogReply(items=items)

    @handler
    def list_strategies(self) -> CatalogReply:
        from nautilus.strategy import backtest

        return CatalogReply(items=backtest.list_strategies())

    # Indicators and patterns --------------------------------------------------------------------
    @handler
    def indicators(self, req: IndicatorsRequest) -> IndicatorsReply:
        if not req.indicators:
            raise InvalidInput("give at least one indicator", field="indicators")
        from nautilus.strategy import indicators
        from nautilus.strategy.indicators.warmups import combine

        specs = [indicators.parse_spec(spec) for spec in req.indicators]
        bar_ns = timeframe_ns(req.timeframe)
        warmup = combine([indicators.warmup(spec, bar_ns) for spec in specs])
        warm, skip = self._warm_bars(req, warmup)
        columns = {k: v[skip:] for k, v in indicators.compute_many(specs, warm).items()}
        return IndicatorsReply(symbol=warm.symbol, timeframe=warm.timeframe, ts=warm.ts[skip:], columns=columns,
                               specs=[indicators.spec_dict(spec) for spec in specs], warmup=skip)

    @handler
    def patterns(self, req: PatternsRequest) -> PatternsReply:
        from nautilus.strategy import candles, chart

        bars = self._bars(req)
        hits: list[CandleHit] = []
        if req.candles is None or req.candles:
            found = candles.detect(bars.open, bars.high, bars.low, bars.close, names=req.candles,
                                   backend=req.backend)
            for name, values in found.items():
                for i in np.flatnonzero(values):
                    hits.append(CandleHit(pattern=name, index=int(i), ts=int(bars.ts[i]), value=int(values[i])))
            hits.sort(key=lambda hit: (hit.index, hit.pattern))
        detections: list[dict[str, Any]] = []
        if req.chart is None or req.chart:
            found_chart = chart.detect_chart_patterns(bars.high, bars.low, bars.close, kinds=req.chart,
                                                      **req.chart_params)
            detections = [_chart_dict(p, bars.ts) for p in found_chart]
        n = len(bars)
        return PatternsReply(symbol=bars.symbol, timeframe=bars.timeframe, bars=n,
                             first_ts=int(bars.ts[0]) if n else None, last_ts=int(bars.ts[-1]) if n else None,
                             candles=hits, chart=detections)

    # Scanner ------------------------------------------------------------------------------------
    @handler
    def scan(self, req: ScanRequest) -> ScanReply:
        from nautilus.strategy import scanner

        started = time.perf_counter()
        timeframe_ns(req.timeframe)
        if req.symbols is None:
            symbols = [s for s in self.catalog.symbols() if self._has_timeframe(s, req.timeframe)]
        else:
            symbols = sorted({normalize_symbol(s) for s in req.symbols})
        if not symbols:
            raise NotFound(f"no symbols with {req.timeframe} bars to scan", field="symbols")
        if len(symbols) > MAX_SCAN_SYMBOLS:
            raise InvalidInput(f"at most {MAX_SCAN_SYMBOLS} symbols per scan", field="symbols")
        spec = scanner.ScanSpec.build(patterns=req.patterns, chart_kinds=req.chart,
                                      conditions=[msgspec.structs.asdict(c) for c in req.conditions],
                                      within=req.within, history=req.history)

        max_bars = self.settings.max_bars_per_request
        admit(len(symbols) * max(1, req.history), self.settings.max_matrix_cells, "history", "max_matrix_cells",
              "symbols x history bars")

        def load(symbol: str, after_ns: int | None) -> Bars:
            if after_ns is None:
                return read_bars(self.catalog, symbol, req.timeframe, None, req.end_ns, req.history,
                                 max_bars=max_bars)
            return read_bars(self.catalog, symbol, req.timeframe, after_ns + 1, req.end_ns, max_bars=max_bars)

        with self._scans_lock:
            if self._scans is None:
                self._scans = scanner.ScannerCache()
        result = self._scans.scan(spec, req.timeframe, symbols, load, end_ns=req.end_ns)
        rows = [msgspec.convert(row, ScanRow, from_attributes=True) for row in result.rows]
        return ScanReply(timeframe=req.timeframe, symbols=len(symbols), matched=sum(r.matched for r in rows),
                         rows=rows, elapsed_ms=(time.perf_counter() - started) * 1e3, mode=result.mode)

    def _has_timeframe(self, symbol: str, timeframe: str) -> bool:
        return timeframe in self.catalog.timeframes(symbol)

    # Model signals ------------------------------------------------------------------------------
    def _model_predictions(self, name: str, version: int | None, bars: Bars) -> np.ndarray:
        """A registered model's prediction at every bar (NaN where its inputs are not yet defined),
        features computed on the catalog history up to the last bar."""
        from nautilus.features import compute_universe, load_feature_set
        from nautilus.ml import registry

        try:
            row = self.database.get_model(name, version)
        except NotFound as exc:
            raise NotFound(exc.message, field="model_version" if exc.field == "version" else "model") from None
        if row["objective"] == "multiclass":
            raise InvalidInput(f"model {name!r} predicts classes; model_signal needs one number per bar",
                               field="model")
        key = (row["name"], row["version"])
        predictor = self._predictors.get(key)
        if predictor is None:
            predictor = self._predictors[key] = registry.load_serving(row["artifact"], device=self.backend)
        end = int(bars.ts[-1]) + 1

        def load(symbol: str) -> Bars:
            return read_bars(self.catalog, symbol, bars.timeframe, None, end,
                             max_bars=self.settings.max_bars_per_request)

        frame = compute_universe(load_feature_set(row["feature_set"]), [bars.symbol], load)
        rows, pred = registry.predict_frame(row, predictor, frame)
        out = np.full(len(bars), np.nan)
        pos = np.searchsorted(bars.ts, frame.ts[rows])
        hit = (pos < len(bars)) & (bars.ts[np.minimum(pos, len(bars) - 1)] == frame.ts[rows])
        out[pos[hit]] = pred[hit]
        return out

    # Backtests ----------------------------------------------------------------------------------
    @handler(idempotent=False)
    def backtest(self, req: BacktestRequest) -> BacktestReply:
        from nautilus.strategy import backtest
        from nautilus.strategy.backtest.config import config_for
        from nautilus.strategy.backtest.strategies import strategy_warmup

        params = backtest.validate_params(req.strategy, req.params)
        # given predictions are aligned to the selected bars: no warm-up then (model_signal needs none)
        warm, skip = self._warm_bars(req, 0 if req.predictions is not None else strategy_warmup(req.strategy, params))
        bars = warm.slice(skip, len(warm))
        config = config_for(req.config, bars.timeframe, symbol=bars.symbol)
        predictions = None
        if req.predictions is not None and req.model is not None:
            raise InvalidInput("give predictions or a model, not both", field="model")
        if req.predictions is not None:
            try:
                predictions = np.asarray(req.predictions, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidInput("predictions must be numbers (null for none)", field="predictions") from None
            if predictions.shape != (len(bars),):
                raise InvalidInput(f"predictions must have one value per bar ({len(bars)})", field="predictions")
        elif req.model is not None:
            predictions = self._model_predictions(req.model, req.model_version, warm)
        result = backtest.run_backtest(warm, req.strategy, params, config, predictions=predictions, warmup=skip)
        trades = _with_times(result.trades_list(), bars.ts)
        stats = _clean(result.stats)
        config_dict = msgspec.to_builtins(config)
        run_id = None
        if req.save:
            run_id = self.database.add_backtest(
                name=req.name, strategy=req.strategy, symbol=bars.symbol, timeframe=bars.timeframe,
                first_ts=int(bars.ts[0]), last_ts=int(bars.ts[-1]), bars=len(bars), params=params,
                config=config_dict, stats=stats, n_trades=len(trades))
            folder = artifacts.save(self.settings.data_dir, run_id, bars.ts, result.equity, trades)
            self.database.set_backtest_artifact(run_id, str(folder))
            self.database.audit("strategy", "backtest", f"{bars.symbol}/{bars.timeframe}",
                                {"id": run_id, "strategy": req.strategy, "params": params})
            self.bus.publish("strategy.backtest.done", {"id": run_id, "symbol": bars.symbol,
                                                         "strategy": req.strategy, "stats": stats})
        return BacktestReply(id=run_id, strategy=req.strategy, symbol=bars.symbol, timeframe=bars.timeframe,
                             params=params, config=config_dict, stats=stats,
                             trades=trades if req.include_trades else [],
                             ts=bars.ts if req.include_equity else None,
                             equity=result.equity if req.include_equity else None)

    @handler
    def backtests(self, req: BacktestListRequest) -> BacktestList:
        symbol = normalize_symbol(req.symbol) if req.symbol else None
        return BacktestList(items=self.database.list_backtests(req.limit, symbol, req.strategy))

    @handler
    def get_backtest(self, req: BacktestId) -> BacktestReply:
        row = self.database.get_backtest(req.id)
        ts, equity, trades = artifacts.load(row["artifact"])
        return BacktestReply(id=row["id"], strategy=row["strategy"], symbol=row["symbol"],
                             timeframe=row["timeframe"], params=row["params"], config=row["config"],
                             stats=row["stats"], trades=trades, ts=ts, equity=equity)

    @handler(idempotent=False)
    def delete_backtest(self, req: BacktestId) -> BacktestId:
        row = self.database.delete_backtest(req.id)
        artifacts.remove(row["artifact"])
        self.database.audit("strategy", "delete_backtest", str(req.id))
        return req

    # Sweeps -------------------------------------------------------------------------------------
    @handler
    def sweep(self, req: SweepRequest) -> SweepReply:
        from nautilus.strategy import sweep
        from nautilus.strategy.backtest.config import config_for

        settings = self.settings
        field = "grid" if req.grid is not None else "samples"
        sets = math.prod(len(v) for v in req.grid.values()) if req.grid is not None else req.samples
        admit(sets, settings.max_sweep_size, field, "max_sweep_size", "parameter sets")
        warmup = sweep.sets_warmup(req.strategy, sweep.param_sets(req.strategy, req.grid, req.space, req.samples,
                                                                  req.seed))
        warm, skip = self._warm_bars(req, warmup)
        bars = warm.slice(skip, len(warm))
        admit(sets * len(warm), settings.max_matrix_cells, field, "max_matrix_cells", "parameter sets x bars")
        chunk = max(1, min(req.chunk, SWEEP_CHUNK_CELLS // len(bars))) if req.chunk >= 1 else req.chunk
        config = config_for(req.config, bars.timeframe, symbol=bars.symbol)
        with self._sweep_lock:  # one sweep at a time: it already uses every core
            result = sweep.run_sweep(
                warm, req.strategy, config, warmup=skip, grid=req.grid, space=req.space, samples=req.samples,
                seed=req.seed, metric=req.metric, top=req.top, chunk=chunk, scheduler=settings.dask_scheduler,
                walk_forward=None if req.walk_forward is None else msgspec.structs.asdict(req.walk_forward),
            )
        return SweepReply(strategy=req.strategy, symbol=bars.symbol, metric=req.metric,
                          evaluated=result.evaluated, params=result.params, rows=result.rows, best=result.best,
                          walk_forward=result.walk_forward, elapsed_s=result.elapsed_s, backend=result.backend)


def _clean(stats: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe statistics: numpy scalars to Python, NaN/inf to None."""
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            value = None
        out[key] = value
    return out


def _with_times(trades: list[dict[str, Any]], ts: np.ndarray) -> list[dict[str, Any]]:
    """Trades with the entry and exit bar times (epoch ns) beside their indices."""
    for trade in trades:
        trade["entry_ts"] = int(ts[trade["entry_idx"]])
        trade["exit_ts"] = int(ts[trade["exit_idx"]]) if trade["exit_idx"] >= 0 else None
    return trades


def _chart_dict(pattern: Any, ts: np.ndarray) -> dict[str, Any]:
    out = msgspec.to_builtins(pattern)
    out["start_ts"] = int(ts[pattern.start])
    out["end_ts"] = int(ts[pattern.end])
    return out
