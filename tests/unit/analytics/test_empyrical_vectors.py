"""nautilus.analytics against empyrical-reloaded (the oracle, called live) on empyrical's own test vectors.

The fixtures are empyrical-reloaded's (``tests/conftest.py``: ``mixed_returns`` with its leading NaN,
``positive_returns``, ``negative_returns``, ``flat_line_1``, ``one_return``, ``empty_returns``, ``udu_returns``,
noise series, lines, sparse series with NaNs sprinkled in); a few published expected values of its
``tests/test_stats.py`` are checked as numbers too. Edge cases (empties, all zeros, a total loss, an infinite
return, integer prices above 2**53) are checked against empyrical's answer. The deliberate differences are
named where they are tested: VaR ignores NaNs (empyrical's ``value_at_risk`` is NaN with any), and a series
with no observation at all has NaN statistics (empyrical answers 0 for a few).
"""

from __future__ import annotations

import warnings

import empyrical as ep
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nautilus import analytics as A

nan = np.nan
_rand = np.random.RandomState(1337)
_noise = _rand.normal(0, 0.001, 1000)
_noise_uniform = _rand.uniform(-0.01, 0.01, 1000)
_sparse = _noise.copy()
_sparse[_rand.choice(1000, 7, replace=False)] = nan
_sparse_flat = np.full(1000, 0.01)
_sparse_flat[_rand.choice(1000, 5, replace=False)] = nan

