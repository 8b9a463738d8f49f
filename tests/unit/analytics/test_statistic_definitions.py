"""One definition per statistic across the platform (docs/conventions.md, "Quantile and moment definitions").

- Historical VaR is the lower empirical quantile (numpy ``method="inverted_cdf"``: the k-th worst loss,
  ``k = ceil(T a)``) in the Risk engine (``nautilus.risk.measures``) and in analytics (default), and CVaR the
  mean of those k; analytics' ``quantile_method="linear"`` is empyrical's (numpy's default).
- Skewness and excess kurtosis are bias-corrected by default (scipy ``bias=False``), the moment estimators
  under ``*_biased``, in analytics and in the Risk engine's reported moments.
Independent references: numpy's percentile methods, scipy.stats, empyrical.
"""

from __future__ import annotations

import math
import warnings

import empyrical as ep
import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nautilus import analytics as A
from nautilus.risk import measures as rm

samples = arrays(np.float64, st.integers(1, 120), elements=st.floats(-0.5, 0.5, allow_subnormal=False))
cutoffs = st.sampled_from([0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 1 / 3])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=samples, a=cutoffs)
def test_historical_var_is_one_definition_in_risk_and_analytics(x: np.ndarray, a: float) -> None:
    want = float(np.percentile(x, 100 * a, method="inverted_cdf"))
    k = max(1, math.ceil(len(x) * a - 1e-9))
    tail = np.sort(x)[:k]
    # numpy's inverted_cdf is the k-th smallest except where T a is an integer only up to rounding noise (the
    # 1e-9 guard makes 20 * 0.05 one observation, not two): the k-th smallest is the definition
    assert A.value_at_risk(x, a) == tail[-1]
    if abs(len(x) * a - round(len(x) * a)) > 1e-6:
        assert tail[-1] == want
    assert rm.historical_var(x, 1 - a) == -tail[-1]
    assert A.conditional_value_at_risk(x, a) == pytest.approx(tail.mean(), rel=1e-12, abs=1e-15)
    assert rm.historical_cvar(x, 1 - a) == pytest.approx(-A.conditional_value_at_risk(x, a), rel=1e-12, abs=1e-15)
    # the linear method is numpy's default and empyrical's
    lin = A.value_at_risk(x, a, "linear")
    assert lin == pytest.approx(float(np.percentile(x, 100 * a)), rel=1e-12, abs=1e-15)
    assert lin == pytest.approx(float(ep.value_at_risk(x, a)), rel=1e-12, abs=1e-15)
    assert A.conditional_value_at_risk(x, a, "linear") == pytest.approx(float(ep.conditional_value_at_risk(x, a)),
                                                                        rel=1e-12, abs=1e-15)


def test_hand_worked_var_and_the_methods_named() -> None:
    x = np.arange(1, 21, dtype=float) - 10.5  # -9.5 .. 9.5, 20 values
    assert A.value_at_risk(x, 0.05) == -9.5  # k = ceil(20 * 0.05) = 1
    assert A.value_at_risk(x, 0.05, "linear") == pytest.approx(-9.5 + 0.95)  # 19 * 0.05 = 0.95 of the way
    assert A.value_at_risk(x, 0.1) == -8.5 and A.conditional_value_at_risk(x, 0.1) == -9.0
    out = rm.var_cvar(x[:, None], [1.0], 0.9, method="historical")
    assert out["quantile_method"] == "inverted_cdf" and out["var"] == pytest.approx(8.5)
    with pytest.raises(ValueError, match="quantile_method"):
        A.value_at_risk(x, 0.05, "nearest")
    s = A.summary(x, quantile_method="linear")
    assert s["value_at_risk"] == A.value_at_risk(x, 0.05, "linear")


moment_samples = arrays(np.float64, st.integers(0, 80),
                        elements=st.integers(-2000, 2000).map(lambda v: v * 1e-4))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=moment_samples)
