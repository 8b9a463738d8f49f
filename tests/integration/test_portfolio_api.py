"""Paper trading through the gateway (in-process engines): orders, fills, positions, P&L, idempotency,
pre-trade rejections and 4xx errors, checked against hand-computed fills."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY  # a day boundary after the generated history


@pytest.fixture
def api(settings):
    settings.strategy_packages = ["tests.support"]  # where the parity test's user strategy may load from
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "AAA", "n": 50, "seed": 3})
        assert r.status_code == 201, r.text
        yield client


def bar(i: int, o: float, h: float, low: float, c: float, v: float = 1e6) -> list[float]:
    return [T0 + i * DAY, o, h, low, c, v]


def push(api, *bars, symbol: str = "AAA") -> dict:
    r = api.post("/api/v1/portfolio/bars", json={"symbol": symbol, "bars": list(bars)})
    assert r.status_code == 200, r.text
    return r.json()


def order(api, expect: int = 201, **body) -> dict:
    r = api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", **body})
    assert r.status_code == expect, r.text
    return r.json()


def test_market_and_limit_orders_fill_on_later_bars_with_exact_pnl(api) -> None:
    api.post("/api/v1/portfolio/accounts", json={"name": "t", "cash": 10_000, "fee_bps": 10, "slippage_bps": 5})
    push(api, bar(0, 100, 101, 99, 100))
    market = order(api, account="t", quantity=10)["order"]
    limit = order(api, account="t", side="sell", quantity=4, type="limit", limit_price=106.0)["order"]
    assert market["status"] == limit["status"] == "open"
    out = push(api, bar(1, 102, 104, 101, 103))  # market fills at the open; the limit is not reached
    (fill,) = out["fills"]
    buy = 102 * 1.0005
    assert fill["quantity"] == 10 and fill["price"] == pytest.approx(buy)
    out = push(api, bar(2, 104, 107, 103, 105))  # the limit sell is touched inside the bar: fills at 106
    (fill,) = out["fills"]
    assert (fill["quantity"], fill["price"]) == (-4, 106.0)
    fees = 10 * buy * 1e-3 + 4 * 106 * 1e-3
    account = api.get("/api/v1/portfolio/accounts/t").json()["account"]
    assert account["cash"]["USD"] == pytest.approx(10_000 - 10 * buy + 4 * 106 - fees)
    assert account["equity"] == pytest.approx(account["cash"]["USD"] + 6 * 105)
    assert account["realised_pnl"] == pytest.approx(4 * (106 - buy))
    positions = api.get("/api/v1/portfolio/positions", params={"account": "t"}).json()
    (net,) = positions["net"]
    assert net["quantity"] == 6 and net["unrealised_pnl"] == pytest.approx(6 * (105 - buy))
    equity = api.get("/api/v1/portfolio/equity", params={"account": "t"}).json()["items"]
    assert [p["ts"] for p in equity] == [T0 + DAY, T0 + 2 * DAY]
    assert equity[-1]["equity"] == pytest.approx(account["equity"])
    assert api.get(f"/api/v1/portfolio/orders/{market['id']}").json()["order"]["status"] == "filled"
    # a re-sent bar is ignored: nothing fills twice
    assert push(api, bar(2, 104, 107, 103, 105))["ignored"] == 1
    assert len(api.get("/api/v1/portfolio/fills", params={"account": "t"}).json()["items"]) == 2
    api.post("/api/v1/portfolio/accounts/t/cash", json={"amount": -500})
    check = api.get("/api/v1/portfolio/accounts/t/reconcile").json()["account"]
    assert check["ok"] and check["fills"] == 2, check


def test_idempotency_key_returns_the_first_order(api) -> None:
    first = api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", "quantity": 1,
                                                       "client_order_id": "k-1"})
    again = api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", "quantity": 1,
                                                       "client_order_id": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["order"]["id"] == again.json()["order"]["id"] and again.json()["created"] is False
    assert len(api.get("/api/v1/portfolio/orders").json()["items"]) == 1


def test_bad_orders_get_4xx_and_leave_only_an_audit_entry(api, settings) -> None:
    cases = [({"symbol": "NOPE", "quantity": 1}, 404, "symbol"), ({"quantity": 0}, 422, "quantity"),
             ({"quantity": -3}, 422, "quantity"), ({"quantity": 1, "type": "limit"}, 422, "limit_price"),
             ({"quantity": 1, "account": "ghost"}, 404, "account"), ({}, 422, "quantity"),
             ({"quantity": 1, "side": "hold"}, 422, "side")]
    for body, status, field in cases:
        r = api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", **body})
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["field"] == field, r.text
    r = api.post("/api/v1/portfolio/orders", content=b'{"symbol": "AAA", "side": "buy", "quantity": NaN}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert api.get("/api/v1/portfolio/orders").json()["items"] == []
    from nautilus.storage.db import Database

    db = Database.from_url(str(settings.database_url))
    assert len(db.list_audit(50, action="invalid_order")) == 6  # all but the schema errors (side, NaN)
    db.dispose()
    filled = order(api, quantity=1)["order"]
    push(api, bar(0, 100, 101, 99, 100))
    r = api.delete(f"/api/v1/portfolio/orders/{filled['id']}")
    assert r.status_code == 409 and "filled" in r.json()["error"]["message"]
    assert api.delete("/api/v1/portfolio/orders/999").status_code == 404


def test_risk_limits_reject_with_reasons_and_cancel_amend(api) -> None:
    r = api.put("/api/v1/risk/limits", json={"account": "default", "limits": {"max_order_notional": 5_000}})
    assert r.status_code == 200, r.text
    push(api, bar(0, 100, 101, 99, 100))
    rejected = order(api, quantity=60)["order"]  # 60 * 100 > 5,000
    assert rejected["status"] == "rejected" and "max_order_notional" in str(rejected["risk"]["reasons"])
    assert rejected["reason"]
    ok = order(api, quantity=10, type="limit", limit_price=90.0)["order"]
    assert ok["status"] == "open" and "max_order_notional" in ok["risk"]["checked"]
    amended = api.patch(f"/api/v1/portfolio/orders/{ok['id']}", json={"limit_price": 95.0}).json()["order"]
    assert amended["limit_price"] == 95.0
    cancelled = api.delete(f"/api/v1/portfolio/orders/{ok['id']}").json()["order"]
    assert cancelled["status"] == "cancelled"
    assert push(api, bar(1, 96, 97, 80, 90))["fills"] == []  # cancelled: would have filled at 95


def test_partial_fills_ioc_and_participation(api) -> None:
    api.post("/api/v1/portfolio/accounts", json={"name": "p", "cash": 1e6, "max_participation": 0.1})
    gtc = order(api, account="p", quantity=150)["order"]
    ioc = order(api, account="p", quantity=50, tif="IOC")["order"]
    out = push(api, bar(0, 100, 101, 99, 100, v=1_000))  # 100 units available to the account
    assert [f["quantity"] for f in out["fills"]] == [100]
    statuses = {o["id"]: o["status"] for o in out["orders"]}
    assert statuses == {gtc["id"]: "partially_filled", ioc["id"]: "cancelled"}
    out = push(api, bar(1, 100, 101, 99, 100, v=1_000))
    assert [f["quantity"] for f in out["fills"]] == [50] and out["orders"][0]["status"] == "filled"


@pytest.mark.parametrize(("strategy", "params", "direction"), [
    ("sma_cross", {"fast": 5, "slow": 20}, "long"),
    ("sma_cross", {"fast": 5, "slow": 20}, "both"),
    ("tests.support.user_strategy:Momentum", {"lookback": 7}, "long"),  # a user's strategy class
])
def test_paper_deployment_trades_equal_the_backtest(api, strategy, params, direction) -> None:
    """Parity: on the same bars and fill settings, the paper run's trades are the backtest's trades."""
    api.post("/api/v1/marketdata/generate", json={"symbol": "PAR", "n": 300, "seed": 11})
    cfg = {"fee_bps": 10.0, "slippage_bps": 5.0, "fixed_fee": 1.0}
    r = api.post("/api/v1/portfolio/accounts", json={"name": f"par-{direction}", "cash": 10_000, **cfg})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/portfolio/deployments", json={
        "strategy": strategy, "symbol": "PAR", "params": params, "account": f"par-{direction}",
        "direction": direction, "size": 0.9, "wait": True})
    assert r.status_code == 200, r.text
    dep = r.json()["deployment"]
    assert dep["status"] == "done" and dep["processed"] == 300, dep["error"]
    paper = dep["trades"]
    expected = dep["backtest"]["trades"]
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "PAR", "limit": 1000}).json()
    ts = [t * 1_000_000 for t in bars["t"]]
    assert len(paper) == len(expected) >= 4
    for got, want in zip(paper, expected, strict=True):
        assert got["direction"] == want["direction"]
        assert got["entry_ts"] == ts[want["entry_idx"]]
        assert got["size"] == pytest.approx(want["size"], rel=1e-9)
        assert got["entry_price"] == pytest.approx(want["entry_price"], rel=1e-12)
        if want["exit_reason"] == "open":
            assert got["exit_ts"] is None
            continue
        assert got["exit_ts"] == ts[want["exit_idx"]]
        assert got["exit_price"] == pytest.approx(want["exit_price"], rel=1e-12)
        assert got["fees"] == pytest.approx(want["fees"], rel=1e-9)
        assert got["pnl"] == pytest.approx(want["pnl"], rel=1e-9, abs=1e-9)
    final = dep["backtest"]["stats"]["final_equity"]
    account = api.get(f"/api/v1/portfolio/accounts/par-{direction}").json()["account"]
    assert account["equity"] == pytest.approx(final, rel=1e-9)
    assert api.get(f"/api/v1/portfolio/accounts/par-{direction}/reconcile").json()["account"]["ok"]


def test_optimize_and_rebalance_into_orders(api) -> None:
    """Weights equal the library's on the catalog's aligned returns; rebalancing submits the orders that reach them."""
    import numpy as np

    from nautilus.portfolio import optimize

    for k, sym in enumerate(("OA", "OB", "OC")):
        api.post("/api/v1/marketdata/generate", json={"symbol": sym, "n": 400, "seed": 30 + k, "sigma": 0.1 + 0.1 * k})
    closes = np.column_stack([api.get("/api/v1/marketdata/bars", params={"symbol": s, "limit": 1000}).json()["close"]
                              for s in ("OA", "OB", "OC")])
    want = optimize("min_variance", closes[1:] / closes[:-1] - 1, assets=["OA", "OB", "OC"])
    r = api.post("/api/v1/portfolio/optimize", json={"method": "min_variance", "symbols": ["OA", "OB", "OC"],
                                                      "rebalance": True})
    assert r.status_code == 200, r.text
    got = r.json()
    for sym, w in want.weights.items():
        assert got["result"]["weights"][sym] == pytest.approx(w, abs=1e-6)
    assert got["observations"] == 399 and len(got["orders"]) == 3
    from nautilus.core.calendars import (
        periods_per_year,  # equities on XNYS: one rule with backtests and analytics
    )
    assert got["annualisation"] == {"periods_per_year": periods_per_year("XNYS", "1d"), "calendar": "XNYS",
                                    "timeframe": "1d", "source": "calendar"}
    units = {o["symbol"]: o["quantity"] for o in got["orders"]}
    for k, sym in enumerate(("OA", "OB", "OC")):  # equity 100,000 spread by weight at the last close
        assert units[sym] == pytest.approx(100_000 * want.weights[sym] / closes[-1, k], rel=1e-9)
    bad = api.post("/api/v1/portfolio/optimize", json={"method": "min_variance", "symbols": ["OA"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "symbols"
    bad = api.post("/api/v1/portfolio/optimize", json={"method": "magic", "symbols": ["OA", "OB"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "method"


def test_live_feed_from_a_stream_replay_fills_orders_and_drives_a_stream_deployment(api) -> None:
    """Bars replayed on the hub's bars.<SYMBOL> reach the paper book (orders fill) and a stream deployment."""
    import time

    api.post("/api/v1/marketdata/generate", json={"symbol": "LIVE", "n": 120, "seed": 5})
    r = api.post("/api/v1/portfolio/feeds", json={"symbols": ["LIVE"]})
    assert r.status_code == 200 and r.json()["symbols"] == ["LIVE"], r.text
    order = api.post("/api/v1/portfolio/orders", json={"symbol": "LIVE", "side": "buy", "quantity": 3}).json()["order"]
    api.post("/api/v1/portfolio/accounts", json={"name": "live", "cash": 10_000})
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "LIVE", "limit": 1000}).json()
    third = bars["t"][2] * 1_000_000  # the deployment's history: the first two bars; the rest arrive live
    dep = api.post("/api/v1/portfolio/deployments", json={
        "strategy": "sma_cross", "symbol": "LIVE", "params": {"fast": 3, "slow": 8}, "account": "live",
        "source": "stream", "validate": False, "end_ns": third}).json()["deployment"]
    r = api.post("/api/v1/stream/replay", json={"symbol": "LIVE", "bars_per_second": 0})
    assert r.status_code == 201, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        feed = api.get("/api/v1/portfolio/feeds").json()
        if feed["received"] >= 120:
            break
        time.sleep(0.1)
    assert feed["received"] == 120 and feed["gaps"] == 0, feed
    filled = api.get(f"/api/v1/portfolio/orders/{order['id']}").json()["order"]
    assert filled["status"] == "filled" and filled["avg_fill_price"] == pytest.approx(bars["open"][0])
    state = api.get(f"/api/v1/portfolio/deployments/{dep['id']}").json()["deployment"]
    assert state["processed"] == 118 and state["orders"] > 0, state
    stopped = api.delete(f"/api/v1/portfolio/deployments/{dep['id']}").json()["deployment"]
    assert stopped["status"] == "stopped" and len(stopped["trades"]) >= 1


