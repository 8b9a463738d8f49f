"""/api/v1/strategy: indicators, patterns, universe scans, backtests and parameter sweeps.

Bodies are JSON objects decoded straight into the Strategy engine's request types; ``start`` and
``end`` are ISO 8601 (naive = UTC, end exclusive). Times in replies are epoch milliseconds (``t``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import numpy as np
from fastapi import Path, Request
from fastapi.responses import Response
from msgspec import Meta

from nautilus.engines.strategy.engine import StrategyEngine
from nautilus.engines.strategy.messages import (
    BacktestId,
    BacktestListRequest,
    BacktestReply,
    BacktestRequest,
    IndicatorsRequest,
    PatternsRequest,
    ScanRequest,
    SweepRequest,
)
from nautilus.gateway.routers import (
    ID_MAX,
    EngineRouter,
    body_doc,
    decode_body,
    decode_query,
    json_response,
    query_doc,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("strategy")

SELECTOR_DOC = ("Bars: `symbol`, `timeframe` (default 1d), `start`/`end` (ISO 8601, end exclusive), "
                "`limit` (the last N bars of the range).")


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["strategy"]


def _ms(ts: np.ndarray | None) -> list[int] | None:
    return None if ts is None else (np.asarray(ts, dtype=np.int64) // 1_000_000).tolist()



@router.get("/indicators", summary="The indicator catalogue (TA-Lib and extras) with parameters")
async def list_indicators(request: Request) -> Response:
    return json_response(await _client(request).acall(StrategyEngine.list_indicators))


@router.post("/indicators", summary="Compute indicators over a symbol's bars",
             **body_doc(SELECTOR_DOC + " `indicators`: specs like {\"name\": \"rsi\", \"period\": 14} or \"rsi(14)\".",
                     {"symbol": "AAPL", "timeframe": "1d", "indicators": ["rsi(14)", {"name": "sma", "period": 50}]}))
async def post_indicators(request: Request) -> Response:
    req = await decode_body(request, IndicatorsRequest)
    reply = await _client(request).acall(StrategyEngine.indicators, req)
    return json_response({"symbol": reply.symbol, "timeframe": reply.timeframe, "t": _ms(reply.ts),
                          "columns": reply.columns, "specs": reply.specs, "warmup": reply.warmup})


@router.get("/patterns", summary="Candlestick (61, TA-Lib) and chart pattern names")
async def list_patterns(request: Request) -> Response:
    return json_response(await _client(request).acall(StrategyEngine.list_patterns))


@router.post("/patterns", summary="Candlestick and chart patterns over a symbol's bars",
             **body_doc(SELECTOR_DOC + " `candles`: pattern names (null = all 61, [] = none); `chart`: kinds "
                     "(null = all); `backend`: numba or talib.",
                     {"symbol": "AAPL", "timeframe": "1d", "candles": ["CDLENGULFING", "CDLHAMMER"],
                      "chart": ["double_top", "head_and_shoulders"]}))
async def post_patterns(request: Request) -> Response:
    req = await decode_body(request, PatternsRequest)
    return json_response(await _client(request).acall(StrategyEngine.patterns, req))


@router.post("/scan", summary="Scan a universe for patterns and indicator conditions",
             **body_doc("`symbols` (null = all with bars of `timeframe`), `patterns`, `chart`, `conditions` "
                     "({indicator, op: < <= > >= crosses_above crosses_below, value | other}), `within` "
                     "(bars), `history` (bars per symbol). A repeated scan only computes new bars.",
                     {"timeframe": "1d", "patterns": ["CDLENGULFING"],
                      "conditions": [{"indicator": "rsi(14)", "op": "<", "value": 40}], "within": 3}))
async def post_scan(request: Request) -> Response:
    req = await decode_body(request, ScanRequest, times=("end",))
    return json_response(await _client(request).acall(StrategyEngine.scan, req))


@router.get("/strategies", summary="Built-in strategies with their parameters")
async def list_strategies(request: Request) -> Response:
    return json_response(await _client(request).acall(StrategyEngine.list_strategies))


def _backtest_payload(reply: BacktestReply) -> dict[str, Any]:
    return {"id": reply.id, "strategy": reply.strategy, "symbol": reply.symbol, "timeframe": reply.timeframe,
            "params": reply.params, "config": reply.config, "stats": reply.stats, "trades": reply.trades,
            "t": _ms(reply.ts), "equity": reply.equity}


@router.post("/backtest", status_code=201, summary="Run (and save) a backtest",
             **body_doc(SELECTOR_DOC + " `strategy`, `params`, `config` (init_cash, fees_bps, fixed_fee, "
                     "slippage_bps, size_type, size, direction, stop_loss, take_profit, trailing_stop, "
                     "execution), `save` (default true).",
                     {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 50},
                      "config": {"fees_bps": 5}}))
async def post_backtest(request: Request) -> Response:
    req = await decode_body(request, BacktestRequest)
    reply = await _client(request).acall(StrategyEngine.backtest, req)
    return json_response(_backtest_payload(reply), status=201 if reply.id is not None else 200)


class BacktestsParams(msgspec.Struct, frozen=True):
    limit: Annotated[int, Meta(ge=1, le=1000)] = 50
    symbol: Annotated[str, Meta(max_length=32)] | None = None
    strategy: Annotated[str, Meta(max_length=64)] | None = None


@router.get("/backtests", summary="Saved backtests, newest first", **query_doc(BacktestsParams))
async def list_backtests(request: Request) -> Response:
    query = decode_query(request, BacktestsParams)
    req = BacktestListRequest(limit=query.limit, symbol=query.symbol, strategy=query.strategy)
    return json_response(await _client(request).acall(StrategyEngine.backtests, req))


@router.get("/backtests/{run_id}", summary="A saved backtest with trades and equity curve")
async def get_backtest(request: Request, run_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    reply = await _client(request).acall(StrategyEngine.get_backtest, BacktestId(id=run_id))
    return json_response(_backtest_payload(reply))


@router.delete("/backtests/{run_id}", summary="Delete a saved backtest")
async def delete_backtest(request: Request, run_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return json_response(await _client(request).acall(StrategyEngine.delete_backtest, BacktestId(id=run_id)))


@router.post("/sweep", summary="Grid or random parameter sweep, optionally walk-forward",
             **body_doc(SELECTOR_DOC + " `strategy`, `grid` ({param: [values]}) or `space` ({param: [low, high]}"
                     " with `samples`), `metric` (default sharpe), `top`, `walk_forward` ({folds, "
                     "train_fraction}). The Dask cluster is the server's (settings), never named in a request.",
                     {"symbol": "AAPL", "strategy": "sma_cross",
                      "grid": {"fast": [5, 10, 20], "slow": [50, 100, 200]}, "metric": "sharpe"}))
async def post_sweep(request: Request) -> Response:
    req = await decode_body(request, SweepRequest)
    return json_response(await _client(request).acall(StrategyEngine.sweep, req))
