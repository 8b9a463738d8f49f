"""The paper-trading book: accounts, working orders, positions and marks, advanced bar by bar. Pure, no I/O.

The Portfolio engine owns one :class:`PaperBook`, persists what :meth:`PaperBook.on_bar` reports in one
transaction and publishes it. Rules of each fill are in :mod:`nautilus.trading.matching`, accounting in
:mod:`nautilus.trading.accounting`.

* Orders of an instrument are matched in submission (id) order; each account simulates its own fills
  (accounts never trade with each other), so the bar's volume cap applies per account.
* Each account is its own simulation with its own feed clock per instrument (the open time of the last
  bar it processed) and its own marks, so a strategy can paper-trade a replay of history in one account
  while another follows a live feed. A bar whose open time is not after an account's clock is ignored
  for that account: a re-delivered bar can never fill an order twice.
* Positions are kept per ``(account, strategy, symbol)``; the net position of a symbol is their sum.
* Equity is in the account's base currency. Cash and instruments in another currency convert at the
  last mark of ``<CCY><BASE>`` (or ``1 /`` that of ``<BASE><CCY>``); without one the value is NaN, so
  the engine refuses such orders up front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nautilus.trading.accounting import PositionState, apply_fill, cash_delta
from nautilus.trading.matching import (
    Bar,
    FillConfig,
    Quote,
    WorkingOrder,
    bar_price,
    execute,
    expired,
    participation_cap,
    quote_price,
)

OPEN = ("open", "partially_filled")
NO_CLOCK = -(2**62)  # the stored clock of an account marked by quotes before any bar
PositionKey = tuple[int, str, str]  # (account id, strategy, symbol)


@dataclass(slots=True)
class Account:
    id: int
    name: str
    base_currency: str
    config: FillConfig
    cash: dict[str, float]
    peak_equity: float | None = None
    day: int | None = None  # UTC day of day_start_equity
    day_start_equity: float | None = None


@dataclass(slots=True)
class Order:
    id: int
    account_id: int
    strategy: str
    symbol: str
    client_order_id: str | None
    work: WorkingOrder
    status: str = "open"
    avg_fill_price: float | None = None
    fees: float = 0.0
    reason: str | None = None

    @property
    def side(self) -> str:
        return "buy" if self.work.side > 0 else "sell"


@dataclass(frozen=True, slots=True)
class FillRecord:
    order_id: int
    account_id: int
    strategy: str
    symbol: str
    ts: int
    quantity: float  # signed
    price: float
    fee: float


@dataclass(frozen=True, slots=True)
class EquityPoint:
    account_id: int
    ts: int
    equity: float
    cash: float
    unrealised: float
    realised: float
    fees: float


@dataclass(slots=True)
class BarResult:
    symbol: str
    ts: int
    ignored: bool = False  # no account took the bar
    marked: list[int] = field(default_factory=list)  # accounts that took the event (their marks moved)
    touched: set[int] = field(default_factory=set)  # accounts with fills
    fills: list[FillRecord] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)  # orders whose state changed
    positions: dict[PositionKey, PositionState] = field(default_factory=dict)
    accounts: set[int] = field(default_factory=set)  # accounts whose cash changed
    equity: list[EquityPoint] = field(default_factory=list)


class PaperBook:
    def __init__(self) -> None:
        self.accounts: dict[int, Account] = {}
        self.orders: dict[int, Order] = {}  # working orders only
        self.by_symbol: dict[str, list[int]] = {}
        self.positions: dict[PositionKey, PositionState] = {}
        self.marks: dict[int, dict[str, tuple[int, float]]] = {}  # account -> symbol -> (last bar ts, close)
        self.currencies: dict[str, str] = {}  # instrument currency (absent: the account's base)
        self.quote_clock: dict[tuple[int, str], int] = {}  # (account, symbol) -> last quote time (not persisted)

    # State ------------------------------------------------------------------------------------------
    def clock(self, account_id: int, symbol: str) -> int | None:
        mark = self.marks.get(account_id, {}).get(symbol)
        return None if mark is None or mark[0] == NO_CLOCK else mark[0]

    def _behind(self, account_id: int, symbol: str, ts: int) -> bool:
        clock = self.clock(account_id, symbol)
        return clock is None or ts > clock

    def mark(self, account_id: int, symbol: str) -> float | None:
        mark = self.marks.get(account_id, {}).get(symbol)
        return None if mark is None else mark[1]

    def add_order(self, order: Order) -> None:
        self.orders[order.id] = order
        self.by_symbol.setdefault(order.symbol, []).append(order.id)

    def remove_order(self, order: Order) -> None:
        self.orders.pop(order.id, None)
        ids = self.by_symbol.get(order.symbol)
        if ids and order.id in ids:
            ids.remove(order.id)

    def position(self, key: PositionKey) -> PositionState:
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = PositionState()
        return pos

    def net_positions(self, account_id: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for (acct, _, symbol), pos in self.positions.items():
            if acct == account_id and pos.quantity != 0.0:
                out[symbol] = out.get(symbol, 0.0) + pos.quantity
        return out

    # Valuation --------------------------------------------------------------------------------------
    def fx(self, account: Account, currency: str) -> float:
        """Units of the account's base currency per unit of ``currency`` from its marks (NaN when unknown)."""
        base = account.base_currency
        if currency == base:
            return 1.0
        direct = self.mark(account.id, f"{currency}{base}")
        if direct is not None:
            return direct
        inverse = self.mark(account.id, f"{base}{currency}")
        return 1.0 / inverse if inverse is not None and inverse > 0 else math.nan

    def currency(self, symbol: str, account: Account) -> str:
        return self.currencies.get(symbol) or account.base_currency

    def valuation(self, account: Account, override: dict[str, float] | None = None) -> EquityPoint:
        """Equity of ``account`` at the current marks (``override`` replaces some marks)."""
        rates: dict[str, float] = {}  # currency -> fx, looked up once per call

        def rate_of(currency: str) -> float:
            rate = rates.get(currency)
            if rate is None:
                rate = rates[currency] = self.fx(account, currency)
            return rate

        cash = sum(amount * rate_of(ccy) for ccy, amount in account.cash.items())
        unrealised = realised = fees = value = 0.0
        account_id, base, currencies = account.id, account.base_currency, self.currencies
        marks = self.marks.get(account_id, {})
        for (acct, _, symbol), pos in self.positions.items():
            if acct != account_id:
                continue
            rate = rate_of(currencies.get(symbol) or base)
            realised += pos.realised_pnl * rate
            fees += pos.fees * rate
            if pos.quantity == 0.0:
                continue
            mark = override.get(symbol) if override else None
            if mark is None:
                marked = marks.get(symbol)
                mark = pos.avg_price if marked is None else marked[1]
            value += pos.quantity * mark * rate
            unrealised += pos.unrealised(mark) * rate
        ts = max((m[0] for m in marks.values()), default=0)
        return EquityPoint(account.id, ts, cash + value, cash, unrealised, realised, fees)

    # The bar loop -----------------------------------------------------------------------------------
    def on_bar(self, symbol: str, bar: Bar, accounts: Iterable[int] | None = None) -> BarResult:
        """Expire, trigger and fill the working orders of ``symbol`` on ``bar`` in ``accounts`` (default: all),
        then mark those accounts to its close (the bar's open time becomes their clock)."""
        live = {a for a in self._wanted(accounts) if self._behind(a, symbol, bar.ts)}
        result = self._match(symbol, bar.ts, live, lambda work: bar_price(work, bar),
                             lambda account, work: participation_cap(account.config, bar.volume))
        for account_id in result.marked:
            self.marks.setdefault(account_id, {})[symbol] = (bar.ts, bar.close)
        return self._close_event(symbol, bar.ts, result)

    def on_quote(self, symbol: str, quote: Quote, accounts: Iterable[int] | None = None) -> BarResult:
        """Fill working orders of ``symbol`` against a quote: buys at the ask, sells at the bid, up to the size
        shown (see :func:`nautilus.trading.matching.quote_price`). Quotes mark the accounts to the mid but do
        not move their bar clock; a quote not after an account's last quote (or its bar clock) is ignored."""
        live = {a for a in self._wanted(accounts)
                if quote.ts > self.quote_clock.get((a, symbol), NO_CLOCK) and self._behind(a, symbol, quote.ts + 1)}
        sizes = {1: quote.ask_size, -1: quote.bid_size}
        result = self._match(symbol, quote.ts, live, lambda work: (quote_price(work, quote.bid, quote.ask), False),
                             lambda account, work: sizes[work.side], per_side=True)
        mid = 0.5 * (quote.bid + quote.ask)
        for account_id in result.marked:
            self.quote_clock[(account_id, symbol)] = quote.ts
            clock = self.clock(account_id, symbol)
            self.marks.setdefault(account_id, {})[symbol] = (NO_CLOCK if clock is None else clock, mid)
        return self._close_event(symbol, quote.ts, result)

    def _wanted(self, accounts: Iterable[int] | None) -> list[int]:
        return [a for a in (self.accounts if accounts is None else accounts) if a in self.accounts]

    def _match(self, symbol: str, ts: int, live: set[int], price_of: Any, cap_of: Any,
               per_side: bool = False) -> BarResult:
        """The matching loop shared by bars and quotes: ``price_of(work) -> (base price | None, slipped)``,
        ``cap_of(account, work)`` the units available (per account, or per account and side)."""
        result = BarResult(symbol, ts, ignored=not live, marked=sorted(live))
        available: dict[tuple[int, int], float] = {}
        for oid in list(self.by_symbol.get(symbol, ())):
            order = self.orders[oid]
            work = order.work
            if order.account_id not in live or ts < work.eligible_ns:
                continue
            account = self.accounts[order.account_id]
            if expired(work, ts):
                self._finish(order, "expired", "DAY order expired at the end of its day", result)
                continue
            base, slipped = price_of(work)
            equity = None
            if base is not None and work.equity_pct is not None and work.filled == 0.0:
                equity = self.valuation(account, {symbol: base}).equity
            key = (account.id, work.side if per_side else 0)
            cap = available.setdefault(key, cap_of(account, work))
            before = (work.filled, work.triggered, work.quantity)
            outcome = execute(work, base, slipped, account.config, cap, equity)
            for fill in outcome.fills:
                self._apply(order, account, fill.quantity, fill.price, fill.fee, ts, result)
                available[key] = cap = cap - fill.quantity
                result.touched.add(account.id)
            if outcome.status not in OPEN:
                self._finish(order, outcome.status, outcome.reason, result)
            elif outcome.status != order.status or (work.filled, work.triggered, work.quantity) != before:
                order.status = outcome.status
                result.orders.append(order)
        return result

    def _close_event(self, symbol: str, ts: int, result: BarResult) -> BarResult:
        live = set(result.marked)
        holders = {acct for (acct, _, sym), pos in self.positions.items()
                   if sym == symbol and acct in live and pos.quantity != 0.0}
        for account_id in sorted(result.touched | holders):
            result.equity.append(self._equity_point(self.accounts[account_id], ts))
        return result

    def _apply(self, order: Order, account: Account, quantity: float, price: float, fee: float, ts: int,
               result: BarResult) -> None:
        signed = quantity * order.work.side
        key = (order.account_id, order.strategy, order.symbol)
        apply_fill(self.position(key), signed, price, fee)
        ccy = self.currency(order.symbol, account)
        account.cash[ccy] = account.cash.get(ccy, 0.0) + cash_delta(signed, price, fee)
        prev = order.work.filled - quantity
        order.avg_fill_price = price if not prev else ((order.avg_fill_price or 0.0) * prev + price * quantity) / (
            order.work.filled)
        order.fees += fee
        result.fills.append(FillRecord(order.id, order.account_id, order.strategy, order.symbol, ts, signed, price,
                                       fee))
        result.positions[key] = self.positions[key]
        result.accounts.add(account.id)

    def _finish(self, order: Order, status: str, reason: str | None, result: BarResult) -> None:
        order.status, order.reason = status, reason
        self.remove_order(order)
        result.orders.append(order)

    def _equity_point(self, account: Account, ts: int) -> EquityPoint:
        point = self.valuation(account)
        point = EquityPoint(account.id, ts, point.equity, point.cash, point.unrealised, point.realised, point.fees)
        self.track(account, point)
        return point

    @staticmethod
    def track(account: Account, point: EquityPoint) -> None:
        """Update the account's peak and start-of-day equity (for the risk engine's halts)."""
        if math.isfinite(point.equity):
            account.peak_equity = max(account.peak_equity or point.equity, point.equity)
            day = point.ts // 86_400_000_000_000
            if account.day != day:
                account.day, account.day_start_equity = day, point.equity


