"""The Portfolio engine's side of :class:`nautilus.engines.portfolio.runner.Desk`: what a deployment may do.

Each operation takes the engine's lock where it reads the book, and goes through the engine's own paths for
the rest (orders through ``submit_order``, bars through ``process_event``), so a deployment never touches the
book, the store, the catalog or the bus directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nautilus.config import Settings
from nautilus.core.bars import Bars
from nautilus.engines.portfolio.messages import OrderReply, OrderRequest
from nautilus.engines.portfolio.runner import Holdings, Listener
from nautilus.engines.risk.messages import RiskDecision
from nautilus.trading.book import Account, FillRecord
from nautilus.trading.matching import Bar

if TYPE_CHECKING:
    from nautilus.engines.portfolio.engine import PortfolioEngine


class PortfolioDesk:
    def __init__(self, engine: PortfolioEngine) -> None:
        self._engine = engine
        self.settings: Settings = engine.settings

    def account(self, name: str) -> Account:
        return self._engine.account_of(name)

    def bars(self, symbol: str, timeframe: str, start_ns: int | None, end_ns: int | None) -> Bars:
        return self._engine.catalog.read(symbol, timeframe, start_ns, end_ns)

    def holdings(self, account: Account) -> Holdings:
        engine = self._engine
        with engine._lock:
            positions = {s: q for s, q in engine.book.net_positions(account.id).items() if q}
            point = engine.book.valuation(account)
        return Holdings(positions, point.cash, point.equity)

    def position(self, account: Account, strategy: str, symbol: str) -> float:
        engine = self._engine
        with engine._lock:
            pos = engine.book.positions.get((account.id, strategy, symbol))
        return pos.quantity if pos is not None else 0.0

    def check(self, account: Account, symbol: str, quantity: float, price: float) -> RiskDecision:
        return self._engine.pre_trade_check(account, symbol, quantity, price)

    def submit(self, order: OrderRequest) -> OrderReply:
        return self._engine.submit_order(order)

    def fill(self, account: Account, symbol: str, bar: Bar) -> None:
        self._engine.process_event(symbol, bar, [account.id])

    def follow(self, symbol: str, listener: Listener) -> None:
        self._engine.feed.follow(symbol, listener)

    def unfollow(self, symbol: str, listener: Listener) -> None:
        self._engine.feed.unfollow(symbol, listener)

    def fills(self, account: Account, strategy: str, symbol: str) -> list[FillRecord]:
        store = self._engine.store
        assert store is not None
        return store.fill_records(account.id, strategy, symbol)

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        self._engine.database.audit("portfolio", action, target, detail)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._engine.bus.publish(topic, message)
