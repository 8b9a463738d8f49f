"""train(): planted signal vs noise out of sample, leakage rules, determinism, scaling, cancel, artifacts."""

from __future__ import annotations

import threading

import lightgbm as lgb
import msgspec
import numpy as np
import pytest
import torch
from scipy import stats

from nautilus.core.errors import InvalidInput, NotFound
from nautilus.features.frame import FeatureFrame
from nautilus.ml.training import Cancelled, ModelSpec, load_model, predict, save_model, train
from nautilus.ml.training.metrics import score
from nautilus.ml.training.torch_models import fit_network, predict_network, sequence_rows, torch_device
from nautilus.runtime.backend import detect_backend

MINUTE = 60_000_000_000
FAST_TORCH = {"epochs": 15, "lr": 0.01, "batch_size": 64, "hidden": 16}


def make_frame(n_bars: int = 600, n_symbols: int = 2, signal: float = 2.0, lag: int = 0, seed: int = 0,
               objective: str = "binary", horizon: int = 1) -> FeatureFrame:
    """Rows sorted by symbol then ts; 4 standard-normal features; the target depends on feature 0
    ``lag`` rows back (same symbol) with strength ``signal`` (0 = pure noise)."""
    rng = np.random.default_rng(seed)
    symbols, ts, xs, ys = [], [], [], []
    for s in range(n_symbols):
        x = rng.standard_normal((n_bars, 4))
        driver = np.r_[np.zeros(lag), x[: n_bars - lag, 0]]
        if objective == "binary":
            y = (signal * driver + rng.logistic(size=n_bars) > 0).astype(float)
        elif objective == "multiclass":
            y = np.argmax(signal * x[:, :3] + rng.gumbel(size=(n_bars, 3)), axis=1).astype(float)
        else:
            y = 0.01 * (signal * driver + rng.standard_normal(n_bars))
        y[n_bars - horizon:] = np.nan  # the horizon runs past the data
        symbols += [f"SYM{s}"] * n_bars
        ts.append(np.arange(n_bars, dtype=np.int64) * MINUTE)
        xs.append(x)
        ys.append(y)
    return FeatureFrame(np.array(symbols, dtype=object), np.concatenate(ts), np.vstack(xs),
                        ["f0", "f1", "f2", "f3"], np.concatenate(ys)[:, None], ["y"], horizon=horizon)


def oos_tests(result, frame) -> tuple[stats._result_classes.BinomTestResult, float]:
    """Binomial test of OOS accuracy against 0.5 and the Mann-Whitney p-value of the OOS scores."""
    y = frame.y[result.oos_rows, 0]
    correct = int(np.sum((result.oos_pred >= 0.5) == (y == 1)))
    binom = stats.binomtest(correct, y.size, 0.5)
    mw = stats.mannwhitneyu(result.oos_pred[y == 1], result.oos_pred[y == 0]).pvalue
    return binom, float(mw)


LGB_SPEC = ModelSpec(params={"num_boost_round": 80, "learning_rate": 0.1, "min_data_in_leaf": 30})
MLP_SPEC = ModelSpec(kind="mlp", params=FAST_TORCH, early_stopping_rounds=4)


@pytest.mark.parametrize("spec", [LGB_SPEC, MLP_SPEC], ids=["lightgbm", "mlp"])
def test_planted_signal_beats_chance_out_of_sample(spec) -> None:
    frame = make_frame(signal=2.0, seed=1)
    result = train(frame, "y", spec, n_folds=3)
    binom, mw_p = oos_tests(result, frame)
    assert binom.proportion_ci(0.99).low > 0.5
    assert mw_p < 1e-8
    assert result.summary["pooled"]["auc"] > 0.65


@pytest.mark.parametrize("spec", [LGB_SPEC, MLP_SPEC], ids=["lightgbm", "mlp"])
def test_pure_noise_does_not_beat_chance(spec) -> None:
    frame = make_frame(signal=0.0, seed=2)
    result = train(frame, "y", spec, n_folds=3)
    binom, mw_p = oos_tests(result, frame)
    ci = binom.proportion_ci(0.99)
    assert ci.low < 0.5 < ci.high
    assert mw_p > 0.01


