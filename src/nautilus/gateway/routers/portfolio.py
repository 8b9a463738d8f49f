"""/api/v1/portfolio: paper accounts, orders, fills, positions, equity, bar feed, deployments, optimisation."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import Path, Request
from fastapi.responses import Response
from msgspec import Meta

from nautilus.engines.portfolio.engine import PortfolioEngine
from nautilus.engines.portfolio.messages import (
    AccountCreate,
    AccountRef,
    AmendRequest,
    BarsPush,
    CashChange,
    DeploymentRef,
    DeployRequest,
    EquityQuery,
    FillsQuery,
    FollowRequest,
    OptimizeRequest,
    OrderRef,
    OrderRequest,
    OrdersQuery,
    QuotesPush,
)
from nautilus.gateway.routers import (
    ID_MAX,
    EngineRouter,
    body_doc,
    convert_body,
    decode_body,
    decode_query,
    json_response,
    name_path,
    parse_time,
    query_doc,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("portfolio")
ACCOUNT = Annotated[str, Meta(min_length=1, max_length=64)]
ORDER_ID = Annotated[int, Path(ge=1, le=ID_MAX)]


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["portfolio"]


@router.post("/orders", status_code=201, summary="Submit a paper order (pre-trade checked against the account's limits)",
             **body_doc("`symbol`, `side` (buy | sell), `quantity` (units) or `equity_pct` (fraction of equity, "
                        "sized at the fill); `type` (market | limit | stop | stop_limit) with `limit_price` / "
                        "`stop_price`; `tif` (GTC | DAY | IOC | FOK); `account`; `strategy`; `client_order_id` "
                        "(idempotency key: a retry returns the first order with 200). A risk rejection is stored "
                        "with status `rejected` and its reasons.",
                        {"symbol": "AAPL", "side": "buy", "quantity": 10, "client_order_id": "my-0001"}))
async def submit_order(request: Request) -> Response:
    req = await decode_body(request, OrderRequest)
    reply = await _client(request).acall(PortfolioEngine.submit_order, req)
    return json_response(reply, status=201 if reply.created else 200)


class OrdersParams(msgspec.Struct, frozen=True):
    account: Annotated[str, Meta(max_length=64)] | None = None
    status: Annotated[str, Meta(max_length=20)] | None = None
    symbol: Annotated[str, Meta(max_length=64)] | None = None
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 100


@router.get("/orders", summary="Orders, newest first", **query_doc(OrdersParams))
async def list_orders(request: Request) -> Response:
    q = decode_query(request, OrdersParams)
    query = OrdersQuery(account=q.account, status=q.status, symbol=q.symbol, limit=q.limit)
    return json_response(await _client(request).acall(PortfolioEngine.orders, query))


@router.get("/orders/{order_id}", summary="One order")
async def get_order(request: Request, order_id: ORDER_ID) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.order, OrderRef(order_id=order_id)))


@router.delete("/orders/{order_id}", summary="Cancel a working order (409 when it is no longer working)")
async def cancel_order(request: Request, order_id: ORDER_ID) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.cancel_order, OrderRef(order_id=order_id)))


@router.patch("/orders/{order_id}", summary="Amend a working order's quantity or prices",
              **body_doc("`quantity`, `limit_price`, `stop_price` (any of them).", {"limit_price": 101.5}))
async def amend_order(request: Request, order_id: ORDER_ID) -> Response:
    body = await decode_body(request, dict)
    req = convert_body(body | {"order_id": order_id}, AmendRequest)
    return json_response(await _client(request).acall(PortfolioEngine.amend_order, req))


class FillsParams(msgspec.Struct, frozen=True):
    account: Annotated[str, Meta(max_length=64)] | None = None
    strategy: Annotated[str, Meta(max_length=128)] | None = None
    symbol: Annotated[str, Meta(max_length=64)] | None = None
    limit: Annotated[int, Meta(ge=1, le=100_000)] = 1000


@router.get("/fills", summary="Fills, oldest first (the last `limit`)", **query_doc(FillsParams))
async def list_fills(request: Request) -> Response:
    q = decode_query(request, FillsParams)
    query = FillsQuery(account=q.account, strategy=q.strategy, symbol=q.symbol, limit=q.limit)
    return json_response(await _client(request).acall(PortfolioEngine.fills, query))


class AccountParams(msgspec.Struct, frozen=True):
    account: ACCOUNT = "default"


@router.get("/positions", summary="Positions, net per symbol and per strategy, marked to the last bar",
            **query_doc(AccountParams))
async def positions(request: Request) -> Response:
    q = decode_query(request, AccountParams)
    reply = await _client(request).acall(PortfolioEngine.positions, AccountRef(account=q.account))
    return json_response(reply.items[0])


@router.get("/accounts", summary="Paper accounts with cash, equity and P&L")
async def accounts(request: Request) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.accounts))


@router.post("/accounts", status_code=201, summary="Create a paper account",
             **body_doc("`name`; `cash` (an amount in `base_currency`, or {currency: amount}); `base_currency`; "
                        "fill simulation: `slippage_bps`, `fee_bps`, `fixed_fee`, `latency_ms`, `max_participation`.",
                        {"name": "swing", "cash": 50000, "fee_bps": 1.0, "slippage_bps": 2.0}))
async def create_account(request: Request) -> Response:
    req = await decode_body(request, AccountCreate)
    return json_response(await _client(request).acall(PortfolioEngine.create_account, req), status=201)


@router.get("/accounts/{name}", summary="One paper account")
async def get_account(request: Request, name: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.account, AccountRef(account=name)))


@router.get("/accounts/{name}/reconcile", summary="Rebuild positions and cash from the fills and compare")
async def reconcile(request: Request, name: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.reconcile, AccountRef(account=name)))


@router.post("/accounts/{name}/cash", summary="Deposit (amount > 0) or withdraw (amount < 0) cash",
             **body_doc("`amount`, optional `currency`.", {"amount": 10000}))
async def change_cash(request: Request, name: Annotated[str, name_path(64)]) -> Response:
    body = await decode_body(request, dict)
    req = convert_body(body | {"account": name}, CashChange)
    return json_response(await _client(request).acall(PortfolioEngine.change_cash, req))


class EquityParams(msgspec.Struct, frozen=True):
    account: ACCOUNT = "default"
    start: Annotated[str, Meta(max_length=40)] | None = None
    limit: Annotated[int, Meta(ge=1, le=1_000_000)] = 100_000


@router.get("/equity", summary="An account's equity history (one point per bar that moved it)",
            **query_doc(EquityParams))
async def equity(request: Request) -> Response:
    q = decode_query(request, EquityParams)
    query = EquityQuery(account=q.account, start_ns=parse_time(q.start, "start"), limit=q.limit)
    return json_response(await _client(request).acall(PortfolioEngine.equity, query))


@router.post("/bars", summary="Feed new bars of one instrument to the matching engine",
             **body_doc("`symbol`; `bars`: [[ts_ns, open, high, low, close, volume], ...] oldest first. Bars not "
                        "after the instrument's last processed bar are ignored (safe to re-send).",
                        {"symbol": "AAPL", "bars": [[1767225600000000000, 100, 101, 99, 100.5, 1e6]]}))
async def push_bars(request: Request) -> Response:
    req = await decode_body(request, BarsPush)
    return json_response(await _client(request).acall(PortfolioEngine.on_bars, req))


@router.post("/quotes", summary="Feed top-of-book quotes of one instrument (fills between bars)",
             **body_doc("`symbol`; `quotes`: [{ts, bid, ask, bid_size, ask_size}] oldest first. Buys fill at the ask, "
                        "sells at the bid, up to the size shown; quotes mark positions to the mid.",
                        {"symbol": "AAPL", "quotes": [{"ts": 1767225600000000000, "bid": 99.9, "ask": 100.1}]}))
async def push_quotes(request: Request) -> Response:
    req = await decode_body(request, QuotesPush)
    return json_response(await _client(request).acall(PortfolioEngine.on_quotes, req))


@router.post("/feeds", summary="Feed the paper book with bars arriving on the hub's bars.<SYMBOL> channels",
             **body_doc("`symbols`: follow their `bars.<SYMBOL>` channels (a replay from /stream/replay or a live "
                        "adapter); every account's orders fill on them.", {"symbols": ["AAPL"]}))
async def follow(request: Request) -> Response:
    req = await decode_body(request, FollowRequest)
    return json_response(await _client(request).acall(PortfolioEngine.follow, req))


@router.get("/feeds", summary="Followed bar channels and what arrived")
async def feeds(request: Request) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.feeds))


@router.post("/deployments", status_code=202, summary="Paper-trade a strategy on a replay (backtest → risk → paper)",
             **body_doc("`strategy`, `symbol`, `params`, `timeframe`, `account`, `start`/`end`, `size`, "
                        "`direction`, `bars_per_second` (0 = as fast as possible), `validate`, `wait`.",
                        {"strategy": "sma_cross", "symbol": "AAPL", "params": {"fast": 10, "slow": 30}}))
async def deploy(request: Request) -> Response:
    req = await decode_body(request, DeployRequest)
    reply = await _client(request).acall(PortfolioEngine.deploy, req)
    done = reply.deployment["status"] in ("done", "failed", "rejected", "stopped")
    return json_response(reply, status=200 if done else 202)


@router.get("/deployments", summary="Strategy deployments, newest first")
async def deployments(request: Request) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.deployments))


@router.get("/deployments/{dep_id}", summary="A deployment's stage, progress and trades")
async def deployment(request: Request, dep_id: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.deployment, DeploymentRef(id=dep_id)))


@router.delete("/deployments/{dep_id}", summary="Stop a deployment")
async def stop_deployment(request: Request, dep_id: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(PortfolioEngine.stop_deployment, DeploymentRef(id=dep_id)))


@router.post("/optimize", summary="Optimise portfolio weights; optionally rebalance the account into them",
             **body_doc("`method` (min_variance | mean_variance | max_sharpe | risk_parity | hrp | black_litterman "
                        "| min_cvar | efficient_frontier), `symbols`, `timeframe`, `start`/`end`, `params` (bounds, "
                        "turnover, ...), `account`, `rebalance`, `lot_size`, `min_notional`.",
                        {"method": "max_sharpe", "symbols": ["AAPL", "MSFT", "SPY"]}))
async def optimize(request: Request) -> Response:
    req = await decode_body(request, OptimizeRequest)
    return json_response(await _client(request).acall(PortfolioEngine.optimize, req))
