"""A value at time t does not depend on the requested range (docs/conventions.md).

Oracle: the value computed over the whole series. Consumers compute over the requested range preceded by the
declared warm-up (``indicators.warmup``, ``FeatureSet.warmup``, ``strategy_warmup``) and must agree with it
to ``RTOL`` relative to the output's scale (the larger of |value| and the output's largest |value|).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.bars import Bars
from nautilus.features import compute_rows, parse_feature_set
from nautilus.features.builtin import STANDARD_FEATURES
from nautilus.strategy import backtest, indicators, sweep
from nautilus.strategy.backtest.strategies import strategy_warmup
from nautilus.strategy.indicators import registry
from nautilus.strategy.indicators.warmups import RTOL, convergence_bars

DAY = 86_400_000_000_000


def make_bars(n: int, seed: int, symbol: str = "RND") -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.01, n)))
    low = close * (1 - np.abs(rng.normal(0, 0.01, n)))
    open_ = np.clip(close * (1 + rng.normal(0, 0.005, n)), low, high)
    volume = rng.uniform(1e5, 1e6, n)
    ts = (np.int64(1_600_000_000) * 1_000_000_000 // DAY * DAY + np.arange(n, dtype=np.int64) * DAY)
    return Bars(symbol=symbol, timeframe="1d", ts=ts, open=open_, high=high, low=low, close=close, volume=volume)


def columns(bars: Bars) -> dict[str, np.ndarray]:
    return {"ts": bars.ts, "open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
            "volume": bars.volume, "periods": np.full(len(bars), 10.0)}


def ranged(spec, bars: Bars, start: int, end: int) -> dict[str, np.ndarray]:
    """What a consumer returns for bars[start:end]: computed from the declared warm-up before ``start``."""
    w = indicators.warmup(spec, DAY)
    first = 0 if w is None else max(0, start - w)
    out = indicators.compute(spec, columns(bars.slice(first, end)))
    return {k: v[start - first:] for k, v in out.items()}


def assert_same(got: np.ndarray, full: np.ndarray, scale_of: np.ndarray, what: str) -> None:
    finite = np.isfinite(scale_of)
    scale = float(np.max(np.abs(scale_of[finite]))) if finite.any() else 1.0
    assert np.array_equal(np.isnan(got), np.isnan(full)), f"{what}: NaN where the full history has a value"
    ok = np.isnan(full) | (np.abs(got - full) <= RTOL * np.maximum(np.abs(full), scale))
    assert ok.all(), f"{what}: worst {np.nanmax(np.abs(got - full)) / scale:.3g} of scale"


SPECS = ["rsi(14)", "rsi(200)", "ema(30)", "ema(150)", "sma(50)", "atr(14)", "natr(20)", "adx(14)", "adxr(14)",
         "macd", "macd(5,35,5)", "bbands(20,2,2,1)", "bbands(20,2,2,0)", "ma(30,8)", "ma(20,7)", "ma(25,6)",
         "kama(30)", "t3(5)", "tema(20)", "dema(20)", "trix(15)", "stochrsi", "stoch", "mfi(14)", "cci(20)",
         "willr(14)", "cmo(14)", "ht_sine", "ht_trendline", "mama", "obv", "ad", "adosc", "sar", "supertrend",
         "keltner", "donchian(20)", "ichimoku", "vwap", "vwap(session=none)", "linearreg_slope(14)", "roc(10)",
         "ppo", "apo", "ultosc", "aroon(14)", "plus_di", "minus_dm", "maxindex(30)", "stddev(20)"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), seed=st.integers(0, 10_000), n=st.integers(50, 1500),
       data=st.data())
def test_indicator_at_t_does_not_depend_on_the_range(spec, seed, n, data) -> None:
    bars = make_bars(n, seed)
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start + 1, n), label="end")
    full = indicators.compute(spec, columns(bars))
    got = ranged(spec, bars, start, end)
    for key, values in full.items():
        assert_same(got[key], values[start:end], values, f"{spec} {key} [{start}:{end}]")


def test_every_catalogue_entry_declares_enough_warmup() -> None:
    """Every indicator with its defaults over a long series: the tail computed from its warm-up on."""
    bars = make_bars(12_000, 7)
    n = len(bars)
    start = n - 300
    for name in registry.catalogue():
        spec = {"name": name, "anchor": int(bars.ts[100])} if name == "anchored_vwap" else name
        full = indicators.compute(spec, columns(bars))
        got = ranged(spec, bars, start, n)
        for key, values in full.items():
            assert_same(got[key], values[start:], values, f"{name} {key}")


@pytest.mark.parametrize("spec", ["rsi(14)", "ema(50)", "macd", "atr(14)", "sma(20)", "bbands(20,2,2,1)"])
def test_last_ten_bars_show_numbers_not_blanks(spec) -> None:
    bars = make_bars(400, 3)
    got = ranged(spec, bars, len(bars) - 10, len(bars))  # what `indicators X -i spec --limit 10` returns
    full = indicators.compute(spec, columns(bars))
    for key, values in got.items():
        assert np.isfinite(values).all(), key
        np.testing.assert_allclose(values, full[key][-10:], rtol=RTOL)
    cold = indicators.compute(spec, columns(bars.slice(len(bars) - 10, len(bars))))  # the old behaviour
    assert any(np.isnan(v).any() for v in cold.values())


def test_recursive_warmup_bounds_the_seed() -> None:
    # Wilder weight 1/14: 14 * ln(1e12) ~ 373 bars leave < 1e-12 of the seed, twice for a cascade
    assert convergence_bars(14, 1) == 373
    assert (1 - 1 / 14) ** convergence_bars(14, 1) < 1e-12 <= (1 - 1 / 14) ** (convergence_bars(14, 1) - 1)
    assert indicators.warmup("sma(50)") == 49 and indicators.warmup("obv") is None
    assert indicators.warmup("rsi(30)") == 30 + convergence_bars(30, 2)
    assert indicators.warmup("rsi(14)") == 14 + convergence_bars(20, 2)  # periods under 20 count as 20
    assert indicators.warmup("vwap", DAY) == 0 and indicators.warmup("vwap", 3_600_000_000_000) == 23
    assert indicators.warmup("vwap") is None


FEATURES = {"name": "ranges", "features": [*STANDARD_FEATURES,
                                           {"kind": "indicator", "spec": "macd", "output": "macdhist"},
                                           {"kind": "lag", "of": "rsi_14", "periods": 3},
                                           {"kind": "indicator", "spec": "obv"}],
            "targets": [{"kind": "forward_return", "h": 1}]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(300, 1500), data=st.data())
def test_feature_at_t_does_not_depend_on_the_range(seed, n, data) -> None:
    fs = parse_feature_set(FEATURES)
    assert fs.warmup is None  # obv: the whole history; without it, the slowest recursive feature's
    assert parse_feature_set({**FEATURES, "features": FEATURES["features"][:-1]}).warmup == \
        max(indicators.warmup("rsi(14)") + 3, indicators.warmup("macd"))
    bars = make_bars(n, seed)
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start + 1, n), label="end")
    X_full, _ = compute_rows(fs, bars)
    for spec_set in (fs, parse_feature_set({**FEATURES, "features": FEATURES["features"][:-1]})):
        w = spec_set.warmup
        first = 0 if w is None else max(0, start - w)
        X, _ = compute_rows(spec_set, bars.slice(first, end))
        for j, name in enumerate(spec_set.feature_names):
            k = fs.feature_names.index(name)
            assert_same(X[start - first:, j], X_full[start:end, k], X_full[:, k], f"{name} [{start}:{end}]")


# Backtests and walk-forward ------------------------------------------------------------------------------
def test_backtest_over_a_range_warms_up_without_trading_before_it() -> None:
    bars = make_bars(800, 11)
    params = {"fast": 5, "slow": 60}
    start = 500
    w = strategy_warmup("sma_cross", params)
    assert w == 60
    ranged_result = backtest.run_backtest(bars.slice(start - w, len(bars)), "sma_cross", params, warmup=w)
    assert ranged_result.ts[0] == bars.ts[start] and len(ranged_result.equity) == len(bars) - start
    trades = ranged_result.trades_list()
    assert trades and min(t["entry_idx"] for t in trades) >= 0
    # the same signals as the full-history run from `start` on: a position opened there from bar start on
    full = backtest.build_signals("sma_cross", bars.open, bars.high, bars.low, bars.close, [params])
    warm = backtest.build_signals("sma_cross", *(x[start - w:] for x in (bars.open, bars.high, bars.low,
                                                                            bars.close)), [params])
    np.testing.assert_array_equal(full.entries[start:], warm.entries[w:])
    np.testing.assert_array_equal(full.exits[start:], warm.exits[w:])


def test_short_walk_forward_test_windows_get_real_statistics() -> None:
    # a series whose every test window holds a crossing of the warm lines (a window without one stays flat:
    # no trade, no Sharpe, whatever the warm-up)
    bars = make_bars(700, 4)
    grid = {"fast": [3, 5], "slow": [40, 60]}
    folds, fraction = 4, 0.8  # 175-bar folds: 35-bar test windows, shorter than either slow SMA
    result = sweep.run_sweep(bars, "sma_cross", None, grid=grid, metric="sharpe", executor="local",
                             walk_forward={"folds": folds, "train_fraction": fraction})
    edges = np.linspace(0, len(bars), folds + 1).astype(int)
    for f, fold in enumerate(result.walk_forward):
        lo, hi = int(edges[f]), int(edges[f + 1])
        cut = lo + int((hi - lo) * fraction)
        assert hi - cut < min(grid["slow"])
        assert fold["out_of_sample_metric"] is not None, fold
        assert fold["out_of_sample"] == [int(bars.ts[cut]), int(bars.ts[hi - 1])]
        # the fold's test run: nothing traded before the window's first bar
        need = max(grid["slow"])
        test = backtest.run_backtest(bars.slice(cut - need, hi), "sma_cross", fold["params"], warmup=need)
        assert test.ts[0] == bars.ts[cut]
        assert all(t["entry_idx"] >= 0 for t in test.trades_list())
        assert test.trades_list(), "a 35-bar window with warm SMAs trades"
        assert fold["out_of_sample_metric"] == pytest.approx(test.stats["sharpe"])
        cold = backtest.run_backtest(bars.slice(cut, hi), "sma_cross", fold["params"])
        assert not cold.trades_list()  # the old cold window: the slow SMA never forms
