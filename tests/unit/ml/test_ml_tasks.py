"""Built-in tasks: their wiring to the feature sets, baselines on the model's folds, the GARCH forecast."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.features.builtin import builtin_feature_sets
from nautilus.features.frame import FeatureFrame
from nautilus.ml.tasks import TASKS, garch_rvol_forecast, run_task
from nautilus.ml.training import ModelSpec

FAST = {"num_boost_round": 60, "learning_rate": 0.1, "min_data_in_leaf": 30}


def _frame(x: np.ndarray, y: np.ndarray, names: list[str], target: str, horizon: int, n_symbols: int) -> FeatureFrame:
    n = x.shape[0] // n_symbols
    symbols = np.repeat([f"S{i}" for i in range(n_symbols)], n).astype(object)
    ts = np.tile(np.arange(n, dtype=np.int64), n_symbols) * 86_400_000_000_000
    return FeatureFrame(symbols, ts, x, names, y[:, None], [target], horizon=horizon)


def garch_returns(n: int, seed: int, params=(0.02, 0.1, 0.85)) -> np.ndarray:
    """Log returns (decimals) of a zero-mean GARCH(1,1) with (omega, alpha, beta) in percent units."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = params
    r = np.empty(n + 300)
    var = omega / (1 - alpha - beta)
    for t in range(n + 300):
        r[t] = math.sqrt(var) * rng.standard_normal()
        var = omega + alpha * r[t] ** 2 + beta * var
    return r[300:] / 100.0


def volatility_frame(n_bars: int = 700, n_symbols: int = 2, seed: int = 0) -> FeatureFrame:
    xs, ys = [], []
    for s in range(n_symbols):
        r = garch_returns(n_bars, seed + s)
        rvol = np.full(n_bars, np.nan)
        for t in range(n_bars - 5):
            rvol[t] = math.sqrt(np.sum(r[t + 1:t + 6] ** 2))  # the features' rvol_5
        sq = np.r_[np.full(4, np.nan), np.convolve(r**2, np.ones(5), "valid")]  # sum of the last 5 squares
        xs.append(np.column_stack([r, np.abs(r), np.sqrt(sq)]))
        ys.append(rvol)
    return _frame(np.vstack(xs), np.concatenate(ys), ["logret_1", "absret_1", "rv_5"], "rvol_5", 5, n_symbols)


def test_tasks_match_the_builtin_feature_sets() -> None:
    sets = builtin_feature_sets()
    assert set(TASKS) == {"direction", "volatility", "regime"}
    expected = {"direction": ("direction_1", "binary"), "volatility": ("rvol_5", "regression"),
                "regime": ("regime_20", "multiclass")}
    for name, task in TASKS.items():
        assert (task.target, task.objective) == expected[name]
        assert task.target in sets[task.feature_set].target_names
        assert task.spec.objective == task.objective
    assert "logret_1" in sets["volatility"].feature_names


def test_direction_task_baseline_is_majority_and_coin() -> None:
    rng = np.random.default_rng(0)
    n = 2 * 500
    x = rng.standard_normal((n, 3))
    y = (1.5 * x[:, 0] + rng.logistic(size=n) + 0.4 > 0).astype(float)  # mostly up, so majority = 1
    frame = _frame(x, y, ["a", "b", "c"], "direction_1", 1, 2)
    seen = []
    result = run_task("direction", frame, spec=ModelSpec(params=FAST), n_folds=3,
                      progress=lambda f, m: seen.append(f))
    base = result.baseline
    assert [f["fold"] for f in base["folds"]] == [0, 1, 2]
    for fold, b in zip(result.folds, base["folds"], strict=True):
        assert b["test_start"] == fold.test_start and b["train_end"] == fold.train_end
        majority = float(np.mean(y[fold.train_idx]) >= 0.5)
        assert b["metrics"]["accuracy"] == pytest.approx(np.mean(y[fold.test_idx] == majority))
        assert b["metrics"]["auc"] == pytest.approx(0.5)
        assert b["metrics"]["log_loss"] == pytest.approx(math.log(2))
        assert b["metrics"]["n"] == fold.test_idx.size
    assert base["pooled"]["n"] == result.summary["pooled"]["n"]
    # the planted signal beats the majority class out of sample (paired on the same rows)
    y_oos = y[result.oos_rows]
    model_right = (result.oos_pred >= 0.5) == (y_oos == 1)
    majority_right = np.concatenate([y[f.test_idx] == float(np.mean(y[f.train_idx]) >= 0.5) for f in result.folds])
    majority_right = majority_right[np.argsort(np.concatenate([f.test_idx for f in result.folds]), kind="stable")]
    assert base["pooled"]["accuracy"] == pytest.approx(majority_right.mean())
    wins, losses = int(np.sum(model_right & ~majority_right)), int(np.sum(~model_right & majority_right))
    assert stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue < 1e-4
    assert seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))


