"""The ML engine through the gateway (in-process engines): training jobs, the registry (versions,
promote, rollback), predictions equal to the trained model's, and 4xx errors."""

from __future__ import annotations

import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
SYMBOLS = ["AAA", "BBB"]
SMALL = {"kind": "lightgbm", "params": {"num_boost_round": 20, "num_leaves": 7}}


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(SYMBOLS):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 900, "seed": 60 + k})
            assert r.status_code == 201, r.text
        yield client


def _train(api, **extra) -> dict:
    body = {"task": "direction", "symbols": SYMBOLS, "model": SMALL, "n_folds": 3, "wait": True, **extra}
    r = api.post("/api/v1/ml/train", json=body)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "done", job
    return job


def test_train_register_predict_promote_rollback(api, settings) -> None:
    job = _train(api)
    model = job["model"]
    assert (model["name"], model["version"], model["stage"]) == ("direction", 1, "candidate")
    assert model["metrics"]["baseline"]["name"] and len(model["feature_names"]) > 3
    shown = api.get("/api/v1/ml/models/direction").json()["model"]
    assert len(shown["folds"]) == 3 and shown["symbols"] == SYMBOLS
    # the served prediction equals the trained LightGBM booster's (the oracle) to 1e-9
    booster = lgb.Booster(model_file=str(Path(shown["artifact"]) / "train" / "model.txt"))
    rows = np.random.default_rng(0).normal(size=(5, len(shown["feature_names"])))
    r = api.post("/api/v1/ml/predict", json={"name": "direction", "rows": rows.tolist()})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], booster.predict(rows), rtol=0, atol=1e-9)
    one = api.post("/api/v1/ml/predict", json={"name": "direction", "rows": rows[0].tolist()}).json()
    assert one["predictions"] == pytest.approx([booster.predict(rows[:1])[0]], abs=1e-9)
    latest = api.post("/api/v1/ml/predict", json={"name": "direction", "symbols": SYMBOLS}).json()
    assert latest["symbols"] == SYMBOLS and all(0.0 < p < 1.0 for p in latest["predictions"])
    series = api.post("/api/v1/ml/predict", json={"name": "direction", "symbols": ["AAA"], "series": True}).json()
    assert len(series["predictions"]) > 600 and series["ts"] == sorted(series["ts"])
    assert series["predictions"][-1] == pytest.approx(latest["predictions"][0], abs=1e-12)
    # versions, promotion and rollback
    second = _train(api, model={**SMALL, "seed": 3})["model"]
    assert second["version"] == 2
    assert api.post("/api/v1/ml/models/direction/versions/1/promote").status_code == 200
    assert api.post("/api/v1/ml/predict", json={"name": "direction", "rows": rows.tolist()}).json()["version"] == 1
    api.post("/api/v1/ml/models/direction/versions/2/promote")
    assert api.get("/api/v1/ml/models/direction").json()["model"]["version"] == 2
    back = api.post("/api/v1/ml/models/direction/rollback").json()["model"]
    assert back["version"] == 1 and back["stage"] == "production"
    stages = {m["version"]: m["stage"] for m in api.get("/api/v1/ml/models?name=direction").json()["items"]}
    assert stages == {1: "production", 2: "archived"}
    assert api.delete("/api/v1/ml/models/direction/versions/1").status_code == 409
    assert api.delete("/api/v1/ml/models/direction/versions/2").status_code == 200