@pytest.mark.parametrize("kind", ["lstm", "tcn"])
def test_sequence_models_read_the_history(kind) -> None:
    # the target depends on feature 0 three rows back, which a one-row model cannot see
    frame = make_frame(n_bars=500, signal=3.0, lag=3, seed=3)
    spec = ModelSpec(kind=kind, params=FAST_TORCH, sequence_length=6, early_stopping_rounds=4)
    result = train(frame, "y", spec, n_folds=2)
    binom, mw_p = oos_tests(result, frame)
    assert binom.proportion_ci(0.99).low > 0.5
    assert mw_p < 1e-6
    # no look-ahead and no crossing of symbols: changing rows after row i, or another symbol's rows,
    # leaves row i's prediction alone (compared at the same batch shape: torch may pick another kernel for
    # another batch size, which moves the last float32 bit)
    model = result.model
    rows = np.array([100, 101, 250, 499, 500 + 10])
    changed = frame.X.copy()
    changed[102:] += 5.0
    np.testing.assert_array_equal(predict_network(model, changed, rows[:2]), predict_network(model, frame.X, rows[:2]))
    other = frame.X.copy()
    other[500:] = -other[500:]
    np.testing.assert_array_equal(predict_network(model, other, rows[:4]), predict_network(model, frame.X, rows[:4]))
    assert not np.array_equal(predict_network(model, other, rows[4:]), predict_network(model, frame.X, rows[4:]))


def test_sequence_rows_stay_within_a_symbol() -> None:
    symbols = np.array(list("AAABBBBC"), dtype=object)
    finite = np.ones(8, dtype=bool)
    assert np.flatnonzero(sequence_rows(symbols, finite, 3)).tolist() == [2, 5, 6]
    finite[4] = False  # a row with a NaN input spoils every window over it
    assert np.flatnonzero(sequence_rows(symbols, finite, 3)).tolist() == [2]
    assert np.flatnonzero(sequence_rows(symbols, np.ones(8, dtype=bool), 1)).tolist() == list(range(8))


def test_lightgbm_is_reproducible_and_final_model_uses_fold_iterations() -> None:
    frame = make_frame(n_bars=400, seed=4)
    a = train(frame, "y", LGB_SPEC, n_folds=3)
    b = train(frame, "y", LGB_SPEC, n_folds=3)
    np.testing.assert_array_equal(a.oos_pred, b.oos_pred)
    assert a.model.model_to_string() == b.model.model_to_string()
    best = [m["best_iteration"] for m in a.fold_metrics]
    assert a.best_iteration == max(1, round(float(np.mean(best))))
    assert a.model.current_iteration() == a.best_iteration
    assert all(1 <= it <= 80 for it in best)


def test_torch_is_reproducible_by_seed() -> None:
    frame = make_frame(n_bars=300, seed=5)
    spec = ModelSpec(kind="mlp", params={**FAST_TORCH, "epochs": 5, "dropout": 0.2})
    a = train(frame, "y", spec, n_folds=2)
    b = train(frame, "y", spec, n_folds=2)
    c = train(frame, "y", msgspec.structs.replace(spec, seed=7), n_folds=2)
    np.testing.assert_array_equal(a.oos_pred, b.oos_pred)
    assert not np.allclose(a.oos_pred, c.oos_pred)


