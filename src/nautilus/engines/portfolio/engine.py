"""Portfolio engine: paper accounts, orders through the pre-trade check, simulated fills.

State lives in the SQL database (:mod:`nautilus.storage.paper`); the engine keeps the working book in
memory (:mod:`nautilus.trading.book`), changes it under one lock, commits each change in one transaction
before acknowledging it, and rebuilds the book from the database on start or after a failed commit.
Every order is checked here, in this process, against this book and the limits the Risk engine owns
(:mod:`nautilus.engines.portfolio.pretrade`: revalidated by version inside the order's transaction; the
decision is stored with the order and audited with it); an account without limits of its own is checked
against the defaults (setting ``default_limits``: order and position at most the equity, no negative cash
without margin). Events go on the bus: ``portfolio.orders.<account>``, ``portfolio.fills.<account>``,
``portfolio.positions.<account>``, ``portfolio.equity.<account>`` and ``risk.alerts`` (rejections); it
listens to ``risk.limits`` (changed limits, read at once rather than at the account's next order).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import msgspec
from prometheus_client import Counter, Gauge

from nautilus.config import Settings
from nautilus.core.bounds import (
    AMOUNT_MAX,
    CASH_MAX,
    CLIENT_ID_MAX,
    PRICE_MAX,
    QUANTITY_MAX,
    check_bar,
    check_name,
    check_number,
    check_timestamp,
)
from nautilus.core.errors import Conflict, InvalidInput, NautilusError, NotFound
from nautilus.core.plain import plain
from nautilus.engines.base import StorageEngine
from nautilus.engines.portfolio.desk import PortfolioDesk
from nautilus.engines.portfolio.feed import HubFeed
from nautilus.engines.portfolio.messages import (
    AccountCreate,
    AccountRef,
    AccountReply,
    AmendRequest,
    BarsPush,
    BarsReply,
    CashChange,
    DeploymentRef,
    DeploymentReply,
    DeployRequest,
    EquityQuery,
    FeedReply,
    FillsQuery,
    FollowRequest,
    Items,
    OptimizeReply,
    OptimizeRequest,
    OrderList,
    OrderRecord,
    OrderRef,
    OrderReply,
    OrderRequest,
    OrdersQuery,
    OrderState,
    QuotesPush,
)
from nautilus.engines.portfolio.pretrade import PreTrade
from nautilus.engines.portfolio.runner import Runner
from nautilus.engines.risk.messages import RiskDecision
from nautilus.engines.risk.pretrade import LIMITS_TOPIC, LimitsCache, legacy_limits_file
from nautilus.runtime import faults
from nautilus.runtime.engine import handler
from nautilus.storage.limits import LimitsStore
from nautilus.storage.paper import OrderDraft, PaperStore, order_from_row
from nautilus.trading.book import Account, BarResult, Order, PaperBook
from nautilus.trading.matching import NS_PER_DAY, Bar, FillConfig, Quote, eligible_from

log = logging.getLogger("nautilus.portfolio")
EQUITY = Gauge("nautilus_portfolio_equity", "Paper account equity in its base currency", ["account"])
UNREALISED = Gauge("nautilus_portfolio_unrealised_pnl", "Paper account unrealised P&L", ["account"])
WORKING = Gauge("nautilus_portfolio_working_orders", "Working (open or partially filled) orders", ["account"])
ORDERS = Counter("nautilus_portfolio_orders_total", "Orders submitted, by outcome", ["outcome"])
DEFAULT_ACCOUNT = "default"
DEFAULT_CASH = 100_000.0
_CURRENCY_LEN = (3, 16)


def _finite(value: float | None, field: str, *, positive: bool = True, hi: float = AMOUNT_MAX) -> float | None:
    """A finite number within the domain bounds: in ``(0, hi]`` (``positive``) or ``[-hi, hi]``; None passes."""
    return check_number(value, field, lo=0.0 if positive else -hi, hi=hi, lo_open=positive)


_FILL_BOUNDS = {"slippage_bps": 10_000.0, "fee_bps": 10_000.0, "fixed_fee": AMOUNT_MAX, "latency_ms": 86_400_000.0}


def _fill_config(req: AccountCreate) -> FillConfig:
    for name, hi in _FILL_BOUNDS.items():
        check_number(getattr(req, name), name, lo=0.0, hi=hi)
    if req.max_participation is not None and not (0 < req.max_participation <= 1):
        raise InvalidInput("max_participation must be in (0, 1]", field="max_participation")
    return FillConfig(req.slippage_bps, req.fee_bps, req.fixed_fee, req.latency_ms, req.max_participation)


class PortfolioEngine(StorageEngine):
    name = "portfolio"
    stateful = True  # one writer: see nautilus.runtime.engine.Engine.stateful

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = threading.RLock()
        self.book = PaperBook()
        self.store: PaperStore | None = None
        self._ids: dict[str, int] = {}  # account name -> id
        self._symbols: set[str] = set()
        self.pretrade: PreTrade | None = None
        self._closing = threading.Event()
        self.runner = Runner(PortfolioDesk(self))
        self.feed = HubFeed(settings, lambda symbol, bar: self.process_event(symbol, bar))

    def start(self) -> None:
        super().start()
        self.store = PaperStore(self.database)
        limits_store = LimitsStore(self.database)
        limits_store.import_file(legacy_limits_file(self.settings))
        self.pretrade = PreTrade(LimitsCache(limits_store, self.settings), lambda: self.catalog,
                                 self.settings.max_bars_per_request, self.store.accepted_since)
        threading.Thread(target=self._follow_limits, daemon=True, name="portfolio-limits").start()
        self._reload()
        if DEFAULT_ACCOUNT not in self._ids:
            try:
                self.create_account(AccountCreate(name=DEFAULT_ACCOUNT, cash=DEFAULT_CASH))
            except Conflict:  # another process made it first
                self._reload()

    def close(self) -> None:
        self._closing.set()
        self.runner.stop_all()
        self.feed.close()
        super().close()

    def _reload(self) -> None:
        assert self.store is not None
        with self._lock:
            self.book = self.store.load()
            self._ids = {a.name: a.id for a in self.book.accounts.values()}
            if self.pretrade is not None:
                self.pretrade.forget()
            self._refresh_instruments()

    def update_metrics(self) -> None:
        with self._lock:
            working: dict[int, int] = {}
            for order in self.book.orders.values():
                working[order.account_id] = working.get(order.account_id, 0) + 1
            for account in self.book.accounts.values():
                point = self.book.valuation(account)
                EQUITY.labels(account.name).set(point.equity)
                UNREALISED.labels(account.name).set(point.unrealised)
                WORKING.labels(account.name).set(working.get(account.id, 0))
            if self.pretrade is not None:
                self.pretrade.export(self.book)

    def _follow_limits(self) -> None:
        """Re-read an account's limits when ``risk.limits`` says they changed. Only a head start: every order
        revalidates its limits' version anyway, so a lost or late event (the bus down) changes nothing."""
        while not self._closing.is_set():
            try:
                sub = self.bus.subscribe(LIMITS_TOPIC)
            except Exception as exc:
                log.warning("risk.limits: cannot subscribe (%s); orders still revalidate their limits", exc)
                self._closing.wait(5.0)
                continue
            try:
                while not self._closing.is_set():
                    got = sub.get(timeout=1.0)
                    account = got[1].get("account") if got is not None else None
                    if isinstance(account, str) and self.pretrade is not None:
                        self.pretrade.cache.current(account)
            except Exception as exc:  # the bus or the database went away: subscribe again shortly
                log.warning("risk.limits: %s", exc)
                self._closing.wait(1.0)
            finally:
                sub.close()

    def _refresh_instruments(self) -> None:
        instruments = self.database.list_instruments()
        self._symbols = {i["symbol"] for i in instruments if i["series"]}
        self.book.currencies = {i["symbol"]: i["currency"] for i in instruments if i["currency"]}

    # Accounts ---------------------------------------------------------------------------------------
    def account_of(self, name: str) -> Account:
        account_id = self._ids.get(name)
        if account_id is None:
            raise NotFound(f"unknown account {name!r}", field="account")
        return self.book.accounts[account_id]

    @handler(idempotent=False)
    def create_account(self, req: AccountCreate) -> AccountReply:
        name = req.name.strip()
        if not name or len(name) > 64:
            raise InvalidInput("name must be 1-64 characters", field="name")
        check_name(name, "name")
        check_name(req.base_currency, "base_currency")
        base = req.base_currency.strip().upper()
        if not (_CURRENCY_LEN[0] <= len(base) <= _CURRENCY_LEN[1]):
            raise InvalidInput(f"base_currency {req.base_currency!r} is not a currency code", field="base_currency")
        cash = {base: req.cash} if isinstance(req.cash, (int, float)) else {k.upper(): v for k, v in req.cash.items()}
        for ccy, amount in cash.items():
            check_name(ccy, "cash")
            check_number(amount, f"cash.{ccy}" if isinstance(req.cash, dict) else "cash", lo=0.0, hi=AMOUNT_MAX)
        cfg = _fill_config(req)
        assert self.store is not None
        with self._lock:
            account_id = self.store.create_account(name, base, cash, cfg)
            self.book.accounts[account_id] = Account(account_id, name, base, cfg, dict(cash))
            self._ids[name] = account_id
        return self.account(AccountRef(account=name))

    @handler
    def accounts(self) -> Items:
        with self._lock:
            return Items(items=[self._summary(a) for a in self.book.accounts.values()])

    @handler
    def account(self, req: AccountRef) -> AccountReply:
        with self._lock:
            return AccountReply(account=self._summary(self.account_of(req.account)))

    def _summary(self, account: Account) -> dict[str, Any]:
        point = self.book.valuation(account)
        cfg = account.config
        return {"id": account.id, "name": account.name, "base_currency": account.base_currency,
                "cash": dict(account.cash), "equity": point.equity, "cash_value": point.cash,
                "unrealised_pnl": point.unrealised, "realised_pnl": point.realised, "fees": point.fees,
                "peak_equity": account.peak_equity,
                "daily_pnl": None if account.day_start_equity is None else point.equity - account.day_start_equity,
                "open_orders": sum(1 for o in self.book.orders.values() if o.account_id == account.id),
                "config": {"slippage_bps": cfg.slippage_bps, "fee_bps": cfg.fee_bps, "fixed_fee": cfg.fixed_fee,
                           "latency_ms": cfg.latency_ms, "max_participation": cfg.max_participation}}

    @handler(idempotent=False)
    def change_cash(self, req: CashChange) -> AccountReply:
        """Deposit or withdraw cash (a withdrawal may not take the currency's cash below zero)."""
        _finite(req.amount, "amount", positive=False)
        check_name(req.currency, "currency")
        assert self.store is not None
        with self._lock:
            account = self.account_of(req.account)
            ccy = (req.currency or account.base_currency).upper()
            current = account.cash.get(ccy, 0.0)
            if not math.isfinite(current):  # written before the bounds existed: any change repairs it from 0
                current = 0.0
            new = current + req.amount
            if new < 0:
                raise InvalidInput(f"withdrawal exceeds the {ccy} cash ({current:.2f})", field="amount")
            if new > CASH_MAX:
                raise InvalidInput(f"the {ccy} cash would exceed {CASH_MAX:g}", field="amount")
            self.store.change_cash(account.id, ccy, new, req.amount)
            account.cash[ccy] = new
            return AccountReply(account=self._summary(account))

    # Orders -----------------------------------------------------------------------------------------
    @handler(idempotent=False)
    def submit_order(self, req: OrderRequest) -> OrderReply:
        """Validate, pre-trade check, persist and acknowledge an order (it fills on later bars)."""
        assert self.store is not None
        try:
            account, side, reference = self._validate(req)
        except NautilusError as exc:
            self.database.audit("portfolio", "invalid_order", req.account,
                                {"error": exc.message, "field": exc.field, "request": msgspec.to_builtins(req)})
            raise
        if req.client_order_id is not None:
            existing = self.store.find_order(account.id, req.client_order_id)
            if existing is not None:
                return OrderReply(order=_record(existing), created=False)
        pretrade = self.pretrade
        assert pretrade is not None
        checks = []
        with self._lock:  # the check sees the book the order joins; its rate window counts it before the next
            if req.quantity is not None:
                units = req.quantity
            else:
                units = (req.equity_pct or 0.0) * self.book.valuation(account).equity / reference
            clock = self.book.clock(account.id, req.symbol)
            values = {
                "account_id": account.id, "client_order_id": req.client_order_id, "strategy": req.strategy,
                "symbol": req.symbol, "side": req.side, "type": req.type, "tif": req.tif,
                "quantity": req.quantity or 0.0, "equity_pct": req.equity_pct, "limit_price": req.limit_price,
                "stop_price": req.stop_price, "filled": 0.0, "fees": 0.0, "triggered": False,
                "eligible_ns": eligible_from(clock, account.config.latency_ms),
                "day": (clock if clock is not None else time.time_ns()) // NS_PER_DAY,
            }

            def draft(cursor: Any) -> OrderDraft:  # inside the order's transaction: the limits read there
                check = pretrade.check(self.book, account, req.symbol, side * units, reference, cursor)
                checks.append(check)
                decision = check.decision
                risk = msgspec.to_builtins(decision)
                values.update(status="open" if decision.accepted else "rejected", risk=risk,
                              reason=None if decision.accepted else decision.message)
                return OrderDraft(values, {"request": msgspec.to_builtins(req), "risk": risk},
                                  [("check_order", f"{account.name}/{req.symbol}", check.audit())])

            row, created = self.store.add_order(draft)
            faults.point("portfolio.order.committed")  # crash tests: committed, not yet acknowledged
            if created:
                pretrade.commit(account, checks[-1])
                if row["status"] == "open":
                    self.book.add_order(order_from_row({**values, **row}))
        record = _record(row)
        if created:
            ORDERS.labels(row["status"] if row["status"] == "rejected" else "accepted").inc()
            self.bus.publish(f"portfolio.orders.{account.name}", _event("order", record))
            if row["status"] == "rejected":
                self.bus.publish("risk.alerts", {"kind": "order_rejected", "account": account.name,
                                                 "order_id": row["id"], "symbol": req.symbol,
                                                 "reasons": msgspec.to_builtins(checks[-1].decision.reasons)})
        return OrderReply(order=record, created=created)

    def _validate(self, req: OrderRequest) -> tuple[Account, int, float]:
        account = self.account_of(req.account)
        if req.symbol not in self._symbols:
            self._refresh_instruments()
            if req.symbol not in self._symbols:
                raise NotFound(f"unknown instrument {req.symbol!r} (no bars in the catalog)", field="symbol")
        if (req.quantity is None) == (req.equity_pct is None):
            raise InvalidInput("give exactly one of quantity or equity_pct", field="quantity")
        check_name(req.symbol, "symbol")
        check_name(req.strategy, "strategy", allow_empty=True, max_length=128)
        _finite(req.quantity, "quantity", hi=QUANTITY_MAX)
        if req.equity_pct is not None and not (math.isfinite(req.equity_pct) and 0 < req.equity_pct <= 10):
            raise InvalidInput("equity_pct must be in (0, 10]", field="equity_pct")
        if req.type in ("limit", "stop_limit") and req.limit_price is None:
            raise InvalidInput(f"a {req.type} order needs limit_price", field="limit_price")
        if req.type in ("stop", "stop_limit") and req.stop_price is None:
            raise InvalidInput(f"a {req.type} order needs stop_price", field="stop_price")
        if req.type == "market" and (req.limit_price is not None or req.stop_price is not None):
            raise InvalidInput("a market order takes no limit_price or stop_price", field="type")
        _finite(req.limit_price, "limit_price", hi=PRICE_MAX)
        _finite(req.stop_price, "stop_price", hi=PRICE_MAX)
        check_name(req.client_order_id, "client_order_id", CLIENT_ID_MAX)
        ccy = self.book.currency(req.symbol, account)
        if math.isnan(self.book.fx(account, ccy)):
            raise InvalidInput(f"{req.symbol} trades in {ccy} and no {ccy}{account.base_currency} rate is known",
                               field="symbol")
        reference = req.limit_price or req.stop_price or self._last_price(account, req.symbol)
        return account, (1 if req.side == "buy" else -1), reference

    def _last_price(self, account: Account, symbol: str) -> float:
        """The account's last mark of the instrument, else the last close in the catalog (daily first)."""
        mark = self.book.mark(account.id, symbol)
        if mark is not None:
            return mark
        timeframes = sorted(self.catalog.timeframes(symbol), key=lambda tf: tf != "1d")
        for tf in timeframes:
            last_ts = self.catalog.stats(symbol, tf).last_ts
            bars = self.catalog.read(symbol, tf, start_ns=last_ts)
            if len(bars):
                return float(bars.close[-1])
        raise NotFound(f"no price known for {symbol!r}", field="symbol")

    # Pre-trade risk ---------------------------------------------------------------------------------
    def pre_trade_check(self, account: Account, symbol: str, quantity: float, price: float) -> RiskDecision:
        """The decision on a signed order that is not placed (a deployment's validation; audited, not counted
        towards the order-rate limit)."""
        assert self.pretrade is not None
        with self._lock:
            check = self.pretrade.check(self.book, account, symbol, quantity, price)
        self.database.audit("portfolio", "check_order", f"{account.name}/{symbol}", check.audit())
        return check.decision

    @handler(idempotent=False)
    def cancel_order(self, req: OrderRef) -> OrderReply:
        assert self.store is not None
        with self._lock:
            order = self.book.orders.get(req.order_id)
            if order is None:
                row = self.store.get_order(req.order_id)  # NotFound for an unknown id
                raise Conflict(f"order {req.order_id} is {row['status']} and cannot be cancelled", field="order_id")
            order.status, order.reason = "cancelled", "cancelled by request"
            self.book.remove_order(order)
            row = self.store.update_order(order, "cancel_order", {})
        record = _record(row)
        self.bus.publish(f"portfolio.orders.{self._name(order.account_id)}", _event("order", record))
        return OrderReply(order=record)

    @handler(idempotent=False)
    def amend_order(self, req: AmendRequest) -> OrderReply:
        """Change a working order's quantity (not below what has filled) or its prices."""
        assert self.store is not None
        _finite(req.quantity, "quantity", hi=QUANTITY_MAX)
        _finite(req.limit_price, "limit_price", hi=PRICE_MAX)
        _finite(req.stop_price, "stop_price", hi=PRICE_MAX)
        with self._lock:
            order = self.book.orders.get(req.order_id)
            if order is None:
                row = self.store.get_order(req.order_id)
                raise Conflict(f"order {req.order_id} is {row['status']} and cannot be amended", field="order_id")
            work = order.work
            if req.quantity is not None:
                if work.equity_pct is not None and work.filled == 0.0:
                    raise InvalidInput("an equity_pct order's size is set at its fill", field="quantity")
                if req.quantity < work.filled:
                    raise InvalidInput(f"quantity {req.quantity} is below the filled {work.filled}", field="quantity")
            if req.limit_price is not None and work.limit_price is None:
                raise InvalidInput(f"a {work.type} order has no limit price", field="limit_price")
            if req.stop_price is not None and work.stop_price is None:
                raise InvalidInput(f"a {work.type} order has no stop price", field="stop_price")
            if req.quantity is not None:
                work.quantity = req.quantity
            work.limit_price = req.limit_price or work.limit_price
            work.stop_price = req.stop_price or work.stop_price
            if work.quantity > 0 and work.remaining <= 0:
                order.status = "filled"
                self.book.remove_order(order)
            row = self.store.update_order(order, "amend_order", msgspec.to_builtins(req))
        record = _record(row)
        self.bus.publish(f"portfolio.orders.{self._name(order.account_id)}", _event("order", record))
        return OrderReply(order=record)

    @handler
    def order(self, req: OrderRef) -> OrderReply:
        assert self.store is not None
        return OrderReply(order=_record(self.store.get_order(req.order_id)))

    @handler
    def orders(self, req: OrdersQuery) -> OrderList:
        assert self.store is not None
        if not 1 <= req.limit <= 10_000:
            raise InvalidInput("limit must be in [1, 10000]", field="limit")
        account_id = None if req.account is None else self.account_of(req.account).id
        return OrderList(items=[_record(r) for r in self.store.orders(account_id, req.status, req.symbol, req.limit)])

    @handler
    def fills(self, req: FillsQuery) -> Items:
        assert self.store is not None
        account_id = None if req.account is None else self.account_of(req.account).id
        return Items(items=self.store.fills(account_id, req.strategy, req.symbol, req.limit))

    @handler
    def positions(self, req: AccountRef) -> Items:
        """Positions per strategy and net per symbol, marked to the last bar."""
        with self._lock:
            account = self.account_of(req.account)
            rows = []
            net: dict[str, dict[str, float]] = {}
            for (acct, strategy, symbol), pos in sorted(self.book.positions.items()):
                if acct != account.id or (pos.quantity == 0.0 and pos.realised_pnl == 0.0):
                    continue
                mark = self.book.mark(account.id, symbol) or pos.avg_price
                row = {"strategy": strategy, "symbol": symbol, "quantity": pos.quantity, "avg_price": pos.avg_price,
                       "mark": mark, "market_value": pos.quantity * mark, "unrealised_pnl": pos.unrealised(mark),
                       "realised_pnl": pos.realised_pnl, "fees": pos.fees}
                rows.append(row)
                agg = net.setdefault(symbol, {"symbol": symbol, "quantity": 0.0, "market_value": 0.0,  # type: ignore
                                              "unrealised_pnl": 0.0, "realised_pnl": 0.0, "mark": mark})
                for k in ("quantity", "market_value", "unrealised_pnl", "realised_pnl"):
                    agg[k] += row[k]
            return Items(items=[{"net": list(net.values()), "by_strategy": rows}])

    @handler
    def equity(self, req: EquityQuery) -> Items:
        assert self.store is not None
        return Items(items=self.store.equity(self.account_of(req.account).id, req.start_ns, req.limit))

    @handler
    def reconcile(self, req: AccountRef) -> AccountReply:
        """Positions, cash and filled quantities rebuilt from the fills, compared with the stored state."""
        assert self.store is not None
        with self._lock:
            account = self.account_of(req.account)
            return AccountReply(account={"name": account.name, **self.store.reconcile(account.id)})

    # Live bars --------------------------------------------------------------------------------------
    @handler(idempotent=True)
    def follow(self, req: FollowRequest) -> FeedReply:
        """Feed every account's book with the bars arriving on the hub's ``bars.<SYMBOL>`` channels."""
        for i, symbol in enumerate(req.symbols):
            check_name(symbol, f"symbols.{i}")
        for symbol in req.symbols:
            self.feed.follow(symbol)
        return self.feeds()

    @handler
    def feeds(self) -> FeedReply:
        return FeedReply(symbols=sorted(self.feed.symbols), received=self.feed.received, gaps=self.feed.gaps)

    # Optimisation -----------------------------------------------------------------------------------
    @handler(idempotent=False)
    def optimize(self, req: OptimizeRequest) -> OptimizeReply:
        """Weights by ``req.method`` from the catalog's returns of ``symbols`` (default: the account's holdings);
        with ``rebalance`` the orders that move the account there are submitted (each risk-checked)."""
        from nautilus.core.bounds import normalize_symbol
        from nautilus.portfolio import current_weights, optimize, rebalance_orders
        from nautilus.risk.data import aligned_returns
        from nautilus.storage.bars import read_bars
        from nautilus.strategy.backtest.config import panel_calendar, resolve_periods_per_year

        account = self.account_of(req.account)
        with self._lock:
            positions = self.book.net_positions(account.id)
        symbols = list(dict.fromkeys(map(normalize_symbol, req.symbols))) or sorted(positions)
        if len(symbols) < 2:
            raise InvalidInput("give at least two symbols (or hold at least two)", field="symbols")
        series = [read_bars(self.catalog, s, req.timeframe, req.start_ns, req.end_ns) for s in symbols]
        _, returns, last_close = aligned_returns(series)
        params = {k: tuple(v) if k == "bounds" and isinstance(v, list) and len(v) == 2
                  and not isinstance(v[0], list) else v for k, v in req.params.items()}
        with self._lock:
            prices = {s: self.book.mark(account.id, s) or float(c) for s, c in zip(symbols, last_close, strict=True)}
            equity = self.book.valuation(account).equity
        if "max_turnover" in params and "w_current" not in params:
            params["w_current"] = current_weights({s: positions.get(s, 0.0) for s in symbols}, prices, equity=equity)
        annual = resolve_periods_per_year(req.timeframe, calendar=panel_calendar(symbols),
                                          periods_per_year=params.pop("periods_per_year", None))
        result = optimize(req.method, returns, assets=symbols, periods_per_year=annual["periods_per_year"],
                          **params)
        orders = []
        if req.rebalance:  # positions outside ``symbols`` stay; the weights apply to the equity left beside them
            held = {s: positions.get(s, 0.0) for s in symbols}
            with self._lock:
                others = sum(q * (self.book.mark(account.id, s) or 0.0) for s, q in positions.items() if s not in held)
            for planned in rebalance_orders(result.weights, held, prices, equity=equity - others,
                                            lot_size=req.lot_size or None, min_notional=req.min_notional):
                reply = self.submit_order(OrderRequest(account=account.name, symbol=planned.instrument,
                                                       side=planned.side, quantity=abs(planned.units),
                                                       strategy="rebalance"))
                orders.append(reply.order)
        return OptimizeReply(result=plain(result.to_dict()), symbols=symbols, observations=int(returns.shape[0]),
                             orders=orders, annualisation=annual)

    # Deployments ------------------------------------------------------------------------------------
    @handler(idempotent=False)
    def deploy(self, req: DeployRequest) -> DeploymentReply:
        """Start a strategy deployment (backtest → risk validation → paper trading on a replay)."""
        return self._deployment(self.runner.deploy(req))

    @handler
    def deployments(self) -> Items:
        return Items(items=[d.snapshot() for d in reversed(self.runner.deployments.values())])

    @handler
    def deployment(self, req: DeploymentRef) -> DeploymentReply:
        return self._deployment(self.runner.get(req.id))

    @handler(idempotent=True)
    def stop_deployment(self, req: DeploymentRef) -> DeploymentReply:
        return self._deployment(self.runner.stop(req.id))

    def _deployment(self, dep: Any) -> DeploymentReply:
        snap = dep.snapshot()
        if dep.status != "running":
            snap["trades"] = self.runner.trades(dep)
        return DeploymentReply(deployment=snap)

    # Bars -------------------------------------------------------------------------------------------
    @handler(idempotent=True)
    def on_bars(self, req: BarsPush) -> BarsReply:
        """Advance the book over new bars of one instrument (bars not after its clock are ignored)."""
        if not req.bars:
            raise InvalidInput("bars is empty", field="bars")
        check_name(req.symbol, "symbol")
        for i, b in enumerate(req.bars):  # one bar out of bounds would move the symbol's clock for every account
            check_bar(b.ts, b.open, b.high, b.low, b.close, b.volume, f"bars.{i}")
        results = [self.process_event(req.symbol, Bar(b.ts, b.open, b.high, b.low, b.close, b.volume))
                   for b in req.bars]
        return _events_reply(req.symbol, results)

    @handler(idempotent=True)
    def on_quotes(self, req: QuotesPush) -> BarsReply:
        """Fill working orders against quotes (buys at the ask, sells at the bid, up to the size shown)."""
        if not req.quotes:
            raise InvalidInput("quotes is empty", field="quotes")
        check_name(req.symbol, "symbol")
        for i, q in enumerate(req.quotes):
            check_timestamp(q.ts, f"quotes.{i}.ts")
            check_number(q.ask, f"quotes.{i}.ask", lo=0.0, hi=PRICE_MAX, lo_open=True)
            if not (math.isfinite(q.bid) and math.isfinite(q.ask) and 0 < q.bid <= q.ask) or not (
                    q.bid_size >= 0 and q.ask_size >= 0):
                raise InvalidInput(f"quote {i} needs 0 < bid <= ask and sizes >= 0", field=f"quotes.{i}")
        results = [self.process_event(req.symbol, Quote(q.ts, q.bid, q.ask, q.bid_size, q.ask_size))
                   for q in req.quotes]
        return _events_reply(req.symbol, results)

    def process_event(self, symbol: str, event: Bar | Quote, accounts: list[int] | None = None) -> BarResult:
        """One bar or quote through the book (of ``accounts``, default all) and into the database in one
        transaction; publishes what changed."""
        assert self.store is not None
        with self._lock:
            if isinstance(event, Quote):
                result = self.book.on_quote(symbol, event, accounts)
            else:
                result = self.book.on_bar(symbol, event, accounts)
            if result.ignored:
                return result
            try:
                self.store.save_event(result, self.book)
            except Exception:
                self._reload()  # the database is the truth: drop the in-memory changes
                raise
            faults.point("portfolio.bar.committed")
        self._publish(result)
        return result

    def _publish(self, result: BarResult) -> None:
        bus = self.bus
        for order in result.orders:
            bus.publish(f"portfolio.orders.{self._name(order.account_id)}", _event("order", _order_state(order)))
        for fill in result.fills:
            bus.publish(f"portfolio.fills.{self._name(fill.account_id)}", _event("fill", fill))
        for (account_id, strategy, symbol), pos in result.positions.items():
            bus.publish(f"portfolio.positions.{self._name(account_id)}", _event("position", {
                "strategy": strategy, "symbol": symbol, "quantity": pos.quantity, "avg_price": pos.avg_price,
                "realised_pnl": pos.realised_pnl, "fees": pos.fees}))
        for point in result.equity:
            bus.publish(f"portfolio.equity.{self._name(point.account_id)}", _event("equity", point))

    def _name(self, account_id: int) -> str:
        account = self.book.accounts.get(account_id)
        return account.name if account is not None else str(account_id)


def _events_reply(symbol: str, results: list[BarResult]) -> BarsReply:
    ignored = sum(r.ignored for r in results)
    return BarsReply(symbol=symbol, processed=len(results) - ignored, ignored=ignored,
                     fills=[f for r in results for f in r.fills], orders=[_order_state(o) for r in results for o in r.orders])


def _event(kind: str, payload: Any) -> dict[str, Any]:
    """A bus event: ``kind`` plus the payload's fields (a struct or a dataclass)."""
    return {"kind": kind, **msgspec.to_builtins(payload)}


def _order_state(order: Order) -> OrderState:
    w = order.work
    return OrderState(id=order.id, account_id=order.account_id, strategy=order.strategy, symbol=order.symbol,
                      side=order.side, type=w.type, tif=w.tif, quantity=w.quantity, filled=w.filled,
                      status=order.status, avg_fill_price=order.avg_fill_price, fees=order.fees, reason=order.reason,
                      client_order_id=order.client_order_id)


def _record(row: dict[str, Any]) -> OrderRecord:
    """The typed order of a stored row (its ``risk`` JSON becomes a :class:`RiskDecision`)."""
    return msgspec.convert(row, OrderRecord)
