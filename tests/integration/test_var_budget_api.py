"""A ``var_budget`` limit set with ``PUT /api/v1/risk/limits`` checks paper orders against the one-day VaR of
the positions after the order, computed from the stored bars (it used to fail every later order with a 422
about ``var_fn``). The VaR is checked against a hand-worked historical quantile and scipy's normal one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.stats import norm

from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY  # a day boundary after the generated history
LOOKBACK = 100


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for symbol, seed in (("AAA", 3), ("BBB", 4)):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 300, "seed": seed})
            assert r.status_code == 201, r.text
        yield client


def closes(api, symbol: str) -> np.ndarray:
    r = api.get("/api/v1/marketdata/bars", params={"symbol": symbol, "timeframe": "1d"})
    assert r.status_code == 200, r.text
    body = r.json()
    return np.asarray(body["close"] if "close" in body else [b["close"] for b in body["bars"]], dtype=float)


def historical_var(pnl: np.ndarray, confidence: float) -> float:
    """Hand-worked: the loss at the ceil(T (1 - c))-th worst day."""
    k = math.ceil(len(pnl) * (1 - confidence) - 1e-9)
    return float(-np.sort(pnl)[k - 1])


def order(api, **body) -> dict:
    r = api.post("/api/v1/portfolio/orders", json={"symbol": "AAA", "side": "buy", **body})
    assert r.status_code == 201, r.text
    return r.json()["order"]


def test_var_budget_accepts_within_and_rejects_over_budget(api) -> None:
    c = closes(api, "AAA")[-(LOOKBACK + 1):]
    returns, last = c[1:] / c[:-1] - 1.0, c[-1]
    var10 = historical_var(returns * 10 * last, 0.95)
    assert var10 > 0
    limits = {"var_budget": 1.5 * var10, "var_confidence": 0.95, "var_lookback": LOOKBACK}
    r = api.put("/api/v1/risk/limits", json={"account": "default", "limits": limits})
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/risk/limits").json()["var_lookback"] == LOOKBACK

    ok = order(api, quantity=10)
    assert ok["status"] == "open", ok
    assert "var_budget" in ok["risk"]["checked"]
    over = order(api, quantity=20)  # VaR scales with the position: 2 x var10 > 1.5 x var10
    assert over["status"] == "rejected", over
    (reason,) = over["risk"]["reasons"]
    assert reason["limit"] == "var_budget" and "VaR" in over["reason"]
    assert reason["value"] == pytest.approx(2 * var10, rel=1e-9)
    assert reason["threshold"] == pytest.approx(1.5 * var10)
    # the direct check of the same (still empty) book, pushed by a client, names the same limit
    assert api.put("/api/v1/risk/book", json={"positions": {}, "prices": {}, "equity": 1e5}).status_code == 200
    r = api.post("/api/v1/risk/check-order", json={"instrument": "AAA", "quantity": 20, "price": last,
                                                   "commit": False})
    assert r.status_code == 200 and r.json()["accepted"] is False, r.text
    assert [x["limit"] for x in r.json()["reasons"]] == ["var_budget"]

    # the order within budget fills on the next bar
    r = api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [[T0, last, last, last, last, 1e6]]})
    assert r.status_code == 200, r.text
    assert [f["order_id"] for f in r.json()["fills"]] == [ok["id"]]
    # reducing the position is always allowed, even with a tiny budget
    r = api.put("/api/v1/risk/limits", json={"limits": {**limits, "var_budget": 1e-6}})
    assert r.status_code == 200, r.text
    assert order(api, side="sell", quantity=5)["status"] == "open"
    assert order(api, quantity=1)["status"] == "rejected"


def test_parametric_var_budget_against_scipy(api) -> None:
    a, b = closes(api, "AAA")[-(LOOKBACK + 1):], closes(api, "BBB")[-(LOOKBACK + 1):]
    ra, rb = a[1:] / a[:-1] - 1.0, b[1:] / b[:-1] - 1.0
    r = api.put("/api/v1/risk/book", json={"positions": {"BBB": 7.0}, "prices": {"BBB": b[-1]}, "equity": 1e6})
    assert r.status_code == 200, r.text
    limits = {"var_budget": 1e9, "var_confidence": 0.99, "var_method": "normal", "var_lookback": LOOKBACK}
    assert api.put("/api/v1/risk/limits", json={"limits": limits}).status_code == 200
    w = np.array([3.0 * a[-1], 7.0 * b[-1]])
    cov = np.cov(np.column_stack([ra, rb]), rowvar=False, ddof=1)
    expected = norm.ppf(0.99) * math.sqrt(w @ cov @ w)
    r = api.put("/api/v1/risk/limits", json={"limits": {**limits, "var_budget": expected * (1 - 1e-6)}})
    assert r.status_code == 200
    reply = api.post("/api/v1/risk/check-order", json={"instrument": "AAA", "quantity": 3, "price": a[-1],
                                                       "commit": False}).json()
    assert reply["accepted"] is False, reply
    assert reply["reasons"][0]["value"] == pytest.approx(expected, rel=1e-9)
    api.put("/api/v1/risk/limits", json={"limits": {**limits, "var_budget": expected * (1 + 1e-6)}})
    reply = api.post("/api/v1/risk/check-order", json={"instrument": "AAA", "quantity": 3, "price": a[-1],
                                                       "commit": False}).json()
    assert reply["accepted"] is True, reply


def test_var_budget_without_history_rejects_the_order_naming_the_limit(api) -> None:
    assert api.put("/api/v1/risk/limits", json={"limits": {"var_budget": 1e6}}).status_code == 200
    api.put("/api/v1/risk/book", json={"positions": {}, "prices": {}, "equity": 1e6})
    reply = api.post("/api/v1/risk/check-order", json={"instrument": "ZZZ", "quantity": 1, "price": 10.0,
                                                       "commit": False}).json()
    assert reply["accepted"] is False
    (reason,) = reply["reasons"]
    assert reason["limit"] == "var_budget" and "ZZZ" in reason["message"], reason


@pytest.mark.parametrize(("limits", "field"), [({"var_budget": 1.0, "var_confidence": 1.5}, "var_confidence"),
                                               ({"var_budget": 1.0, "var_method": "guess"}, "var_method"),
                                               ({"var_budget": 1.0, "var_lookback": 2}, "var_lookback"),
                                               ({"var_budget": 1.0, "var_timeframe": "7x"}, "var_timeframe")])
def test_bad_var_settings_are_refused_naming_the_field(api, limits, field) -> None:
    r = api.put("/api/v1/risk/limits", json={"limits": limits})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"].endswith(field), r.text
