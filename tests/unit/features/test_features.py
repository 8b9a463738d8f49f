"""nautilus.features: values against pandas/TA-Lib references, point-in-time (look-ahead injection),
incremental == full recompute, and feature-set validation errors naming the field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.features import (
    FeatureFrame,
    builtin_feature_sets,
    compute,
    compute_panel,
    compute_rows,
    compute_universe,
    load_feature_set,
)
from nautilus.features.compute import calendar
from nautilus.marketdata.synthetic import garch_bars, gbm_bars

START = 1_262_304_000_000_000_000  # 2010-01-01
DAY = 86_400_000_000_000
RTOL = 1e-9


def bars_of(close: np.ndarray, symbol: str = "AAA", seed: int = 0, start: int = START) -> Bars:
    rng = np.random.default_rng(seed)
    n = close.shape[0]
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    return Bars(symbol=symbol, timeframe="1d", ts=start + np.arange(n, dtype=np.int64) * DAY, open=open_,
                high=high, low=low, close=close, volume=rng.lognormal(13, 0.5, n))


def frame_of(definition: dict, bars: Bars) -> pd.DataFrame:
    fs = load_feature_set({"name": "t", **definition})
    return compute(fs, bars).to_pandas().droplevel(0)


def assert_close(ours: pd.Series | np.ndarray, ref: pd.Series | np.ndarray, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=RTOL,
                               atol=atol, equal_nan=True)


@pytest.fixture(scope="module")
def bars() -> Bars:
    return garch_bars("AAA", "1d", START, 1500, seed=3, sigma=0.3)


# Values against pandas ----------------------------------------------------------------------------
def test_returns_and_lags_equal_pandas(bars: Bars) -> None:
    df = frame_of({"features": [
        {"kind": "return", "window": 5}, {"kind": "return", "window": 1, "lag": 3},
        {"kind": "log_return", "window": 20}, {"kind": "return", "window": 2, "column": "volume"},
        {"kind": "lag", "of": "ret_5", "periods": 2}]}, bars)
    close = pd.Series(bars.close, index=df.index)
    assert_close(df["ret_5"], close.pct_change(5, fill_method=None))
    assert_close(df["ret_1_lag3"], close.pct_change(1, fill_method=None).shift(3))
    assert_close(df["logret_20"], np.log(close / close.shift(20)))
    assert_close(df["ret_2_volume"], pd.Series(bars.volume).pct_change(2, fill_method=None))
    assert_close(df["ret_5_lag2"], close.pct_change(5, fill_method=None).shift(2))


@pytest.mark.parametrize("stat", ["mean", "std", "skew", "kurt", "min", "max", "zscore"])
@pytest.mark.parametrize("window", [5, 20, 63])
def test_rolling_stats_equal_pandas(bars: Bars, stat: str, window: int) -> None:
    df = frame_of({"features": [{"kind": "rolling", "stat": stat, "window": window},
                                {"kind": "rolling", "stat": stat, "window": window, "column": "log_return"}]},
                  bars)
    close = pd.Series(bars.close, index=df.index)
    for column, series in (("close", close), ("log_return", np.log(close / close.shift(1)))):
        roll = series.rolling(window)
        ref = (series - roll.mean()) / roll.std() if stat == "zscore" else getattr(roll, stat)()
        # higher moments of price windows lose a few digits to cancellation (ours and pandas' alike)
        assert_close(df[f"{stat}_{window}_{column}"], ref, atol=1e-9 if stat in ("skew", "kurt") else 1e-12)


def test_volume_range_distance_equal_pandas(bars: Bars) -> None:
    df = frame_of({"features": [{"kind": "volume_zscore", "window": 20}, {"kind": "range", "window": 5},
                                {"kind": "distance", "side": "high", "window": 252},
                                {"kind": "distance", "side": "low", "window": 30}]}, bars)
    vol = pd.Series(bars.volume, index=df.index)
    assert_close(df["volz_20"], (vol - vol.rolling(20).mean()) / vol.rolling(20).std())
    hl = pd.Series((bars.high - bars.low) / bars.close, index=df.index)
    assert_close(df["range_5"], hl.rolling(5).mean())
    assert_close(df["dist_high_252"], bars.close / pd.Series(bars.high, index=df.index).rolling(252).max() - 1)
    assert_close(df["dist_low_30"], bars.close / pd.Series(bars.low, index=df.index).rolling(30).min() - 1)


def test_indicators_reuse_talib(bars: Bars) -> None:
    df = frame_of({"features": [{"kind": "indicator", "spec": "rsi(14)"},
                                {"kind": "indicator", "spec": {"name": "atr", "period": 14}, "normalize": "close"},
                                {"kind": "indicator", "spec": "macd", "output": "macdsignal"}]}, bars)
    assert_close(df["rsi_14"], talib.RSI(bars.close, 14))
    assert_close(df["atr_14_over_close"], talib.ATR(bars.high, bars.low, bars.close, 14) / bars.close)
    assert_close(df["macd_12_26_9_macdsignal"], talib.MACD(bars.close, 12, 26, 9)[1])


def test_calendar_equals_pandas() -> None:
    rng = np.random.default_rng(5)
    ts = np.sort(rng.integers(-1_000_000_000_000_000_000, 4_000_000_000_000_000_000, 50_000))
    idx = pd.to_datetime(ts, unit="ns", utc=True)
    refs = {"dayofweek": idx.day_of_week, "month": idx.month, "dayofmonth": idx.day,
            "dayofyear": idx.day_of_year, "hour": idx.hour}
    for field, ref in refs.items():
        np.testing.assert_array_equal(calendar(ts, field), np.asarray(ref, dtype=float), err_msg=field)


def test_targets_equal_pandas(bars: Bars) -> None:
    fs = load_feature_set({"name": "t", "features": [{"kind": "return"}], "targets": [
        {"kind": "forward_return", "h": 5}, {"kind": "direction", "h": 1}, {"kind": "realized_vol", "h": 5},
        {"kind": "regime", "h": 10, "trend": 0.02, "vol": 0.015}]})
    df = compute(fs, bars).to_pandas().droplevel(0)
    close = pd.Series(bars.close, index=df.index)
    fwd5 = close.shift(-5) / close - 1
    assert_close(df["fwd_ret_5"], fwd5)
    fwd1 = close.shift(-1) / close - 1
    assert_close(df["direction_1"], (fwd1 > 0).astype(float).where(fwd1.notna()))
    r = np.log(close / close.shift(1))
    rv5 = np.sqrt((r**2).rolling(5).sum().shift(-5))
    assert_close(df["rvol_5"], rv5)
    fwd10 = close.shift(-10) / close - 1
    vol10 = np.sqrt((r**2).rolling(10).mean().shift(-10))
    ref = np.select([vol10 > 0.015, fwd10 > 0.02, fwd10 < -0.02], [3.0, 0.0, 1.0], 2.0)
    ref = np.where(fwd10.isna(), np.nan, ref)
    assert_close(df["regime_10"], ref)
    assert set(np.unique(ref[~np.isnan(ref)])) == {0.0, 1.0, 2.0, 3.0}  # the thresholds separate classes
    assert df["fwd_ret_5"].iloc[-5:].isna().all() and df["fwd_ret_5"].iloc[:-5].notna().all()


def test_cross_asset_aligned_as_of_without_look_ahead() -> None:
    a = gbm_bars("AAA", "1d", START, 400, seed=1, sessions="weekdays")
    spy = gbm_bars("SPY", "1d", START, 560, seed=2)  # every day: more bars than AAA
    fs = load_feature_set({"name": "x", "features": [
        {"kind": "cross_asset", "symbol": "spy", "what": "return", "window": 1},
        {"kind": "cross_asset", "symbol": "SPY", "what": "corr", "window": 30},
        {"kind": "cross_asset", "symbol": "SPY", "what": "beta", "window": 30}]})
    frame = compute_panel(fs, {"AAA": a, "SPY": spy})
    assert list(pd.unique(frame.symbols)) == ["AAA", "SPY"]
    df = frame.to_pandas().loc["AAA"]
    aligned = pd.Series(spy.close, index=pd.to_datetime(spy.ts, utc=True)).reindex(df.index, method="ffill")
    assert_close(df["xret_1_SPY"], aligned.pct_change(fill_method=None))
    own = pd.Series(a.close, index=df.index).pct_change(fill_method=None)
    other = aligned.pct_change(fill_method=None)
    assert_close(df["corr_30_SPY"], own.rolling(30).corr(other))
    assert_close(df["beta_30_SPY"], own.rolling(30).cov(other) / other.rolling(30).var())
    self_corr = frame.to_pandas().loc["SPY", "corr_30_SPY"].dropna()
    np.testing.assert_allclose(self_corr, 1.0, rtol=1e-12)
    with pytest.raises(InvalidInput) as err:
        compute(fs, a)
    assert err.value.field == "features"
    with pytest.raises(InvalidInput) as err:
        compute_panel(fs, {"AAA": a})
    assert err.value.field == "symbols"


def test_a_monthly_series_counts_only_from_its_period_end() -> None:
    """A monthly economic series (open time = the month's first day) next to daily bars: a day sees a month's
    value only once the month is over, so no daily feature uses a value before it exists."""
    from nautilus.core.bars import Bars

    days = gbm_bars("AAA", "1d", START, 120, seed=1)  # 2010-01-01 .. 2010-04-30
    months = pd.to_datetime(["2009-12-01", "2010-01-01", "2010-02-01", "2010-03-01"], utc=True)
    value = np.array([1.0, 2.0, 4.0, 8.0])
    cpi = Bars(symbol="CPI", timeframe="1mo", ts=months.as_unit("ns").asi8, open=value, high=value, low=value,
               close=value, volume=np.zeros(4))
    fs = load_feature_set({"name": "x", "features": [{"kind": "cross_asset", "symbol": "CPI", "what": "return"}]})
    df = compute_panel(fs, {"AAA": days, "CPI": cpi}).to_pandas().loc["AAA"]
    dates = df.index.strftime("%Y-%m-%d")
    xret = pd.Series(df["xret_1_CPI"].to_numpy(), index=dates)
    # daily bar of D closes at D+1: January's value (2 → 4 is February's) is known from 2010-02-01's close on
    assert np.isnan(xret["2010-01-01"]) and xret["2010-01-30"] == 0.0  # December's value all through January
    assert xret["2010-01-31"] == pytest.approx(1.0)  # closes 2010-02-01: January (2.0) over December (1.0)
    assert xret["2010-02-01"] == 0.0
    assert xret["2010-02-28"] == pytest.approx(1.0)  # February's 4.0 over January's 2.0, from 2010-03-01
    assert xret["2010-02-27"] == 0.0


def test_panel_rows_sorted_and_equal_single_symbol() -> None:
    fs = builtin_feature_sets()["standard"]
    panel = {s: gbm_bars(s, "1d", START, 300 + 10 * k, seed=k) for k, s in enumerate(["CCC", "AAA", "BBB"])}
    frame = compute_panel(fs, panel)
    assert isinstance(frame, FeatureFrame)
    assert frame.symbols.tolist() == ["AAA"] * 310 + ["BBB"] * 320 + ["CCC"] * 300
    assert frame.lookback == 251 and frame.horizon == 1
    rows = np.flatnonzero(frame.symbols == "BBB")
    single = compute(fs, panel["BBB"])
    np.testing.assert_array_equal(frame.X[rows], single.X)
    np.testing.assert_array_equal(frame.ts[rows], panel["BBB"].ts)
    threaded = compute_universe(fs, ["BBB", "CCC", "AAA"], panel.__getitem__, workers=2)
    np.testing.assert_array_equal(threaded.X, frame.X)
    np.testing.assert_array_equal(threaded.y, frame.y)
    assert threaded.symbols.tolist() == frame.symbols.tolist()


# Built-in sets --------------------------------------------------------------------------------------
def test_builtin_sets() -> None:
    sets = builtin_feature_sets()
    assert {"standard", "direction", "volatility", "regime"} <= set(sets)
    assert len(sets["standard"].features) == 14
    assert sets["direction"].target_names == ["direction_1"]
    assert sets["volatility"].target_names == ["rvol_5"] and "ret_1" in sets["volatility"].feature_names
    assert sets["regime"].targets[0].params == {"h": 20, "trend": 0.03, "vol": 0.02}
    assert not set(sets["standard"].feature_names) & set(sets["standard"].target_names)
    again = load_feature_set(sets["standard"].to_yaml())
    assert again.digest() == sets["standard"].digest()


# Point in time --------------------------------------------------------------------------------------
def _spike_check(fs, bars: Bars, k: int) -> None:
    base = compute(fs, bars)
    spiked = bars.copy()
    for column in ("open", "high", "low", "close"):
        getattr(spiked, column)[k:] *= 3.0  # a jump at bar k that persists
    spiked.volume[k] *= 50.0
    after = compute(fs, spiked)
    np.testing.assert_array_equal(after.X[:k], base.X[:k])  # every feature before k: bit for bit
    h = fs.horizon
    np.testing.assert_array_equal(after.y[: max(0, k - h)], base.y[: max(0, k - h)])  # targets before k-h
    changed = ~np.isclose(after.X[k:], base.X[k:], equal_nan=True)
    assert changed.any()  # the spike is visible from k on
    if h:  # targets of the rows whose horizon reaches the spike see it
        assert (~np.isclose(after.y[k - h:k], base.y[k - h:k], equal_nan=True)).any()


@pytest.mark.parametrize("name", ["standard", "volatility", "regime"])
def test_future_spike_moves_no_earlier_feature(bars: Bars, name: str) -> None:
    _spike_check(builtin_feature_sets()[name], bars, 900)


def test_spike_in_benchmark_moves_no_earlier_cross_asset_feature() -> None:
    a = gbm_bars("AAA", "1d", START, 500, seed=1, sessions="weekdays")
    spy = gbm_bars("SPY", "1d", START + DAY // 2, 700, seed=2)  # bars at noon: never on AAA's ts
    fs = load_feature_set({"name": "x", "features": [
        {"kind": "cross_asset", "symbol": "SPY", "what": w} for w in ("return", "corr", "beta")]})
    base = compute_panel(fs, {"AAA": a, "SPY": spy})
    k = 400
    spiked = spy.copy()
    spiked.close[k:] *= 2.0
    after = compute_panel(fs, {"AAA": a, "SPY": spiked})
    rows = (base.symbols == "AAA") & (base.ts < spy.ts[k])
    np.testing.assert_array_equal(after.X[rows], base.X[rows])
    first = np.flatnonzero((base.symbols == "AAA") & (base.ts >= spy.ts[k]))[0]
    assert after.X[first, 0] != base.X[first, 0]  # seen at AAA's first bar after the spike


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(80, 400), k_frac=st.floats(0.1, 0.95),
       window=st.integers(3, 40))
def test_point_in_time_property(seed: int, n: int, k_frac: float, window: int) -> None:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    b = bars_of(close, seed=seed)
    fs = load_feature_set({"name": "p", "features": [
        {"kind": "return", "window": window}, {"kind": "rolling", "stat": "std", "window": window},
        {"kind": "rolling", "stat": "skew", "column": "log_return", "window": window},
        {"kind": "rolling", "stat": "zscore", "window": window}, {"kind": "volume_zscore", "window": window},
        {"kind": "distance", "side": "high", "window": window}, {"kind": "indicator", "spec": "rsi(14)"},
        {"kind": "indicator", "spec": "ema(10)"}, {"kind": "lag", "of": "ret_" + str(window), "periods": 2}],
        "targets": [{"kind": "forward_return", "h": 3}, {"kind": "realized_vol", "h": 5}]})
    _spike_check(fs, b, int(k_frac * n))


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(1.0, 1000.0), min_size=30, max_size=200), window=st.integers(3, 25))
def test_rolling_property_vs_pandas(values: list[float], window: int) -> None:
    x = pd.Series(values)
    b = bars_of(np.asarray(values))
    df = frame_of({"features": [{"kind": "rolling", "stat": s, "window": window}
                                for s in ("mean", "std", "min", "max")]}, b)
    roll = x.rolling(window)
    for stat in ("mean", "min", "max"):
        np.testing.assert_allclose(df[f"{stat}_{window}_close"].to_numpy(), getattr(roll, stat)().to_numpy(),
                                   rtol=1e-9, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(df[f"std_{window}_close"].to_numpy(), roll.std().to_numpy(), rtol=1e-7,
                               atol=1e-7 * max(values), equal_nan=True)


# Incremental == full ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["standard", "volatility", "regime"])
def test_incremental_tail_equals_full_recompute(bars: Bars, name: str) -> None:
    fs = builtin_feature_sets()[name]
    full_X, full_y = compute_rows(fs, bars)
    for from_row in (0, 1, 37, 700, 1200, len(bars) - 1, len(bars)):
        X, y = compute_rows(fs, bars, from_row=from_row)
        np.testing.assert_array_equal(X, full_X[from_row:])
        np.testing.assert_array_equal(y, full_y[from_row:])


def test_incremental_with_nans_in_input(bars: Bars) -> None:
    b = bars.copy()
    b.volume[[100, 101, 400, 999]] = np.nan
    fs = load_feature_set({"name": "n", "features": [{"kind": "volume_zscore", "window": 20},
                                                     {"kind": "rolling", "stat": "kurt", "column": "volume",
                                                      "window": 30}]})
    full_X, _ = compute_rows(fs, b)
    assert np.isnan(full_X[100:120, 0]).all() and np.isfinite(full_X[121:399, 0]).all()
    for from_row in (105, 130, 410, 1000):
        np.testing.assert_array_equal(compute_rows(fs, b, from_row=from_row)[0], full_X[from_row:])


# Validation -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("definition", "field", "hint"), [
    ({"features": [{"kind": "return"}, {"kind": "return", "window": 5}, {"kind": "rolling", "stat": "std",
                                                                         "window": -3}]},
     "features[2].window", "between"),
    ({"features": [{"kind": "rolling", "stat": "stdev", "window": 5}]}, "features[0].stat", "did you mean 'std'"),
    ({"features": [{"kind": "retrun"}]}, "features[0].kind", "did you mean 'return'"),
    ({"features": [{"kind": "return", "windw": 5}]}, "features[0].windw", "did you mean 'window'"),
    ({"features": [{"kind": "indicator", "spec": "rsii(14)"}]}, "features[0].spec.name", "rsi"),
    ({"features": [{"kind": "indicator", "spec": "macd"}]}, "features[0].output", "macdsignal"),
    ({"features": [{"kind": "lag", "of": "ret_5"}]}, "features[0].of", "earlier"),
    ({"features": [{"kind": "return"}], "targets": [{"kind": "direction", "h": 0}]}, "targets[0].h", "between"),
    ({"features": [{"kind": "return"}], "targets": [{"kind": "forward_return", "name": "ret_1"}]},
     "targets[0].name", "ret_1"),
    ({"features": []}, "features", "non-empty"),
    ({"features": [{"kind": "return"}], "target": []}, "target", "did you mean 'targets'"),
])
def test_bad_feature_sets_name_the_field(definition: dict, field: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_feature_set({"name": "bad", **definition})
    assert err.value.field == field
    assert hint in err.value.message


def test_load_from_yaml_json_and_file(tmp_path) -> None:
    text = "name: y\nfeatures:\n  - kind: rolling\n    stat: mean\n    window: 10\ntargets:\n  - kind: direction\n"
    from_yaml = load_feature_set(text)
    assert from_yaml.feature_names == ["mean_10_close"] and from_yaml.target_names == ["direction_1"]
    from_json = load_feature_set(json.dumps(from_yaml.to_dict()))
    path = tmp_path / "set.yaml"
    path.write_text(text)
    assert load_feature_set(path).digest() == from_json.digest() == from_yaml.digest()
    with pytest.raises(InvalidInput) as err:
        load_feature_set("name: [unclosed")
    assert err.value.field == "definition"
    with pytest.raises(InvalidInput) as err:
        load_feature_set(tmp_path / "missing.yaml")
    assert err.value.field == "file"


@pytest.mark.parametrize("symbol", ["X" * 33, "SP Y", "spy/usd", "^" * 40])
def test_cross_asset_symbol_is_checked_where_the_spec_is_read(symbol: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_feature_set({"name": "x", "features": [{"kind": "cross_asset", "symbol": symbol, "what": "return"}]})
    assert info.value.field == "features[0].symbol"
    fs = load_feature_set({"name": "x", "features": [{"kind": "cross_asset", "symbol": " spy ", "what": "return"}]})
    assert fs.cross_symbols == ["SPY"]
