"""Every model metric says which sample it is from; headlines are out-of-sample only.

Oracle: the stored walk-forward test predictions (``oos_predictions.npz`` beside the model), scored here with
plain numpy, never through the code under test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app
from nautilus.ml import samples

SYMBOLS = ["AAA", "BBB"]
SMALL = {"kind": "lightgbm", "params": {"num_boost_round": 30, "num_leaves": 15, "min_data_in_leaf": 5}}


def test_hit_rate_and_labels() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.7, 0.2, 0.4, 0.5])
    assert samples.hit_rate(y, p) == pytest.approx(0.5)
    m = samples.labelled_metrics("binary", {"mean": {"accuracy": 0.6}, "pooled": {"accuracy": 0.5, "n": 4}},
                                 {"name": "majority", "pooled": {"accuracy": 0.5}}, {"pooled": {"accuracy": 0.9}},
                                 y, p)
    assert m["headline"] == {"sample": "out_of_sample", "accuracy": 0.5, "n": 4, "hit_rate": 0.5}
    assert m["out_of_sample"]["sample"] == "out_of_sample" and m["in_sample"]["sample"] == "in_sample"
    assert m["baseline"]["sample"] == "out_of_sample"
    assert samples.sample_of(np.array(["AAA", "AAA", "CCC"], dtype=object), np.array([5, 11, 5]), ["AAA"], 0, 10) \
        == ["in_sample", "out_of_sample", "out_of_sample"]


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for k, symbol in enumerate(SYMBOLS):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 900, "seed": 60 + k})
            assert r.status_code == 201, r.text
        yield client


def test_headline_is_out_of_sample_and_every_group_is_labelled(api) -> None:
    r = api.post("/api/v1/ml/train", json={"task": "direction", "symbols": SYMBOLS, "model": SMALL, "n_folds": 3,
                                           "wait": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done", r.json()
    listed = api.get("/api/v1/ml/models").json()["items"][0]
    model = api.get("/api/v1/ml/models/direction").json()["model"]
    metrics = model["metrics"]
    assert listed["metrics"]["headline"] == metrics["headline"]
    assert "mean" not in metrics and "pooled" not in metrics  # no unlabelled group at the top
    for group in ("headline", "out_of_sample", "in_sample", "baseline"):
        assert metrics[group]["sample"] in ("out_of_sample", "in_sample"), group
    assert metrics["headline"]["sample"] == "out_of_sample"
    assert metrics["in_sample"]["sample"] == "in_sample"
    assert all(f["sample"] == "out_of_sample" for f in model["folds"])
    # the headline equals the hit rate and accuracy of the stored out-of-sample predictions, computed here
    stored = np.load(Path(model["artifact"]) / "oos_predictions.npz")
    y, p = stored["y"], stored["pred"]
    assert len(y) == metrics["headline"]["n"] == metrics["out_of_sample"]["pooled"]["n"]
    oracle = float(np.mean((p >= 0.5) == (y == 1.0)))
    assert metrics["headline"]["hit_rate"] == pytest.approx(oracle, abs=1e-12)
    assert metrics["headline"]["accuracy"] == pytest.approx(oracle, abs=1e-12)
    assert set(stored["symbols"]) <= set(SYMBOLS)
    # in-sample skill of the refit model is reported apart, and is not the headline
    assert metrics["in_sample"]["hit_rate"] != pytest.approx(oracle)
    assert metrics["in_sample"]["hit_rate"] > oracle
    # served predictions say which sample each one is from
    series = api.post("/api/v1/ml/predict", json={"name": "direction", "symbols": ["AAA"], "series": True}).json()
    assert len(series["sample"]) == len(series["predictions"])
    ts = np.array(series["ts"])
    inside = (ts >= model["first_ts"]) & (ts <= model["last_ts"])
    assert series["sample"] == ["in_sample" if v else "out_of_sample" for v in inside]