FIXTURES: dict[str, np.ndarray] = {
    "simple_benchmark": np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]) / 100,
    "positive_returns": np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100,
    "negative_returns": np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100,
    "all_negative_returns": np.array([-2.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100,
    "mixed_returns": np.array([nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100,
    "weekly_returns": np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100,
    "one_return": np.array([0.01]),
    "udu_returns": np.array([10, -10, 10]) / 100,
    "empty_returns": np.array([], dtype=np.float64),
    "noise": _noise,
    "inv_noise": -_noise,
    "noise_uniform": _noise_uniform,
    "flat_line_0": np.zeros(1000),
    "flat_line_1": np.full(9, 0.01),
    "flat_line_1_tz": np.linspace(0.01, 0.01, 1000),
    "pos_line": np.linspace(0, 1, 1000),
    "neg_line": np.linspace(0, -1, 1000),
    "sparse_noise": _sparse,
    "sparse_flat_line_1_tz": _sparse_flat,
    "leading_nans": np.r_[nan, nan, nan, _noise[:50]],
    "total_loss": np.array([0.05, -1.0, 0.02, 0.01]),
    "with_inf": np.array([0.01, np.inf, -0.02, 0.03]),
    "all_nan": np.array([nan, nan, nan]),
}
BENCH = FIXTURES["simple_benchmark"]


def _ep(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _drop(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


# name -> (ours, empyrical); each takes the series
CASES = {
    "cum_returns_final": (A.cum_returns_final, ep.cum_returns_final),
    "annual_return": (A.annual_return, ep.annual_return),
    "annual_return_weekly": (lambda r: A.annual_return(r, 52), lambda r: ep.annual_return(r, "weekly")),
    "annual_return_monthly": (lambda r: A.annual_return(r, 12), lambda r: ep.annual_return(r, "monthly")),
    "cagr": (A.annual_return, ep.cagr),
    "annual_volatility": (A.annual_volatility, ep.annual_volatility),
    "sharpe": (A.sharpe_ratio, ep.sharpe_ratio),
    "sharpe_rf": (lambda r: A.sharpe_ratio(r, 0.001), lambda r: ep.sharpe_ratio(r, 0.001)),
    "sortino": (A.sortino_ratio, ep.sortino_ratio),
    "sortino_req": (lambda r: A.sortino_ratio(r, 0.001), lambda r: ep.sortino_ratio(r, 0.001)),
    "downside_risk": (A.downside_risk, ep.downside_risk),
    "downside_risk_req": (lambda r: A.downside_risk(r, 0.1), lambda r: ep.downside_risk(r, 0.1)),
    "calmar": (A.calmar_ratio, ep.calmar_ratio),
    "calmar_weekly": (lambda r: A.calmar_ratio(r, 52), lambda r: ep.calmar_ratio(r, "weekly")),
    "omega": (A.omega_ratio, ep.omega_ratio),
    "omega_req": (lambda r: A.omega_ratio(r, 0.0, 10.0), lambda r: ep.omega_ratio(r, 0.0, 10.0)),
    "max_drawdown": (A.max_drawdown, ep.max_drawdown),
    "stability": (A.stability, ep.stability_of_timeseries),
    "tail_ratio": (A.tail_ratio, ep.tail_ratio),
    # deliberate difference: NaNs are ignored (empyrical's value_at_risk is NaN when any is present)
    "value_at_risk": (lambda r: A.value_at_risk(r, quantile_method="linear"), lambda r: ep.value_at_risk(_drop(r))),
    "value_at_risk_1pct": (lambda r: A.value_at_risk(r, 0.01, "linear"), lambda r: ep.value_at_risk(_drop(r), 0.01)),
    "conditional_value_at_risk": (lambda r: A.conditional_value_at_risk(r, quantile_method="linear"),
                                  ep.conditional_value_at_risk),
}
# deliberate difference: a series without any observation has NaN statistics (empyrical: 0 for these)
NO_OBSERVATION_ZERO = {"cum_returns_final", "annual_return", "annual_return_weekly", "annual_return_monthly", "cagr",
                       "max_drawdown"}


def _same(got, want, name: str) -> None:
    got, want = float(got), float(want)
    if np.isnan(want) or np.isnan(got):
        assert np.isnan(got) and np.isnan(want), f"{name}: ours {got}, empyrical {want}"
    elif np.isinf(want):
        assert got == want, f"{name}: ours {got}, empyrical {want}"
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("fixture", list(FIXTURES))
@pytest.mark.parametrize("name", list(CASES))
def test_statistic_equals_empyrical_on_its_fixtures(name: str, fixture: str) -> None:
    ours, oracle = CASES[name]
    r = FIXTURES[fixture]
    got = ours(r.copy())  # never raises, empty included
    if fixture == "all_nan" and name in NO_OBSERVATION_ZERO:
        assert np.isnan(got)
        return
    _same(got, _ep(oracle, r.copy()), f"{name}({fixture})")


@pytest.mark.parametrize("fixture", ["mixed_returns", "simple_benchmark", "positive_returns", "negative_returns",
                                     "noise", "sparse_noise", "flat_line_1"])
@pytest.mark.parametrize("name", ["beta", "alpha", "excess_sharpe"])
def test_benchmark_statistics_equal_empyrical(name: str, fixture: str) -> None:
    r = FIXTURES[fixture]
    b = BENCH if len(r) == len(BENCH) else np.resize(_noise_uniform, len(r))
    ours = {"beta": A.beta, "alpha": A.alpha, "excess_sharpe": A.information_ratio}[name]
    oracle = {"beta": ep.beta, "alpha": ep.alpha, "excess_sharpe": ep.excess_sharpe}[name]
    _same(ours(r.copy(), b.copy()), _ep(oracle, r.copy(), b.copy()), f"{name}({fixture})")


# published values of empyrical-reloaded's tests/test_stats.py
@pytest.mark.parametrize("fn, fixture, want", [
    (lambda r: A.annual_return(r), "mixed_returns", 1.9135925373194231),
    (lambda r: A.annual_return(r, 52), "weekly_returns", 0.24690830513998208),
    (lambda r: A.annual_volatility(r), "mixed_returns", 0.9136465399704637),
    (lambda r: A.annual_volatility(r, 52), "weekly_returns", 0.38851569394870583),
    (lambda r: A.calmar_ratio(r), "mixed_returns", 19.135925373194233),
    (lambda r: A.calmar_ratio(r, 52), "weekly_returns", 2.4690830513998208),
    (lambda r: A.calmar_ratio(r), "one_return", nan),
    (lambda r: A.calmar_ratio(r), "empty_returns", nan),
    (lambda r: A.omega_ratio(r, 0.0, 10.0), "mixed_returns", 0.83354263497557934),
    (lambda r: A.omega_ratio(r, 0.0, -10.0), "mixed_returns", nan),
    (lambda r: A.omega_ratio(r, 0.011), "positive_returns", 1.125),
    (lambda r: A.sharpe_ratio(r), "mixed_returns", 1.7238613961706866),
    (lambda r: A.sharpe_ratio(r), "positive_returns", 52.915026221291804),
    (lambda r: A.sharpe_ratio(r), "negative_returns", -24.406808633910085),
    (lambda r: A.sharpe_ratio(r), "flat_line_1", np.inf),
    (lambda r: A.sharpe_ratio(r), "empty_returns", nan),
    (lambda r: A.downside_risk(r), "mixed_returns", 0.60448325038829653),
    (lambda r: A.downside_risk(r, 0.1), "mixed_returns", 1.7161730681956295),
    (lambda r: A.downside_risk(r, 0.0, 52), "weekly_returns", 0.25888650451930134),
    (lambda r: A.max_drawdown(r), "mixed_returns", -0.1),
    (lambda r: A.max_drawdown(r), "negative_returns", -0.36590730),
    (lambda r: A.max_drawdown(r), "all_negative_returns", -0.378589157),
    (lambda r: A.max_drawdown(r), "udu_returns", -0.10),
    (lambda r: A.max_drawdown(r), "empty_returns", nan),
    (lambda r: A.cum_returns_final(r), "mixed_returns", 0.03893),
    (lambda r: A.cum_returns_final(r), "negative_returns", -0.36590),
    (lambda r: A.cum_returns_final(r), "empty_returns", nan),
])
def test_published_empyrical_values(fn, fixture: str, want: float) -> None:
    got = fn(FIXTURES[fixture].copy())
    if np.isnan(want):
        assert np.isnan(got)
    elif np.isinf(want):
        assert got == want
    else:
        assert got == pytest.approx(want, abs=1e-4 if fixture in ("mixed_returns", "negative_returns")
                                    and abs(want) < 0.5 and len(str(want)) < 9 else 1e-8)


def test_leading_nan_counts_every_row_like_empyrical() -> None:
    r = FIXTURES["mixed_returns"]
    # 9 rows compounded over 9 periods (empyrical's len), not 8 from the first observation (2.3303)
    assert A.annual_return(r) == pytest.approx(1.9135925373194231, rel=1e-12)
    assert A.summary(r)["annual_return"] == pytest.approx(1.9135925373194231, rel=1e-12)
    assert A.summary(r)["periods"] == 9 and A.summary(r)["observations"] == 8
    two = np.column_stack([r, np.r_[0.0, r[1:]]])
    np.testing.assert_allclose(A.annual_return(two), [ep.annual_return(r), ep.annual_return(two[:, 1])])


@pytest.mark.parametrize("fn", [A.value_at_risk, A.conditional_value_at_risk, A.tail_ratio, A.stability, A.skew,
                                A.excess_kurtosis, A.sharpe_ratio, A.annual_return, A.max_drawdown, A.calmar_ratio,
                                A.omega_ratio, A.sortino_ratio, A.cum_returns_final])
@pytest.mark.parametrize("empty", [[], np.empty((0, 3))])
def test_empty_inputs_are_nan_never_an_exception(fn, empty) -> None:
    out = np.asarray(fn(empty), dtype=float)
    assert np.isnan(out).all()


def test_summary_of_empty_and_degenerate_series() -> None:
    out = A.summary([])
    assert all(np.isnan(v) for k, v in out.items() if k not in ("observations", "periods", "max_drawdown_duration",
                                                               "current_drawdown_duration"))
    wide = A.summary(np.empty((0, 3)))
    assert wide["value_at_risk"].shape == (3,) and np.isnan(wide["value_at_risk"]).all()


def test_stability_total_loss_and_all_zeros_are_nan_like_empyrical() -> None:
    loss = [0.05, -1.0, 0.02, 0.01]
    assert np.isnan(_ep(ep.stability_of_timeseries, np.array(loss)))
    assert np.isnan(A.stability(loss))  # was 1.0: a total loss scored as perfectly stable
    assert np.isnan(A.summary(np.array(loss))["stability"])
    assert np.isnan(A.stability(np.zeros(10))) and np.isnan(_ep(ep.stability_of_timeseries, np.zeros(10)))
    assert A.stability(np.full(10, 0.01)) == pytest.approx(1.0)


def test_tail_ratio_with_an_infinite_return_is_nan_like_empyrical() -> None:
    r = FIXTURES["with_inf"]
    assert np.isnan(_ep(ep.tail_ratio, r)) and np.isnan(A.tail_ratio(r))
    assert np.isnan(A.summary(r)["tail_ratio"])


@pytest.mark.parametrize("prices", [
    np.array([2**53 + 1, 2**53 + 3, 2**60 + 7, 2**62], dtype=np.int64),
    np.array([[2**53 + 1, 10], [2**53 + 2, 11], [2**53 + 2, 9]], dtype=np.int64),
    np.array([-(2**62), 2**62, 2**62 - 1], dtype=np.int64),  # a difference above int64: exact through Python ints
    np.array([2**53 + 1, 2**53 + 5], dtype=np.uint64),
])
def test_simple_returns_of_integer_prices_are_exact(prices: np.ndarray) -> None:
    got = A.simple_returns(prices)
    want = np.array([[(int(b) - int(a)) / float(a) for a, b in zip(col[:-1], col[1:], strict=True)]
                     for col in np.atleast_2d(prices.T)]).T.reshape(got.shape)
    np.testing.assert_array_equal(got, want)
    if prices.dtype == np.int64 and prices.min() >= 0:
        np.testing.assert_array_equal(got, ep.simple_returns(prices))
    assert A.simple_returns(np.array([2**53 + 1, 2**53 + 2], dtype=np.int64))[0] > 0  # float64 rounds it to 0


# -- property: every empyrical-claimed function against empyrical on random returns with NaNs ---------------------
returns_with_nans = arrays(np.float64, st.integers(0, 40),
                           elements=st.one_of(st.just(nan), st.just(0.0), st.floats(1e-6, 0.3),
                                              st.floats(-0.3, -1e-6)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=returns_with_nans)
def test_property_every_claimed_function_matches_empyrical(r: np.ndarray) -> None:
    no_obs = np.isnan(r).all()
    for name, (ours, oracle) in CASES.items():
        if no_obs and len(r) and name in NO_OBSERVATION_ZERO:
            assert np.isnan(ours(r.copy()))
            continue
        got, want = float(ours(r.copy())), float(_ep(oracle, r.copy()))
        if np.isfinite(want) and abs(want) > 1e6:  # near-zero dispersion: both huge, rounding decides the size
            assert abs(got) > 1e5, name
            continue
        if np.isnan(want) or np.isnan(got):
            assert np.isnan(got) and np.isnan(want), f"{name}: ours {got}, empyrical {want}, r={r.tolist()}"
        else:
            assert got == pytest.approx(want, rel=1e-7, abs=1e-10), f"{name}: r={r.tolist()}"
