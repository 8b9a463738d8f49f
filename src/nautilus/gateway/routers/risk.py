"""/api/v1/risk: VaR/CVaR with components, stress tests and VaR backtests of a portfolio.

Bodies are JSON objects decoded into the Risk engine's request types: ``portfolio`` ({symbol:
amount}), ``units`` (value or quantity), ``timeframe``, ``lookback`` (returns), ``end`` (ISO 8601).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from nautilus.engines.risk.messages import StressRequest, VarBacktestRequest, VarRequest
from nautilus.gateway.routers import API_PREFIX, call_engine, decode_body, json_response
from nautilus.runtime.client import EngineClient

router = APIRouter(prefix=f"{API_PREFIX}/risk", tags=["risk"])
EXAMPLE = {"portfolio": {"AAPL": 100_000, "MSFT": -50_000}, "method": "historical", "confidence": 0.99,
           "horizon": 1, "lookback": 500}


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["risk"]


def _body(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "openapi_extra": {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}, "example": example}}}}}


VAR_DOC = ("`method`: historical, historical_ew, fhs, normal, t, cornish_fisher; `confidence` in (0, 1); "
           "`horizon` (days); `options` (lam, nu, cov_method, mean, n_sims, seed). Returns VaR and CVaR as "
           "positive losses and the component VaR/CVaR of each position.")


@router.post("/var", summary="Value at risk (and CVaR) with per-position components", **_body(VAR_DOC, EXAMPLE))
async def post_var(request: Request) -> Response:
    req = await decode_body(request, VarRequest, times=("end",))
    return json_response(await call_engine(_client(request), "var", req))


@router.post("/cvar", summary="Expected shortfall (CVaR) with per-position components", **_body(VAR_DOC, EXAMPLE))
async def post_cvar(request: Request) -> Response:
    req = await decode_body(request, VarRequest, times=("end",))
    return json_response(await call_engine(_client(request), "var", req))


@router.post("/stress", summary="Historical worst windows, user shocks or a reverse stress",
             **_body("`scenario`: historical (`window`, `count`), shock (`shocks`: {symbol: return}) or "
                     "reverse (`loss`).", {"portfolio": {"AAPL": 100_000}, "scenario": "historical",
                                            "window": 5, "count": 3}))
async def post_stress(request: Request) -> Response:
    req = await decode_body(request, StressRequest, times=("end",))
    return json_response(await call_engine(_client(request), "stress", req))


@router.post("/backtest", summary="Rolling out-of-sample VaR backtest: exceptions, Kupiec, Christoffersen, zone",
             **_body("`method`, `confidence`, `window` (days of history per forecast).",
                     {"portfolio": {"AAPL": 100_000}, "method": "historical", "window": 250}))
async def post_backtest(request: Request) -> Response:
    req = await decode_body(request, VarBacktestRequest, times=("end",))
    reply = await call_engine(_client(request), "backtest", req)
    return json_response({
        "method": reply.method, "confidence": reply.confidence, "window": reply.window,
        "observations": reply.observations, "exceptions": reply.exceptions, "kupiec": reply.kupiec,
        "christoffersen": reply.christoffersen, "zone": reply.zone,
        "t": (np.asarray(reply.ts, dtype=np.int64) // 1_000_000).tolist(), "pnl": reply.pnl, "var": reply.var})