def test_mlp_standardises_with_training_rows_only_and_folds_it_in() -> None:
    frame = make_frame(n_bars=300, seed=6)
    x, y = frame.X, np.nan_to_num(frame.y[:, 0])
    fit_rows = np.arange(0, 200)
    spec = ModelSpec(kind="mlp", params={**FAST_TORCH, "epochs": 4}, early_stopping_rounds=0)
    model, _ = fit_network(spec, 1, x, y, fit_rows)
    # rows outside the training rows do not touch the model
    wild = x.copy()
    wild[200:] = wild[200:] * 100.0 + 7.0
    model_wild, _ = fit_network(spec, 1, wild, y, fit_rows)
    for p, q in zip(model.state_dict().values(), model_wild.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    # an affine change of units is undone by the scaler, which the model carries inside: raw inputs
    scaled = x * 1000.0 + 50.0
    model_scaled, _ = fit_network(spec, 1, scaled, y, fit_rows)
    rows = np.arange(300)
    np.testing.assert_allclose(predict_network(model_scaled, scaled, rows), predict_network(model, x, rows),
                               atol=1e-4)
    assert isinstance(model, torch.nn.Sequential)
    assert {type(m) for m in model} <= {torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout, torch.nn.Sigmoid}
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_regression_target_scaling_is_folded_back() -> None:
    frame = make_frame(n_bars=300, seed=7, objective="regression")
    x, y = frame.X, np.nan_to_num(frame.y[:, 0])
    spec = ModelSpec(kind="mlp", objective="regression", params={**FAST_TORCH, "epochs": 4},
                     early_stopping_rounds=0)
    fit_rows, rows = np.arange(250), np.arange(250, 299)
    model, _ = fit_network(spec, 1, x, y, fit_rows)
    model_big, _ = fit_network(spec, 1, x, 10.0 * y + 3.0, fit_rows)
    np.testing.assert_allclose(predict_network(model_big, x, rows), 10.0 * predict_network(model, x, rows) + 3.0,
                               rtol=1e-4, atol=1e-5)


def test_lightgbm_regression_has_out_of_sample_ic() -> None:
    frame = make_frame(n_bars=500, seed=8, objective="regression")
    spec = ModelSpec(objective="regression", params={"num_boost_round": 60, "learning_rate": 0.1})
    result = train(frame, "y", spec, n_folds=3)
    y = frame.y[result.oos_rows, 0]
    r = stats.pearsonr(result.oos_pred, y)
    assert r.pvalue < 1e-8
    assert result.summary["pooled"]["ic"] == pytest.approx(r.statistic, abs=1e-12)
    assert result.summary["pooled"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((result.oos_pred - y) ** 2))))


def test_multiclass_beats_the_majority_class() -> None:
    frame = make_frame(n_bars=500, seed=9, objective="multiclass", signal=2.0)
    spec = ModelSpec(objective="multiclass", params={"num_boost_round": 60, "learning_rate": 0.1})
    result = train(frame, "y", spec, n_folds=3)
    y = frame.y[result.oos_rows, 0].astype(int)
    assert result.n_classes == 3 and result.oos_pred.shape == (y.size, 3)
    np.testing.assert_allclose(result.oos_pred.sum(axis=1), 1.0)
    majority_share = np.bincount(y).max() / y.size
    correct = int(np.sum(np.argmax(result.oos_pred, axis=1) == y))
    assert stats.binomtest(correct, y.size, majority_share).proportion_ci(0.99).low > majority_share


