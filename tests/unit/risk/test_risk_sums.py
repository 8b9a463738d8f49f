"""Risk decompositions add up: component VaR/CVaR sum to the reported figures for every method (property
tests over random portfolios), the allocation is named, stress rows (positions and each option line) sum
to the total, and the VaR figures themselves agree with independent numpy/scipy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.risk import decomposition as dec
from nautilus.risk import measures as rm
from nautilus.risk.options import OptionPositions, parse_expiry
from nautilus.risk.stress import apply_shock, reverse_stress, worst_windows

METHODS = ("historical", "historical_ew", "fhs", "normal", "t", "cornish_fisher")
EXPECTED_ALLOCATION = {"normal": "euler", "t": "euler", "cornish_fisher": "euler",
                       "historical": "scenario_at_quantile", "historical_ew": "scenario_at_quantile",
                       "fhs": "scenario_at_quantile"}


def _close(total: float, comps: list[float], rel: float = 1e-9) -> bool:
    """sum(comps) == total to ``rel``, relative to the larger of |total| and the largest |component| (a
    hedged book can have a VaR near zero beside large components: rounding scales with those)."""
    scale = max(abs(total), max((abs(c) for c in comps), default=0.0), 1e-12)
    return abs(math.fsum(comps) - total) <= rel * scale


@st.composite
def portfolios(draw, methods=METHODS):
    n = draw(st.integers(1, 5))
    t = draw(st.integers(60, 250))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    df = draw(st.sampled_from([3.0, 5.0, 30.0]))
    mix = rng.normal(size=(n, n)) * 0.3 + np.eye(n)
    r = (rng.standard_t(df, size=(t, n)) @ mix) * draw(st.sampled_from([0.005, 0.02]))
    w = np.array(draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: abs(x) > 1.0),
                               min_size=n, max_size=n)))
    method = draw(st.sampled_from(methods))
    confidence = draw(st.sampled_from([0.9, 0.95, 0.975, 0.99]))
    horizon = draw(st.sampled_from([1, 5, 10]))
    return r, w, method, confidence, horizon


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_components_sum_to_reported_var_for_every_method(case) -> None:
    r, w, method, c, h = case
    out = dec.decompose(r, w, c, h, method)
    ref = rm.var_cvar(r, w, c, h, method)
    # the reported figures are those of measures.var_cvar (the one VaR definition)
    assert out["var"] == ref["var"] and out["cvar"] == ref["cvar"]
    assert out["allocation"]["var"] == EXPECTED_ALLOCATION[method]
    assert out["allocation"]["cvar"] in ("euler", "tail_mean")
    assert len(out["component_var"]) == len(w) == len(out["component_cvar"])
    assert _close(out["var"], out["component_var"]), (math.fsum(out["component_var"]), out["var"])
    assert _close(out["cvar"], out["component_cvar"]), (math.fsum(out["component_cvar"]), out["cvar"])
    assert abs(out["var_residual"]) <= 1e-9 * max(abs(out["var"]), max(map(abs, out["component_var"])), 1e-12)
    assert out["var_residual"] == pytest.approx(out["var"] - math.fsum(out["component_var"]), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(portfolios(methods=("historical",)), st.sampled_from([0.95, 0.99]))
def test_scenario_component_is_the_var_scenario(case, c) -> None:
    r, w, _, _, _ = case
    out = dec.decompose(r, w, c, 1, "historical")
    (s,), (theta,) = out["var_scenarios"], out["var_scenario_weights"]
    assert theta == 1.0
    np.testing.assert_allclose(out["component_var"], -r[s] * w, rtol=0, atol=1e-9 * np.abs(w).max())
    assert -(r[s] @ w) == pytest.approx(out["var"], rel=1e-12, abs=1e-12)


def test_interpolated_quantile_is_split_between_bracketing_scenarios() -> None:
    # a VaR between two scenario losses (an interpolating quantile) interpolates their components exactly
    p = np.array([[-1.0, -2.0], [-4.0, 1.0], [0.5, 0.5], [-10.0, 0.0]])  # losses 3, 3, -1, 10
    p[1] = [-4.0, 0.0]  # losses 3, 4, -1, 10
    out = dec.scenario_allocation(p, 3.5, 10.0, 0.75)
    assert sorted(out["var_scenarios"]) == [0, 1]
    assert math.fsum(out["component_var"]) == pytest.approx(3.5, abs=1e-15)


@pytest.mark.parametrize("method", ["cornish_fisher", "t", "normal"])
def test_euler_marginals_are_the_gradient(method) -> None:
    rng = np.random.default_rng(7)
    r = rng.standard_t(4, size=(400, 3)) * 0.01
    w = np.array([2e5, -5e4, 8e4])
    f, _ = rm.var_function(r, 0.99, 5, method)
    out = dec.decompose(r, w, 0.99, 5, method)
    for k, key in ((0, "marginal_var"), (1, "marginal_cvar")):
        fd = [(f(w + e)[k] - f(w - e)[k]) / 2.0 for e in np.eye(3)]
        np.testing.assert_allclose(out[key], fd, rtol=1e-6, atol=1e-9)


def test_var_figures_against_independent_numpy_scipy() -> None:
    rng = np.random.default_rng(11)
    r = rng.standard_t(5, size=(500, 3)) * 0.01
    w = np.array([1e5, -4e4, 6e4])
    pnl = r @ w
    k = math.ceil(500 * 0.01)
    worst = np.sort(-pnl)[::-1]
    out = dec.decompose(r, w, 0.99, 1, "historical")
    assert out["var"] == pytest.approx(worst[k - 1], rel=1e-12)
    assert out["cvar"] == pytest.approx(worst[:k].mean(), rel=1e-12)
    sigma = math.sqrt(w @ np.cov(r, rowvar=False) @ w)
    out = dec.decompose(r, w, 0.99, 10, "normal")
    assert out["var"] == pytest.approx(stats.norm.ppf(0.99) * sigma * math.sqrt(10), rel=1e-10)
    out = dec.decompose(r, w, 0.99, 1, "t", nu=5)
    assert out["var"] == pytest.approx(stats.t.ppf(0.99, 5) * sigma * math.sqrt(3 / 5), rel=1e-10)
    # Cornish-Fisher: the expansion on scipy's sample moments
    sk, ku = stats.skew(pnl), stats.kurtosis(pnl)
    z = stats.norm.ppf(0.01)
    zcf = z + (z**2 - 1) * sk / 6 + (z**3 - 3 * z) * ku / 24 - (2 * z**3 - 5 * z) * sk**2 / 36
    out = dec.decompose(r, w, 0.99, 1, "cornish_fisher")
    assert out["var"] == pytest.approx(-np.std(pnl, ddof=1) * zcf, rel=1e-10)


# ------------------------------------------------------------------------------------------- stress
def _book(spot: np.ndarray) -> OptionPositions:
    return OptionPositions.create(underlying=[0, 0, 1, 2], option_type=["call", "put", "call", "put"],
                                  strike=[100.0, 95.0, 50.0, 210.0], expiry=[0.25, 0.5, 0.1, 1.0],
                                  quantity=[-30.0, 20.0, 50.0, -10.0], implied_vol=[0.3, 0.35, 0.5, 0.25],
                                  multiplier=100.0, spot=spot)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.6, 0.6), min_size=3, max_size=3),
       st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3),
       st.one_of(st.none(), st.floats(-0.1, 0.3)), st.floats(0, 60))
def test_stress_rows_sum_to_total_with_options(moves, exposures, vol_shift, days) -> None:
    book = _book(np.array([100.0, 48.0, 200.0]))
    res = apply_shock(exposures, moves, options=book, vol_shift=vol_shift, horizon_days=days)
    rows = list(res.contributions) + list(res.option_position_pnl)
    assert len(res.option_position_pnl) == book.n_positions
    assert math.fsum(rows) == res.pnl  # exact
    assert res.pnl == pytest.approx(res.linear_pnl + res.option_pnl, rel=1e-12, abs=1e-6)
    np.testing.assert_allclose(np.bincount(book.underlying, res.option_position_pnl, minlength=3),
                               res.option_contributions, atol=1e-9)


def test_stress_option_lines_are_itemised_and_match_revaluation() -> None:
    from nautilus.risk.options import bsm_price

    spot = np.array([100.0, 48.0, 200.0])
    book = _book(spot)
    res = apply_shock([1e5, -2e4, 0.0], [-0.2, 0.1, -0.3], options=book)
    new_spot = spot[book.underlying] * (1 + np.array([-0.2, -0.2, 0.1, -0.3]))
    before = bsm_price(spot[book.underlying], book.strike, book.expiry, 0.0, book.implied_vol, 0.0, book.phi)
    after = bsm_price(new_spot, book.strike, book.expiry, 0.0, book.implied_vol, 0.0, book.phi)
    expect = (np.asarray(after) - np.asarray(before)) * book.quantity * book.multiplier
    np.testing.assert_allclose(res.option_position_pnl, expect, rtol=1e-9)
    # the linear rows alone do not make the total when options move: the option lines must be listed
    assert abs(res.contributions.sum() - res.pnl) > 1.0
    assert math.fsum(list(res.contributions) + list(res.option_position_pnl)) == res.pnl


def test_historical_window_rows_sum_exactly() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0, 0.01, size=(300, 4))
    w = np.array([3e5, -1e5, 7e4, 1.3e4])
    for sc in worst_windows(r, w, 5, 3):
        assert math.fsum(sc.contributions.tolist()) == sc.pnl


def test_reverse_stress_with_options_reaches_the_loss() -> None:
    spot = np.array([100.0, 48.0, 200.0])
    cov = np.diag([4e-4, 9e-4, 2e-4])
    res = reverse_stress([1e5, 5e4, 2e4], cov, 30_000.0, _book(spot))
    shocked = apply_shock([1e5, 5e4, 2e4], res.shock, options=_book(spot))
    assert shocked.pnl == pytest.approx(-30_000.0, rel=1e-6)


# ------------------------------------------------------------------------------------------- expiry
def test_expiry_accepts_years_and_dates() -> None:
    assert parse_expiry(0.25) == 0.25
    assert parse_expiry("0.5") == 0.5
    assert parse_expiry("2025-12-31", "2025-01-01") == pytest.approx(364 / 365)
    assert parse_expiry("2025-01-01", "2025-01-01") == 0.0
    ns = 1_735_689_600 * 10**9  # 2025-01-01 UTC
    assert parse_expiry("2026-01-01", ns) == 1.0
    for bad in ("soon", -1.0, "2024-06-01", math.nan, True, None):
        with pytest.raises(InvalidInput) as exc:
            parse_expiry(bad, "2025-01-01")
        assert exc.value.field == "expiry"
        assert "YYYY-MM-DD" in exc.value.message and "years" in exc.value.message
