"""ml_serving: load, single-row and 10,000-row latency of served models, baseline vs ours.

Models (trained untimed, seeded synthetic data): a 200-tree, 31-leaf binary LightGBM classifier on
20 features (5% NaN inputs) and a 20-64-64-1 float32 torch MLP. Baselines: ``lgb.Booster(model_str=...)``
and ``booster.predict`` (default threads), an ONNX Runtime session (1 thread) of the same booster,
torch under ``inference_mode``. Ours: :class:`~nautilus.ml.serving.CompiledForest` and
:class:`~nautilus.ml.serving.CompiledMLP`, loaded from their saved folders (targets: load <= 5 ms,
single row p50 <= 15 us, batch <= 5 ms). The forest's batch is timed twice: with the numba kernels
(``load(native=False)``, the earlier path) and with the C kernel built at save time (when a C compiler
is present; its row is left out otherwise), against LightGBM and against each other. Latencies are p50 over interleaved calls (p99 in checks);
loads and batches are medians of repeated runs. Checks: max abs difference of our outputs from
LightGBM's / torch's.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.stats import median, percentile, sample

N_FEATURES = 20
N_TREES = 200
N_LEAVES = 31
BATCH = 10_000


def dataset(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    z = X[:, 0] - 0.5 * X[:, 1] ** 2 + np.sin(2 * X[:, 2]) + 0.3 * X[:, 3] * X[:, 4] + rng.normal(0, 0.5, n)
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, (z > 0).astype(np.float64)


def timed(func: Callable[[], Any], runs: int) -> float:
    """Median seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return median(times)


def latency_rows(what: str, baselines: dict[str, Callable[[], Any]], ours: tuple[str, Callable[[], Any]],
                 calls: int, params: dict[str, Any]) -> list[Result]:
    durations = sample({**baselines, ours[0]: ours[1]}, calls, warmup=200)
    ours_p50 = percentile(durations[ours[0]], 50) * 1e6
    ours_p99 = round(percentile(durations[ours[0]], 99) * 1e6, 2)
    return [result("us", (name, percentile(durations[name], 50) * 1e6), (ours[0], ours_p50),
                   params={"model": what, **params, "calls": calls, "statistic": "p50", "target_us": 15},
                   checks={"baseline_p99_us": round(percentile(durations[name], 99) * 1e6, 2), "ours_p99_us": ours_p99})
            for name in baselines]


@case("ml_serving", "served LightGBM (200 trees) and MLP: load, single-row p50, 10k-row batch vs LightGBM/ORT/torch")
def ml_serving(ctx: BenchContext) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="nautilus-mlserve-") as tmp:
        rows = forest_rows(ctx, Path(tmp))
        rows += mlp_rows(ctx, Path(tmp))
    return rows


