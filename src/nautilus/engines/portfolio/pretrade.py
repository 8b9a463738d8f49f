"""The Portfolio engine's pre-trade check: its own book against the Risk engine's limits, in its own process.

An order is checked under the engine's lock, inside the transaction that stores it: the account's limits are
revalidated there by version (:class:`nautilus.engines.risk.pretrade.LimitsCache`: one primary-key read; the
``risk.limits`` bus event only refreshes the cache earlier), so no order is checked against limits older than
a change whose reply came before the order's transaction began. The state is the book the order joins
(positions, marks, equity, daily P&L, peak equity, cash in the base currency), the VaR of ``var_budget`` comes
from the stored bars, and an accepted order counts towards the order-rate limit once it committed. This
engine is the one writer of the rate windows: a window is rebuilt from the stored orders when it is first
needed (after a start, or when the limits change it), so a restart does not reset it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from nautilus.core.errors import InvalidInput
from nautilus.engines.risk.messages import RiskDecision
from nautilus.engines.risk.pretrade import (
    DECISIONS,
    Limits,
    LimitsCache,
    decision,
    export_utilisation,
    with_var,
)
from nautilus.risk import limits
from nautilus.trading.book import Account, PaperBook

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog


@dataclass(frozen=True, slots=True)
class Check:
    """One decision with what it was made on: the limits (their version), the signed order and the time."""

    decision: RiskDecision
    limits: Limits
    quantity: float
    price: float
    now: float

    def audit(self) -> dict[str, Any]:
        """The detail of its ``check_order`` audit row (listed by the Risk engine's ``decisions``)."""
        d = self.decision
        return {"quantity": self.quantity, "price": self.price, "accepted": d.accepted,
                "reasons": msgspec.to_builtins(d.reasons), "limits": d.limits, "version": self.limits.version}


@dataclass(slots=True)
class _Window:
    seconds: float
    rate: limits.RateLimiter


class PreTrade:
    """Checks of one engine's orders; the caller holds the engine's lock around :meth:`check` and :meth:`commit`."""

    def __init__(self, cache: LimitsCache, catalog: Callable[[], BarCatalog], max_bars: int,
                 accepted_since: Callable[[int, datetime], list[float]]) -> None:
        self.cache = cache
        self._catalog = catalog
        self._max_bars = max_bars
        self._accepted_since = accepted_since
        self._windows: dict[int, _Window] = {}  # account id -> its order-rate window
        self._var: dict[int, float | None] = {}  # account id -> the VaR of its positions at its last check

    def check(self, book: PaperBook, account: Account, symbol: str, quantity: float, price: float,
              cursor: Any = None) -> Check:
        """The decision on a signed order of ``account`` at ``price`` (``cursor``: the storing transaction's)."""
        if not (math.isfinite(quantity) and quantity != 0):
            raise InvalidInput("quantity must be a non-zero finite number", field="quantity")
        if not (math.isfinite(price) and price > 0):
            raise InvalidInput("price must be a positive finite number", field="price")
        effective = self.cache.current(account.name, cursor)
        now = time.time()
        state = self.state(book, account, effective.limit_set, now)
        order = limits.Order(symbol, quantity, price)
        lim = effective.limit_set
        if lim.var_budget is not None:
            checked = with_var(state, order, lim, self._catalog(), self._max_bars)
            self._var[account.id] = state.var
            state = checked
        result = limits.check_order(order, state, lim, now)
        DECISIONS.labels(account.name, "accepted" if result.accepted else "rejected").inc()
        return Check(decision(result, effective.source), effective, quantity, price, now)

    def commit(self, account: Account, check: Check) -> None:
        """Count an accepted order that committed towards its account's order-rate limit."""
        window = self._windows.get(account.id)
        if window is not None and check.decision.accepted:
            window.rate.record(check.now, window.seconds)

    def state(self, book: PaperBook, account: Account, lim: limits.LimitSet | None = None,
              now: float | None = None) -> limits.PortfolioState:
        """The account's state for the checks: net positions marked to the book (else their average price),
        equity, daily P&L, peak equity and cash, with its order-rate window for ``lim``."""
        account_id = account.id
        marks = book.marks.get(account_id, {})
        positions: dict[str, float] = {}
        avg: dict[str, float] = {}  # the first held position's average price: the mark of an unmarked symbol
        for (acct, _, symbol), pos in book.positions.items():
            if acct == account_id and pos.quantity != 0.0:
                positions[symbol] = positions.get(symbol, 0.0) + pos.quantity
                avg.setdefault(symbol, pos.avg_price)
        prices = {}
        gross = net = 0.0
        for symbol, units in positions.items():
            marked = marks.get(symbol)
            price = prices[symbol] = (marked[1] if marked is not None else None) or avg[symbol]
            gross += abs(units * price)
            net += units * price
        point = book.valuation(account)
        daily = 0.0 if account.day_start_equity is None else point.equity - account.day_start_equity
        state = limits.PortfolioState(positions=positions, prices=prices, equity=point.equity, gross_exposure=gross,
                                      net_exposure=net, daily_pnl=daily, peak_equity=account.peak_equity,
                                      cash=point.cash)
        if lim is not None and now is not None:
            state.rate = self._rate(account.id, lim, now)
        return state

    def _rate(self, account_id: int, lim: limits.LimitSet, now: float) -> limits.RateLimiter:
        """The account's order-rate window under ``lim``: rebuilt from the stored orders when the window is new
        or longer than the one kept; dropped when the limits have no rate limit."""
        seconds = lim.rate_window_seconds if lim.max_orders_per_window is not None else None
        window = self._windows.get(account_id)
        if seconds is None:
            self._windows.pop(account_id, None)
            return limits.RateLimiter()
        if window is None or window.seconds < seconds:
            since = datetime.fromtimestamp(now - seconds, UTC)
            window = _Window(seconds, limits.RateLimiter(self._accepted_since(account_id, since)))
            self._windows[account_id] = window
        window.seconds = seconds
        return window.rate

    def forget(self) -> None:
        """Drop the rate windows (the book was reloaded: they are rebuilt from the database when next needed)."""
        self._windows.clear()

    def export(self, book: PaperBook) -> None:
        """``nautilus_risk_limit_utilisation`` of every account with limits of its own (as last revalidated)."""
        for account in book.accounts.values():
            effective = self.cache.cached(account.name)
            if effective is not None and effective.source == "account":
                state = self.state(book, account)
                state.var = self._var.get(account.id)
                export_utilisation(account.name, state, effective.limit_set)
