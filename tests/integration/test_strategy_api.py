"""The Strategy engine through the gateway (engines in-process): every route, persistence, 4xx errors,
and the CLI commands with their exit codes."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nautilus.core.bars import Bars
from nautilus.gateway.app import create_app
from nautilus.storage.catalog import BarCatalog
from nautilus.strategy import backtest

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC")


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(SYMBOLS):
            r = client.post("/api/v1/marketdata/generate",
                            json={"symbol": symbol, "n": 600, "seed": 10 + k, "sigma": 0.35})
            assert r.status_code == 201, r.text
        yield client


def stored(settings, symbol: str) -> Bars:
    return BarCatalog(settings.catalog_dir).read(symbol, "1d")


def test_indicators_equal_talib(api, settings) -> None:
    r = api.post("/api/v1/strategy/indicators",
                 json={"symbol": "AAA", "indicators": ["rsi(14)", {"name": "macd"}, "donchian(20)"]})
    assert r.status_code == 200, r.text
    body = r.json()
    bars = stored(settings, "AAA")
    assert body["t"] == (bars.ts // 1_000_000).tolist()
    rsi = np.array([np.nan if v is None else v for v in body["columns"]["rsi_14"]])
    np.testing.assert_allclose(rsi, talib.RSI(bars.close, 14), equal_nan=True)
    assert "macd_12_26_9.macdsignal" in body["columns"]
    assert {s["key"] for s in body["specs"]} >= {"rsi_14", "macd_12_26_9"}
    listing = api.get("/api/v1/strategy/indicators").json()["items"]
    assert {"rsi", "vwap", "supertrend", "ichimoku", "keltner", "donchian"} <= {i["name"] for i in listing}


def test_patterns_numba_equal_talib(api, settings) -> None:
    bars = stored(settings, "BBB")
    hits = {}
    for backend in ("numba", "talib"):
        r = api.post("/api/v1/strategy/patterns", json={"symbol": "BBB", "backend": backend, "chart": []})
        assert r.status_code == 200, r.text
        hits[backend] = r.json()["candles"]
    assert hits["numba"] == hits["talib"] and hits["numba"]
    engulfing = [h["index"] for h in hits["numba"] if h["pattern"] == "CDLENGULFING"]
    assert engulfing == np.flatnonzero(talib.CDLENGULFING(bars.open, bars.high, bars.low, bars.close)).tolist()
    r = api.post("/api/v1/strategy/patterns", json={"symbol": "BBB", "candles": [], "chart": None})
    assert r.status_code == 200 and all({"kind", "start_ts", "points"} <= set(p) for p in r.json()["chart"])
    names = api.get("/api/v1/strategy/patterns").json()["items"]
    assert sum(i["family"] == "candlestick" for i in names) == 61


def test_scan_full_then_incremental(api) -> None:
    body = {"patterns": ["CDLENGULFING", "CDLDOJI"], "conditions": [{"indicator": "rsi(14)", "op": ">", "value": 0}],
            "within": 500}
    first = api.post("/api/v1/strategy/scan", json=body).json()
    assert first["mode"] == "full" and first["symbols"] == 3
    second = api.post("/api/v1/strategy/scan", json=body).json()
    assert second["mode"] == "incremental"
    assert second["rows"] == first["rows"]
    assert all(row["conditions"]["rsi_14 > 0.0"] for row in first["rows"])


def test_scan_with_too_little_history_reports_null_values_over_a_socket(settings) -> None:
    """A symbol shorter than an indicator's lookback has no value yet: null through a real engine process (the
    reply is decoded against its type there), not an error."""
    from nautilus.bench.procs import engine_process
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import GenerateRequest
    from nautilus.engines.strategy.messages import Condition, ScanRequest
    from nautilus.runtime.client import EngineClient

    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    md.generate(GenerateRequest(symbol="TINY", n=5))
    md.close()
    with engine_process(settings, "strategy"):
        client = EngineClient("strategy", settings, transports=("unix",), probe=False)
        reply = client.call("scan", ScanRequest(conditions=[Condition(indicator="rsi(14)", op="<", value=70.0)]))
        client.close()
    (row,) = reply.rows
    assert row.values["rsi_14"] is None and row.matched is False


def test_backtest_saved_listed_fetched_deleted(api, settings) -> None:
    req = {"symbol": "AAA", "strategy": "sma_cross", "params": {"fast": 5, "slow": 30},
           "config": {"fees_bps": 10}}
    r = api.post("/api/v1/strategy/backtest", json=req)
    assert r.status_code == 201, r.text
    body = r.json()
    direct = backtest.run_backtest(stored(settings, "AAA"), "sma_cross", {"fast": 5, "slow": 30},
                                   backtest.BacktestConfig(fees_bps=10))
    assert body["stats"]["final_equity"] == pytest.approx(direct.stats["final_equity"])
    assert len(body["equity"]) == 600 and len(body["trades"]) == len(direct.trades)
    listed = api.get("/api/v1/strategy/backtests").json()["items"]
    assert listed[0]["id"] == body["id"] and listed[0]["n_trades"] == len(direct.trades)
    fetched = api.get(f"/api/v1/strategy/backtests/{body['id']}").json()
    assert fetched["equity"] == pytest.approx(body["equity"]) and fetched["trades"] == body["trades"]
    assert api.delete(f"/api/v1/strategy/backtests/{body['id']}").status_code == 200
    assert api.get(f"/api/v1/strategy/backtests/{body['id']}").status_code == 404


def test_sweep_returns_ranked_rows(api) -> None:
    r = api.post("/api/v1/strategy/sweep", json={"symbol": "CCC", "strategy": "ema_cross",
                                                 "grid": {"fast": [3, 5, 8], "slow": [20, 40]}, "top": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["evaluated"] == 6 and len(body["rows"]) == 3
    assert body["rows"][0]["sharpe"] >= body["rows"][1]["sharpe"] >= body["rows"][2]["sharpe"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("indicators", {"symbol": "AAA", "indicators": ["rsx(14)"]}, "name"),
    ("indicators", {"symbol": "AAA", "indicators": [{"name": "rsi", "period": 0}]}, "period"),
    ("indicators", {"symbol": "AAA", "indicators": []}, "indicators"),
    ("indicators", {"symbol": "AAA", "limit": "ten", "indicators": ["rsi"]}, "limit"),
    ("indicators", {"indicators": ["rsi"]}, "symbol"),
    ("patterns", {"symbol": "AAA", "candles": ["CDLNOPE"]}, "patterns"),
    ("patterns", {"symbol": "AAA", "chart": ["wedge_of_cheese"]}, "kinds"),
    ("scan", {"patterns": ["CDLDOJI"], "within": 0}, "within"),
    ("backtest", {"symbol": "AAA", "strategy": "buy_the_rumour"}, "strategy"),
    ("backtest", {"symbol": "AAA", "strategy": "sma_cross", "config": {"fees_bps": -1}}, "fees_bps"),
    ("backtest", {"symbol": "AAA", "strategy": "sma_cross", "config": {"lever": 3}}, "lever"),
    ("backtest", {"symbol": "AAA", "strategy": "sma_cross", "start": "yesterday"}, "start"),
    ("sweep", {"symbol": "AAA", "strategy": "sma_cross", "grid": {"fast": [5]}, "metric": "luck"}, "metric"),
])
def test_bad_requests_are_422_naming_the_field(api, path, body, field) -> None:
    r = api.post(f"/api/v1/strategy/{path}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.json()


def test_unknown_symbol_is_404(api) -> None:
    r = api.post("/api/v1/strategy/backtest", json={"symbol": "ZZZ", "strategy": "sma_cross"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "symbol"


def test_cli_backtest_scan_and_sweep(api, settings, stack_env, monkeypatch, tmp_path) -> None:
    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    out = runner.invoke(app, ["backtest", "--strategy", "sma_cross", "--symbol", "AAA", "--param", "fast=5",
                              "--param", "slow=30", "--config", "fees_bps=10", "--json"])
    assert out.exit_code == 0, out.output
    assert '"final_equity"' in out.output
    out = runner.invoke(app, ["backtest", "--strategy", "sma_cross", "--symbol", "AAA", "--param", "fast=50",
                              "--param", "slow=30"])
    assert out.exit_code == 2 and "fast" in out.output
    out = runner.invoke(app, ["scan", "--pattern", "CDLDOJI", "--condition", "rsi(14) > 0", "--within", "500",
                              "--all"])
    assert out.exit_code == 0 and "AAA" in out.output, out.output
    assert runner.invoke(app, ["scan", "--condition", "rsi(14) >> 3"]).exit_code == 2
    heat = tmp_path / "heat.png"
    out = runner.invoke(app, ["sweep", "--strategy", "sma_cross", "--symbol", "AAA", "--grid", "fast=3:9:3",
                              "--grid", "slow=20,40", "--executor", "local", "--plot", str(heat)])
    assert out.exit_code == 0, out.output
    assert heat.exists() and "sma_cross on AAA" in out.output
    out = runner.invoke(app, ["backtests", "list"])
    assert out.exit_code == 0 and "sma_cross" in out.output
    config.get_settings.cache_clear()
