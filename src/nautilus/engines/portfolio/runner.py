"""Strategy deployments: backtest → risk validation → paper trading on a replay of stored bars.

A deployment runs in its own thread inside the Portfolio engine. With ``source="replay"`` the paper stage
feeds the stored bars to the deployment's account only (each account has its own feed clock); with
``source="stream"`` it trades the bars that arrive on the hub's ``bars.<SYMBOL>`` channel (a replay started
elsewhere, or a live adapter) after validating on the stored history. In both, after each bar it computes the
strategy's signals from the bars seen so far (never later ones) and submits the orders the backtester
would: market orders filling at the next bar's open, entries sized as a fraction of equity at the fill,
exits of the whole position, all through the normal order path (risk check, persistence, events). So on
the same bars and fill settings the paper trades equal the backtest's trades.

Deployments are kept in memory; their orders, fills and positions are in the database like any other
(tagged with the deployment's strategy label), so they survive a restart of the engine even though the
run itself does not resume. The runner reaches its engine through :class:`Desk` only: the few operations a
deployment needs (read bars, look at its account, check, submit and fill orders, follow a stream, audit and
publish), which the Portfolio engine provides (:mod:`nautilus.engines.portfolio.desk`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, NautilusError, NotFound
from nautilus.engines.portfolio.messages import DeployRequest, OrderReply, OrderRequest
from nautilus.engines.risk.messages import RiskDecision
from nautilus.trading.book import Account, FillRecord, round_trips
from nautilus.trading.matching import Bar, decide

Listener = Callable[[str, Bar], None]


@dataclass(frozen=True, slots=True)
class Holdings:
    """An account's net positions (units per symbol, nonzero), cash and equity in its base currency."""

    positions: dict[str, float]
    cash: float
    equity: float


class Desk(Protocol):
    """What a deployment needs from the engine it trades in."""

    settings: Settings

    def account(self, name: str) -> Account:
        """The paper account (``NotFound`` when there is none)."""

    def bars(self, symbol: str, timeframe: str, start_ns: int | None, end_ns: int | None) -> Bars:
        """Stored bars (``NotFound`` when the catalog has none)."""

    def holdings(self, account: Account) -> Holdings: ...

    def position(self, account: Account, strategy: str, symbol: str) -> float:
        """The units a strategy holds in ``symbol``."""

    def check(self, account: Account, symbol: str, quantity: float, price: float) -> RiskDecision:
        """The pre-trade decision on a signed order that is not placed."""

    def submit(self, order: OrderRequest) -> OrderReply: ...

    def fill(self, account: Account, symbol: str, bar: Bar) -> None:
        """Run a bar through the account's book (its working orders fill, its marks move)."""

    def follow(self, symbol: str, listener: Listener) -> None:
        """Call ``listener`` with each live bar of ``symbol`` (after every book has seen it)."""

    def unfollow(self, symbol: str, listener: Listener) -> None: ...

    def fills(self, account: Account, strategy: str, symbol: str) -> list[FillRecord]: ...

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None: ...

    def publish(self, topic: str, message: dict[str, Any]) -> None: ...

MAX_KEPT = 100  # finished deployments remembered
HISTORY = 5_000  # bars a stream deployment keeps for its signals


@dataclass
class Deployment:
    id: str
    request: DeployRequest
    label: str  # the ``strategy`` tag of its orders and positions
    bars: int
    status: str = "running"  # running | done | failed | rejected | stopped
    stage: str = "backtest"  # backtest | risk | paper
    processed: int = 0
    orders: int = 0
    error: str | None = None
    backtest: dict[str, Any] | None = None
    risk: RiskDecision | None = None
    warnings: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def snapshot(self) -> dict[str, Any]:
        req = self.request
        return {"id": self.id, "strategy": req.strategy, "label": self.label, "symbol": req.symbol,
                "timeframe": req.timeframe, "account": req.account, "params": req.params, "status": self.status,
                "stage": self.stage, "bars": self.bars, "processed": self.processed, "orders": self.orders,
                "error": self.error, "warnings": self.warnings, "backtest": self.backtest,
                "risk": None if self.risk is None else msgspec.to_builtins(self.risk),
                "started_at": self.started_at,
                "finished_at": self.finished_at}


