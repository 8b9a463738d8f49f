"""The Features engine through the gateway (engines in-process): every route, saved sets on disk,
4xx errors naming the field, and the CLI commands with their exit codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nautilus.features import builtin_feature_sets, compute, compute_panel, load_feature_set
from nautilus.gateway.app import create_app
from nautilus.storage.catalog import BarCatalog

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB")
CUSTOM = {"description": "test set", "features": [
    {"kind": "return", "window": 5}, {"kind": "rolling", "stat": "zscore", "window": 20},
    {"kind": "cross_asset", "symbol": "BBB", "what": "beta", "window": 30}],
    "targets": [{"kind": "forward_return", "h": 2}]}


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(SYMBOLS):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 500, "seed": 20 + k})
            assert r.status_code == 201, r.text
        yield client


def column(body: dict, name: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in body["columns"][name]], dtype=float)


def test_compute_builtin_set_equals_python_api(api, settings) -> None:
    r = api.post("/api/v1/features/compute", json={"name": "standard", "symbols": ["BBB", "AAA"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbols"] == ["AAA", "BBB"] and body["lookback"] == 251 and body["horizon"] == 1
    catalog = BarCatalog(settings.catalog_dir)
    bars = {s: catalog.read(s, "1d") for s in SYMBOLS}
    ref = compute_panel(builtin_feature_sets()["standard"], bars)
    assert body["columns"]["symbol"] == ref.symbols.tolist()
    assert body["columns"]["t"] == (ref.ts // 1_000_000).tolist()
    for j, name in enumerate(ref.feature_names):
        np.testing.assert_array_equal(column(body, name), ref.X[:, j])
    np.testing.assert_array_equal(column(body, "fwd_ret_1"), ref.y[:, 0])
    again = api.post("/api/v1/features/compute", json={"name": "standard", "symbols": ["AAA"]}).json()
    assert again["cache"] == {"AAA": "hit"}


def test_saved_set_lifecycle(api, settings) -> None:
    r = api.put("/api/v1/features/sets/mine", json=CUSTOM)
    assert r.status_code == 200, r.text
    assert r.json()["feature_names"] == ["ret_5", "zscore_20_close", "beta_30_BBB"]
    assert (settings.data_dir / "features" / "mine.yaml").is_file()
    names = {item["name"] for item in api.get("/api/v1/features/sets").json()["items"]}
    assert {"standard", "direction", "volatility", "regime", "mine"} <= names
    assert api.get("/api/v1/features/sets/mine").json()["target_names"] == ["fwd_ret_2"]
    catalog = BarCatalog(settings.catalog_dir)
    start = pd.Timestamp(int(catalog.read("AAA", "1d").ts[200]), tz="UTC")
    r = api.post("/api/v1/features/compute", json={"name": "mine", "symbols": ["AAA"], "start": start.isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    start_ns = start.value
    aaa = catalog.read("AAA", "1d", start_ns)
    # the rows from start on, valued as over the full history: the set's warm-up is read before start
    ref = compute_panel(load_feature_set({"name": "mine", **CUSTOM}),
                        {"AAA": catalog.read("AAA", "1d"), "BBB": catalog.read("BBB", "1d")})
    rows = (ref.symbols == "AAA") & (ref.ts >= start_ns)
    np.testing.assert_allclose(column(body, "beta_30_BBB"), ref.X[rows, 2], rtol=1e-9)
    assert np.isfinite(column(body, "beta_30_BBB")).all()
    assert body["columns"]["t"][0] == aaa.ts[0] // 1_000_000
    assert api.delete("/api/v1/features/sets/mine").status_code == 200
    assert api.get("/api/v1/features/sets/mine").status_code == 404


BAD_REQUESTS = [
    ("put", "/api/v1/features/sets/bad", {"features": [{"kind": "return"}, {"kind": "return"},
                                                       {"kind": "rolling", "stat": "std", "window": 0}]},
     422, "features[2].window"),
    ("put", "/api/v1/features/sets/bad", {"features": [{"kind": "rolling", "stat": "avg", "window": 5}]},
     422, "features[0].stat"),
    ("put", "/api/v1/features/sets/standard", {"features": [{"kind": "return"}]}, 409, "name"),
    ("post", "/api/v1/features/compute", {"definition": {"features": [{"kind": "volume_zscore", "window": 1}]},
                                          "symbols": ["AAA"]}, 422, "definition.features[0].window"),
    ("post", "/api/v1/features/compute", {"name": "standard"}, 422, "symbols"),
    ("post", "/api/v1/features/compute", {"name": "nope", "symbols": ["AAA"]}, 404, "name"),
    ("post", "/api/v1/features/compute", {"name": "standard", "symbols": ["ZZZ"]}, 404, "symbol"),
    ("delete", "/api/v1/features/sets/nope", None, 404, "name"),
    ("post", "/api/v1/features/compute", {"name": "standard", "symbols": ["AAA"], "limit": 0}, 422, "limit"),
]


def test_bad_requests_name_the_field(api) -> None:
    for method, path, body, status, field in BAD_REQUESTS:
        r = api.request(method.upper(), path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert r.json()["error"]["field"] == field, (path, body, r.text)


def test_inline_definition_and_cli(api, settings, stack_env, monkeypatch, tmp_path) -> None:
    from nautilus import config
    from nautilus.cli import app

    fs = builtin_feature_sets()["volatility"]
    r = api.post("/api/v1/features/compute", json={"definition": fs.to_dict(), "symbols": ["AAA"], "limit": 300})
    assert r.status_code == 200, r.text
    aaa = BarCatalog(settings.catalog_dir).read("AAA", "1d")
    ref = compute(fs, aaa.slice(len(aaa) - 300, len(aaa)))
    np.testing.assert_array_equal(column(r.json(), "rvol_5"), ref.y[:, 0])

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    out = runner.invoke(app, ["features", "list"])
    assert out.exit_code == 0 and "standard" in out.output, out.output
    out = runner.invoke(app, ["features", "show", "regime"])
    assert out.exit_code == 0 and "trend: 0.03" in out.output, out.output
    parquet = tmp_path / "f.parquet"
    out = runner.invoke(app, ["features", "compute", "--set", "direction", "--symbols", "AAA,BBB",
                              "--out", str(parquet)])
    assert out.exit_code == 0, out.output
    saved = pd.read_parquet(parquet)
    assert len(saved) == 1000 and list(saved.columns[:2]) == ["symbol", "ts"] and "direction_1" in saved
    spec = tmp_path / "set.yaml"
    spec.write_text("name: f\nfeatures:\n  - kind: rolling\n    stat: mean\n    window: 0\n")
    out = runner.invoke(app, ["features", "compute", "--file", str(spec), "--symbols", "AAA"])
    assert out.exit_code == 2 and "window" in out.output
    assert runner.invoke(app, ["features", "show", "nope"]).exit_code == 2
