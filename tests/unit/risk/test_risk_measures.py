"""Risk measures and VaR decomposition against independent oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from nautilus.core.errors import InvalidInput
from nautilus.risk import decomposition as dec
from nautilus.risk import measures as rm


def _returns(t: int = 500, n: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * 0.01
    return rng.normal(size=(t, n)) @ a.T


W3 = np.array([1_000_000.0, -250_000.0, 500_000.0])

# --------------------------------------------------------------------------------------------------
# historical: hand-worked 20-observation example
# --------------------------------------------------------------------------------------------------

PNL20 = [3, -5, 2, -1, 7, -12, 4, 0, -3, 6, -8, 1, 5, -2, 9, -20, 2, -6, 3, -4]
# losses (= -pnl) sorted worst first:
#   20, 12, 8, 6, 5, 4, 3, 2, 1, 0, -1, -2, -2, -3, -3, -4, -5, -6, -7, -9
# k = ceil(20 * (1 - c)):
#   c = 0.95 -> k = 1: VaR = 20, CVaR = 20
#   c = 0.90 -> k = 2: VaR = 12, CVaR = (20 + 12) / 2 = 16
#   c = 0.85 -> k = 3: VaR = 8,  CVaR = (20 + 12 + 8) / 3 = 40 / 3
#   c = 0.80 -> k = 4: VaR = 6,  CVaR = (20 + 12 + 8 + 6) / 4 = 11.5
HAND = [(0.95, 20.0, 20.0), (0.90, 12.0, 16.0), (0.85, 8.0, 40.0 / 3.0), (0.80, 6.0, 11.5)]


@pytest.mark.parametrize(("c", "var", "cvar"), HAND)
def test_historical_hand_worked(c, var, cvar):
    assert rm.historical_var(PNL20, c) == pytest.approx(var, abs=1e-12)
    assert rm.historical_cvar(PNL20, c) == pytest.approx(cvar, abs=1e-12)
    # equal explicit weights follow the same rule
    assert rm.historical_var_cvar(PNL20, c, weights=np.ones(20)) == pytest.approx((var, cvar), abs=1e-12)


def test_var_cvar_historical_entry_and_sqrt_horizon():
    r = np.array(PNL20, dtype=float)[:, None] / 100.0
    out = rm.var_cvar(r, [100.0], confidence=0.9, method="historical")
    assert out["var"] == pytest.approx(12.0) and out["cvar"] == pytest.approx(16.0)
    out4 = rm.var_cvar(r, [100.0], confidence=0.9, horizon=4, method="historical")
    assert out4["var"] == pytest.approx(24.0) and out4["cvar"] == pytest.approx(32.0)


def test_ew_historical_lam_one_equals_plain():
    r = _returns(250)
    for c in (0.9, 0.95, 0.99, 0.975):
        a = rm.var_cvar(r, W3, c, method="historical")
        b = rm.var_cvar(r, W3, c, method="historical_ew", lam=1.0)
        assert b["var"] == pytest.approx(a["var"], rel=1e-12)
        assert b["cvar"] == pytest.approx(a["cvar"], rel=1e-12)


def test_ew_historical_weighted_quantile_by_hand():
    # 4 observations, lam = 0.5: weights oldest->newest 1/8, 2/8, 4/8 ... normalised over 1+2+4+8 = 15
    pnl = [-10.0, -4.0, -6.0, 1.0]  # losses 10 (w 1/15), 4 (w 2/15), 6 (w 4/15), -1 (w 8/15)
    w = rm.ew_weights(4, 0.5)
    assert w == pytest.approx(np.array([1, 2, 4, 8]) / 15)
    # c = 0.8 (a = 0.2): cum weights in loss order 10 -> 1/15, 6 -> 5/15 >= 0.2 -> VaR = 6
    v, cv = rm.historical_var_cvar(pnl, 0.8, weights=w)
    assert v == pytest.approx(6.0)
    assert cv == pytest.approx((10 * 1 + 6 * 4) / 5)
    assert rm.historical_var_cvar(pnl, 0.8, lam=0.5) == pytest.approx((v, cv))
    r = np.array(pnl)[:, None]
    out = rm.var_cvar(r, [1.0], 0.8, method="historical_ew", lam=0.5)
    assert (out["var"], out["cvar"]) == pytest.approx((v, cv))


# --------------------------------------------------------------------------------------------------
# covariance
# --------------------------------------------------------------------------------------------------


def test_sample_covariance_matches_numpy():
    r = _returns(100)
    assert rm.covariance(r) == pytest.approx(np.cov(r.T, ddof=1), rel=1e-12)


def test_ewma_covariance_equals_loop_recursion():
    r = _returns(60)
    lam = 0.94
    acc = np.zeros((3, 3))
    for t in range(r.shape[0]):
        acc = lam * acc + (1 - lam) * np.outer(r[t], r[t])
    expect = acc / (1 - lam ** r.shape[0])
    got = rm.covariance(r, "ewma", lam)
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=0)
    assert np.allclose(got, got.T)
    assert np.linalg.eigvalsh(got).min() >= -1e-15


# --------------------------------------------------------------------------------------------------
# parametric
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("h", [1, 10])
@pytest.mark.parametrize("c", [0.95, 0.99])
def test_normal_closed_form(c, h):
    r = _returns(300)
    s = np.cov(r.T, ddof=1)
    sig = math.sqrt(W3 @ s @ W3) * math.sqrt(h)
    z = stats.norm.ppf(c)
    out = rm.var_cvar(r, W3, c, h, method="normal")
    assert out["var"] == pytest.approx(z * sig, rel=1e-10)
    # oracle CVaR: E[L | L >= VaR] by numerical integration of the normal loss density
    tail = integrate.quad(lambda x: x * stats.norm.pdf(x, scale=sig), z * sig, np.inf)[0] / (1 - c)
    assert out["cvar"] == pytest.approx(tail, rel=1e-7)
    # with a mean: VaR = z sigma sqrt(h) - mu h
    mu = r.mean(axis=0) @ W3 * h
    out_m = rm.var_cvar(r, W3, c, h, method="normal", mean="sample")
    assert out_m["var"] == pytest.approx(z * sig - mu, rel=1e-10)
    assert out_m["cvar"] == pytest.approx(tail - mu, rel=1e-7)


def test_normal_with_given_and_ewma_covariance():
    r = _returns(200)
    s = rm.covariance(r, "ewma", 0.97)
    a = rm.var_cvar(r, W3, 0.99, method="normal", cov_method="ewma", lam=0.97)
    b = rm.var_cvar(r, W3, 0.99, method="normal", covariance=s)
    assert a["var"] == pytest.approx(b["var"], rel=1e-12)
    assert a["var"] == pytest.approx(stats.norm.ppf(0.99) * math.sqrt(W3 @ s @ W3), rel=1e-12)


@pytest.mark.parametrize("nu", [3.0, 5.0, 12.0])
def test_student_t_closed_form_variance_matched(nu):
    c, h, sigma = 0.99, 5, 12_345.0
    scale = sigma * math.sqrt(h) * math.sqrt((nu - 2) / nu)
    dist = stats.t(nu, scale=scale)
    assert dist.std() == pytest.approx(sigma * math.sqrt(h), rel=1e-12)  # variance matching
    var, cvar = rm.student_t_var_cvar(sigma, c, nu, h)
    assert var == pytest.approx(dist.ppf(c), rel=1e-10)
    tail = dist.expect(lambda x: x, lb=dist.ppf(c)) / (1 - c)
    assert cvar == pytest.approx(tail, rel=1e-6)
    r = _returns(300)
    out = rm.var_cvar(r, W3, c, h, method="t", nu=nu)
    sig = math.sqrt(W3 @ np.cov(r.T) @ W3)
    assert out["var"] == pytest.approx(rm.student_t_var_cvar(sig, c, nu, h)[0], rel=1e-12)


# --------------------------------------------------------------------------------------------------
# Cornish-Fisher
# --------------------------------------------------------------------------------------------------


def test_cornish_fisher_reduces_to_normal():
    for c in (0.9, 0.95, 0.99):
        z = stats.norm.ppf(1 - c)
        assert float(rm.cornish_fisher_quantile(z, 0.0, 0.0)) == pytest.approx(z)
        n_var, n_cvar = rm.normal_var_cvar(2.5, c, 3, 0.1)
        assert rm.cornish_fisher_var(2.5, c, 0.0, 0.0, 3, 0.1) == pytest.approx(n_var, rel=1e-12)
        assert rm.cornish_fisher_cvar(2.5, c, 0.0, 0.0, 3, 0.1) == pytest.approx(n_cvar, rel=1e-10)


def test_cornish_fisher_symmetric_sample_zero_skew_kurt():
    # A symmetric sample has zero skew.  Mass 2/3 at 0 and 1/6 at each of +-b gives
    # m2 = b^2 / 3 and m4 = b^4 / 3, so m4 / m2^2 = 3: zero excess kurtosis.
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0, -1.0] * 20) / 100
    sk, ku = rm._sample_skew_kurt(x)
    assert abs(sk) < 1e-12 and abs(ku) < 1e-12
    out = rm.var_cvar(x[:, None], [1e6], 0.99, method="cornish_fisher")
    norm = rm.var_cvar(x[:, None], [1e6], 0.99, method="normal")
    assert out["var"] == pytest.approx(norm["var"], rel=1e-9)
    assert out["cvar"] == pytest.approx(norm["cvar"], rel=1e-9)


def test_cornish_fisher_cvar_is_tail_average_of_cf_quantile():
    sigma, c, s, k = 1.7, 0.975, -0.4, 1.2
    a = 1 - c
    integral = integrate.quad(
        lambda u: float(rm.cornish_fisher_quantile(stats.norm.ppf(u), s, k)), 0, a, limit=200
    )[0]
    assert rm.cornish_fisher_cvar(sigma, c, s, k) == pytest.approx(-sigma * integral / a, rel=1e-6)
    assert rm.cornish_fisher_cvar(sigma, c, s, k) >= rm.cornish_fisher_var(sigma, c, s, k)


# --------------------------------------------------------------------------------------------------
# filtered historical simulation
# --------------------------------------------------------------------------------------------------


def test_fhs_iid_normal_close_to_normal_var():
    rng = np.random.default_rng(7)
    r = rng.normal(scale=0.01, size=(1500, 2))
    w = np.array([1e6, 5e5])
    fhs = rm.var_cvar(r, w, 0.95, method="fhs")
    nor = rm.var_cvar(r, w, 0.95, method="normal")
    assert fhs["var"] == pytest.approx(nor["var"], rel=0.2)
    assert fhs["cvar"] == pytest.approx(nor["cvar"], rel=0.2)
    assert fhs["n_scenarios"] == 1500
    assert len(fhs["fits"]) == 2
    sim = rm.var_cvar(r, w, 0.95, horizon=5, method="fhs", n_sims=4000, seed=1)
    assert sim["var"] == pytest.approx(nor["var"] * math.sqrt(5), rel=0.25)


def test_fhs_reacts_to_recent_volatility():
    rng = np.random.default_rng(11)
    r = np.concatenate([rng.normal(scale=0.005, size=(900, 1)), rng.normal(scale=0.03, size=(100, 1))])
    fhs = rm.var_cvar(r, [1e6], 0.99, method="fhs")
    hist = rm.var_cvar(r, [1e6], 0.99, method="historical")
    assert fhs["var"] > 1.3 * hist["var"]
    assert fhs["fits"][0]["model"] == "garch"


def test_fhs_falls_back_when_fit_fails():
    r = np.zeros((50, 2))
    r[:, 1] = np.random.default_rng(0).normal(scale=0.01, size=50)
    scen, fits = rm.fhs_scenarios(r)
    assert fits[0]["model"] == "ewma_fallback" and "reason" in fits[0]
    assert np.all(np.isfinite(scen))
    assert np.all(scen[:, 0] == 0)


# --------------------------------------------------------------------------------------------------
# decomposition
# --------------------------------------------------------------------------------------------------


def test_parametric_components_sum_exactly():
    r = _returns(300)
    s = np.cov(r.T)
    out = dec.parametric_decomposition(W3, s, 0.99, horizon=10)
    total = rm.var_cvar(r, W3, 0.99, 10, method="normal")
    assert out["var"] == pytest.approx(total["var"], rel=1e-12)
    assert sum(out["component_var"]) == pytest.approx(out["var"], rel=1e-12)
    assert sum(out["component_cvar"]) == pytest.approx(out["cvar"], rel=1e-12)
    # marginal = z sqrt(h) (S w)_i / sigma, checked against a finite difference
    z = stats.norm.ppf(0.99)
    expect = z * math.sqrt(10) * (s @ W3) / math.sqrt(W3 @ s @ W3)
    assert out["marginal_var"] == pytest.approx(expect, rel=1e-12)


def test_parametric_components_with_mean_sum_exactly():
    r = _returns(300)
    mu = r.mean(axis=0)
    out = dec.parametric_decomposition(W3, np.cov(r.T), 0.95, 2, mean=mu)
    assert sum(out["component_var"]) == pytest.approx(out["var"], rel=1e-12)
    assert out["var"] == pytest.approx(rm.var_cvar(r, W3, 0.95, 2, method="normal", mean=mu)["var"])


def test_scenario_components():
    r = _returns(1000)
    p = r * W3
    out = dec.scenario_decomposition(p, 0.99)
    assert out["var"] == pytest.approx(rm.historical_var(r @ W3, 0.99))
    assert out["cvar"] == pytest.approx(rm.historical_cvar(r @ W3, 0.99))
    assert sum(out["component_cvar"]) == pytest.approx(out["cvar"], rel=1e-12)
    assert out["cvar_residual"] == pytest.approx(0.0, abs=1e-6)
    assert out["tail_size"] == 10
    # default: the component at the VaR scenario, exactly additive
    assert out["allocation"] == {"var": "scenario_at_quantile", "cvar": "tail_mean"}
    assert math.fsum(out["component_var"]) == pytest.approx(out["var"], rel=1e-12)
    assert abs(out["var_residual"]) <= 1e-9 * out["var"]
    # kernel component VaR (opt-in): approximately additive, close to the parametric Euler split on normal data
    out = dec.scenario_decomposition(p, 0.99, var_allocation="kernel")
    assert out["allocation"]["var"] == "kernel"
    assert abs(out["var_residual"]) < 0.1 * out["var"]
    assert out["var_residual"] == pytest.approx(out["var"] - sum(out["component_var"]))
    par = dec.parametric_decomposition(W3, np.cov(r.T), 0.99)
    np.testing.assert_allclose(out["component_var"], par["component_var"], atol=0.2 * par["var"])
    # weighted tail also sums exactly
    ow = dec.scenario_decomposition(p, 0.95, weights=rm.ew_weights(1000, 0.995))
    assert sum(ow["component_cvar"]) == pytest.approx(ow["cvar"], rel=1e-12)


def test_incremental_var_close_to_first_order():
    r = _returns(400)
    dw = np.array([5_000.0, 2_000.0, -3_000.0])
    out = dec.incremental_var(r, W3, dw, 0.99, method="normal")
    assert out["incremental_var"] == pytest.approx(out["first_order_var"], rel=1e-2)
    assert out["var_after"] == pytest.approx(rm.var_cvar(r, W3 + dw, 0.99, method="normal")["var"])
    cf = dec.incremental_var(r, W3, dw, 0.99, method="cornish_fisher")
    assert cf["incremental_var"] == pytest.approx(cf["first_order_var"], rel=5e-2)
    # historical: piecewise linear, a tiny dw keeps the same VaR scenario -> exact first order
    hist = dec.incremental_var(r, W3, dw * 1e-4, 0.99, method="historical")
    assert hist["incremental_var"] == pytest.approx(hist["first_order_var"], rel=1e-4)


# --------------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------------

_R = _returns(250, seed=3)
_PROP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_methods = st.sampled_from(["historical", "historical_ew", "normal", "t", "cornish_fisher"])
_conf = st.floats(0.8, 0.995)


@_PROP
@given(method=_methods, c1=_conf, c2=_conf)
def test_var_monotone_in_confidence(method, c1, c2):
    lo, hi = sorted((c1, c2))
    a = rm.var_cvar(_R, W3, lo, method=method)
    b = rm.var_cvar(_R, W3, hi, method=method)
    assert b["var"] >= a["var"] - 1e-9 * abs(a["var"])
    assert b["cvar"] >= a["cvar"] - 1e-9 * abs(a["cvar"])


@_PROP
@given(method=_methods, c=_conf, k=st.floats(0.01, 100.0))
def test_cvar_ge_var_and_positive_homogeneity(method, c, k):
    a = rm.var_cvar(_R, W3, c, method=method)
    assert a["cvar"] >= a["var"] - 1e-9 * abs(a["var"])
    b = rm.var_cvar(_R, k * W3, c, method=method)
    assert b["var"] == pytest.approx(k * a["var"], rel=1e-9)
    assert b["cvar"] == pytest.approx(k * a["cvar"], rel=1e-9)


@_PROP
@given(
    w=st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3),
    seed=st.integers(0, 1000),
    c=_conf,
    h=st.integers(1, 20),
)
def test_parametric_euler_sum_property(w, seed, c, h):
    w = np.array(w)
    if np.abs(w).max() < 1.0:
        w = w + 1.0
    a = np.random.default_rng(seed).normal(size=(3, 3))
    out = dec.parametric_decomposition(w, a @ a.T * 1e-4, c, h)
    assert sum(out["component_var"]) == pytest.approx(out["var"], rel=1e-9, abs=1e-9)
    assert sum(out["component_cvar"]) == pytest.approx(out["cvar"], rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


def _field(fn, *args, **kwargs) -> str | None:
    with pytest.raises(InvalidInput) as ei:
        fn(*args, **kwargs)
    return ei.value.field


@pytest.mark.parametrize("c", [0, 1, 1.5, -0.1, float("nan"), "x", True])
def test_bad_confidence(c):
    assert _field(rm.var_cvar, _R, W3, c) == "confidence"
    assert _field(rm.historical_var, PNL20, c) == "confidence"


@pytest.mark.parametrize("h", [0, -1, 1.5, float("inf")])
def test_bad_horizon(h):
    assert _field(rm.var_cvar, _R, W3, 0.99, h, method="normal") == "horizon"


def test_bad_returns_positions_and_params():
    bad = _R.copy()
    bad[3, 1] = np.nan
    assert _field(rm.var_cvar, bad, W3) == "returns"
    assert _field(rm.var_cvar, _R[:, 0], W3[:1]) == "returns"
    assert _field(rm.covariance, _R[:1]) == "returns"
    assert _field(rm.var_cvar, _R, W3[:2]) == "positions"
    assert _field(rm.var_cvar, _R, [1.0, np.inf, 2.0]) == "positions"
    assert _field(rm.var_cvar, _R, W3, method="t", nu=2.0) == "nu"
    assert _field(rm.var_cvar, _R, W3, method="historical_ew", lam=0.0) == "lam"
    assert _field(rm.covariance, _R, "ewma", 1.2) == "lam"
    assert _field(rm.historical_var, PNL20, 0.9, weights=np.ones(3)) == "weights"
    assert _field(rm.historical_var, PNL20, 0.9, weights=-np.ones(20)) == "weights"


def test_bad_explicit_covariance():
    nonsym = np.array([[1.0, 0.5, 0.0], [0.1, 1.0, 0.0], [0.0, 0.0, 1.0]])
    nonpsd = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    for cov in (nonsym, nonpsd, np.eye(2), np.full((3, 3), np.nan)):
        assert _field(rm.var_cvar, _R, W3, method="normal", covariance=cov) == "covariance"
        assert _field(dec.parametric_decomposition, W3, cov) == "covariance"
    assert _field(dec.parametric_decomposition, W3[:2], np.eye(3)) == "covariance"
    assert _field(dec.parametric_decomposition, [[1.0, 2.0]], np.eye(2)) == "positions"
    assert _field(dec.parametric_decomposition, [1.0, np.nan], np.eye(2)) == "positions"
    assert _field(dec.parametric_decomposition, ["a", "b"], np.eye(2)) == "positions"
    assert _field(rm.var_cvar, _R, W3, method="nope") == "method"
    assert _field(dec.incremental_var, _R, W3, W3[:2]) == "positions"
