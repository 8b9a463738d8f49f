"""ml_predict_socket: a registered model from the registry to a warm prediction, and through the unix socket.

The model is the ml_serving case's 200-tree, 31-leaf binary LightGBM classifier on 20 features,
registered the way a training job registers it (SQL row + serving folder). Load (registry -> ready):
``Database.get_model`` + ``registry.load_serving`` in a warm process (kernels compiled), median of
repeated loads; baseline ``lgb.Booster(model_file=...)`` on the same model's text. Socket: the ML
engine in its own process, ``predict`` of one row (target p50 <= 100 us), against the engine's echo
round trip on the same transport (the floor every handler pays). Checks: the socket prediction
equals LightGBM's.
"""

from __future__ import annotations

import time

import numpy as np

from nautilus.bench.cases.ml_serving import N_FEATURES, N_LEAVES, N_TREES, dataset
from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import bench_settings, engine_process, free_port_offset, temp_home
from nautilus.bench.stats import median, percentile, sample
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import Echo


def _register(settings, booster) -> dict:
    from nautilus.ml.serving import CompiledForest
    from nautilus.storage.bootstrap import migrate
    from nautilus.storage.db import Database

    folder = settings.data_dir / "models" / "bench" / "v1"
    (folder / "train").mkdir(parents=True)
    booster.save_model(str(folder / "train" / "model.txt"))
    CompiledForest.from_booster(booster).save(folder / "serving")
    migrate(settings)
    db = Database.from_url(str(settings.database_url))
    try:
        names = [f"f{i}" for i in range(N_FEATURES)]
        row = db.add_model(name="bench", task=None, kind="lightgbm", objective="binary", target="y",
                           feature_set={"name": "bench", "features": []}, feature_names=names, params={},
                           metrics={}, folds=[], symbols=["BENCH"], timeframe="1d", first_ts=0, last_ts=1,
                           n_rows=1, artifact=str(folder))
        db.promote_model("bench", row["version"])
    finally:
        db.dispose()
    return row


@case("ml_predict_socket", "registry -> warm model load; one-row prediction through the ML engine's unix socket")
def ml_predict_socket(ctx: BenchContext) -> list[Result]:
    import lightgbm as lgb

    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import PredictRequest
    from nautilus.ml import registry
    from nautilus.storage.db import Database

    ctx.step("training the model (untimed)")
    X, y = dataset(20_000, seed=1)
    params = {"objective": "binary", "num_leaves": N_LEAVES, "learning_rate": 0.05, "verbose": -1,
              "num_threads": 1, "min_data_in_leaf": 20}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=N_TREES)
    row_x = np.ascontiguousarray(X[:1])
    expected = float(booster.predict(row_x)[0])
    rows: list[Result] = []
    with temp_home("mlsocket") as home:
        settings = bench_settings(home, free_port_offset(["ml"]))
        row = _register(settings, booster)
        text_file = str(home / "data" / "models" / "bench" / "v1" / "train" / "model.txt")
        db = Database.from_url(str(settings.database_url))
        try:
            registry.load_serving(row["artifact"])  # compile/load the kernels once: a warm engine has them

            def load_ours() -> None:
                registry.load_serving(db.get_model("bench")["artifact"])

            runs = ctx.runs(20)
            ctx.step("loads")
            base = median([_time(lambda: lgb.Booster(model_file=text_file)) for _ in range(runs)])
            ours = median([_time(load_ours) for _ in range(runs)])
        finally:
            db.dispose()
        rows.append(result("ms", ("lgb.Booster(model_file=...)", base * 1e3),
                           ("registry lookup + CompiledForest load", ours * 1e3),
                           params={"trees": N_TREES, "leaves": N_LEAVES, "features": N_FEATURES, "runs": runs,
                                   "statistic": "median", "target_ms": 5}))
        ctx.step("starting the ML engine")
        with engine_process(settings, "ml"):
            client = EngineClient("ml", settings, transports=("unix",), probe=False)
            try:
                req = PredictRequest(name="bench", rows=row_x)
                got = float(np.asarray(client.call(MLEngine.predict, req).predictions)[0])
                echo = Echo("x", 1.0)
                calls = ctx.latency_calls
                ctx.step(f"{calls} predictions and echoes, interleaved")
                remote = sample({"echo": lambda: client.call("echo", echo),
                                 "predict": lambda: client.call(MLEngine.predict, req)}, calls, warmup=200)
            finally:
                client.close()
    rows.append(result("us", ("engine echo round trip (unix)", percentile(remote["echo"], 50) * 1e6),
                       ("ML engine predict, 1 row (unix)", percentile(remote["predict"], 50) * 1e6),
                       params={"calls": calls, "statistic": "p50", "target_us": 100},
                       checks={"abs_diff_vs_lightgbm": abs(got - expected),
                               "p99_us": round(percentile(remote["predict"], 99) * 1e6, 1)}))
    return rows


def _time(func) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0