class Runner:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.deployments: dict[str, Deployment] = {}
        self._lock = threading.Lock()

    def deploy(self, req: DeployRequest) -> Deployment:
        """Check the request (4xx on bad input), then run the stages in a thread."""
        # the backtester (numba kernels) loads with the first deployment, not at engine start
        from nautilus.strategy.backtest import validate_params
        from nautilus.strategy.backtest.strategies import resolve_strategy

        settings = self.desk.settings  # user code: only from the admin's strategies dir or packages
        strategy = resolve_strategy(req.strategy, strategies_dir=settings.strategies_dir,
                                    packages=settings.strategy_packages)
        params = validate_params(strategy, req.params)
        if not (0 < req.size <= 10):
            raise InvalidInput("size must be in (0, 10]", field="size")
        if req.bars_per_second < 0:
            raise InvalidInput("bars_per_second must be >= 0", field="bars_per_second")
        self.desk.account(req.account)
        try:
            bars = self.desk.bars(req.symbol, req.timeframe, req.start_ns, req.end_ns)
        except NotFound:
            raise NotFound(f"no {req.timeframe} bars of {req.symbol!r} in the catalog", field="symbol") from None
        if len(bars) < 2:
            raise InvalidInput(f"{req.symbol} has {len(bars)} bars in the range; a deployment needs 2 or more",
                               field="symbol")
        dep_id = uuid.uuid4().hex[:12]
        dep = Deployment(dep_id, req, f"{strategy.name}#{dep_id}", len(bars))
        self._warn_if_holding(dep)
        dep.thread = threading.Thread(target=self._run, args=(dep, strategy, params, bars), daemon=True,
                                      name=f"deploy-{dep_id}")
        with self._lock:
            self.deployments[dep_id] = dep
            self._forget_old()
        dep.thread.start()
        if req.wait:
            dep.thread.join()
        return dep

    def _warn_if_holding(self, dep: Deployment) -> None:
        """A deployment sizes its entries on the account's whole equity: positions already held mean it trades
        beside them (its buys then meet the ``min_cash`` limit). Warn in the reply, the audit log and the bus."""
        desk = self.desk
        account = desk.account(dep.request.account)
        holdings = desk.holdings(account)
        held, cash = holdings.positions, holdings.cash
        if not held:
            return
        listed = ", ".join(f"{s} {q:g}" for s, q in sorted(held.items())[:10])
        message = (f"account {account.name!r} already holds positions ({listed}; cash {cash:.2f}): the deployment "
                   f"sizes entries on the whole equity and trades beside them; orders that would take cash below "
                   f"the account's min_cash limit are rejected")
        dep.warnings.append(message)
        desk.audit("deploy_warning", account.name, {"deployment": dep.id, "strategy": dep.request.strategy,
                                                    "positions": held, "cash": cash, "message": message})
        desk.publish("risk.alerts", {"kind": "deployment_on_held_positions", "deployment": dep.id,
                                           "account": account.name, "message": message})

    def get(self, dep_id: str) -> Deployment:
        dep = self.deployments.get(dep_id)
        if dep is None:
            raise NotFound(f"no deployment {dep_id!r}", field="id")
        return dep

    def stop(self, dep_id: str, timeout: float = 5.0) -> Deployment:
        dep = self.get(dep_id)
        dep.stop.set()
        if dep.thread is not None:
            dep.thread.join(timeout)
        return dep

    def stop_all(self) -> None:
        for dep in list(self.deployments.values()):
            dep.stop.set()
        for dep in list(self.deployments.values()):
            if dep.thread is not None:
                dep.thread.join(5.0)

    def _forget_old(self) -> None:
        done = [d for d in self.deployments.values() if d.status != "running"]
        for dep in done[: max(0, len(done) - MAX_KEPT)]:
            del self.deployments[dep.id]

    # Stages -----------------------------------------------------------------------------------------
    def _run(self, dep: Deployment, strategy: Any, params: dict[str, Any], bars: Bars) -> None:
        try:
            if dep.request.validate and not self._validate(dep, strategy, params, bars):
                return
            dep.stage = "paper"
            self._publish(dep)
            if dep.request.source == "stream":
                self._stream(dep, strategy, params, bars)
            else:
                self._paper(dep, strategy, params, bars)
            dep.status = "stopped" if dep.stop.is_set() else "done"
        except NautilusError as exc:
            dep.status, dep.error = "failed", exc.message
        except Exception as exc:  # a user's strategy may raise anything: report it, keep the engine up
            dep.status, dep.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            dep.finished_at = time.time()
            self._publish(dep)

    def config(self, dep: Deployment) -> Any:
        from nautilus.strategy.backtest.config import config_for

        account = self.desk.account(dep.request.account)
        cfg = account.config
        equity = self.desk.holdings(account).equity
        return config_for({"init_cash": equity, "fees_bps": cfg.fee_bps, "fixed_fee": cfg.fixed_fee,
                           "slippage_bps": cfg.slippage_bps, "size": dep.request.size,
                           "direction": dep.request.direction}, dep.request.timeframe, symbol=dep.request.symbol)

    def _validate(self, dep: Deployment, strategy: Any, params: dict[str, Any], bars: Bars) -> bool:
        """Backtest on the same bars, then the largest entry against the account's pre-trade limits."""
        from nautilus.strategy.backtest import run_backtest

        result = run_backtest(bars, strategy, params, self.config(dep))
        dep.backtest = {"stats": result.stats, "trades": result.trades_list()}
        dep.stage = "risk"
        trades = dep.backtest["trades"]
        if not trades:
            dep.risk = RiskDecision(accepted=True, reasons=[], checked=[], note="the backtest made no trades")
            return True
        biggest = max(trades, key=lambda t: t["size"] * t["entry_price"])
        side = 1 if biggest["direction"] == "long" else -1
        account = self.desk.account(dep.request.account)
        dep.risk = self.desk.check(account, dep.request.symbol, side * biggest["size"], biggest["entry_price"])
        if not dep.risk.accepted:
            dep.status = "rejected"
            dep.error = "risk validation: " + dep.risk.message
            return False
        return True

    def _paper(self, dep: Deployment, strategy: Any, params: dict[str, Any], bars: Bars) -> None:
        req = dep.request
        account = self.desk.account(req.account)
        cfg = self.config(dep)
        pause = 1.0 / req.bars_per_second if req.bars_per_second > 0 else 0.0
        o, h, l, c, v = (np.ascontiguousarray(x, dtype=np.float64) for x in
                         (bars.open, bars.high, bars.low, bars.close, bars.volume))
        n = len(bars)
        for t in range(n):
            if dep.stop.is_set():
                return
            started = time.monotonic()
            bar = Bar(int(bars.ts[t]), float(o[t]), float(h[t]), float(l[t]), float(c[t]), float(v[t]))
            self.desk.fill(account, req.symbol, bar)
            dep.processed = t + 1
            if t + 1 < n:  # a signal on the last bar has no bar to fill on
                self._decide(dep, strategy, params, cfg, account, (o, h, l, c), t)
            if t % 50 == 0 or t + 1 == n:
                self._publish(dep)
            if pause:
                dep.stop.wait(max(0.0, pause - (time.monotonic() - started)))

    def _decide(self, dep: Deployment, strategy: Any, params: dict[str, Any], cfg: Any, account: Account,
                ohlc: tuple[np.ndarray, ...], t: int) -> None:
        """Signals from the bars up to ``t`` only, and the orders they ask for (as the backtester would)."""
        from nautilus.strategy.backtest import signal_sides

        o, h, l, c = (x[: t + 1] for x in ohlc)
        sig = strategy.build(o, h, l, c, [params], None)
        flags = [bool(s[t, 0]) if s is not None else False for s in signal_sides(cfg, sig)]
        held = self.desk.position(account, dep.label, dep.request.symbol)
        for k, action in enumerate(decide(held, *flags)):
            self._order(dep, action, held if action == "exit" else 0.0, k)

    def _stream(self, dep: Deployment, strategy: Any, params: dict[str, Any], history: Bars) -> None:
        """Paper-trade bars as they arrive on the hub's ``bars.<SYMBOL>`` channel (after the stored history)."""
        req = dep.request
        account = self.desk.account(req.account)
        cfg = self.config(dep)
        cols = [list(np.asarray(x, dtype=np.float64)[-HISTORY:]) for x in
                (history.open, history.high, history.low, history.close)]
        last_ts = [int(history.ts[-1]) if len(history) else None]

        def on_bar(symbol: str, bar: Bar) -> None:  # the feed has already run the bar through every account
            if dep.stop.is_set() or (last_ts[0] is not None and bar.ts <= last_ts[0]):
                return
            last_ts[0] = bar.ts
            for col, value in zip(cols, (bar.open, bar.high, bar.low, bar.close), strict=True):
                col.append(value)
                del col[:-HISTORY]
            dep.processed += 1
            arrays = tuple(np.asarray(col) for col in cols)
            self._decide(dep, strategy, params, cfg, account, arrays, len(cols[0]) - 1)
            self._publish(dep)

        self.desk.follow(req.symbol, on_bar)
        try:
            dep.stop.wait()
        finally:
            self.desk.unfollow(req.symbol, on_bar)

    def _order(self, dep: Deployment, action: str, position: float, k: int) -> None:
        req = dep.request
        common = {"account": req.account, "symbol": req.symbol, "strategy": dep.label,
                  "client_order_id": f"{dep.id}:{dep.processed}:{k}"}
        if action == "exit":
            order = OrderRequest(side="sell" if position > 0 else "buy", quantity=abs(position), **common)
        else:
            order = OrderRequest(side="buy" if action == "long" else "sell", equity_pct=req.size, **common)
        reply = self.desk.submit(order)
        dep.orders += 1
        if reply.order.status == "rejected":
            self.desk.publish("risk.alerts", {"kind": "deployment_order_rejected", "deployment": dep.id,
                                              "reason": reply.order.reason})

    def trades(self, dep: Deployment) -> list[dict[str, Any]]:
        """The deployment's paper trades (position episodes of its fills), like the backtester's."""
        account = self.desk.account(dep.request.account)
        return round_trips(self.desk.fills(account, dep.label, dep.request.symbol))

    def _publish(self, dep: Deployment) -> None:
        snap = dep.snapshot()
        snap.pop("backtest", None)
        self.desk.publish(f"portfolio.deployments.{dep.id}", snap)