def test_skew_and_kurtosis_match_scipy_both_conventions(x: np.ndarray) -> None:
    n = len(x)
    constant = n == 0 or (x == x[0]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {
            "skew": ss.skew(x, bias=False) if n > 2 and not constant else np.nan,
            "excess_kurtosis": ss.kurtosis(x, bias=False) if n > 3 and not constant else np.nan,
            "skew_biased": ss.skew(x) if not constant else np.nan,
            "excess_kurtosis_biased": ss.kurtosis(x) if not constant else np.nan,
        }
    got = {"skew": A.skew(x), "excess_kurtosis": A.excess_kurtosis(x), "skew_biased": A.skew(x, bias=True),
           "excess_kurtosis_biased": A.excess_kurtosis(x, bias=True)}
    summary = A.summary(x)
    moments = rm.sample_moments(x)
    for key, want in ref.items():
        np.testing.assert_allclose(got[key], want, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=key)
        np.testing.assert_allclose(summary[key], want, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=key)
        if not (constant and key.endswith("_biased")):  # Cornish-Fisher reads a constant sample as normal (0)
            np.testing.assert_allclose(moments[key], want, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=key)


def test_moments_with_nans_are_over_the_observations() -> None:
    x = np.array([np.nan, 0.01, -0.02, 0.05, np.nan, 0.003, -0.04])
    obs = x[~np.isnan(x)]
    assert A.skew(x) == pytest.approx(ss.skew(obs, bias=False))
    assert A.excess_kurtosis(x) == pytest.approx(ss.kurtosis(obs, bias=False))
    assert np.isnan(A.skew([0.01, 0.02])) and np.isnan(A.excess_kurtosis([0.01, 0.02, 0.03]))


def test_cornish_fisher_reply_names_both_moment_conventions() -> None:
    x = np.random.default_rng(2).standard_t(4, 500) * 0.01
    out = rm.var_cvar(x[:, None], [1e6], 0.99, method="cornish_fisher")
    assert out["skew"] == pytest.approx(ss.skew(x, bias=False))
    assert out["skew_biased"] == pytest.approx(ss.skew(x))
    assert out["excess_kurtosis"] == pytest.approx(ss.kurtosis(x, bias=False))
    assert out["excess_kurtosis_biased"] == pytest.approx(ss.kurtosis(x))
    assert "biased" in out["moments"]


# -- missing values in the portfolio estimators: an explicit nan_policy -------------------------------------------
def _with_holes(seed: int = 4) -> np.ndarray:
    r = np.random.default_rng(seed).normal(0.0005, 0.01, (60, 3))
    r[[3, 17, 40], 1] = np.nan
    r[[5, 17], 2] = np.nan
    return r


def test_estimators_refuse_nan_by_default_naming_the_column() -> None:
    from nautilus.core.errors import InvalidInput
    from nautilus.portfolio import estimators as est

    r = _with_holes()
    for fn in (est.sample_cov, est.mean_returns, est.ledoit_wolf_cov):
        with pytest.raises(InvalidInput, match="'asset_1' \\(column 1\\) have 3 missing") as err:
            fn(r)
        assert err.value.field == "returns"
    with pytest.raises(InvalidInput, match="'B'"):
        est.as_returns(r, ["A", "B", "C"])
    with pytest.raises(InvalidInput) as err:
        est.sample_cov(r, nan_policy="listwise")
    assert err.value.field == "nan_policy"


def test_pairwise_equals_pandas_and_drop_equals_numpy_on_complete_rows() -> None:
    import pandas as pd

    from nautilus.portfolio import estimators as est

    r = _with_holes()
    np.testing.assert_allclose(est.sample_cov(r, 1.0, "pairwise"), pd.DataFrame(r).cov().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(est.mean_returns(r, 1.0, "pairwise"), pd.DataFrame(r).mean().to_numpy(), rtol=1e-12)
    complete = r[~np.isnan(r).any(axis=1)]
    np.testing.assert_allclose(est.sample_cov(r, 252.0, "drop"), np.cov(complete, rowvar=False) * 252, rtol=1e-12)
    np.testing.assert_allclose(est.mean_returns(r, 252.0, "drop"), complete.mean(axis=0) * 252, rtol=1e-12)
    assert est.ledoit_wolf_cov(r, 252.0, "drop").shape == (3, 3)
    clean = np.nan_to_num(r)
    np.testing.assert_allclose(est.sample_cov(clean, 1.0, "pairwise"), np.cov(clean, rowvar=False), rtol=1e-12)


def test_optimizer_takes_the_nan_policy_and_names_it() -> None:
    from nautilus.core.errors import InvalidInput
    from nautilus.portfolio import optimize

    r = _with_holes()
    with pytest.raises(InvalidInput, match="missing value"):
        optimize("min_variance", r)
    out = optimize("min_variance", r, nan_policy="drop")
    assert out.params["nan_policy"] == "drop" and sum(out.weights.values()) == pytest.approx(1.0)
    assert optimize("min_variance", r, nan_policy="pairwise").params["nan_policy"] == "pairwise"
    with pytest.raises(InvalidInput) as err:
        optimize("min_cvar", r, nan_policy="pairwise")
    assert err.value.field == "nan_policy"
