"""Regressions of the bugs met on the way (issue 20), through the API and the CLI (in-process engines):
``report --benchmark`` (IndexError / 500, also the OpenAPI example of /analytics/report), ``model train
--kind mlp|lstm|tcn`` without ``--param`` (LightGBM's defaults leaked), ``backtest --model`` for
model_signal, and option expiry given as a date."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for symbol, seed in (("AAA", 21), ("SPY", 22)):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 700, "seed": seed})
            assert r.status_code == 201, r.text
        yield client


@pytest.fixture
def cli(api, stack_env, monkeypatch):
    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    config.get_settings.cache_clear()


def _backtest(api) -> int:
    r = api.post("/api/v1/strategy/backtest", json={"symbol": "AAA", "strategy": "sma_cross",
                                                    "params": {"fast": 5, "slow": 20}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_report_with_a_catalog_benchmark_api_and_openapi_example(api) -> None:
    run_id = _backtest(api)
    r = api.post("/api/v1/analytics/report", json={"backtest_id": run_id, "benchmark": {"symbol": "SPY"}})
    assert r.status_code == 200, r.text
    assert r.text.startswith("<!DOCTYPE html>") and "SPY" in r.text
    inline = api.post("/api/v1/analytics/report", json={"backtest_id": run_id,
                                                        "benchmark": {"symbol": "SPY", "name": "S&P"}})
    assert inline.status_code == 200
    # the documented example, verbatim (backtest 1 exists: the first saved run of this fresh stack)
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/analytics/report"]["post"]["requestBody"]["content"]["application/json"]
    example = body.get("example") or next(iter(body["examples"].values()))["value"]
    assert example["benchmark"] == {"symbol": "SPY"}
    assert api.post("/api/v1/analytics/report", json=example).status_code == 200
    missing = api.post("/api/v1/analytics/report", json={"backtest_id": run_id, "benchmark": {"symbol": "NOPE"}})
    assert missing.status_code == 404


def test_cli_report_with_benchmark(api, cli, tmp_path) -> None:
    run_id = _backtest(api)
    out = cli("report", str(run_id), "--benchmark", "SPY", "--out", str(tmp_path / "r.html"))
    assert out.exit_code == 0, out.output
    assert "SPY" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("kind", ["mlp", "tcn"])
def test_cli_model_train_other_kinds_without_params(api, cli, kind) -> None:
    # before: "unknown parameter 'num_boost_round'" unless a --param was given
    out = cli("model", "train", "direction", "--symbols", "AAA", "--kind", kind, "--folds", "2", "--name", f"dir_{kind}")
    assert out.exit_code == 0, out.output
    assert f"registered dir_{kind} v1 ({kind}" in out.output
    # with a parameter of that kind, too; a LightGBM parameter on another kind names the field
    r = api.post("/api/v1/ml/train", json={"task": "direction", "symbols": ["AAA"], "n_folds": 2, "wait": True,
                                           "model": {"kind": kind, "params": {"num_boost_round": 5}}})
    assert r.status_code == 422 and "num_boost_round" in r.text


def test_cli_backtest_model_signal_with_model(api, cli) -> None:
    r = api.post("/api/v1/ml/train", json={"task": "direction", "symbols": ["AAA"], "n_folds": 2, "wait": True,
                                           "model": {"kind": "lightgbm", "params": {"num_boost_round": 10}}})
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    out = cli("backtest", "--strategy", "model_signal", "--symbol", "AAA", "--model", "direction",
              "--param", "threshold_long=0.5", "--param", "threshold_short=0.45", "--no-save", "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["stats"] and body["trades"] >= 0
    versioned = cli("backtest", "--strategy", "model_signal", "--symbol", "AAA", "--model", "direction",
                    "--model-version", "1", "--no-save", "--json")
    assert versioned.exit_code == 0, versioned.output
    unknown = cli("backtest", "--strategy", "model_signal", "--symbol", "AAA", "--model", "nope", "--no-save")
    assert unknown.exit_code != 0


def test_option_expiry_as_a_date(api, settings) -> None:
    from nautilus.storage.catalog import BarCatalog

    last = int(BarCatalog(settings.catalog_dir).read("AAA", "1d").ts[-1])
    day = dt.datetime.fromtimestamp(last / 1e9, tz=dt.UTC).date()
    leg = {"underlying": "AAA", "type": "put", "strike": 100.0, "quantity": -10, "implied_vol": 0.3}
    body = {"portfolio": {"AAA": 50_000.0}, "lookback": 300}
    as_date = api.post("/api/v1/risk/var", json={**body, "option_positions": [
        {**leg, "expiry": (day + dt.timedelta(days=73)).isoformat()}]})
    as_years = api.post("/api/v1/risk/var", json={**body, "option_positions": [{**leg, "expiry": 0.2}]})
    assert as_date.status_code == 200, as_date.text
    assert as_date.json()["var"] == pytest.approx(as_years.json()["var"], rel=1e-12)
    bad = api.post("/api/v1/risk/var", json={**body, "option_positions": [{**leg, "expiry": "next month"}]})
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in bad.text and "years" in bad.text and "option_positions[0].expiry" in bad.text
    past = api.post("/api/v1/risk/var", json={**body, "option_positions": [
        {**leg, "expiry": (day - dt.timedelta(days=1)).isoformat()}]})
    assert past.status_code == 422 and "before the valuation date" in past.text


def test_cli_help_names_both_expiry_forms(cli) -> None:
    out = cli("var", "--help")
    assert out.exit_code == 0 and "YYYY-MM-DD" in out.output