def test_quotes_fill_between_bars_at_the_touch_up_to_the_size_shown(api) -> None:
    push(api, bar(0, 100, 101, 99, 100))
    buy = order(api, quantity=10)["order"]
    sell_limit = order(api, side="sell", quantity=4, type="limit", limit_price=100.5)["order"]
    t = T0 + DAY // 2  # inside the next bar's period, before that bar arrives
    r = api.post("/api/v1/portfolio/quotes", json={"symbol": "AAA", "quotes": [
        {"ts": t, "bid": 100.2, "ask": 100.4, "ask_size": 6},
        {"ts": t + 1, "bid": 100.6, "ask": 100.8}]})
    assert r.status_code == 200, r.text
    fills = [(f["order_id"], f["quantity"], f["price"]) for f in r.json()["fills"]]
    assert fills == [(buy["id"], 6, 100.4), (buy["id"], 4, 100.8), (sell_limit["id"], -4, 100.6)]
    positions = api.get("/api/v1/portfolio/positions").json()["net"][0]
    assert positions["quantity"] == 6 and positions["mark"] == pytest.approx(100.7)  # marked to the mid
    assert push(api, bar(1, 101, 102, 100, 101))["processed"] == 1  # quotes did not move the bar clock
    again = api.post("/api/v1/portfolio/quotes", json={"symbol": "AAA", "quotes": [{"ts": t, "bid": 1, "ask": 2}]})
    assert again.json()["ignored"] == 1  # not after the last quote
    bad = api.post("/api/v1/portfolio/quotes", json={"symbol": "AAA", "quotes": [{"ts": t + 5, "bid": 2, "ask": 1}]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "quotes.0"
    assert api.get("/api/v1/portfolio/accounts/default/reconcile").json()["account"]["ok"]
