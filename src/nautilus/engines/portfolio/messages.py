"""Request and reply types of the Portfolio engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class AccountCreate(msgspec.Struct, kw_only=True):
    """A paper account: starting cash (one amount in the base currency, or per currency) and fill simulation."""

    name: str
    cash: float | dict[str, float] = 100_000.0
    base_currency: str = "USD"
    slippage_bps: float = 0.0
    fee_bps: float = 0.0
    fixed_fee: float = 0.0
    latency_ms: float = 0.0
    max_participation: float | None = None  # fraction of a bar's volume the account may fill, None = unlimited


class AccountRef(msgspec.Struct, kw_only=True):
    account: str = "default"


class CashChange(msgspec.Struct, kw_only=True):
    account: str = "default"
    currency: str | None = None  # default: the base currency
    amount: float  # deposit (> 0) or withdrawal (< 0)


class OrderRequest(msgspec.Struct, kw_only=True):
    """An order. Give ``quantity`` (units) or ``equity_pct`` (a fraction of equity, sized at the fill)."""

    account: str = "default"
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float | None = None
    equity_pct: float | None = None
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: Literal["GTC", "DAY", "IOC", "FOK"] = "GTC"
    strategy: str = ""
    client_order_id: str | None = None  # idempotency key: a retried submission returns the first order


class OrderRef(msgspec.Struct, kw_only=True):
    order_id: int


class AmendRequest(msgspec.Struct, kw_only=True):
    order_id: int
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


class OrdersQuery(msgspec.Struct, kw_only=True):
    account: str | None = None
    status: str | None = None  # an order status, or "working" (open and partially filled)
    symbol: str | None = None
    limit: int = 100


class FillsQuery(msgspec.Struct, kw_only=True):
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    limit: int = 1000


class EquityQuery(msgspec.Struct, kw_only=True):
    account: str = "default"
    start_ns: int | None = None
    limit: int = 100_000


class BarIn(msgspec.Struct, kw_only=True, array_like=True):
    ts: int  # bar open time, ns UTC
    open: float
    high: float
    low: float
    close: float
    volume: float = float("inf")


class BarsPush(msgspec.Struct, kw_only=True):
    """New bars of one instrument, oldest first (a live feed, a replay, or a test)."""

    symbol: str
    bars: list[BarIn]


class QuoteIn(msgspec.Struct, kw_only=True):
    ts: int  # ns UTC
    bid: float
    ask: float
    bid_size: float = float("inf")
    ask_size: float = float("inf")


class QuotesPush(msgspec.Struct, kw_only=True):
    """Top-of-book quotes of one instrument, oldest first: they fill orders between bars."""

    symbol: str
    quotes: list[QuoteIn]


class OrderReply(msgspec.Struct, kw_only=True):
    order: dict[str, Any]
    created: bool = True  # False: the idempotency key matched an earlier order


class BarsReply(msgspec.Struct, kw_only=True):
    symbol: str
    processed: int
    ignored: int
    fills: list[dict[str, Any]]
    orders: list[dict[str, Any]]


class Items(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


class AccountReply(msgspec.Struct, kw_only=True):
    account: dict[str, Any]


class DeployRequest(msgspec.Struct, kw_only=True):
    """Paper-trade a strategy on a replay of stored bars, after a backtest and a risk validation."""

    strategy: str  # a built-in strategy's name, or "package.module:attr" for a user's Strategy
    symbol: str
    params: dict[str, Any] = {}
    timeframe: str = "1d"
    account: str = "default"
    start_ns: int | None = None
    end_ns: int | None = None
    size: float = 1.0  # fraction of equity per entry (the backtester's percent_equity)
    direction: Literal["long", "short", "both"] = "long"
    source: Literal["replay", "stream"] = "replay"  # stored bars, or bars arriving on the hub's bars.<SYMBOL>
    bars_per_second: float = 0.0  # replay pace, 0 = as fast as possible
    validate: bool = True  # run the backtest and risk stages first
    wait: bool = False  # reply when the run has finished


class DeploymentRef(msgspec.Struct, kw_only=True):
    id: str


class DeploymentReply(msgspec.Struct, kw_only=True):
    deployment: dict[str, Any]


class OptimizeRequest(msgspec.Struct, kw_only=True):
    """Optimise weights over catalog symbols (or the account's holdings) and optionally rebalance into orders."""

    method: str = "max_sharpe"
    symbols: list[str] = []  # default: the account's current holdings
    timeframe: str = "1d"
    start_ns: int | None = None
    end_ns: int | None = None
    params: dict[str, Any] = {}
    account: str = "default"
    rebalance: bool = False  # submit the orders that move the account to the weights
    lot_size: float = 0.0
    min_notional: float = 0.0


class OptimizeReply(msgspec.Struct, kw_only=True):
    result: dict[str, Any]  # weights, expected_return, volatility, sharpe, risk_contributions, status, extra
    symbols: list[str]
    observations: int  # return rows the estimates used
    orders: list[dict[str, Any]] = []  # the rebalancing orders submitted (with rebalance)


class FollowRequest(msgspec.Struct, kw_only=True):
    """Feed the paper book with the bars arriving on the hub's ``bars.<SYMBOL>`` channels."""

    symbols: list[str]


class FeedReply(msgspec.Struct, kw_only=True):
    symbols: list[str]
    received: int
    gaps: int