def test_jobs_can_be_cancelled(api) -> None:
    body = {"task": "direction", "symbols": SYMBOLS, "n_folds": 10,
            "model": {"kind": "mlp", "params": {"epochs": 500}, "early_stopping_rounds": 0}}
    r = api.post("/api/v1/ml/train", json=body)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    api.delete(f"/api/v1/ml/jobs/{job_id}")
    deadline = time.time() + 60
    while time.time() < deadline:
        job = api.get(f"/api/v1/ml/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert job["status"] == "cancelled"
    assert api.get("/api/v1/ml/models").json()["items"] == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"task": "nope", "symbols": SYMBOLS}, 422, "task"),
    ({"task": "direction", "symbols": ["ZZZ"]}, 404, "symbols"),
    ({"task": "direction", "symbols": SYMBOLS, "model": {"params": {"bogus": 1}}}, 422, "model.params.bogus"),
    ({"task": "direction", "symbols": SYMBOLS, "model": {"objective": "regression"}}, 422, "model.objective"),
    ({"feature_set": "direction", "target": "nope", "symbols": SYMBOLS}, 422, "target"),
    ({"feature_set": {"features": [{"kind": "nope"}]}, "target": "x", "symbols": SYMBOLS}, 422, None),
    ({"symbols": SYMBOLS}, 422, "task"),
])
def test_bad_training_requests(api, body, status, field) -> None:
    r = api.post("/api/v1/ml/train", json=body)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["error"]["field"] == field
    else:
        assert r.json()["error"]["field"].startswith("feature_set")


