"""nautilus.analytics statistics against empyrical (the oracle) and scipy, column by column.

Each column of the inputs may start late (leading NaNs) and have holes (interior NaNs); the oracle is
empyrical applied to the whole column (every row a period, as empyrical's ``len``).
"""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nautilus import analytics as A

RTOL, ATOL = 1e-9, 1e-12


def matrix(n: int = 400, k: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, size=(n, k)) * 0.01 + 0.0004
    holes = [(slice(0, 37), 1), (slice(50, 60), 2), (slice(None, None, 17), 3), (slice(0, 5), 4), (200, 4)]
    for rows, j in holes:  # column 1 starts late, 2 has a hole, 3 scattered gaps, 4 both
        if j < k:
            r[rows, j] = np.nan
    return r


def column(r: np.ndarray, j: int) -> np.ndarray:
    return r[:, j]


def _close(got, want) -> None:
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=RTOL, atol=ATOL,
                               equal_nan=True)


BENCH = np.random.default_rng(9).normal(0.0003, 0.01, 400)

UNARY = {
    "cum_returns_final": (lambda r: A.cum_returns_final(r), lambda c, b: ep.cum_returns_final(c)),
    "annual_return": (lambda r: A.annual_return(r), lambda c, b: ep.annual_return(c)),
    "annual_return_monthly": (lambda r: A.annual_return(r, 12), lambda c, b: ep.annual_return(c, "monthly")),
    "annual_volatility": (lambda r: A.annual_volatility(r), lambda c, b: ep.annual_volatility(c)),
    "sharpe": (lambda r: A.sharpe_ratio(r), lambda c, b: ep.sharpe_ratio(c)),
    "sharpe_rf_weekly": (lambda r: A.sharpe_ratio(r, 0.0002, 52),
                         lambda c, b: ep.sharpe_ratio(c, 0.0002, period="weekly")),
    "sortino": (lambda r: A.sortino_ratio(r), lambda c, b: ep.sortino_ratio(c)),
    "sortino_req": (lambda r: A.sortino_ratio(r, 0.001), lambda c, b: ep.sortino_ratio(c, 0.001)),
    "downside_risk": (lambda r: A.downside_risk(r), lambda c, b: ep.downside_risk(c)),
    "calmar": (lambda r: A.calmar_ratio(r), lambda c, b: ep.calmar_ratio(c)),
    "omega": (lambda r: A.omega_ratio(r), lambda c, b: ep.omega_ratio(c)),
    "omega_req": (lambda r: A.omega_ratio(r, 0.0001, 0.05), lambda c, b: ep.omega_ratio(c, 0.0001, 0.05)),
    "max_drawdown": (lambda r: A.max_drawdown(r), lambda c, b: ep.max_drawdown(c)),
    "stability": (lambda r: A.stability(r), lambda c, b: ep.stability_of_timeseries(c)),
    "tail_ratio": (lambda r: A.tail_ratio(r), lambda c, b: ep.tail_ratio(c)),
    "var": (lambda r: A.value_at_risk(r, quantile_method="linear"),
            lambda c, b: ep.value_at_risk(c[~np.isnan(c)])),
    "var_1pct": (lambda r: A.value_at_risk(r, 0.01, "linear"), lambda c, b: ep.value_at_risk(c[~np.isnan(c)], 0.01)),
    "var_lower": (lambda r: A.value_at_risk(r),
                  lambda c, b: np.percentile(c[~np.isnan(c)], 5, method="inverted_cdf")),
    "cvar": (lambda r: A.conditional_value_at_risk(r, quantile_method="linear"),
             lambda c, b: ep.conditional_value_at_risk(c)),
    "skew": (lambda r: A.skew(r), lambda c, b: ss.skew(c[~np.isnan(c)], bias=False)),
    "kurtosis": (lambda r: A.excess_kurtosis(r), lambda c, b: ss.kurtosis(c[~np.isnan(c)], bias=False)),
    "skew_biased": (lambda r: A.skew(r, bias=True), lambda c, b: ss.skew(c[~np.isnan(c)])),
    "kurtosis_biased": (lambda r: A.excess_kurtosis(r, bias=True), lambda c, b: ss.kurtosis(c[~np.isnan(c)])),
    "beta": (lambda r: A.beta(r, BENCH), lambda c, b: ep.beta(c, b)),
    "alpha": (lambda r: A.alpha(r, BENCH), lambda c, b: ep.alpha(c, b)),
    "alpha_rf": (lambda r: A.alpha(r, BENCH, 0.0001), lambda c, b: ep.alpha(c, b, 0.0001)),
    "information_ratio": (lambda r: A.information_ratio(r, BENCH), lambda c, b: ep.excess_sharpe(c, b)),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_statistic_matches_empyrical_per_column(name: str) -> None:
    ours, oracle = UNARY[name]
    r = matrix()
    got = ours(r)
    assert got.shape == (r.shape[1],)
    for j in range(r.shape[1]):
        _close(got[j], oracle(column(r, j), BENCH))
    # one series in, a scalar out, equal to the column's
    one = ours(column(r, 1)) if "beta" not in name and "alpha" not in name and "information" not in name else None
    if one is not None:
        assert isinstance(one, float)
        _close(one, got[1])


def test_summary_equals_the_single_statistics() -> None:
    r = matrix(300, 4, seed=3)
    bench = BENCH[:300]
    out = A.summary(r, bench, risk_free=0.0001, periods_per_year=52)
    expected = {
        "total_return": A.cum_returns_final(r), "annual_return": A.annual_return(r, 52),
        "annual_volatility": A.annual_volatility(r, 52), "sharpe": A.sharpe_ratio(r, 0.0001, 52),
        "sortino": A.sortino_ratio(r, 0.0, 52), "calmar": A.calmar_ratio(r, 52),
        "omega": A.omega_ratio(r, 0.0001, 0.0, 52), "max_drawdown": A.max_drawdown(r),
        "stability": A.stability(r), "tail_ratio": A.tail_ratio(r), "skew": A.skew(r),
        "excess_kurtosis": A.excess_kurtosis(r), "value_at_risk": A.value_at_risk(r),
        "conditional_value_at_risk": A.conditional_value_at_risk(r), "beta": A.beta(r, bench),
        "alpha": A.alpha(r, bench, 0.0001, 52), "information_ratio": A.information_ratio(r, bench),
    }
    assert set(out) == set(A.SUMMARY_NAMES) | set(A.BENCHMARK_NAMES)
    for key, value in expected.items():
        _close(out[key], value)
    for j in range(r.shape[1]):
        c = column(r, j)
        _close(out["sharpe"][j], ep.sharpe_ratio(c, 0.0001, annualization=52))
        assert out["periods"][j] == len(c) and out["observations"][j] == np.count_nonzero(~np.isnan(c))
    scalar = A.summary(column(r, 0))
    assert isinstance(scalar["sharpe"], float) and "beta" not in scalar


def test_returns_transforms_match_empyrical() -> None:
    prices = np.cumprod(1 + matrix(50, 3, seed=1).clip(-0.5, 0.5).__abs__() * 0.1, axis=0) * 100
    _close(A.simple_returns(prices), ep.simple_returns(prices))
    _close(A.log_returns(prices), np.log(prices[1:] / prices[:-1]))
    r = matrix(60, 3, seed=2)
    _close(A.cum_returns(r), ep.cum_returns(r.copy()))
    _close(A.cum_returns(r, 100.0), ep.cum_returns(r.copy(), 100.0))
    _close(A.drawdown_series(r[:, 0]), ep.stats.drawdown_series(r[:, 0].copy()))


@pytest.mark.parametrize("window", [10, 63])
def test_rolling_match_empyrical(window: int) -> None:
    r = matrix(200, 2, seed=5)
    c, b = r[:, 0], BENCH[:200]
    _close(A.rolling_sharpe(c, window)[window - 1:], ep.roll_sharpe_ratio(c, window))
    _close(A.rolling_volatility(c, window)[window - 1:], ep.roll_annual_volatility(c, window))
    assert np.isnan(A.rolling_sharpe(c, window)[: window - 1]).all()
    want = ep.roll_beta(pd.Series(c), pd.Series(b), window).to_numpy()
    got = A.rolling_beta(c, b, window)
    _close(got[window - 1:], want[-(len(c) - window + 1):])
    two = A.rolling_sharpe(r, window)
    _close(two[:, 1], A.rolling_sharpe(r[:, 1], window))


def test_drawdown_durations_hand_worked() -> None:
    # value path 1 -> 1.1 -> 0.99 -> 1.089 -> 1.2 -> 1.08 -> 1.08: a 2-period drawdown, then 2 periods under
    r = np.array([0.1, -0.1, 0.1, 1.2 / 1.089 - 1, -0.1, 0.0])
    longest, current = A.drawdown_durations(r)
    assert (longest, current) == (2, 2)
    cols = np.column_stack([r, np.r_[np.nan, np.nan, 0.01, 0.01, -0.02, 0.03]])
    lo, cu = A.drawdown_durations(cols)
    assert lo.tolist() == [2, 1] and cu.tolist() == [2, 0]


def test_periods_per_year_for_timeframes() -> None:
    day = 86_400 * 10**9
    assert A.periods_per_year_for(day) == 252
    assert A.periods_per_year_for(7 * day) == 52
    assert A.periods_per_year_for(30 * day) == 12
    assert A.periods_per_year_for(3600 * 10**9) == pytest.approx(252 * 6.5)
    assert A.periods_per_year_for(60 * 10**9) == pytest.approx(252 * 6.5 * 60)


def test_monthly_and_annual_tables_match_empyrical_aggregate() -> None:
    idx = pd.date_range("2020-01-01", periods=800, freq="B", tz="UTC")
    r = np.random.default_rng(4).normal(0.0005, 0.01, len(idx))
    r[10] = np.nan
    series = pd.Series(np.nan_to_num(r), index=idx)
    monthly = A.monthly_returns(r, idx.as_unit("ns").asi8)
    want = ep.aggregate_returns(series, "monthly")
    for (year, month), value in want.items():
        _close(monthly["table"][monthly["years"].index(year)][month - 1], value)
    annual = A.annual_returns(r, idx.as_unit("ns").asi8)
    _close(annual["returns"], ep.aggregate_returns(series, "yearly").to_numpy())
    assert annual["years"] == [2020, 2021, 2022, 2023][: len(annual["years"])]


def test_degenerate_inputs_are_nan_like_empyrical() -> None:
    r = np.array([[np.nan, 0.01, 0.0], [np.nan, 0.01, 0.0], [0.02, 0.01, 0.0]])
    sharpe = A.sharpe_ratio(r)
    assert np.isnan(sharpe[0])  # one observation
    assert sharpe[1] == ep.sharpe_ratio(r[:, 1]) == np.inf  # constant positive: zero dispersion
    assert np.isnan(sharpe[2]) and np.isnan(ep.sharpe_ratio(r[:, 2]))
    assert np.isnan(A.calmar_ratio(r[:, 1]))  # no drawdown
    assert np.isnan(A.max_drawdown(np.full((3, 1), np.nan))[0])


# Returns are 0 or at least 1e-6 in size: below that, compounding 1 + r is at float resolution and ratios of
# two such tiny quantities (Calmar) differ between any two correct summation orders.
finite_returns = arrays(np.float64, st.tuples(st.integers(3, 60), st.integers(1, 3)),
                        elements=st.one_of(st.just(0.0), st.floats(1e-6, 0.2), st.floats(-0.2, -1e-6)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=finite_returns, lead=st.integers(0, 2), hole=st.integers(0, 60))
def test_property_core_statistics_match_empyrical(r: np.ndarray, lead: int, hole: int) -> None:
    r = r.copy()
    r[:lead, 0] = np.nan
    if hole < r.shape[0] and hole >= lead:
        r[hole, -1] = np.nan
    out = A.summary(r)
    for j in range(r.shape[1]):
        c = column(r, j)
        if np.isnan(c).all():  # no observation at all: ours is NaN (empyrical answers 0 for some)
            assert np.isnan(out["max_drawdown"][j]) and np.isnan(out["sharpe"][j])
            continue
        for ours_key, want in (("sharpe", ep.sharpe_ratio(c)), ("max_drawdown", ep.max_drawdown(c)),
                               ("annual_return", ep.annual_return(c)),
                               ("annual_volatility", ep.annual_volatility(c)), ("omega", ep.omega_ratio(c)),
                               ("conditional_value_at_risk", ep.conditional_value_at_risk(c)),
                               ("calmar", ep.calmar_ratio(c))):
            got = out[ours_key][j]
            if np.isfinite(want) and abs(want) > 1e6:  # near-zero dispersion: both huge, compare loosely
                assert abs(got) > 1e5
                continue
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-10, equal_nan=True,
                                       err_msg=f"{ours_key} column {j}")
