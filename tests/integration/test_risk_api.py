"""The Risk engine through the gateway (in-process engines): VaR/CVaR against closed forms and a
hand-rolled historical estimate, components, stress, VaR backtests, 4xx errors and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from typer.testing import CliRunner

from nautilus.gateway.app import create_app
from nautilus.storage.catalog import BarCatalog

pytestmark = pytest.mark.integration
BOOK = {"AAA": 100_000.0, "BBB": -40_000.0, "CCC": 60_000.0}


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(BOOK):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 800, "seed": 40 + k,
                                                                 "sigma": 0.2 + 0.1 * k})
            assert r.status_code == 201, r.text
        yield client


def oracle_returns(settings, lookback: int = 500) -> np.ndarray:
    catalog = BarCatalog(settings.catalog_dir)
    closes = pd.concat({s: catalog.read(s, "1d").to_pandas()["close"] for s in BOOK}, axis=1).dropna()
    return closes.pct_change().dropna().to_numpy()[-lookback:]


def test_historical_var_matches_hand_rolled_quantile(api, settings) -> None:
    r = api.post("/api/v1/risk/var", json={"portfolio": BOOK, "confidence": 0.99})
    assert r.status_code == 200, r.text
    body = r.json()
    pnl = oracle_returns(settings) @ np.array(list(BOOK.values()))
    losses = np.sort(-pnl)[::-1]
    k = math.ceil(len(pnl) * 0.01)
    assert body["observations"] == 500
    assert body["var"] == pytest.approx(losses[k - 1], rel=1e-12)
    assert body["cvar"] == pytest.approx(losses[:k].mean(), rel=1e-12)
    assert sum(c["component_cvar"] for c in body["components"].values()) == pytest.approx(body["cvar"], rel=1e-9)


def test_normal_var_matches_closed_form_and_components_sum(api, settings) -> None:
    body = api.post("/api/v1/risk/cvar", json={"portfolio": BOOK, "method": "normal", "confidence": 0.975,
                                               "horizon": 10}).json()
    w = np.array(list(BOOK.values()))
    sigma = math.sqrt(w @ np.cov(oracle_returns(settings), rowvar=False) @ w) * math.sqrt(10)
    z = stats.norm.ppf(0.975)
    assert body["var"] == pytest.approx(z * sigma, rel=1e-9)
    assert body["cvar"] == pytest.approx(sigma * stats.norm.pdf(z) / 0.025, rel=1e-9)
    assert sum(c["component_var"] for c in body["components"].values()) == pytest.approx(body["var"], rel=1e-9)


def test_quantities_are_valued_at_the_last_close(api, settings) -> None:
    body = api.post("/api/v1/risk/var", json={"portfolio": {"AAA": 10}, "units": "quantity"}).json()
    last = BarCatalog(settings.catalog_dir).read("AAA", "1d").close[-1]
    assert body["exposures"] == [pytest.approx(10 * last)]


def test_stress_scenarios(api, settings) -> None:
    hist = api.post("/api/v1/risk/stress", json={"portfolio": BOOK, "window": 5, "count": 2}).json()
    assert len(hist["results"]) == 2 and hist["results"][0]["pnl"] <= hist["results"][1]["pnl"]
    shock = api.post("/api/v1/risk/stress", json={"portfolio": BOOK, "scenario": "shock",
                                                  "shocks": {"AAA": -0.2, "BBB": 0.1}}).json()
    assert shock["results"][0]["pnl"] == pytest.approx(100_000 * -0.2 + -40_000 * 0.1)
    rev = api.post("/api/v1/risk/stress", json={"portfolio": BOOK, "scenario": "reverse", "loss": 25_000}).json()
    moves = rev["results"][0]["shock"]
    assert sum(BOOK[s] * moves[s] for s in BOOK) == pytest.approx(-25_000)


def test_var_backtest_counts_exceptions(api, settings) -> None:
    body = api.post("/api/v1/risk/backtest", json={"portfolio": BOOK, "window": 250, "lookback": 700}).json()
    pnl, var = np.array(body["pnl"]), np.array([np.nan if v is None else v for v in body["var"]])
    manual = int(np.sum(pnl[250:] < -var[250:]))
    assert len(body["exceptions"]) == manual == body["kupiec"]["exceptions"]
    assert body["observations"] == len(pnl) - 250 and body["zone"] in ("green", "yellow", "red")


@pytest.mark.parametrize(("body", "field"), [
    ({"portfolio": BOOK, "confidence": 1.5}, "confidence"),
    ({"portfolio": BOOK, "horizon": 0}, "horizon"),
    ({"portfolio": BOOK, "method": "astrology"}, "method"),
    ({"portfolio": {}}, "portfolio"),
    ({"portfolio": BOOK, "lookback": 1}, "lookback"),
    ({"portfolio": {"AAA": "lots"}}, "portfolio"),
])
def test_bad_var_requests_are_422(api, body, field) -> None:
    r = api.post("/api/v1/risk/var", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_unknown_symbol_is_404_and_reverse_needs_a_loss(api) -> None:
    assert api.post("/api/v1/risk/var", json={"portfolio": {"ZZZ": 1.0}}).status_code == 404
    r = api.post("/api/v1/risk/stress", json={"portfolio": BOOK, "scenario": "reverse"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "loss"


def test_cli_var(api, stack_env, monkeypatch, tmp_path) -> None:
    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    book = tmp_path / "book.json"
    book.write_text(json.dumps(BOOK))
    runner = CliRunner()
    out = runner.invoke(app, ["var", "--portfolio", str(book), "--method", "t", "--option", "nu=4", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["var"] > 0
    assert runner.invoke(app, ["var", "--portfolio", str(book), "--confidence", "2"]).exit_code == 2
    (tmp_path / "bad.json").write_text("{nope")
    assert runner.invoke(app, ["var", "--portfolio", str(tmp_path / "bad.json")]).exit_code == 2
    out = runner.invoke(app, ["stress", "--portfolio", str(book), "--scenario", "shock", "--shock", "AAA=-0.1"])
    assert out.exit_code == 0 and "AAA" in out.output
    config.get_settings.cache_clear()


def test_monte_carlo_var_agrees_with_the_closed_form(api, settings) -> None:
    body = api.post("/api/v1/risk/var", json={"portfolio": BOOK, "method": "mc", "confidence": 0.99,
                                              "options": {"paths": 200_000, "seed": 3}}).json()
    w = np.array(list(BOOK.values()))
    sigma = math.sqrt(w @ np.cov(oracle_returns(settings), rowvar=False) @ w)
    z = stats.norm.ppf(0.99)
    assert abs(body["var"] - z * sigma) < 4 * body["details"]["var_stderr"]
    assert abs(body["cvar"] - sigma * stats.norm.pdf(z) / 0.01) < 4 * body["details"]["cvar_stderr"]
    assert sum(c["component_cvar"] for c in body["components"].values()) == pytest.approx(body["cvar"], rel=1e-9)
    bad = api.post("/api/v1/risk/var", json={"portfolio": BOOK, "method": "mc", "options": {"pathz": 10}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "options.pathz"


def test_limits_book_and_check_order(api) -> None:
    limits = {"max_order_notional": 50_000, "max_position_units": {"AAA": 500}, "max_gross_exposure": 200_000,
              "max_orders_per_window": 2, "rate_window_seconds": 60}
    assert api.put("/api/v1/risk/limits", json={"limits": limits}).status_code == 200
    assert api.get("/api/v1/risk/limits").json()["max_order_notional"] == 50_000
    book = {"positions": {"AAA": 100, "BBB": -50}, "prices": {"AAA": 100.0, "BBB": 80.0}, "equity": 100_000}
    assert api.put("/api/v1/risk/book", json=book).status_code == 200
    ok = api.post("/api/v1/risk/check-order", json={"instrument": "AAA", "quantity": 100, "price": 100.0}).json()
    assert ok["accepted"] and ok["reasons"] == []
    # 600 units at 100 breaches the order notional (60,000 > 50,000) and AAA's position limit (800 > 500)
    bad = api.post("/api/v1/risk/check-order", json={"instrument": "AAA", "quantity": 600, "price": 100.0}).json()
    assert not bad["accepted"]
    assert {r["limit"] for r in bad["reasons"]} == {"max_order_notional", "max_position_units"}
    second = api.post("/api/v1/risk/check-order", json={"instrument": "BBB", "quantity": 10, "price": 80.0}).json()
    assert second["accepted"]
    third = api.post("/api/v1/risk/check-order", json={"instrument": "BBB", "quantity": 10, "price": 80.0}).json()
    assert not third["accepted"] and [r["limit"] for r in third["reasons"]] == ["max_orders_per_window"]
    decisions = api.get("/api/v1/risk/decisions").json()["items"]
    assert [d["accepted"] for d in decisions[:4]] == [False, True, False, True]  # newest first, all audited


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("put", "limits", {"limits": {"drawdown_halt": 1.5}}, "drawdown_halt"),
    ("put", "limits", {"limits": {"max_orders_per_window": 5}}, "rate_window_seconds"),
    ("put", "limits", {"account": "bad account!", "limits": {}}, "account"),
    ("put", "book", {"positions": {"AAA": 1}, "prices": {}, "equity": 1.0}, "prices"),
    ("post", "check-order", {"instrument": "AAA", "quantity": 0, "price": 1.0}, "quantity"),
    ("post", "check-order", {"instrument": "AAA", "quantity": 1, "price": -1.0}, "price"),
])
def test_bad_limit_requests_are_422(api, method, path, body, field) -> None:
    api.put("/api/v1/risk/limits", json={"limits": {"max_order_notional": 1e6}})
    api.put("/api/v1/risk/book", json={"positions": {}, "prices": {}, "equity": 1e6})
    r = getattr(api, method)(f"/api/v1/risk/{path}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_check_order_without_limits_is_404(api) -> None:
    r = api.post("/api/v1/risk/check-order", json={"account": "nobody", "instrument": "AAA", "quantity": 1,
                                                   "price": 1.0})
    assert r.status_code == 404 and r.json()["error"]["field"] == "account"


OPTION_LEGS = [
    {"underlying": "AAA", "type": "put", "strike": 95.0, "expiry": 0.25, "quantity": 20, "implied_vol": 0.3},
    {"underlying": "DDD", "type": "call", "strike": 100.0, "expiry": 0.5, "quantity": -10, "implied_vol": 0.25},
]


def _book_from_catalog(settings):
    from nautilus.risk.options import OptionPositions

    catalog = BarCatalog(settings.catalog_dir)
    spots = [catalog.read(s, "1d").close[-1] for s in ("AAA", "DDD")]
    legs = [dict(OPTION_LEGS[0], strike=spots[0] * 0.95), dict(OPTION_LEGS[1], strike=spots[1])]
    book = OptionPositions.create(underlying=[0, 1], option_type=["put", "call"],
                                  strike=[leg["strike"] for leg in legs], expiry=[0.25, 0.5], quantity=[20, -10],
                                  multiplier=100, implied_vol=[0.3, 0.25], spot=spots)
    return legs, book


def test_option_positions_are_fully_revalued(api, settings) -> None:
    from nautilus.risk.options import revalue

    r = api.post("/api/v1/marketdata/generate", json={"symbol": "DDD", "n": 800, "seed": 7, "sigma": 0.3})
    assert r.status_code == 201, r.text
    legs, book = _book_from_catalog(settings)
    body = {"portfolio": {"AAA": 100_000.0}, "option_positions": legs, "confidence": 0.99}
    hist = api.post("/api/v1/risk/var", json=body)
    assert hist.status_code == 200, hist.text
    out = hist.json()
    assert out["symbols"] == ["AAA", "DDD"] and out["exposures"][1] == 0.0
    # oracle: every historical day's returns applied to the spots, the options repriced with Black-Scholes
    catalog = BarCatalog(settings.catalog_dir)
    closes = pd.concat({s: catalog.read(s, "1d").to_pandas()["close"] for s in ("AAA", "DDD")}, axis=1).dropna()
    rets = closes.pct_change().dropna().to_numpy()[-500:]
    pnl = rets[:, 0] * 100_000 + revalue(book, rets, None, 1.0, scenario_type="return", days_per_year=252)
    losses = np.sort(-pnl)[::-1]
    k = math.ceil(len(pnl) * 0.01)
    assert out["var"] == pytest.approx(losses[k - 1], rel=1e-9)
    assert out["cvar"] == pytest.approx(losses[:k].mean(), rel=1e-9)
    assert sum(c["component_cvar"] for c in out["components"].values()) == pytest.approx(out["cvar"], rel=1e-9)
    mc = api.post("/api/v1/risk/var", json={**body, "method": "mc", "horizon": 5,
                                            "options": {"paths": 50_000, "aggregation": "compound"}}).json()
    assert mc["var"] > 0 and mc["components"]["DDD"]["component_cvar"] != 0.0
    shock = api.post("/api/v1/risk/stress", json={**body, "scenario": "shock", "shocks": {"AAA": -0.1},
                                                  "vol_shift": {"DDD": 0.1}}).json()["results"][0]
    expected = revalue(book, np.array([[-0.1, 0.0]]), np.array([[0.0, 0.1]]), 0.0, scenario_type="return")[0]
    assert shock["option_pnl"] == pytest.approx(expected, rel=1e-9)
    assert shock["pnl"] == pytest.approx(-10_000 + expected, rel=1e-9)
    bad = api.post("/api/v1/risk/var", json={**body, "option_positions": [dict(legs[0], implied_vol=-0.1)]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "option_positions.implied_vol"
    bad = api.post("/api/v1/risk/var", json={**body, "method": "fhs"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "method"