def forest_rows(ctx: BenchContext, tmp: Path) -> list[Result]:
    import lightgbm as lgb
    import onnxruntime as ort

    from nautilus.ml.serving import CompiledForest, OrtPredictor, export_onnx, load_predictor

    ctx.step("training LightGBM (untimed)")
    X, y = dataset(20_000, 0)
    booster = lgb.train({"objective": "binary", "num_leaves": N_LEAVES, "verbose": -1, "seed": 0},
                        lgb.Dataset(X, y), N_TREES)
    model_str = booster.model_to_string()
    folder = CompiledForest.from_booster(booster).save(tmp / "forest")
    onnx_dir = export_onnx(booster, tmp / "forest_onnx", N_FEATURES)
    X_new, _ = dataset(BATCH, 1)
    forest = load_predictor(folder)
    forest.predict(X_new[:10])
    forest.predict_one(X_new[0])  # warm: numba kernels come from the on-disk cache
    ort_model = OrtPredictor(onnx_dir, threads=1)
    runs = ctx.runs(15)
    base = {"model": f"LightGBM binary {N_TREES} trees x {N_LEAVES} leaves, {N_FEATURES} features, 5% NaN"}

    ctx.step("load")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    onnx_file = str(onnx_dir / "model.onnx")
    t_lgb = timed(lambda: lgb.Booster(model_str=model_str), runs)
    t_ort = timed(lambda: ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"]), runs)
    t_ours = timed(lambda: CompiledForest.load(folder), runs)
    rows = [result("ms", (name, value * 1e3), (f"CompiledForest.load (manifest, array file, {forest.backend} kernel)",
                                               t_ours * 1e3),
                   params={**base, "what": "load", "runs": runs, "statistic": "median", "target_ms": 5})
            for name, value in (("lgb.Booster(model_str=...)", t_lgb), ("onnxruntime InferenceSession (1 thread)",
                                                                        t_ort))]

    ctx.step("single row")
    pick = iter(list(X_new[:1000]) * (ctx.latency_calls * 3 // 1000 + 2))
    ort_session, feed_name = ort_model.session, ort_model.session.get_inputs()[0].name
    rows += latency_rows(base["model"], {
        "booster.predict((1, 20))": lambda: booster.predict(next(pick)[None, :]),
        "onnxruntime run (1 thread, float32)": lambda: ort_session.run(
            ["probabilities"], {feed_name: next(pick)[None, :].astype(np.float32)}),
    }, ("CompiledForest.predict_one", lambda: forest.predict_one(next(pick))), ctx.latency_calls,
        {"what": "single row"})

    ctx.step("batch of 10,000 rows")
    numba_forest = CompiledForest.load(folder, native=False)
    t_lgb = timed(lambda: booster.predict(X_new), runs)
    t_numba = timed(lambda: numba_forest.predict(X_new), runs)
    t_native = timed(lambda: forest.predict(X_new), runs) if forest.backend == "native" else None
    expected = booster.predict(X_new)
    expected_raw = booster.predict(X_new, raw_score=True)
    one = np.array([forest.predict_one(r) for r in X_new[:1000]])
    batch = {**base, "what": f"batch {BATCH} rows", "runs": runs, "statistic": "median", "target_ms": 5}
    lgb_name = "booster.predict (default threads)"
    numba_name = "CompiledForest.predict (numba prange)"
    rows.append(result("ms", (lgb_name, t_lgb * 1e3), (numba_name, t_numba * 1e3), params=batch,
                       checks={"max_abs_diff_vs_lightgbm": float(np.abs(numba_forest.predict(X_new) - expected).max()),
                               "max_abs_diff_single_row": float(np.abs(one - expected[:1000]).max()),
                               "ort_max_abs_diff_vs_lightgbm": float(np.abs(ort_model.predict(X_new) - expected).max())}))
    if t_native is not None:
        native_name = f"CompiledForest.predict (C kernel, {forest.threads} threads)"
        checks = {"max_abs_diff_vs_lightgbm": float(np.abs(forest.predict(X_new) - expected).max()),
                  "max_abs_diff_raw_vs_lightgbm": float(np.abs(forest.predict_raw(X_new) - expected_raw).max())}
        rows += [result("ms", (lgb_name, t_lgb * 1e3), (native_name, t_native * 1e3), params=batch, checks=checks),
                 result("ms", (numba_name, t_numba * 1e3), (native_name, t_native * 1e3), params=batch, checks=checks)]
    return rows


def mlp_rows(ctx: BenchContext, tmp: Path) -> list[Result]:
    import torch
    from torch import nn

    from nautilus.ml.serving import CompiledMLP, load_predictor

    ctx.step("training the MLP (untimed)")
    torch.manual_seed(0)
    X, y = dataset(5_000, 2)
    X = np.nan_to_num(X)
    module = nn.Sequential(nn.Linear(N_FEATURES, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(X).float(), torch.from_numpy(y).float()
    for _ in range(100):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(module(xt)[:, 0], yt).backward()
        opt.step()
    module.eval()
    torch.save(module, tmp / "mlp.pt")
    folder = CompiledMLP.from_torch(module).save(tmp / "mlp")
    mlp = load_predictor(folder)
    X_new = np.nan_to_num(dataset(BATCH, 3)[0])
    mlp.predict_one(X_new[0])
    runs = ctx.runs(15)
    base = {"model": "MLP 20-64-64-1 ReLU, float32 torch, served in float64"}

    ctx.step("MLP load")
    t_torch = timed(lambda: torch.load(tmp / "mlp.pt", weights_only=False), runs)
    t_ours = timed(lambda: CompiledMLP.load(folder), runs)
    rows = [result("ms", ("torch.load (pickled module)", t_torch * 1e3), ("CompiledMLP.load", t_ours * 1e3),
                   params={**base, "what": "load", "runs": runs, "statistic": "median", "target_ms": 5})]

    ctx.step("MLP single row")
    pick = iter(list(X_new[:1000]) * (ctx.latency_calls * 2 // 1000 + 2))

    def torch_one() -> float:
        with torch.inference_mode():
            return float(torch.sigmoid(module(torch.from_numpy(next(pick)[None, :]).float()))[0, 0])

    rows += latency_rows(base["model"], {"torch inference_mode (1, 20)": torch_one},
                         ("CompiledMLP.predict_one", lambda: mlp.predict_one(next(pick))), ctx.latency_calls,
                         {"what": "single row", "torch_threads": torch.get_num_threads()})

    ctx.step("MLP batch of 10,000 rows")

    def torch_batch() -> np.ndarray:
        with torch.inference_mode():
            return torch.sigmoid(module(torch.from_numpy(X_new).float()))[:, 0].numpy()

    t_torch = timed(torch_batch, runs)
    t_ours = timed(lambda: mlp.predict(X_new), runs)
    with torch.inference_mode():
        exact = torch.sigmoid(copy.deepcopy(module).double()(torch.from_numpy(X_new)))[:, 0].numpy()
    ours = mlp.predict(X_new)
    rows.append(result("ms", ("torch inference_mode float32", t_torch * 1e3), (f"CompiledMLP.predict {mlp.precision}", t_ours * 1e3),
                       params={**base, "what": f"batch {BATCH} rows", "runs": runs, "statistic": "median",
                               "target_ms": 5},
                       checks={"max_abs_diff_vs_torch_float64": float(np.abs(ours - exact).max()),
                               "max_abs_diff_vs_torch_float32": float(np.abs(ours - torch_batch()).max())}))
    return rows
