"""nautilus.ml.serving against its reference libraries: LightGBM's booster.predict, torch, ONNX Runtime."""

from __future__ import annotations

import hashlib
import json
import logging
import os

import lightgbm as lgb
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from nautilus.ml.serving import (
    CompiledForest,
    CompiledMLP,
    ModelInputError,
    OrtPredictor,
    TorchPredictor,
    export_onnx,
    forest_native,
    load_predictor,
)
from nautilus.ml.serving import forest as forest_module

N_FEATURES = 6
HAVE_CC = forest_native.find_compiler() is not None


def data(seed: int, n: int, nan_frac: float, zero_frac: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(X.shape) < zero_frac] = 0.0
    X[rng.random(X.shape) < nan_frac] = np.nan
    return X


def target(X: np.ndarray, objective: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    z = np.nan_to_num(X[:, 0]) - np.isnan(X[:, 1]) + (X[:, 2] == 0) + rng.normal(0, 0.5, len(X))
    if objective == "binary":
        return (z > 0).astype(int)
    if objective == "multiclass":
        return np.digitize(z, [-0.5, 0.5])
    return z


def train(objective: str, X: np.ndarray, y: np.ndarray, rounds: int, **params: object) -> lgb.Booster:
    base = {"objective": objective, "verbose": -1, "min_data_in_leaf": 3, "num_threads": 1, "seed": 0}
    if objective == "multiclass":
        base["num_class"] = 3
    return lgb.train({**base, **params}, lgb.Dataset(X, y), rounds)


MISSING = [{}, {"zero_as_missing": True}, {"use_missing": False}]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objective=st.sampled_from(["binary", "multiclass", "regression"]), missing=st.sampled_from(MISSING),
       num_leaves=st.integers(2, 15), rounds=st.integers(1, 12), seed=st.integers(0, 10_000),
       nan_frac=st.sampled_from([0.0, 0.1, 0.3]), zero_frac=st.sampled_from([0.0, 0.2]))
def test_forest_equals_booster_predict(tmp_path_factory: pytest.TempPathFactory, objective: str,
                                       missing: dict, num_leaves: int, rounds: int, seed: int,
                                       nan_frac: float, zero_frac: float) -> None:
    X = data(seed, 400, nan_frac, zero_frac)
    booster = train(objective, X, target(X, objective, seed), rounds, num_leaves=num_leaves, **missing)
    forest = CompiledForest.from_booster(booster)
    X_new = data(seed + 7, 200, 0.2, 0.2)
    X_new[::11, 3] = 1e-40  # tiny non-zero values: "zero" for missing type Zero, a number otherwise
    expected = booster.predict(X_new)
    np.testing.assert_allclose(forest.predict(X_new), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(forest.predict_raw(X_new), booster.predict(X_new, raw_score=True), rtol=0, atol=1e-6)
    for i in range(0, 200, 13):
        np.testing.assert_allclose(forest.predict_one(X_new[i]), expected[i], rtol=0, atol=1e-6)
    assert forest.objective == objective and forest.n_features == N_FEATURES
    assert forest.n_classes == (3 if objective == "multiclass" else 1)
    loaded = load_predictor(forest.save(tmp_path_factory.mktemp("forest")))
    assert isinstance(loaded, CompiledForest)
    assert loaded.backend == ("native" if HAVE_CC else "numba")
    np.testing.assert_allclose(loaded.predict(X_new), expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X_new), forest.predict(X_new))


def test_forest_uses_best_iteration() -> None:
    X = data(3, 600, 0.05, 0.0)
    y = target(X, "binary", 3)
    train_set = lgb.Dataset(X[:400], y[:400])
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "learning_rate": 0.5},
                        train_set, 200, valid_sets=[lgb.Dataset(X[400:], y[400:], reference=train_set)],
                        callbacks=[lgb.early_stopping(3, verbose=False)], keep_training_booster=True)
    assert 0 < booster.best_iteration < booster.current_iteration()
    forest = CompiledForest.from_booster(booster)
    assert len(forest.roots) == booster.best_iteration
    np.testing.assert_allclose(forest.predict(X), booster.predict(X), rtol=0, atol=1e-6)
    assert not np.allclose(booster.predict(X, num_iteration=-1), booster.predict(X))