def test_folds_purge_embargo_and_metrics() -> None:
    frame = make_frame(n_bars=400, seed=10, horizon=3)
    frame.X[:3, 1] = np.nan  # a feature's lookback is not filled yet on the first rows
    result = train(frame, "y", LGB_SPEC, n_folds=3)
    assert result.horizon == 3 and result.embargo == 3  # the embargo defaults to the horizon
    bar = frame.ts // MINUTE
    tested = []
    for fold, m in zip(result.folds, result.fold_metrics, strict=True):
        assert bar[fold.train_idx].max() + 3 < bar[fold.test_idx].min()
        assert np.isfinite(frame.y[fold.train_idx, 0]).all() and np.isfinite(frame.y[fold.test_idx, 0]).all()
        assert (m["n_train"], m["n_test"]) == (fold.train_idx.size, fold.test_idx.size)
        assert m["n_fit"] + m["n_validation"] < m["n_train"]  # the validation tail is purged too
        assert (m["train_end"], m["test_start"]) == (frame.ts[fold.train_idx].max(), frame.ts[fold.test_idx].min())
        pred = result.oos_pred[np.searchsorted(result.oos_rows, fold.test_idx)]
        assert m["metrics"] == score("binary", frame.y[fold.test_idx, 0], pred)
        tested.append(fold.test_idx)
    assert result.oos_rows.tolist() == sorted(np.concatenate(tested).tolist())
    assert result.summary["pooled"] == score("binary", frame.y[result.oos_rows, 0], result.oos_pred)
    assert result.n_rows == int((np.isfinite(frame.y[:, 0]) & np.isfinite(frame.X).all(axis=1)).sum()) == 791
    assert (result.data_start, result.data_end) == (0, 396 * MINUTE)  # the second symbol starts at bar 0
    assert not np.isin(np.arange(3), result.oos_rows).any() and not np.isin(np.arange(3), result.folds[0].train_idx).any()
    assert result.oos_predictions()[int(result.oos_rows[0])] == pytest.approx(float(result.oos_pred[0]))
    msgspec.json.encode(result.report())  # JSON-able


@pytest.mark.parametrize("kind", ["lightgbm", "mlp"])
def test_cancel_stops_at_the_next_round(kind) -> None:
    frame = make_frame(n_bars=400, seed=11)
    spec = LGB_SPEC if kind == "lightgbm" else MLP_SPEC
    cancel = threading.Event()
    after: list[str] = []

    def progress(fraction: float, message: str) -> None:
        if cancel.is_set():
            after.append(message)
        elif fraction > 0:  # the first report from inside the first fit
            cancel.set()

    with pytest.raises(Cancelled):
        train(frame, "y", spec, n_folds=3, progress=progress, cancel=cancel)
    assert after == []
    preset = threading.Event()
    preset.set()
    with pytest.raises(Cancelled):
        train(frame, "y", spec, n_folds=3, cancel=preset)


def test_progress_runs_from_zero_to_one() -> None:
    seen: list[tuple[float, str]] = []
    train(make_frame(n_bars=300, seed=12), "y", LGB_SPEC, n_folds=2, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(b >= a for a, b in zip(fractions, fractions[1:], strict=False))
    assert any(m.startswith("final model") for _, m in seen)


@pytest.mark.parametrize("kind", ["lightgbm", "mlp", "lstm", "tcn"])
def test_artifacts_round_trip(kind, tmp_path) -> None:
    frame = make_frame(n_bars=200, seed=13)
    params = {"num_boost_round": 10} if kind == "lightgbm" else {**FAST_TORCH, "epochs": 2}
    result = train(frame, "y", ModelSpec(kind=kind, params=params, sequence_length=4), n_folds=2)
    save_model(result, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert (loaded.kind, loaded.objective, loaded.feature_names) == (kind, "binary", frame.feature_names)
    assert loaded.meta["target"] == "y" and loaded.meta["report"]["n_rows"] == result.n_rows
    rows, expected = predict(result.model, frame)
    rows2, got = predict(loaded.model, frame)
    np.testing.assert_array_equal(rows, rows2)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    if kind in ("lstm", "tcn"):
        assert rows.tolist() == [r for r in range(400) if r % 200 >= 3]
    # columns are picked by name, whatever their order in the frame
    swapped = FeatureFrame(frame.symbols, frame.ts, frame.X[:, ::-1].copy(), frame.feature_names[::-1], frame.y,
                           frame.target_names)
    np.testing.assert_allclose(predict(loaded.model, swapped, frame.feature_names)[1], expected, rtol=1e-6,
                               atol=1e-7)
    # a bare model saves too
    save_model(result.model, tmp_path / "bare")
    assert load_model(tmp_path / "bare").objective == "binary"


def test_artifact_errors(tmp_path) -> None:
    with pytest.raises(NotFound):
        load_model(tmp_path)
    with pytest.raises(InvalidInput) as info:
        save_model(torch.nn.Linear(2, 1), tmp_path / "x")
    assert info.value.field == "model"
    with pytest.raises(InvalidInput):
        predict(lgb.Booster(model_str=train(make_frame(200), "y", ModelSpec(params={"num_boost_round": 3}),
                                            n_folds=2).model.model_to_string()),
                make_frame(200), ["f0", "missing"])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"params": {"foo": 1}}, "params.foo"),
    ({"kind": "mlp", "params": {"num_leaves": 4}}, "params.num_leaves"),
    ({"params": {"num_leaves": 4.5}}, "params.num_leaves"),
    ({"params": {"learning_rate": 0}}, "params.learning_rate"),
    ({"params": {"learning_rate": "fast"}}, "params.learning_rate"),
    ({"kind": "tcn", "params": {"dropout": 1.0}}, "params.dropout"),
    ({"kind": "xgboost"}, "kind"),
    ({"objective": "ranking"}, "objective"),
    ({"seed": -1}, "seed"),
    ({"kind": "lstm", "sequence_length": 1}, "sequence_length"),
    ({"early_stopping_rounds": -1}, "early_stopping_rounds"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
])
def test_model_spec_validation(kwargs, field) -> None:
    with pytest.raises(InvalidInput) as info:
        ModelSpec(**kwargs)
    assert info.value.field == field
    with pytest.raises(InvalidInput) as info:  # the same check when decoding a request body
        msgspec.convert(kwargs, ModelSpec)
    assert info.value.field == field


