"""/api/v1/analytics: performance statistics and HTML tear sheets of series, backtests and accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response

from nautilus.engines.analytics.engine import AnalyticsEngine
from nautilus.engines.analytics.messages import BacktestRef, StatsRequest
from nautilus.gateway.routers import (
    ID_MAX,
    EngineRouter,
    body_doc,
    decode_body,
    json_response,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("analytics")

SOURCE_DOC = ("One source: `ts` (epoch ns or ISO times) with `returns` or `equity` (one series) or `series` "
              "([{name, returns | equity}], sharing `ts`); or `backtest_id` (a saved backtest); or `account` "
              "(reserved). Optional `benchmark` ({returns} one per return row, or {symbol, timeframe} from the "
              "catalog), `timeframe` and `calendar` (XNYS default; 24/7, 24/5, ...) or an explicit `periods_per_year`, "
              "`risk_free` (per period), `required_return`, `cutoff` (VaR tail, 0.05), `quantile_method` "
              "(inverted_cdf: k-th worst, default; linear: empyrical), `drawdowns` (top N, 5). The reply names "
              "periods_per_year, its calendar and source, and the conventions used. Null statistics are "
              "undefined (e.g. no losses for a ratio).")


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["analytics"]


@router.post("/stats", summary="Statistics of inline series or a saved backtest (empyrical conventions)",
             **body_doc(SOURCE_DOC, {"ts": ["2024-01-02", "2024-01-03", "2024-01-04"],
                                     "returns": [0.01, -0.005, 0.002]}))
async def post_stats(request: Request) -> Response:
    req = await decode_body(request, StatsRequest, times=())
    return json_response(await _client(request).acall(AnalyticsEngine.stats, req))


@router.post("/report", summary="HTML tear sheet of one inline series or a saved backtest",
             response_class=HTMLResponse, **body_doc(SOURCE_DOC + " `title`.",
                                                     {"backtest_id": 1, "benchmark": {"symbol": "SPY"}}))
async def post_report(request: Request) -> Response:
    req = await decode_body(request, StatsRequest, times=())
    reply = await _client(request).acall(AnalyticsEngine.report, req)
    return HTMLResponse(reply.html)


@router.get("/report/{run_id}", summary="HTML tear sheet of a saved backtest", response_class=HTMLResponse)
async def get_report(request: Request, run_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    reply = await _client(request).acall(AnalyticsEngine.report, StatsRequest(backtest_id=run_id))
    return HTMLResponse(reply.html)


@router.get("/backtests/{run_id}/stats", summary="Statistics of a saved backtest")
async def backtest_stats(request: Request, run_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return json_response(await _client(request).acall(AnalyticsEngine.backtest_stats, BacktestRef(id=run_id)))