@pytest.mark.parametrize("objective", ["poisson", "multiclassova", "cross_entropy"])
def test_forest_other_link_functions(objective: str) -> None:
    X = data(5, 400, 0.1, 0.1)
    y = np.abs(target(X, "regression", 5)) if objective != "multiclassova" else target(X, "multiclass", 5)
    if objective == "cross_entropy":
        y = (y > 0).astype(float)
    params = {"num_class": 3} if objective == "multiclassova" else {}
    booster = train(objective, X, y, 8, num_leaves=7, **params)
    np.testing.assert_allclose(CompiledForest.from_booster(booster).predict(X), booster.predict(X), rtol=0, atol=1e-6)


def test_forest_refuses_categorical_linear_and_ranking() -> None:
    rng = np.random.default_rng(0)
    X = data(1, 300, 0.0, 0.0)
    X[:, 0] = rng.integers(0, 5, 300)
    y = (X[:, 0] % 2 == 0).astype(int)
    cat = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1},
                    lgb.Dataset(X, y, categorical_feature=[0]), 5)
    with pytest.raises(ValueError, match="categorical"):
        CompiledForest.from_booster(cat)
    linear = lgb.train({"objective": "regression", "verbose": -1, "linear_tree": True},
                       lgb.Dataset(X, X[:, 1] * 2.0), 3)
    with pytest.raises(ValueError, match="linear trees"):
        CompiledForest.from_booster(linear)
    rank = lgb.train({"objective": "lambdarank", "verbose": -1}, lgb.Dataset(X, rng.integers(0, 3, 300), group=[30] * 10),
                     3)
    with pytest.raises(ValueError, match="lambdarank"):
        CompiledForest.from_booster(rank)


def test_forest_wrong_width_names_expected_width() -> None:
    X = data(2, 300, 0.0, 0.0)
    forest = CompiledForest.from_booster(train("binary", X, target(X, "binary", 2), 3))
    with pytest.raises(ValueError, match=f"\\(n, {N_FEATURES}\\)"):
        forest.predict(np.zeros((4, N_FEATURES + 1)))
    with pytest.raises(ModelInputError, match=f"{N_FEATURES} features"):
        forest.predict_one(np.zeros(N_FEATURES - 1))


def test_load_predictor_refuses_a_folder_without_manifest(tmp_path) -> None:
    with pytest.raises(ValueError, match="manifest"):
        load_predictor(tmp_path)


# MLP --------------------------------------------------------------------------------------------
def randomize_batchnorm(module: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    return module.eval()


ACTS = [nn.ReLU(), nn.LeakyReLU(0.05), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.GELU(approximate="tanh"), nn.Identity()]


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 12), min_size=1, max_size=3), n_out=st.sampled_from([1, 3]),
       acts=st.lists(st.integers(0, len(ACTS) - 1), min_size=3, max_size=3), bn=st.booleans(),
       bn_after_act=st.booleans(), output=st.sampled_from(["probability", "raw"]), seed=st.integers(0, 1000))
def test_mlp_equals_torch_float64(widths: list[int], n_out: int, acts: list[int], bn: bool, bn_after_act: bool,
                                  output: str, seed: int) -> None:
    torch.manual_seed(seed)
    blocks: list[nn.Module] = []
    n_in = 5
    for i, w in enumerate(widths):
        block = [nn.Linear(n_in, w), ACTS[acts[i]], nn.Dropout(0.3)]
        if bn:
            block.insert(2 if bn_after_act else 1, nn.BatchNorm1d(w))
        blocks.append(nn.Sequential(*block))  # nested Sequential
        n_in = w
    module = randomize_batchnorm(nn.Sequential(*blocks, nn.Linear(n_in, n_out)), seed).double()
    X = np.random.default_rng(seed).normal(size=(64, 5)) * 2
    with torch.inference_mode():
        out = module(torch.from_numpy(X))
        if output == "probability":
            out = torch.sigmoid(out) if n_out == 1 else torch.softmax(out, dim=1)
    expected = out.numpy()[:, 0] if n_out == 1 else out.numpy()
    mlp = CompiledMLP.from_torch(module, output=output)
    np.testing.assert_allclose(mlp.predict(X), expected, rtol=0, atol=1e-6)
    for i in range(0, 64, 9):
        np.testing.assert_allclose(mlp.predict_one(X[i]), expected[i], rtol=0, atol=1e-6)
    assert mlp.objective == ("regression" if output == "raw" else "binary" if n_out == 1 else "multiclass")


