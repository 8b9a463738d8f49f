"""Request and reply types of the Portfolio engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from nautilus.core.bounds import (
    SAFE_NAME_PATTERN,
    Amount,
    Cash,
    ClientId,
    Label,
    Name,
    Price,
    Quantity,
    Size,
    Timestamp,
)
from nautilus.engines.risk.messages import RiskDecision
from nautilus.trading.book import FillRecord


class AccountCreate(msgspec.Struct, kw_only=True):
    """A paper account: starting cash (one amount in the base currency, or per currency) and fill simulation."""

    name: Name
    cash: Cash | dict[Name, Cash] = 100_000.0
    base_currency: Name = "USD"
    slippage_bps: float = 0.0
    fee_bps: float = 0.0
    fixed_fee: float = 0.0
    latency_ms: float = 0.0
    max_participation: float | None = None  # fraction of a bar's volume the account may fill, None = unlimited


class AccountRef(msgspec.Struct, kw_only=True):
    account: Name = "default"


class CashChange(msgspec.Struct, kw_only=True):
    account: Name = "default"
    currency: Name | None = None  # default: the base currency
    amount: Amount  # deposit (> 0) or withdrawal (< 0)


class OrderRequest(msgspec.Struct, kw_only=True):
    """An order. Give ``quantity`` (units) or ``equity_pct`` (a fraction of equity, sized at the fill)."""

    account: Name = "default"
    symbol: Name
    side: Literal["buy", "sell"]
    # sizes and prices are checked by the engine against nautilus.core.bounds (an invalid order is audited)
    quantity: float | None = None
    equity_pct: float | None = None
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: Literal["GTC", "DAY", "IOC", "FOK"] = "GTC"
    strategy: Label = ""
    client_order_id: ClientId | None = None  # idempotency key: a retried submission returns the first order


class OrderRef(msgspec.Struct, kw_only=True):
    order_id: int


class AmendRequest(msgspec.Struct, kw_only=True):
    order_id: int
    quantity: Quantity | None = None
    limit_price: Price | None = None
    stop_price: Price | None = None


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
    account: Name = "default"
    start_ns: Timestamp | None = None
    limit: int = 100_000


class BarIn(msgspec.Struct, kw_only=True, array_like=True):
    ts: Timestamp  # bar open time, ns UTC
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Size = float("inf")


class BarsPush(msgspec.Struct, kw_only=True):
    """New bars of one instrument, oldest first (a live feed, a replay, or a test)."""

    symbol: Name
    bars: list[BarIn]


class QuoteIn(msgspec.Struct, kw_only=True):
    ts: Timestamp  # ns UTC
    bid: Price
    ask: Price
    bid_size: Size = float("inf")
    ask_size: Size = float("inf")


class QuotesPush(msgspec.Struct, kw_only=True):
    """Top-of-book quotes of one instrument, oldest first: they fill orders between bars."""

    symbol: Name
    quotes: list[QuoteIn]


class OrderRecord(msgspec.Struct, kw_only=True):
    """A stored paper order (its ``paper_orders`` row) with the pre-trade decision it was placed under."""

    id: int
    account_id: int
    client_order_id: str | None
    strategy: str
    symbol: str
    side: str
    type: str
    tif: str
    quantity: float  # 0 for an equity_pct order until it fills
    equity_pct: float | None
    limit_price: float | None
    stop_price: float | None
    status: str  # open, partially_filled, filled, cancelled, rejected, expired
    filled: float
    avg_fill_price: float | None
    fees: float
    reason: str | None  # why it was rejected, cancelled or expired
    risk: RiskDecision | None
    created_at: datetime
    updated_at: datetime


class OrderState(msgspec.Struct, kw_only=True):
    """An order as a bar or a quote left it."""

    id: int
    account_id: int
    strategy: str
    symbol: str
    side: str
    type: str
    tif: str
    quantity: float
    filled: float
    status: str
    avg_fill_price: float | None
    fees: float
    reason: str | None
    client_order_id: str | None


class OrderReply(msgspec.Struct, kw_only=True):
    order: OrderRecord
    created: bool = True  # False: the idempotency key matched an earlier order


class OrderList(msgspec.Struct, kw_only=True):
    items: list[OrderRecord]  # newest first


class BarsReply(msgspec.Struct, kw_only=True):
    symbol: str
    processed: int
    ignored: int
    fills: list[FillRecord]
    orders: list[OrderState]


class Items(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


class AccountReply(msgspec.Struct, kw_only=True):
    account: dict[str, Any]


class DeployRequest(msgspec.Struct, kw_only=True):
    """Paper-trade a strategy on a replay of stored bars, after a backtest and a risk validation."""

    strategy: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=SAFE_NAME_PATTERN)]  # a built-in
    # strategy's name, or "package.module:attr" for a user's Strategy
    symbol: Name
    params: dict[str, Any] = {}
    timeframe: str = "1d"
    account: Name = "default"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
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
    symbols: list[Name] = []  # default: the account's current holdings
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    params: dict[str, Any] = {}
    account: Name = "default"
    rebalance: bool = False  # submit the orders that move the account to the weights
    lot_size: float = 0.0
    min_notional: float = 0.0


class OptimizeReply(msgspec.Struct, kw_only=True):
    result: dict[str, Any]  # weights, expected_return, volatility, sharpe, risk_contributions, status, extra
    symbols: list[str]
    observations: int  # return rows the estimates used
    orders: list[OrderRecord] = []  # the rebalancing orders submitted (with rebalance)
    annualisation: dict[str, Any] = {}  # periods_per_year, calendar, timeframe and source the estimates used


class FollowRequest(msgspec.Struct, kw_only=True):
    """Feed the paper book with the bars arriving on the hub's ``bars.<SYMBOL>`` channels."""

    symbols: list[Name]


class FeedReply(msgspec.Struct, kw_only=True):
    symbols: list[str]
    received: int
    gaps: int