def test_bad_predictions(api) -> None:
    assert api.post("/api/v1/ml/predict", json={"name": "missing", "rows": [[1.0]]}).status_code == 404
    _train(api)
    r = api.post("/api/v1/ml/predict", json={"name": "direction", "rows": [[1.0, 2.0]]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "rows"
    assert "shape" in r.json()["error"]["message"]
    r = api.post("/api/v1/ml/predict", json={"name": "direction"})
    assert r.status_code == 422
    assert api.post("/api/v1/ml/predict", json={"name": "direction", "version": 9, "rows": [[1.0]]}).status_code == 404


def test_cli_train_list_show_promote_predict(api, stack_env, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runner = CliRunner()
    out = runner.invoke(app, ["model", "train", "volatility", "--symbols", "AAA,BBB", "--folds", "3",
                              "--param", "num_boost_round=15", "--promote"])
    assert out.exit_code == 0, out.output
    assert "registered volatility v1" in out.output and "promoted" in out.output
    assert "rmse" in out.output  # model and GARCH baseline side by side
    listed = runner.invoke(app, ["model", "list"])
    assert listed.exit_code == 0 and "volatility" in listed.output and "production" in listed.output
    shown = runner.invoke(app, ["model", "show", "volatility", "--json"])
    assert json.loads(shown.output)["target"] == "rvol_5"
    pred = runner.invoke(app, ["model", "predict", "volatility", "--symbols", "AAA"])
    assert pred.exit_code == 0 and "AAA" in pred.output
    assert runner.invoke(app, ["model", "train", "nope", "--symbols", "AAA"]).exit_code == 2
    assert runner.invoke(app, ["model", "show", "missing"]).exit_code == 2
    config.get_settings.cache_clear()


def test_backtest_on_a_registered_model_signal(api, settings) -> None:
    from nautilus.storage.catalog import BarCatalog

    _train(api)
    series = api.post("/api/v1/ml/predict", json={"name": "direction", "symbols": ["AAA"], "series": True}).json()
    by_ts = dict(zip(series["ts"], series["predictions"], strict=True))
    bar_ts = BarCatalog(settings.catalog_dir).read("AAA", "1d").ts
    # the oracle: the same backtest fed the ML engine's own predictions, aligned to the bars by time
    aligned = [by_ts.get(int(t)) for t in bar_ts]  # null where the model has no prediction
    assert sum(int(t) in by_ts for t in bar_ts) == len(series["ts"])
    common = {"symbol": "AAA", "strategy": "model_signal", "save": False,
              "params": {"threshold_long": 0.5, "threshold_short": 0.45}}
    via_model = api.post("/api/v1/strategy/backtest", json={**common, "model": "direction"})
    assert via_model.status_code == 200, via_model.text
    explicit = api.post("/api/v1/strategy/backtest", json={**common, "predictions": aligned})
    assert explicit.status_code == 200, explicit.text
    assert via_model.json()["stats"] == explicit.json()["stats"]
    assert via_model.json()["trades"] == explicit.json()["trades"] and via_model.json()["trades"]
    bad = api.post("/api/v1/strategy/backtest", json={**common, "model": "missing"})
    assert bad.status_code == 404 and bad.json()["error"]["field"] == "model"


def test_job_progress_and_predictions_go_out_on_the_redis_bus(api, settings) -> None:
    """An ML engine on the Redis bus (the production path): a subscriber sees the job's progress rise to
    done, then the latest-bar predictions."""
    import uuid

    from tests.support.services import REDIS_URL, redis_bus

    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import PredictRequest, TrainRequest

    redis_bus().close()  # reachable (fails in CI otherwise)
    engine = MLEngine(settings.model_copy(update={"redis_url": REDIS_URL}))
    engine.start()
    name = f"dir{uuid.uuid4().hex[:8]}"
    sub = engine.bus.subscribe("ml.*")
    try:
        job = engine.train(TrainRequest(task="direction", name=name, symbols=SYMBOLS, n_folds=3, wait=True,
                                        model=msgspec_model(SMALL)))
        assert job.status == "done"
        engine.predict(PredictRequest(name=name, symbols=["AAA"]))
        events = []
        deadline = time.time() + 10
        while time.time() < deadline:
            got = sub.get(timeout=0.5)
            if got is None:
                break
            events.append(got)
    finally:
        sub.close()
        engine.close()
    progress = [m["progress"] for topic, m in events if topic == f"ml.job.{job.id}"]
    assert progress and progress == sorted(progress) and progress[-1] == 1.0
    assert [m["status"] for topic, m in events if topic == f"ml.job.{job.id}"][-1] == "done"
    (pred,) = [m for topic, m in events if topic == f"ml.predictions.{name}"]
    assert pred["symbols"] == ["AAA"] and 0 < pred["predictions"][0] < 1


def msgspec_model(body: dict):
    import msgspec

    from nautilus.engines.ml.messages import ModelBody

    return msgspec.convert(body, ModelBody)


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_torch_models_serve_what_they_trained(api, kind) -> None:
    """A custom (feature set + target) torch model: the served prediction equals the trained module's."""
    import torch

    from nautilus.ml.training import load_model

    body = {"feature_set": "direction", "target": "direction_1", "name": f"dir_{kind}", "symbols": SYMBOLS,
            "n_folds": 2, "wait": True, "model": {"kind": kind, "sequence_length": 4, "early_stopping_rounds": 0,
                                                 "params": {"epochs": 2, "hidden": 8}}}
    r = api.post("/api/v1/ml/train", json=body)
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    row = api.get(f"/api/v1/ml/models/dir_{kind}").json()["model"]
    module = load_model(Path(row["artifact"]) / "train").model.double()
    n = len(row["feature_names"])
    x = np.random.default_rng(1).normal(size=(3, 4, n) if kind == "lstm" else (3, n))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy().reshape(-1)
    got = api.post("/api/v1/ml/predict", json={"name": f"dir_{kind}", "rows": x.tolist()})
    assert got.status_code == 200, got.text
    np.testing.assert_allclose(got.json()["predictions"], expected, rtol=1e-5, atol=1e-6)
    # from the catalog: the latest bar's prediction is the last of the series, windows never span symbols
    series = api.post("/api/v1/ml/predict", json={"name": f"dir_{kind}", "symbols": SYMBOLS, "series": True}).json()
    latest = api.post("/api/v1/ml/predict", json={"name": f"dir_{kind}", "symbols": SYMBOLS}).json()
    assert series["symbols"].count("AAA") == series["symbols"].count("BBB") > 600
    last = [len(series["symbols"]) // 2 - 1, len(series["symbols"]) - 1]
    np.testing.assert_allclose(latest["predictions"], np.asarray(series["predictions"])[last], atol=1e-12)