def test_regime_task_baseline_is_the_majority_class() -> None:
    rng = np.random.default_rng(1)
    n = 2 * 500
    x = rng.standard_normal((n, 4))
    logits = 1.5 * x + np.array([1.0, 0.0, 0.5, -0.5])  # unbalanced classes 0..3
    y = np.argmax(logits + rng.gumbel(size=(n, 4)), axis=1).astype(float)
    frame = _frame(x, y, ["a", "b", "c", "d"], "regime_20", 1, 2)
    result = run_task("regime", frame, spec=ModelSpec(objective="multiclass", params=FAST), n_folds=3)
    for fold, b in zip(result.folds, result.baseline["folds"], strict=True):
        counts = np.bincount(y[fold.train_idx].astype(int), minlength=4) + 1.0
        prob = counts / counts.sum()
        y_test = y[fold.test_idx].astype(int)
        assert b["metrics"]["accuracy"] == pytest.approx(np.mean(y_test == np.argmax(counts)))
        assert b["metrics"]["log_loss"] == pytest.approx(-np.mean(np.log(prob[y_test])))
    model_acc = result.summary["pooled"]["accuracy"]
    base_acc = result.baseline["pooled"]["accuracy"]
    n_oos = result.summary["pooled"]["n"]
    assert stats.binomtest(round(model_acc * n_oos), n_oos, base_acc).proportion_ci(0.99).low > base_acc


def test_garch_forecast_follows_the_recursion_and_never_looks_ahead() -> None:
    r = garch_returns(3000, seed=5)
    f = garch_rvol_forecast(r, 2500, 2500, 5)
    assert f.fitted
    assert abs(f.alpha + f.beta - 0.95) < 0.05  # the simulated persistence
    t = np.arange(2500, 3000)
    # sigma^2_{t+1|t} = omega + alpha r_t^2 + beta sigma^2_{t|t-1}
    np.testing.assert_allclose(f.var1[1:], f.omega + f.alpha * r[t[1:]] ** 2 + f.beta * f.var1[:-1], rtol=1e-9)
    # multi-step: sigma^2_{t+k|t} = s + (alpha + beta)^(k-1) (sigma^2_{t+1|t} - s), s the long-run variance
    s = f.omega / (1 - f.alpha - f.beta)
    steps = sum(s + (f.alpha + f.beta) ** (k - 1) * (f.var1 - s) for k in range(1, 6))
    np.testing.assert_allclose(f.rvol, np.sqrt(steps), rtol=1e-9)
    # the forecast at t uses returns up to t only
    cut = 2700
    head = garch_rvol_forecast(r[:cut + 1], 2500, 2500, 5)
    np.testing.assert_allclose(head.rvol, f.rvol[:cut + 1 - 2500], rtol=1e-12)


def test_garch_falls_back_to_a_constant_variance() -> None:
    r = np.random.default_rng(0).standard_normal(50) * 0.01
    f = garch_rvol_forecast(r, 3, 10, 5)  # three returns cannot fit a GARCH
    assert not f.fitted
    np.testing.assert_allclose(f.rvol, math.sqrt(5 * np.mean(r[:3] ** 2)))


def test_volatility_task_garch_baseline_on_the_same_folds() -> None:
    frame = volatility_frame()
    spec = ModelSpec(objective="regression", params=FAST)
    result = run_task("volatility", frame, spec=spec, n_folds=3)
    base = result.baseline
    assert base["name"] == "GARCH(1,1) on logret_1" and base["fallbacks"] == 0
    assert base["pooled"]["n"] == result.summary["pooled"]["n"]
    # rebuild one fold's forecasts for symbol S1 by hand
    fold = result.folds[1]
    sym = np.flatnonzero((frame.symbols == "S1") & (frame.ts <= fold.test_end))  # ret_1 is finite on every row
    n_fit = int(np.sum(frame.ts[sym] <= fold.train_end))
    test_rows = fold.test_idx[frame.symbols[fold.test_idx] == "S1"]
    forecast = garch_rvol_forecast(frame.X[sym, 0], n_fit, int(np.searchsorted(sym, test_rows[0])), 5)
    y = frame.y[:, 0]
    s0_rows = fold.test_idx[frame.symbols[fold.test_idx] == "S0"]
    assert base["folds"][1]["metrics"]["n"] == s0_rows.size + test_rows.size
    # GARCH forecasts of a GARCH series carry information about the realised vol
    pooled = base["pooled"]
    assert pooled["ic"] > 0.15
    # the fold's metrics include S1's hand-built forecasts: recompute RMSE from both symbols' parts
    sym0 = np.flatnonzero((frame.symbols == "S0") & (frame.ts <= fold.test_end))
    f0 = garch_rvol_forecast(frame.X[sym0, 0], int(np.sum(frame.ts[sym0] <= fold.train_end)),
                             int(np.searchsorted(sym0, s0_rows[0])), 5)
    pred = np.r_[f0.rvol, forecast.rvol]
    truth = np.r_[y[s0_rows], y[test_rows]]
    assert base["folds"][1]["metrics"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((pred - truth) ** 2))))


@pytest.mark.parametrize(("name", "kwargs", "field"), [
    ("weather", {}, "task"),
    ("direction", {"spec": ModelSpec(objective="regression")}, "objective"),
    ("regime", {}, "target"),
])
def test_run_task_errors(name, kwargs, field) -> None:
    frame = _frame(np.zeros((20, 1)), np.zeros(20), ["a"], "direction_1", 1, 1)
    with pytest.raises(InvalidInput) as info:
        run_task(name, frame, **kwargs)
    assert info.value.field == field


def test_volatility_needs_returns() -> None:
    frame = volatility_frame(n_bars=200, n_symbols=1)
    bare = FeatureFrame(frame.symbols, frame.ts, frame.X[:, 1:], frame.feature_names[1:], frame.y, frame.target_names,
                        horizon=5)
    with pytest.raises(InvalidInput) as info:
        run_task("volatility", bare, spec=ModelSpec(objective="regression", params=FAST), n_folds=2)
    assert info.value.field == "feature_names"
