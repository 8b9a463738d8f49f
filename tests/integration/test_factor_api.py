"""The Factor engine through the gateway (engines in-process): library listing, compute and research
round trips checked against the pure kernels on the stored bars, 4xx errors naming the field, and
the CLI commands with their exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nautilus.factor import crosssection, library, research
from nautilus.factor.panel import Panel
from nautilus.gateway.app import create_app
from nautilus.storage.catalog import BarCatalog

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(SYMBOLS):
            r = client.post("/api/v1/marketdata/generate",
                            json={"symbol": symbol, "n": 300, "seed": 40 + k, "sigma": 0.3 + 0.05 * k})
            assert r.status_code == 201, r.text
        yield client


def stored_panel(settings) -> Panel:
    catalog = BarCatalog(settings.catalog_dir)
    return Panel.from_bars({s: catalog.read(s, "1d") for s in SYMBOLS})


def as_array(values) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)


def test_library_listing(api) -> None:
    r = api.get("/api/v1/factors")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"momentum", "reversal", "volatility", "beta", "amihud", "volume_trend", "high_52w_distance"} == {
        item["name"] for item in body["items"]}
    assert "ts_corr" in body["functions"] and "close" in body["columns"]


def test_compute_round_trip_equals_the_kernels(api, settings) -> None:
    body = {"symbols": list(SYMBOLS), "factor": "momentum(60, 5)", "steps": [{"op": "winsorize"}, {"op": "zscore"}],
            "start": "2020-03-01"}
    r = api.post("/api/v1/factors/compute", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    panel = stored_panel(settings)
    expected = crosssection.zscore(crosssection.winsorize(library.momentum(panel, 60, 5)))
    rows = panel.ts >= 1_583_020_800_000_000_000  # 2020-03-01
    assert out["factor"] == "momentum(60, 5)" and out["symbols"] == list(SYMBOLS)
    assert out["t"] == (panel.ts[rows] // 1_000_000).tolist()
    np.testing.assert_allclose(as_array(out["values"]), expected[rows], equal_nan=True, rtol=1e-12)
    r = api.post("/api/v1/factors/compute", json={"symbols": ["aaa", "BBB", "CCC"],
                                                  "expr": "rank(ts_mean(close, 20) / close) - zscore(volume)"})
    assert r.status_code == 200, r.text
    values = as_array(r.json()["values"])
    assert values.shape == (300, 3) and np.isfinite(values[19:]).all() and np.isnan(values[:19]).all()


def test_research_round_trip_equals_the_kernels(api, settings) -> None:
    r = api.post("/api/v1/factors/research", json={"symbols": list(SYMBOLS), "factor": "reversal(5)",
                                                   "horizons": [1, 5], "quantiles": 3, "method": "pearson"})
    assert r.status_code == 200, r.text
    sheet = r.json()
    panel = stored_panel(settings)
    factor = library.reversal(panel, 5)
    expected = research.ic(factor, research.forward_returns(panel.close, 5), "pearson")
    assert sheet["factor"] == "reversal(5)" and sheet["horizons"] == [1, 5] and sheet["n_quantiles"] == 3
    got = np.array([np.nan if v is None else v for v in sheet["ic"][1]["series"]])
    np.testing.assert_allclose(got, expected, equal_nan=True, rtol=1e-12)
    qr = research.quantile_returns(factor, research.forward_returns(panel.close, 1), 3)
    np.testing.assert_allclose(sheet["quantiles"][0]["mean_returns"], qr["mean"], rtol=1e-12)
    assert len(sheet["t"]) == len(sheet["long_short"]["cumulative"]) == 300


@pytest.mark.parametrize("path, body, field", [
    ("compute", {"symbols": ["AAA"], "factor": "nope"}, "factor"),
    ("compute", {"symbols": ["AAA"], "factor": "momentum(10, 20)"}, "lookback"),
    ("compute", {"symbols": ["AAA"], "expr": "__import__('os')"}, "expr"),
    ("compute", {"symbols": ["AAA"], "factor": "volatility", "expr": "close"}, "factor"),
    ("compute", {"factor": "volatility"}, "symbols"),
    ("compute", {"symbols": ["AAA"], "factor": "volatility", "steps": [{"op": "demean"}]}, "steps[0].op"),
    ("compute", {"symbols": ["AAA"], "factor": "volatility", "start": "yesterday"}, "start"),
    ("research", {"symbols": ["AAA", "BBB"], "factor": "volatility", "horizons": [0]}, "horizons"),
    ("research", {"symbols": ["AAA", "BBB"], "factor": "volatility", "quantiles": 1}, "quantiles"),
    ("research", {"symbols": ["AAA", "BBB"], "factor": "volatility", "method": "kendall"}, "method"),
])
def test_bad_requests_are_422_naming_the_field(api, path, body, field) -> None:
    r = api.post(f"/api/v1/factors/{path}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.json()


def test_unknown_symbol_is_404(api) -> None:
    r = api.post("/api/v1/factors/compute", json={"symbols": ["AAA", "ZZZ"], "factor": "volatility"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "symbols", r.text
    assert "ZZZ" in r.json()["error"]["message"]


def test_socket_transports_carry_matrices_and_tear_sheets(api, settings) -> None:
    from nautilus.engines.factor.engine import FactorEngine
    from nautilus.engines.factor.messages import ComputeRequest, ResearchRequest
    from nautilus.runtime.client import EngineClient
    from nautilus.runtime.host import EngineHost

    host = EngineHost(FactorEngine(settings), settings)
    host.start()
    try:
        for transport in ("unix", "tcp"):
            client = EngineClient("factor", settings, transports=(transport,), probe=False)
            reply = client.call("compute", ComputeRequest(symbols=list(SYMBOLS), factor="beta(40)"))
            assert client.last_transport == transport
            np.testing.assert_array_equal(reply.values, library.beta(stored_panel(settings), 40))
            sheet = client.call("research", ResearchRequest(symbols=list(SYMBOLS), factor="volatility(10)",
                                                            horizons=[2])).tearsheet
            assert sheet["horizons"] == [2] and sheet["ic"][0]["series"][0] is None
            client.close()
    finally:
        host.stop()


def test_cli_list_and_research(api, settings, stack_env, monkeypatch, tmp_path) -> None:
    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    out = runner.invoke(app, ["factor", "list"])
    assert out.exit_code == 0 and "high_52w_distance" in out.output, out.output
    png = tmp_path / "tearsheet.png"
    out = runner.invoke(app, ["factor", "research", "momentum(60, 5)", "--symbols", ",".join(SYMBOLS),
                              "--horizons", "1,5", "--quantiles", "3", "--step", "zscore", "--plot", str(png)])
    assert out.exit_code == 0, out.output
    assert "momentum(60, 5)" in out.output and png.read_bytes()[:4] == b"\x89PNG"
    out = runner.invoke(app, ["factor", "research", "--expr", "rank(delta(close, 5))", "--symbols", "AAA,BBB,CCC",
                              "--json"])
    assert out.exit_code == 0 and '"ic_decay"' in out.output, out.output
    assert runner.invoke(app, ["factor", "research", "nope", "--symbols", "AAA"]).exit_code == 2
    assert runner.invoke(app, ["factor", "research", "volatility", "--symbols", "ZZZ"]).exit_code == 2
    assert runner.invoke(app, ["factor", "research", "volatility", "--symbols", "AAA", "--horizons", "x"]).exit_code == 2
    config.get_settings.cache_clear()