def test_mlp_float32_model_within_float32_rounding(tmp_path) -> None:
    """A float32 torch model: we evaluate its weights in float64, torch in float32; they agree to ~1e-6."""
    torch.manual_seed(0)
    module = randomize_batchnorm(nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(),
                                               nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 1)), 0)
    X = np.random.default_rng(0).normal(size=(2500, 20))  # over two 1,024-row chunks of CompiledMLP.predict
    with torch.inference_mode():
        expected = torch.sigmoid(module(torch.from_numpy(X).float())).numpy()[:, 0]
    mlp = CompiledMLP.from_torch(module)
    assert mlp.precision == "float32"  # batches in float32, like torch
    np.testing.assert_allclose(mlp.predict(X), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose([mlp.predict_one(x) for x in X[:50]], expected[:50], rtol=0, atol=1e-5)
    loaded = load_predictor(mlp.save(tmp_path / "mlp"))
    assert loaded.precision == "float32"
    assert isinstance(loaded, CompiledMLP)
    np.testing.assert_array_equal(loaded.predict(X), mlp.predict(X))
    assert loaded.predict_one(X[3]) == pytest.approx(mlp.predict_one(X[3]), abs=1e-15)
    with pytest.raises(ValueError, match="\\(n, 20\\)"):
        mlp.predict(np.zeros((2, 19)))
    with pytest.raises(ValueError, match="20 features"):
        mlp.predict_one(np.zeros(21))


def test_mlp_refuses_unsupported_layers() -> None:
    with pytest.raises(ValueError, match="Conv1d"):
        CompiledMLP.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)))
    with pytest.raises(ValueError, match="eval mode"):
        CompiledMLP.from_torch(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train())
    with pytest.raises(ValueError, match="start with a Linear"):
        CompiledMLP.from_torch(nn.Sequential(nn.ReLU(), nn.Linear(4, 1)))


# ONNX and torch predictors ----------------------------------------------------------------------
@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_onnx_lightgbm_export_matches_booster(tmp_path, objective: str) -> None:
    X = data(4, 400, 0.1, 0.1)
    booster = train(objective, X, target(X, objective, 4), 10, num_leaves=7)
    ort_model = load_predictor(export_onnx(booster, tmp_path / "m", N_FEATURES))
    assert isinstance(ort_model, OrtPredictor)
    expected = booster.predict(X)
    # float32 trees in ONNX Runtime: agreement to float32 rounding (see nautilus.ml.serving.ort)
    np.testing.assert_allclose(ort_model.predict(X), expected, rtol=0, atol=1e-5)
    for i in (0, 17, 123):
        np.testing.assert_allclose(ort_model.predict_one(X[i]), expected[i], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=f"\\(n, {N_FEATURES}\\)"):
        ort_model.predict(np.zeros((2, N_FEATURES + 2)))


def test_onnx_and_torch_predictor_for_mlp(tmp_path) -> None:
    torch.manual_seed(1)
    module = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).eval()
    X = np.random.default_rng(1).normal(size=(50, 8))
    with torch.inference_mode():
        expected = torch.softmax(module(torch.from_numpy(X).float()), dim=1).numpy()
    ort_model = OrtPredictor(export_onnx(module, tmp_path / "m", 8), threads=1)
    np.testing.assert_allclose(ort_model.predict(X), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ort_model.predict_one(X[5]), expected[5], rtol=0, atol=1e-5)
    predictor = TorchPredictor(module, "cpu")
    np.testing.assert_allclose(predictor.predict(X), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(predictor.predict_one(X[5]), expected[5], rtol=0, atol=1e-6)
    loaded = load_predictor(predictor.save(tmp_path / "t"), device="cpu")
    assert isinstance(loaded, TorchPredictor)
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="\\(8,\\)"):
        predictor.predict_one(np.zeros(7))


