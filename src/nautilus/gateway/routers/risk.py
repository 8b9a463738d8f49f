"""/api/v1/risk: VaR/CVaR with components, stress tests and VaR backtests of a portfolio.

Bodies are JSON objects decoded into the Risk engine's request types: ``portfolio`` ({symbol:
amount}), ``units`` (value or quantity), ``timeframe``, ``lookback`` (returns), ``end`` (ISO 8601).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
from fastapi import Request
from fastapi.responses import Response
from msgspec import Meta

from nautilus.engines.risk.engine import RiskEngine
from nautilus.engines.risk.messages import (
    AccountRequest,
    BookState,
    OrderCheck,
    SetLimitsRequest,
    StressRequest,
    VarBacktestRequest,
    VarRequest,
)
from nautilus.gateway.routers import (
    EngineRouter,
    body_doc,
    decode_body,
    decode_query,
    json_response,
    query_doc,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("risk")
EXAMPLE = {"portfolio": {"AAPL": 100_000, "MSFT": -50_000}, "method": "historical", "confidence": 0.99,
           "horizon": 1, "lookback": 500}


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["risk"]



VAR_DOC = ("`method`: historical, historical_ew, fhs, normal, t, cornish_fisher; `confidence` in (0, 1); "
           "`horizon` (days); `options` (lam, nu, cov_method, mean, n_sims, seed; mc: paths, model, backend, "
           "variance_reduction, aggregation, ...). `option_positions`: European options on catalog instruments "
           "(underlying, type, strike, expiry in years, quantity, implied_vol, multiplier=100, r, q), fully "
           "revalued by mc and historical, delta-equivalent in the parametric methods. Returns VaR and CVaR as "
           "positive losses and the component VaR/CVaR of each position.")


@router.post("/var", summary="Value at risk (and CVaR) with per-position components", **body_doc(VAR_DOC, EXAMPLE))
async def post_var(request: Request) -> Response:
    req = await decode_body(request, VarRequest, times=("end",))
    return json_response(await _client(request).acall(RiskEngine.var, req))


@router.post("/cvar", summary="Expected shortfall (CVaR) with per-position components", **body_doc(VAR_DOC, EXAMPLE))
async def post_cvar(request: Request) -> Response:
    req = await decode_body(request, VarRequest, times=("end",))
    return json_response(await _client(request).acall(RiskEngine.var, req))


@router.post("/stress", summary="Historical worst windows, user shocks or a reverse stress",
             **body_doc("`scenario`: historical (`window`, `count`), shock (`shocks`: {symbol: return}, "
                     "`vol_shift`: absolute implied-vol shift, for all options or {underlying: shift}, "
                     "`horizon_days`) or reverse (`loss`); `option_positions` are fully revalued.", {"portfolio": {"AAPL": 100_000}, "scenario": "historical",
                                            "window": 5, "count": 3}))
async def post_stress(request: Request) -> Response:
    req = await decode_body(request, StressRequest, times=("end",))
    return json_response(await _client(request).acall(RiskEngine.stress, req))


@router.post("/backtest", summary="Rolling out-of-sample VaR backtest: exceptions, Kupiec, Christoffersen, zone",
             **body_doc("`method`, `confidence`, `window` (days of history per forecast).",
                     {"portfolio": {"AAPL": 100_000}, "method": "historical", "window": 250}))
async def post_backtest(request: Request) -> Response:
    req = await decode_body(request, VarBacktestRequest, times=("end",))
    reply = await _client(request).acall(RiskEngine.backtest, req)
    return json_response({
        "method": reply.method, "confidence": reply.confidence, "window": reply.window,
        "observations": reply.observations, "exceptions": reply.exceptions, "kupiec": reply.kupiec,
        "christoffersen": reply.christoffersen, "zone": reply.zone,
        "t": (np.asarray(reply.ts, dtype=np.int64) // 1_000_000).tolist(), "pnl": reply.pnl, "var": reply.var})


class AccountParams(msgspec.Struct, frozen=True):
    account: Annotated[str, Meta(max_length=64)] = "default"


@router.get("/limits", summary="An account's pre-trade limits (its own, else the defaults: `source`)",
            **query_doc(AccountParams))
async def get_limits(request: Request) -> Response:
    query = decode_query(request, AccountParams)
    return json_response(await _client(request).acall(RiskEngine.get_limits, AccountRequest(account=query.account)))


@router.delete("/limits", summary="Drop an account's own limits: the defaults apply again", **query_doc(AccountParams))
async def reset_limits(request: Request) -> Response:
    query = decode_query(request, AccountParams)
    return json_response(await _client(request).acall(RiskEngine.reset_limits, AccountRequest(account=query.account)))


@router.put("/limits", summary="Set an account's pre-trade limits",
            **body_doc("`account` (default: default) and `limits`: max_order_notional, max_position_units, "
                    "max_position_notional (a number or {symbol: limit}), max_gross_exposure, max_net_exposure, "
                    "max_concentration_pct, var_budget, daily_loss_halt, drawdown_halt (fraction), "
                    "max_orders_per_window with rate_window_seconds, max_order_equity_pct (order notional, % of "
                    "equity), min_cash (cash left after a buy: 0 = no margin, negative = a margin line). An "
                    "account without limits of its own gets the defaults (setting default_limits: "
                    "max_order_equity_pct 100, max_concentration_pct 100, min_cash 0); limits {} check nothing. "
                    "var_budget caps the one-day VaR of the "
                    "positions after each order, computed from the stored bars: var_confidence (0.99), "
                    "var_method (historical, historical_ew, normal, t, cornish_fisher), var_lookback (250 "
                    "bars), var_timeframe (1d); a book pushed with var and marginal_var is used instead.",
                    {"account": "default", "limits": {"max_order_notional": 50_000, "max_gross_exposure": 1e6,
                                                      "max_orders_per_window": 10, "rate_window_seconds": 1}}))
async def put_limits(request: Request) -> Response:
    req = await decode_body(request, SetLimitsRequest, times=())
    return json_response(await _client(request).acall(RiskEngine.set_limits, req))


@router.put("/book", summary="Set a book kept elsewhere for what-if checks (positions, marks, equity, P&L, VaR)",
            **body_doc("`account`, `positions` ({symbol: signed units}), `prices`, `equity`, `daily_pnl`, "
                    "`peak_equity`, `var`, `marginal_var`. Paper orders are checked by the Portfolio engine "
                    "against its own book; this book serves `check-order` only.",
                    {"account": "default", "positions": {"AAPL": 100}, "prices": {"AAPL": 190.0},
                     "equity": 100_000}))
async def put_book(request: Request) -> Response:
    req = await decode_body(request, BookState, times=())
    return json_response(await _client(request).acall(RiskEngine.set_book, req))


@router.post("/check-order", summary="Pre-trade check of one order: accepted, or every breached limit",
             **body_doc("`account`, `instrument`, `quantity` (signed), `price`, `commit` (count it towards the "
                     "order-rate limit when accepted).",
                     {"account": "default", "instrument": "AAPL", "quantity": 10, "price": 190.0}))
async def post_check_order(request: Request) -> Response:
    req = await decode_body(request, OrderCheck, times=())
    return json_response(await _client(request).acall(RiskEngine.check_order, req))


@router.get("/decisions", summary="Recent pre-trade decisions (audit log: paper orders and check-order), newest first")
async def get_decisions(request: Request) -> Response:
    return json_response(await _client(request).acall(RiskEngine.decisions, AccountRequest()))
