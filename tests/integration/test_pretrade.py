"""The pre-trade check runs in the Portfolio engine's process on the limits the Risk engine owns (stored in SQL,
versioned, published on ``risk.limits``): orders are checked with the Risk engine down, never against limits
older than a completed change (with or without the bus event), the order-rate window survives a restart, the
decisions are listed by the Risk engine and the utilisation gauge is exported by the Portfolio engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from nautilus.engines.portfolio.engine import PortfolioEngine
from nautilus.engines.portfolio.messages import BarIn, BarsPush, OrderRequest
from nautilus.engines.risk.engine import RiskEngine
from nautilus.engines.risk.messages import AccountRequest, LimitsBody, SetLimitsRequest
from nautilus.gateway.app import create_app
from nautilus.runtime.bus import InMemoryBus

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY  # after every generated bar


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request, settings):
    """Bars of AAA in the catalog and the database (through the gateway), then nothing running; the database is
    the embedded SQLite file or PostgreSQL (the production profile)."""
    if request.param == "postgresql":
        settings.database_url = request.getfixturevalue("pg_url").render_as_string(hide_password=False)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "AAA", "n": 300, "seed": 5})
        assert r.status_code == 201, r.text
    return settings


@contextmanager
def running(engine: RiskEngine | PortfolioEngine, bus: InMemoryBus | None = None) -> Iterator:
    if bus is not None:
        engine._bus = bus
    engine.start()
    try:
        yield engine
    finally:
        engine.close()


def set_limits(risk: RiskEngine, account: str = "default", **limits: float) -> None:
    risk.set_limits(SetLimitsRequest(account=account, limits=LimitsBody(**limits)))


def buy(portfolio: PortfolioEngine, quantity: float, account: str = "default") -> dict:
    """The order as the HTTP route returns it (its JSON form)."""
    order = portfolio.submit_order(OrderRequest(account=account, symbol="AAA", side="buy", quantity=quantity)).order
    return msgspec.to_builtins(order)


def last_close(portfolio: PortfolioEngine) -> float:
    return float(portfolio.catalog.read("AAA", "1d").close[-1])


def test_orders_are_checked_in_process_with_the_risk_engine_down(stack) -> None:
    with running(RiskEngine(stack)) as risk:
        set_limits(risk, max_order_notional=1_000.0)
    # the Risk engine is closed: the Portfolio engine reads the limits it stored, in its own process
    with running(PortfolioEngine(stack)) as portfolio:
        price = last_close(portfolio)
        units = int(1_000.0 / price)
        assert buy(portfolio, units)["status"] == "open"
        over = buy(portfolio, units + 1)
        assert over["status"] == "rejected"
        (reason,) = over["risk"]["reasons"]
        assert reason == {"limit": "max_order_notional", "value": pytest.approx((units + 1) * price),
                          "threshold": 1_000.0, "message": over["reason"]}
        assert over["risk"]["limits"] == "account" and over["risk"]["checked"] == ["max_order_notional"]
    with running(RiskEngine(stack)) as risk:  # the decisions are listed where they always were
        items = risk.decisions(AccountRequest()).items
        assert [(d.target, d.accepted, d.quantity) for d in items[:2]] == [
            ("default/AAA", False, units + 1), ("default/AAA", True, units)]
        assert items[0].reasons[0].limit == "max_order_notional"


@pytest.mark.parametrize("bus_event", [True, False], ids=["with-bus-event", "bus-event-lost"])
def test_no_order_is_checked_against_limits_older_than_a_completed_change(stack, bus_event) -> None:
    """Changes race orders: version v sets max_order_notional = 1000 v, every order breaches it (its threshold
    tells the version it was checked against). Each order must see at least every change whose reply came
    before the order was submitted, whether or not the ``risk.limits`` event reached the Portfolio engine."""
    shared = InMemoryBus()
    with running(RiskEngine(stack), shared) as risk, \
            running(PortfolioEngine(stack), shared if bus_event else InMemoryBus()) as portfolio:
        set_limits(risk, max_order_notional=1_000.0)
        replied: list[float] = [time.monotonic()]  # when the reply of version i + 1 came
        seen: list[tuple[float, int]] = []  # (when the order was submitted, the version it was checked against)
        changes = 40

        def change() -> None:
            for v in range(2, changes + 1):
                set_limits(risk, max_order_notional=1_000.0 * v)
                replied.append(time.monotonic())
                time.sleep(0.005)  # let orders in between

        writer = threading.Thread(target=change)
        writer.start()
        while writer.is_alive() or len(seen) < 5:
            submitted = time.monotonic()
            order = buy(portfolio, 1e6)
            (reason,) = order["risk"]["reasons"]
            seen.append((submitted, round(reason["threshold"] / 1_000.0)))
        writer.join()
        submitted = time.monotonic()  # after the last reply
        seen.append((submitted, round(buy(portfolio, 1e6)["risk"]["reasons"][0]["threshold"] / 1_000.0)))
        for submitted, version in seen:
            completed = sum(1 for t in replied if t < submitted)
            assert version >= completed, (submitted, version, completed)
        assert seen[-1][1] == changes
        assert len({version for _, version in seen}) > 2  # the orders did run between the changes


def test_a_restart_keeps_the_order_rate_window(stack) -> None:
    with running(RiskEngine(stack)) as risk:
        set_limits(risk, max_orders_per_window=2, rate_window_seconds=3_600.0)
    with running(PortfolioEngine(stack)) as portfolio:
        assert [buy(portfolio, 1)["status"] for _ in range(2)] == ["open", "open"]
        third = buy(portfolio, 1)
        assert third["status"] == "rejected" and third["risk"]["reasons"][0]["value"] == 3
    with running(PortfolioEngine(stack)) as portfolio:  # a new process: the window comes from the database
        fourth = buy(portfolio, 1)
        assert fourth["status"] == "rejected"
        assert fourth["risk"]["reasons"][0] == {  # rejected orders never count: 2 in the window + this one
            "limit": "max_orders_per_window", "value": 3, "threshold": 2, "message": fourth["reason"]}
    with running(RiskEngine(stack)) as risk:  # a longer window: rebuilt, still from the same stored orders
        set_limits(risk, max_orders_per_window=3, rate_window_seconds=7_200.0)
    with running(PortfolioEngine(stack)) as portfolio:
        assert buy(portfolio, 1)["status"] == "open"
        assert buy(portfolio, 1)["risk"]["reasons"][0]["value"] == 4


def test_the_bus_event_refreshes_the_limits_before_the_next_order(stack) -> None:
    shared = InMemoryBus()
    with running(RiskEngine(stack), shared) as risk, running(PortfolioEngine(stack), shared) as portfolio:
        cache = portfolio.pretrade.cache
        assert buy(portfolio, 1)["risk"]["limits"] == "default"
        assert cache.cached("default").version == 0
        set_limits(risk, max_order_notional=5.0)
        deadline = time.monotonic() + 5.0
        while cache.cached("default").version != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        entry = cache.cached("default")
        assert entry.version == 1 and entry.source == "account" and entry.limit_set.max_order_notional == 5.0
        risk.reset_limits(AccountRequest(account="default"))
        deadline = time.monotonic() + 5.0
        while cache.cached("default").version != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cache.cached("default").source == "default"


def test_the_portfolio_engine_exports_the_limit_utilisation(stack) -> None:
    with running(RiskEngine(stack)) as risk:
        set_limits(risk, account="util", max_gross_exposure=10_000.0, daily_loss_halt=1_000.0)
    with running(PortfolioEngine(stack)) as portfolio:
        from nautilus.engines.portfolio.messages import AccountCreate

        portfolio.create_account(AccountCreate(name="util", cash=100_000.0))
        accepted = {"account": "util", "outcome": "accepted"}
        before = REGISTRY.get_sample_value("nautilus_risk_decisions_total", accepted) or 0.0  # per process
        assert buy(portfolio, 30, account="util")["status"] == "open"
        portfolio.on_bars(BarsPush(symbol="AAA", bars=[BarIn(ts=T0, open=100.0, high=100.0, low=100.0, close=100.0)]))
        portfolio.update_metrics()
        value = REGISTRY.get_sample_value
        # 30 units marked at 100: gross 3,000 of 10,000; no loss yet
        assert value("nautilus_risk_limit_utilisation", {"account": "util", "limit": "max_gross_exposure"}) == 0.3
        assert value("nautilus_risk_limit_utilisation", {"account": "util", "limit": "daily_loss_halt"}) == 0.0
        assert value("nautilus_risk_decisions_total", accepted) == before + 1
