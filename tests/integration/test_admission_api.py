"""Admission control and code loading through the gateway: over-cap requests are 422 naming the field and
the cap, in the one JSON error shape; requests cannot name a Dask scheduler or a module to import.

Bars are written to the catalog directly, so only stateless engines (Risk, Strategy) serve these calls.
"""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.storage.catalog import BarCatalog

pytestmark = pytest.mark.integration
START = 1_262_304_000_000_000_000  # 2010-01-01


@pytest.fixture
def api(settings):
    settings.ensure_dirs()
    catalog = BarCatalog(settings.catalog_dir)
    for k, symbol in enumerate(("AAA", "BBB")):
        catalog.write(gbm_bars(symbol, "1d", START, 400, seed=k))
    catalog.write(gbm_bars("SEC", "1s", START, 3_000, seed=2))
    settings.max_bars_per_request = 2_999
    settings.max_sweep_size = 6
    with TestClient(create_app(settings)) as client:
        yield client


def error(r, field: str, cap: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "invalid_input" and body["field"] == field, body
    assert cap in body["message"] and f"NAUTILUS_{cap.upper()}" in body["message"], body
    return body["message"]


def test_monte_carlo_paths_over_the_cap_are_422(api) -> None:
    book = {"portfolio": {"AAA": 1e5, "BBB": -4e4}, "method": "mc"}
    r = api.post("/api/v1/risk/var", json={**book, "options": {"paths": 200_000_000}})
    assert "2.0e8" in error(r, "options.paths", "max_mc_paths")
    r = api.post("/api/v1/risk/var", json={**book, "horizon": 10_000, "options": {"paths": 1_000_000}})
    error(r, "options.paths", "max_mc_cells")
    r = api.post("/api/v1/risk/var", json={**book, "options": {"paths": 2_000, "seed": 1}})
    assert r.status_code == 200 and r.json()["var"] > 0, r.text


def test_risk_requests_cannot_name_a_scheduler(api) -> None:
    r = api.post("/api/v1/risk/var", json={"portfolio": {"AAA": 1e5}, "method": "mc",
                                           "options": {"paths": 1_000, "backend": "dask",
                                                       "scheduler": "tcp://203.0.113.9:8786"}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "options.scheduler", r.text


def test_sweep_size_and_scheduler(api) -> None:
    body = {"symbol": "AAA", "strategy": "sma_cross", "grid": {"fast": [5, 10, 20], "slow": [50, 100]}}
    r = api.post("/api/v1/strategy/sweep", json=body)
    assert r.status_code == 200 and r.json()["evaluated"] == 6, r.text
    r = api.post("/api/v1/strategy/sweep", json={**body, "grid": {"fast": list(range(1, 8)), "slow": [50]}})
    error(r, "grid", "max_sweep_size")
    r = api.post("/api/v1/strategy/sweep", json={**body, "scheduler": "tcp://203.0.113.9:8786"})
    assert r.status_code == 422 and "scheduler" in r.text, r.text


def test_one_second_bars_over_the_whole_history_are_422(api) -> None:
    # (the MarketData engine's own bars query is stateful, not served in this gateway: see test_admission.py)
    r = api.post("/api/v1/strategy/indicators", json={"symbol": "SEC", "timeframe": "1s", "indicators": ["rsi(14)"]})
    error(r, "start", "max_bars_per_request")
    r = api.post("/api/v1/strategy/indicators", json={"symbol": "SEC", "timeframe": "1s", "indicators": ["rsi(14)"],
                                                      "limit": 100})
    assert r.status_code == 200, r.text


def test_a_deployment_naming_an_installed_module_imports_nothing(settings, tmp_path) -> None:
    """The Portfolio engine's deploy path, called directly (it is stateful: one writer, not in the gateway)."""
    from nautilus.core.errors import InvalidInput
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import DeployRequest

    settings.ensure_dirs()
    BarCatalog(settings.catalog_dir).write(gbm_bars("PAR", "1d", START, 100, seed=11))
    marker = tmp_path / "imported"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sneaky_mod.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nS = 1\n")
    sys.path.insert(0, str(site))
    eng = PortfolioEngine(settings)
    eng.start()
    try:
        for strategy in ("this:x", "os:system", "sneaky_mod:S", "antigravity:x"):
            with pytest.raises(InvalidInput) as info:
                eng.deploy(DeployRequest(strategy=strategy, symbol="PAR", wait=True))
            assert info.value.field == "strategy" and "allowed place" in info.value.message
        assert not {"this", "antigravity", "sneaky_mod"} & set(sys.modules) and not marker.exists()
        settings.strategy_packages = ["tests.support"]
        reply = eng.deploy(DeployRequest(strategy="tests.support.user_strategy:Momentum", symbol="PAR",
                                         params={"lookback": 7}, wait=True))
        assert reply.deployment["strategy"] == "tests.support.user_strategy:Momentum"
    finally:
        eng.close()
        sys.path.remove(str(site))