def round_trips(fills: Iterable[FillRecord]) -> list[dict]:
    """Position episodes (flat to flat) of one strategy and symbol, as the backtester reports trades.

    ``entry_price``/``exit_price`` are size-weighted averages of the fills that opened/closed the
    episode, ``size`` the units entered, ``pnl = dir * (exit_value - entry_value) - fees``. A fill through
    zero closes one episode and opens the next (its fee split pro rata). An episode still open at the
    end is reported with ``exit_ts = None`` and ``pnl = NaN``.
    """
    trades: list[dict] = []
    pos = 0.0
    cur: dict | None = None
    for f in fills:
        q, fee = f.quantity, f.fee
        while q != 0.0:
            if cur is None:
                cur = {"direction": "long" if q > 0 else "short", "entry_ts": f.ts, "exit_ts": None, "size": 0.0,
                       "entry_value": 0.0, "exit_units": 0.0, "exit_value": 0.0, "fees": 0.0}
            d = 1.0 if cur["direction"] == "long" else -1.0
            if q * d > 0:
                cur["size"] += abs(q)
                cur["entry_value"] += abs(q) * f.price
                cur["fees"] += fee
                pos, q = pos + q, 0.0
                continue
            closed = min(abs(q), abs(pos))
            share = fee * closed / abs(q)
            cur["exit_units"] += closed
            cur["exit_value"] += closed * f.price
            cur["fees"] += share
            fee -= share
            pos += closed * -d
            q += closed * d
            if abs(q) <= 1e-12 * closed:
                q = 0.0
            if abs(pos) <= 1e-9 * max(1.0, cur["size"]):
                pos = 0.0
                cur["exit_ts"] = f.ts
                trades.append(_close_trip(cur))
                cur = None
    if cur is not None:
        trades.append(_close_trip(cur))
    return trades


def _close_trip(t: dict) -> dict:
    d = 1.0 if t["direction"] == "long" else -1.0
    entry_price = t["entry_value"] / t["size"] if t["size"] else math.nan
    exit_price = t["exit_value"] / t["exit_units"] if t["exit_units"] else math.nan
    pnl = d * (t["exit_value"] - t["entry_value"]) - t["fees"] if t["exit_ts"] is not None else math.nan
    ret = pnl / t["entry_value"] if t["entry_value"] else math.nan
    return {"direction": t["direction"], "entry_ts": t["entry_ts"], "exit_ts": t["exit_ts"], "size": t["size"],
            "entry_price": entry_price, "exit_price": exit_price, "fees": t["fees"], "pnl": pnl, "return": ret}
