"""Library factors and rolling operators against pandas/numpy references, point-in-time checks,
the registry and Panel alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.factor import evaluate, library, timeseries
from nautilus.factor.panel import Panel

DAY = 86_400_000_000_000


def make_panel(n_dates: int = 300, n_symbols: int = 6, seed: int = 7, holes: bool = True) -> Panel:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_dates, n_symbols)), axis=0))
    high = close * (1 + rng.uniform(0, 0.02, close.shape))
    low = close * (1 - rng.uniform(0, 0.02, close.shape))
    volume = rng.uniform(1e5, 2e6, close.shape)
    bars = {}
    for j in range(n_symbols):
        keep = np.ones(n_dates, dtype=bool)
        if holes and j == 1:
            keep[100:104] = False  # a symbol missing four bars
        if holes and j == 2:
            keep[:40] = False  # a symbol listed later
        bars[f"S{j}"] = Bars(symbol=f"S{j}", timeframe="1d", ts=np.arange(n_dates, dtype=np.int64)[keep] * DAY,
                             open=close[keep, j], high=high[keep, j], low=low[keep, j], close=close[keep, j],
                             volume=volume[keep, j])
    return Panel.from_bars(bars)


@pytest.fixture(scope="module")
def panel() -> Panel:
    return make_panel()


def frame(panel: Panel, column: str) -> pd.DataFrame:
    return pd.DataFrame(getattr(panel, column), columns=list(panel.symbols))


def check(got: np.ndarray, expected: pd.DataFrame | np.ndarray, rtol: float = 1e-9) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-14, equal_nan=True)


def test_panel_aligns_on_the_union_of_dates(panel: Panel) -> None:
    assert panel.shape == (300, 6) and panel.symbols == tuple(f"S{j}" for j in range(6))
    assert np.isnan(panel.close[100:104, 1]).all() and np.isfinite(panel.close[99, 1])
    assert np.isnan(panel.volume[:40, 2]).all() and np.isfinite(panel.close[40:, 2]).all()
    with pytest.raises(InvalidInput) as exc:
        Panel.from_bars({})
    assert exc.value.field == "symbols"


def returns(panel: Panel) -> pd.DataFrame:
    close = frame(panel, "close")
    return close / close.shift(1) - 1


def test_momentum_and_reversal_match_pandas(panel: Panel) -> None:
    close = frame(panel, "close")
    check(library.momentum(panel, 60, 5), close.shift(5) / close.shift(60) - 1)
    check(library.compute_factor("momentum", panel), close.shift(21) / close.shift(252) - 1)
    check(library.reversal(panel, 10), -(close / close.shift(10) - 1))


def test_volatility_matches_pandas(panel: Panel) -> None:
    check(library.volatility(panel, 20), returns(panel).rolling(20).std())


def test_beta_matches_pandas_and_polyfit(panel: Panel) -> None:
    r = returns(panel)
    market = r.mean(axis=1)
    expected = r.rolling(30).cov(market) / market.rolling(30).var().to_numpy()[:, None]
    got = library.beta(panel, 30)
    check(got, expected, rtol=1e-8)
    bench = library.compute_factor({"name": "beta", "window": 30, "benchmark": "s0"}, panel)
    np.testing.assert_allclose(bench[30:, 0], 1.0)  # returns start at row 1
    assert np.isnan(bench[29]).all()
    for t, j in ((60, 3), (150, 1), (299, 2)):
        window = slice(t - 29, t + 1)
        slope = np.polyfit(r["S0"].to_numpy()[window], r.iloc[window, j].to_numpy(), 1)[0]
        assert bench[t, j] == pytest.approx(slope, rel=1e-8)
        cov = np.cov(r.iloc[window, j].to_numpy(), r["S0"].to_numpy()[window])
        assert bench[t, j] == pytest.approx(cov[0, 1] / cov[1, 1], rel=1e-8)
    assert np.isnan(bench[110, 1])  # its window holds the missing bars


def test_amihud_volume_trend_and_high_distance_match_pandas(panel: Panel) -> None:
    close, volume, high = frame(panel, "close"), frame(panel, "volume"), frame(panel, "high")
    check(library.amihud(panel, 15), (returns(panel).abs() / (close * volume)).rolling(15).mean())
    check(library.volume_trend(panel, 5, 40), volume.rolling(5).mean() / volume.rolling(40).mean() - 1)
    got = library.high_52w_distance(panel, 252)
    check(got, close / high.rolling(252).max() - 1)
    assert np.nanmax(got) <= 0


def test_rolling_operators_match_pandas(panel: Panel) -> None:
    x, y = frame(panel, "close"), frame(panel, "volume")
    check(timeseries.ts_sum(x.to_numpy(), 7), x.rolling(7).sum())
    check(timeseries.ts_mean(x.to_numpy(), 7), x.rolling(7).mean())
    check(timeseries.ts_std(y.to_numpy(), 9), y.rolling(9).std(), rtol=1e-8)
    check(timeseries.ts_max(x.to_numpy(), 5), x.rolling(5).max())
    check(timeseries.ts_min(x.to_numpy(), 5), x.rolling(5).min())
    check(timeseries.ts_corr(x.to_numpy(), y.to_numpy(), 12), x.rolling(12).corr(y), rtol=1e-7)
    check(timeseries.ts_rank(x.to_numpy(), 6), (x.rolling(6).rank() - 1) / 5)
    check(timeseries.delay(x.to_numpy(), 3), x.shift(3))
    check(timeseries.delta(x.to_numpy(), 3), x.diff(3))


FACTOR_SPECS = ["momentum(60, 5)", "reversal(10)", "volatility(20)", "beta(30)", "beta(30, 'S3')", "amihud(15)",
                "volume_trend(5, 40)", "high_52w_distance(50)"]


@pytest.mark.parametrize("spec", FACTOR_SPECS)
def test_no_look_ahead(panel: Panel, spec: str) -> None:
    """A spike at row k (prices and volume) leaves every row before k bit-identical."""
    k = 200
    before = library.compute_factor(spec, panel)
    spiked = {c: getattr(panel, c).copy() for c in ("open", "high", "low", "close", "volume")}
    for c in spiked:
        spiked[c][k:] *= 10.0
    after = library.compute_factor(spec, Panel(panel.ts, panel.symbols, timeframe=panel.timeframe, **spiked))
    assert np.array_equal(before[:k], after[:k], equal_nan=True)
    assert not np.array_equal(before[k:], after[k:], equal_nan=True)


def test_expression_has_no_look_ahead(panel: Panel) -> None:
    expr = "rank(ts_mean(close, 20) / close) - zscore(volume) + ts_corr(close, volume, 10) + ts_rank(high, 5)"
    k = 150
    before = evaluate(expr, panel)
    close = panel.close.copy()
    close[k] *= 3.0
    after = evaluate(expr, Panel(panel.ts, panel.symbols, panel.open, panel.high, panel.low, close, panel.volume))
    assert np.array_equal(before[:k], after[:k], equal_nan=True)


def test_registry_and_specs(panel: Panel) -> None:
    names = [item["name"] for item in library.list_factors()]
    assert names == ["momentum", "reversal", "volatility", "beta", "amihud", "volume_trend", "high_52w_distance"]
    item = library.list_factors()[0]
    assert item["params"] == {"lookback": 252, "skip": 21} and "skip" in item["doc"]
    np.testing.assert_array_equal(library.compute_factor("momentum(lookback=126)", panel),
                                  library.momentum(panel, 126, 21))
    info, params = library.parse_spec({"name": "volatility", "window": 10})
    assert library.spec_label(info, params) == "volatility(10)"
    for spec, field in (("nope", "factor"), ("momentum(10, 20)", "lookback"), ("volatility(0)", "window"),
                        ({"name": "volatility", "span": 3}, "span"), ("momentum(__import__('os'))", "factor"),
                        ("beta(20, 'ZZZ')", "symbols"), (42, "factor"), ("volatility(2.5)", "window")):
        with pytest.raises(InvalidInput) as exc:
            library.compute_factor(spec, panel)
        assert exc.value.field == field, spec