class LastStepLSTM(nn.Module):
    """A sequence model CompiledMLP cannot take: LSTM over (n, L, f), a Linear on the last step."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_sequence_model_torch_and_onnx(tmp_path) -> None:
    torch.manual_seed(2)
    module = LastStepLSTM(4).eval()
    X = np.random.default_rng(2).normal(size=(12, 10, 4))
    with torch.inference_mode():
        expected = torch.sigmoid(module(torch.from_numpy(X).float())).numpy()[:, 0]
    predictor = TorchPredictor(module, "cpu", seq_len=10)
    assert predictor.n_features == 4 and predictor.objective == "binary"
    np.testing.assert_allclose(predictor.predict(X), expected, rtol=0, atol=1e-6)
    assert predictor.predict_one(X[3]) == pytest.approx(expected[3], abs=1e-6)
    with pytest.raises(ValueError, match="CompiledMLP|not supported"):
        CompiledMLP.from_torch(module)
    ort_model = OrtPredictor(export_onnx(module, tmp_path / "lstm", 4, seq_len=10) / "model.onnx")
    np.testing.assert_allclose(ort_model.predict(X), expected, rtol=0, atol=1e-5)
    assert ort_model.predict_one(X[3]) == pytest.approx(expected[3], abs=1e-5)


def test_tiny_forest_hand_worked() -> None:
    """One stump x0 <= 0.5 -> -1 else +1 (missing type None: NaN counts as 0.0 and goes left)."""
    from nautilus.ml.serving.warmup import tiny_forest

    X = np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 0.0], [0.5, 9.0], [0.5000001, 0.0]])
    raw = np.array([-1.0, 1.0, -1.0, -1.0, 1.0])
    for quickscorer in (True, False):
        forest = tiny_forest("binary", quickscorer)
        np.testing.assert_array_equal(forest.predict_raw(X), raw)
        assert forest.predict_one(X[1]) == pytest.approx(1 / (1 + np.exp(-1.0)), abs=1e-15)
        np.testing.assert_array_equal(tiny_forest("multiclass", quickscorer).predict_raw(X), np.c_[raw, raw])


def test_forest_with_over_64_leaves_walks_nodes(tmp_path) -> None:
    X = data(6, 3000, 0.1, 0.1)
    booster = train("regression", X, target(X, "regression", 6), 3, num_leaves=100, min_data_in_leaf=2,
                    zero_as_missing=True)
    forest = CompiledForest.from_booster(booster)
    assert forest.quickscorer is None
    X_new = data(8, 500, 0.2, 0.2)
    expected = booster.predict(X_new)
    np.testing.assert_allclose(forest.predict(X_new), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose([forest.predict_one(r) for r in X_new[:40]], expected[:40], rtol=0, atol=1e-6)
    loaded = CompiledForest.load(forest.save(tmp_path / "big"))
    assert loaded.backend == "numba"  # the C kernel needs QuickScorer tables: none is built
    assert not (tmp_path / "big" / forest_native.LIBRARY).exists()
    np.testing.assert_array_equal(loaded.predict(X_new), forest.predict(X_new))


# The C batch kernel (forest_native) ------------------------------------------------------------------
def needs_compiler() -> None:
    """The native tests run wherever a C compiler is found, and in CI must find one."""
    if not HAVE_CC and not os.environ.get("CI"):
        pytest.skip("no C compiler ($CC, cc, gcc, clang) on this machine")


def stump(threshold: float, flags: int) -> CompiledForest:
    """One tree, x0 <= threshold -> -1.0 else +1.0, with the given missing-value flags (forest_kernels)."""
    ints = np.array([[0, 1, 2, flags], [-1, 1, 1, 0], [-1, 2, 2, 0]], dtype=np.int32)
    floats = np.array([[threshold, 0.0], [0.0, -1.0], [0.0, 1.0]])
    return CompiledForest(ints, floats, np.array([0], dtype=np.int32), n_features=2, objective="regression",
                          n_classes=1, transform="identity")


@pytest.mark.parametrize(("threshold", "flags", "expected"), [
    # missing type None, threshold >= 0: NaN counts as 0.0 and goes left; +inf and -inf are numbers
    (0.5, 0, [-1, -1, 1, -1, 1, -1, -1, -1]),
    # missing type NaN, default right, threshold +inf: only a NaN goes right (v > +inf never holds)
    (np.inf, 1, [-1, -1, -1, -1, -1, 1, -1, -1]),
    # missing type Zero, default right: 0.0, 1e-40 and NaN go right, other values by the threshold
    (0.5, 2 | 4, [1, 1, 1, -1, 1, 1, -1, 1]),
])
def test_native_stumps_hand_worked(tmp_path, threshold: float, flags: int, expected: list[int]) -> None:
    needs_compiler()
    column = np.array([0.0, 1e-40, 0.7, 0.3, np.inf, np.nan, -np.inf, -0.0])
    X = np.c_[np.tile(column, 3), np.zeros(24)]  # 24 rows: over NATIVE_MIN_ROWS, one partly filled block
    loaded = CompiledForest.load(stump(threshold, flags).save(tmp_path / "s"))
    assert loaded.backend == "native"
    np.testing.assert_array_equal(loaded.predict(X), np.tile(np.array(expected, dtype=float), 3))


@pytest.mark.parametrize(("objective", "missing"), [("binary", {}), ("multiclass", {}),
                                                    ("regression", {"zero_as_missing": True}),
                                                    ("binary", {"use_missing": False})])
def test_native_forest_equals_booster_predict(tmp_path, monkeypatch: pytest.MonkeyPatch, objective: str,
                                              missing: dict) -> None:
    needs_compiler()
    X = data(11, 2000, 0.15, 0.1)
    booster = train(objective, X, target(X, objective, 11), 25, num_leaves=31, **missing)
    forest = CompiledForest.from_booster(booster)
    assert forest.backend == "numba"
    if not missing:  # NaN-only splits (threshold +inf, NaN right) take the indicator columns
        assert np.isposinf(forest.quickscorer["thr"]).any()
    X_new = data(12, 3001, 0.1, 0.1)
    X_new[::7, 2] = 1e-40
    X_new[::13, 4] = np.inf
    X_new[::17, 5] = -np.inf
    loaded = CompiledForest.load(forest.save(tmp_path / "f"))
    assert loaded.backend == "native" and forest.backend == "native"
    np.testing.assert_allclose(loaded.predict(X_new), booster.predict(X_new), rtol=0, atol=1e-6)
    raw = booster.predict(X_new, raw_score=True)
    np.testing.assert_array_equal(loaded.predict_raw(X_new), raw)  # same sum order: equal to the bit
    numba = CompiledForest.load(tmp_path / "f", native=False)
    assert numba.backend == "numba"
    np.testing.assert_array_equal(numba.predict_raw(X_new), raw)
    monkeypatch.setattr(forest_module, "ROWS_PER_THREAD", 16)  # so that small batches use several threads
    for threads, rows in ((1, 3001), (3, 3001), (2, 33), (4, 8)):
        loaded.threads = threads
        np.testing.assert_array_equal(loaded.predict_raw(X_new[:rows]), raw[:rows])


def test_native_fallback_without_compiler(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    X = data(13, 600, 0.1, 0.0)
    booster = train("binary", X, target(X, "binary", 13), 10, num_leaves=15)
    monkeypatch.setattr(forest_native, "find_compiler", lambda: None)
    folder = CompiledForest.from_booster(booster).save(tmp_path / "nocc")
    assert json.loads((folder / "manifest.json").read_text())["native"] is None
    assert not (folder / forest_native.LIBRARY).exists()
    loaded = load_predictor(folder)
    assert loaded.backend == "numba"
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=0, atol=1e-6)


def test_native_fallback_when_the_build_fails(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    X = data(14, 600, 0.1, 0.0)
    booster = train("regression", X, target(X, "regression", 14), 10, num_leaves=15)
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    with caplog.at_level(logging.WARNING, logger="nautilus.ml"):
        loaded = load_predictor(CompiledForest.from_booster(booster).save(tmp_path / "bad"))
    assert "failed" in caplog.text
    assert loaded.backend == "numba"
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage with matching checksum", "other abi",
                                    "other machine"])
def test_native_damaged_library_falls_back(tmp_path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    needs_compiler()
    X = data(15, 600, 0.1, 0.0)
    booster = train("binary", X, target(X, "binary", 15), 10, num_leaves=15)
    folder = CompiledForest.from_booster(booster).save(tmp_path / "m")
    library, manifest = folder / forest_native.LIBRARY, folder / "manifest.json"
    meta = json.loads(manifest.read_text())
    if damage == "missing":
        library.unlink()
    elif damage == "truncated":
        library.write_bytes(library.read_bytes()[:200])
    elif damage == "garbage with matching checksum":
        library.write_bytes(b"not a shared library")
        meta["native"]["sha256"] = hashlib.sha256(b"not a shared library").hexdigest()
    elif damage == "other abi":
        meta["native"]["abi"] = forest_native.ABI + 1
    else:
        meta["native"]["machine"] = "pdp11"
    manifest.write_text(json.dumps(meta))
    expected_reason = {"missing": "cannot read", "truncated": "checksum", "garbage with matching checksum":
                       "cannot load", "other abi": "ABI", "other machine": "pdp11"}[damage]
    with caplog.at_level(logging.WARNING, logger="nautilus.ml"):
        loaded = load_predictor(folder)
    assert loaded.backend == "numba"
    assert expected_reason in caplog.text and "numba" in caplog.text
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=0, atol=1e-6)

