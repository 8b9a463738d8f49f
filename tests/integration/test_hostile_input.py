"""Values that poison shared state (issue 18), sent through the real gateway (in-process engines): each is
a 4xx in the one error shape naming the field, and nothing shared moves: other accounts can still trade the
symbol, cash stays finite and repairable, the catalog keeps its range."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from tests.conftest import free_port_offset

from nautilus.config import Settings
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
JSON = {"content-type": "application/json"}
T0 = 1_900_000_000 * 10**9 // DAY * DAY  # a day boundary after the generated history


@pytest.fixture
def api(tmp_path):
    settings = Settings(home=tmp_path / "home", port_offset=free_port_offset(), auth_mode="open",
                        health_interval_s=0.2, breaker_cooldown_s=0.5, call_timeout_s=30.0, host_stateful_engines=True)
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "AAA", "n": 60, "seed": 3})
        assert r.status_code == 201, r.text
        yield client


def refused(r, field: str | None = None, status: tuple[int, ...] = (422,)) -> dict:
    assert r.status_code in status, r.text
    error = r.json()["error"]
    assert set(error) == {"code", "message", "field"}
    if field is not None:
        assert error["field"] is not None and field in error["field"], error
    return error


def bar(i: int, price: float = 100.0) -> list:
    return [T0 + i * DAY, price, price + 1, price - 1, price, 1e6]


def test_a_bar_at_the_end_of_time_is_refused_and_the_symbol_still_trades(api) -> None:
    error = refused(api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [[2**63 - 1, 100, 101, 99,
                                                                                        100, 1]]}), "bars[0][0]")
    assert "7258118400000000000" in error["message"]  # bars are [ts, open, high, low, close, volume] rows
    refused(api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [bar(0), [-(2**62), 1, 1, 1, 1, 1]]}),
            "bars[1][0]")
    refused(api.post("/api/v1/portfolio/quotes", json={"symbol": "AAA", "quotes": [
        {"ts": 2**63 - 1, "bid": 99, "ask": 100}]}), "ts")
    refused(api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [[T0, 1e300, 1e300, 1e300, 1e300, 1]]}),
            "bars")
    assert api.post("/api/v1/portfolio/accounts", json={"name": "other", "cash": 10_000}).status_code == 201
    r = api.post("/api/v1/portfolio/orders", json={"account": "other", "symbol": "AAA", "side": "buy", "quantity": 2})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [bar(1)]})
    assert r.status_code == 200, r.text
    assert [f["quantity"] for f in r.json()["fills"]] == [2.0]


def test_ingested_bars_outside_the_time_range_are_refused(api) -> None:
    csv = b"ts,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2262-04-01,1,2,0.5,1.5,10\n"
    r = api.post("/api/v1/marketdata/ingest", files={"file": ("x.csv", csv)}, data={"symbol": "BBB"})
    assert "2200" in refused(r, "data")["message"]
    csv = b"ts,open,high,low,close,volume\n1800-01-02,1,2,0.5,1.5,10\n"
    refused(api.post("/api/v1/marketdata/ingest", files={"file": ("x.csv", csv)}, data={"symbol": "BBB"}), "data")
    assert all(i["symbol"] != "BBB" for i in api.get("/api/v1/marketdata/instruments").json()["instruments"])
    refused(api.post("/api/v1/marketdata/generate", json={"symbol": "CCC", "start": "2199-12-01", "n": 500}), "ts")


def test_a_huge_deposit_is_refused_and_cash_stays_finite(api) -> None:
    before = api.get("/api/v1/portfolio/accounts/default").json()["account"]["cash"]
    for amount in (1.7e308, 1e13, -1e13):
        refused(api.post("/api/v1/portfolio/accounts/default/cash", json={"amount": amount}), "amount")
    refused(api.post("/api/v1/portfolio/accounts/default/cash", content=b'{"amount": 1e999}', headers=JSON), "body")
    refused(api.post("/api/v1/portfolio/accounts", json={"name": "rich", "cash": 1.7e308}), "cash")
    assert api.get("/api/v1/portfolio/accounts/default").json()["account"]["cash"] == before
    assert api.post("/api/v1/portfolio/accounts/default/cash", json={"amount": 1e12}).status_code == 200
    r = api.post("/api/v1/portfolio/accounts/default/cash", json={"amount": -1e12})
    assert r.status_code == 200, r.text
    assert r.json()["account"]["cash"]["USD"] == pytest.approx(100_000)


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/api/v1/strategy/backtest", {"symbol": "AAA", "strategy": "sma_cross", "params": {"fast": 2**64}},
     "params.fast"),
    ("post", "/api/v1/risk/var", {"portfolio": {"AAA": 1000}, "options": {"seed": 2**64}}, "options.seed"),
    ("put", "/api/v1/features/sets/big", {"features": [{"kind": "return", "window": 10**30}], "targets": []},
     "features.0.window"),
    ("post", "/api/v1/portfolio/optimize", {"symbols": ["AAA", "AAA"], "params": {"x": -(2**63) - 1}}, "params.x"),
    ("post", "/api/v1/factors/compute", {"symbols": ["AAA"], "expr": "close * 1" + "0" * 400}, "expr"),
])
def test_out_of_range_integers_in_free_form_objects_are_422_naming_the_field(api, method, path, body, field) -> None:
    refused(getattr(api, method)(path, json=body), field)


def test_times_outside_the_range_are_422(api) -> None:
    refused(api.get("/api/v1/marketdata/bars", params={"symbol": "AAA", "start": "0001-01-01"}), "start")
    refused(api.get("/api/v1/marketdata/bars", params={"symbol": "AAA", "end": "9999-12-31"}), "end")
    refused(api.get("/api/v1/portfolio/equity", params={"start": "0001-01-01"}), "start")
    refused(api.post("/api/v1/strategy/backtest", json={"symbol": "AAA", "strategy": "sma_cross",
                                                        "start": "0001-01-01"}), "start")
    assert api.get("/api/v1/marketdata/bars", params={"symbol": "AAA", "start": "1900-01-01"}).status_code == 200


def test_a_deeply_nested_body_is_refused(api) -> None:
    deep = b'{"symbol": "AAA", "strategy": "sma_cross", "params": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
    refused(api.post("/api/v1/strategy/backtest", content=deep, headers=JSON),
            status=(413, 422))
    refused(api.post("/api/v1/portfolio/orders", content=b"[" * 100_000 + b"]" * 100_000,
                     headers=JSON), status=(413, 422))
    nested: object = 1
    for _ in range(40):
        nested = {"a": nested}
    refused(api.post("/api/v1/risk/var", json={"portfolio": {"AAA": 1}, "options": nested}), "options")


@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb", "a\u2066b", "a\u200fb", "a\nb", "x" * 65])
def test_unsafe_names_are_refused(api, bad) -> None:
    refused(api.post("/api/v1/portfolio/accounts", json={"name": bad}), "name")
    refused(api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", "quantity": 1,
                                                       "client_order_id": bad * 3}), "client_order_id")
    refused(api.post("/api/v1/portfolio/orders", json={"symbol": bad, "side": "buy", "quantity": 1}), "symbol")
    refused(api.get("/api/v1/portfolio/orders", params={"account": bad}), "account", status=(404, 422))
    refused(api.put(f"/api/v1/features/sets/{quote(bad)}", json={"features": [], "targets": []}), status=(404, 422))
    names = [a["name"] for a in api.get("/api/v1/portfolio/accounts").json()["items"]]
    assert names == ["default"]
