"""Default pre-trade limits of paper accounts (issue 20): every account without limits of its own is checked
against the defaults (order and position at most the equity, no negative cash without margin), shown and
editable through the API and the CLI; a deployment onto an account that holds positions warns (reply, audit
log, bus) and cannot take its cash below zero."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nautilus.gateway.app import create_app
from nautilus.risk.limits import DEFAULT_LIMITS

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "AAA", "n": 300, "seed": 5})
        assert r.status_code == 201, r.text
        yield client


def _account(api, name: str, cash: float = 10_000.0) -> None:
    r = api.post("/api/v1/portfolio/accounts", json={"name": name, "cash": cash})
    assert r.status_code == 201, r.text


def _order(api, account: str, quantity: float, side: str = "buy") -> dict:
    r = api.post("/api/v1/portfolio/orders", json={"account": account, "symbol": "AAA", "side": side,
                                                   "quantity": quantity})
    assert r.status_code == 201, r.text
    return r.json()["order"]


def _price(api) -> float:
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "AAA", "limit": 1000}).json()
    return float(bars["close"][-1])


def test_new_account_has_default_limits_and_a_huge_order_is_rejected(api) -> None:
    _account(api, "fresh")
    shown = api.get("/api/v1/risk/limits", params={"account": "fresh"})
    assert shown.status_code == 200, shown.text
    assert shown.json() == {**DEFAULT_LIMITS, "source": "default"}
    huge = _order(api, "fresh", 1e9)
    assert huge["status"] == "rejected"
    limits = {r["limit"] for r in huge["risk"]["reasons"]}
    assert {"max_order_equity_pct", "min_cash", "max_concentration_pct"} <= limits
    assert "max_order_equity_pct" in huge["reason"] and "% of equity" in huge["reason"]
    assert huge["risk"]["limits"] == "default"
    small = _order(api, "fresh", 1)
    assert small["status"] == "open" and small["risk"]["accepted"]


def test_no_negative_cash_without_margin_and_a_margin_line(api) -> None:
    _account(api, "cash")
    price = _price(api)
    units = int(0.8 * 10_000 / price)
    assert _order(api, "cash", units)["status"] == "open"
    api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [[T0, price, price, price, price, 1e9]]})
    second = _order(api, "cash", int(0.5 * 10_000 / price))  # would take cash to about -30% of equity
    assert second["status"] == "rejected"
    (reason,) = [r for r in second["risk"]["reasons"] if r["limit"] == "min_cash"]
    assert reason["value"] < 0 and "no margin" in reason["message"]
    # a margin line (min_cash -5000, and one name may reach 150% of equity) lets it through
    put = api.put("/api/v1/risk/limits", json={"account": "cash", "limits": {
        **DEFAULT_LIMITS, "min_cash": -5000, "max_concentration_pct": 150}})
    assert put.status_code == 200 and put.json()["source"] == "account"
    assert _order(api, "cash", int(0.3 * 10_000 / price))["status"] == "open"
    # selling is never stopped by min_cash
    assert _order(api, "cash", 1, side="sell")["status"] == "open"
    reset = api.delete("/api/v1/risk/limits", params={"account": "cash"})
    assert reset.status_code == 200 and reset.json()["source"] == "default"
    bad = api.put("/api/v1/risk/limits", json={"account": "cash", "limits": {"max_order_equity_pct": -1}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "max_order_equity_pct"


def test_explicitly_empty_limits_check_nothing(api) -> None:
    _account(api, "yolo")
    assert api.put("/api/v1/risk/limits", json={"account": "yolo", "limits": {}}).status_code == 200
    assert api.get("/api/v1/risk/limits", params={"account": "yolo"}).json() == {"source": "account"}
    assert _order(api, "yolo", 1e6)["status"] == "open"


def test_deployment_on_an_account_holding_positions_warns_and_keeps_cash(api, settings) -> None:
    _account(api, "held")
    price = _price(api)
    assert _order(api, "held", int(0.5 * 10_000 / price))["status"] == "open"
    api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [[T0, price, price, price, price, 1e9]]})
    positions = api.get("/api/v1/portfolio/positions", params={"account": "held"}).json()
    assert positions["net"][0]["quantity"] > 0
    r = api.post("/api/v1/portfolio/deployments", json={
        "strategy": "sma_cross", "symbol": "AAA", "params": {"fast": 3, "slow": 10}, "account": "held",
        "validate": False, "wait": True, "end_ns": T0 - 1})
    assert r.status_code == 200, r.text
    dep = r.json()["deployment"]
    assert dep["status"] == "done", dep
    (warning,) = dep["warnings"]
    assert "already holds positions" in warning and "AAA" in warning
    account = api.get("/api/v1/portfolio/accounts/held").json()["account"]
    assert account["cash"]["USD"] >= 0.0
    orders = api.get("/api/v1/portfolio/orders", params={"account": "held", "limit": 1000}).json()["items"]
    assert any(o["status"] == "rejected" and "min_cash" in (o["reason"] or "") for o in orders)
    from nautilus.storage.db import Database

    db = Database.from_url(str(settings.database_url))
    try:
        (entry,) = db.list_audit(20, action="deploy_warning")
        assert entry["target"] == "held" and entry["detail"]["deployment"] == dep["id"]
    finally:
        db.dispose()
    # a fresh account: no warning
    _account(api, "clean")
    clean = api.post("/api/v1/portfolio/deployments", json={
        "strategy": "sma_cross", "symbol": "AAA", "params": {"fast": 3, "slow": 10}, "account": "clean",
        "validate": False, "wait": True, "end_ns": T0 - 1}).json()["deployment"]
    assert clean["warnings"] == [] and clean["status"] == "done"


def test_cli_shows_and_edits_the_limits(api, stack_env, monkeypatch) -> None:
    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    try:
        _account(api, "cli")
        out = runner.invoke(app, ["paper", "limits", "--account", "cli"])
        assert out.exit_code == 0, out.output
        assert "defaults" in out.output and "max_order_equity_pct" in out.output and "min_cash" in out.output
        out = runner.invoke(app, ["paper", "limits", "--account", "cli", "--set", "max_order_equity_pct=25",
                                  "--set", "min_cash=none", "--json"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output) == {"max_order_equity_pct": 25.0, "max_concentration_pct": 100.0,
                                          "source": "account"}
        assert api.get("/api/v1/risk/limits", params={"account": "cli"}).json()["max_order_equity_pct"] == 25.0
        price = _price(api)
        assert _order(api, "cli", int(0.3 * 10_000 / price))["status"] == "rejected"  # 30% > 25%
        # the CLI's orders: a rejection exits non-zero with its reason; a working order is listed, then cancelled
        out = runner.invoke(app, ["paper", "order", "AAA", "buy", str(int(0.3 * 10_000 / price)), "--account", "cli"])
        assert out.exit_code != 0 and "rejected" in out.output and "max_order_equity_pct" in out.output
        out = runner.invoke(app, ["paper", "order", "AAA", "buy", "1", "--account", "cli", "--type", "limit",
                                  "--limit", str(round(price / 2, 2))])
        assert out.exit_code == 0 and " open: buy 1 AAA limit GTC" in out.output, out.output
        order_id = out.output.split()[1]
        out = runner.invoke(app, ["paper", "orders", "--account", "cli", "--status", "working"])
        assert out.exit_code == 0 and order_id in out.output, out.output
        out = runner.invoke(app, ["paper", "cancel", order_id])
        assert out.exit_code == 0 and f"order {order_id} cancelled" in out.output, out.output
        out = runner.invoke(app, ["paper", "limits", "--account", "cli", "--reset", "--json"])
        assert json.loads(out.output) == {**DEFAULT_LIMITS, "source": "default"}
        bad = runner.invoke(app, ["paper", "limits", "--account", "cli", "--set", "min_cash=lots"])
        assert bad.exit_code != 0
    finally:
        config.get_settings.cache_clear()