def test_model_spec_defaults_and_overrides() -> None:
    spec = msgspec.convert({"kind": "tcn", "params": {"hidden": 8, "lr": 0.02}}, ModelSpec)
    p = spec.resolved_params()
    assert (p["hidden"], p["lr"], p["kernel_size"], p["layers"]) == (8, 0.02, 3, 2)
    assert spec.is_sequence and not ModelSpec(kind="mlp").is_sequence


def test_train_rejects_bad_targets() -> None:
    frame = make_frame(n_bars=200)
    with pytest.raises(InvalidInput) as info:
        train(frame, "nope", LGB_SPEC)
    assert info.value.field == "target"
    bad = FeatureFrame(frame.symbols, frame.ts, frame.X, frame.feature_names, frame.y * 2, ["y"])
    with pytest.raises(InvalidInput) as info:
        train(bad, "y", LGB_SPEC)
    assert info.value.field == "target"
    empty = FeatureFrame(frame.symbols, frame.ts, frame.X, frame.feature_names, frame.y * np.nan, ["y"])
    with pytest.raises(InvalidInput) as info:
        train(empty, "y", LGB_SPEC)
    assert info.value.field == "frame"
    with pytest.raises(InvalidInput) as info:
        train(frame, "y", LGB_SPEC, n_folds=0)
    assert info.value.field == "n_folds"


def test_torch_models_train_on_the_device_they_are_given(monkeypatch) -> None:
    """The trainer reads no settings: the device its caller names reaches every fit, and a backend's name maps
    to torch's device (cuda and mps as named, anything else the CPU)."""
    assert [torch_device(name).type for name in ("cpu", "cuda", "mps", "dask")] == ["cpu", "cuda", "mps", "cpu"]
    assert torch_device(detect_backend().name).type == detect_backend().name
    from nautilus.ml.training import trainer

    seen = []

    def on_cpu(*args, **kwargs):
        seen.append(kwargs["device"])
        return fit_network(*args, **{**kwargs, "device": "cpu"})

    monkeypatch.setattr(trainer, "fit_network", on_cpu)
    spec = ModelSpec(kind="mlp", params={**FAST_TORCH, "epochs": 2}, early_stopping_rounds=0)
    train(make_frame(200), "y", spec, n_folds=2, device="cuda")
    assert seen == ["cuda", "cuda", "cuda"]  # both folds and the final model
    seen.clear()
    train(make_frame(200), "y", spec, n_folds=2)
    assert seen == ["cpu", "cpu", "cpu"]  # by default: the CPU
