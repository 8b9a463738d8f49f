"""Monte Carlo VaR/CVaR with an option book fully revalued on every path."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from nautilus.core.errors import InvalidInput
from nautilus.risk.montecarlo import portfolio_pnl, simulate
from nautilus.risk.options import OptionPositions, bsm_price, delta_gamma_pnl, revalue

S0, K, T, SIGMA_IV, VOL = 100.0, 100.0, 0.25, 0.3, 0.02


def _call_book(n_assets: int = 1, underlying: int = 0, quantity: float = 10.0) -> OptionPositions:
    return OptionPositions.create(underlying=[underlying], option_type="call", strike=K, expiry=T,
                                  quantity=quantity, multiplier=100, implied_vol=SIGMA_IV,
                                  spot=np.full(n_assets, S0))


def _call_value(ret: float) -> float:
    return 1000.0 * bsm_price(S0 * (1 + ret), K, T - 1 / 252, 0.0, SIGMA_IV)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_long_call_var_cvar_match_closed_form(backend):
    # a long call's value is increasing in the spot: its 99% loss is at the 1% return quantile, and the
    # ES is the mean loss over returns below it (one-dimensional integral against the normal density)
    v0 = 1000.0 * bsm_price(S0, K, T, 0.0, SIGMA_IV)
    r_q = stats.norm.ppf(0.01, scale=VOL)
    exact_var = v0 - _call_value(r_q)
    tail, _ = integrate.quad(lambda r: (v0 - _call_value(r)) * stats.norm.pdf(r, scale=VOL), -0.5, r_q)
    exact_cvar = tail / 0.01
    res = simulate(np.array([[VOL**2]]), [0.0], options=_call_book(), paths=400_000, seed=3, backend=backend,
                   dtype="float64")
    assert abs(res.var - exact_var) < 4 * res.var_stderr
    assert abs(res.cvar - exact_cvar) < 4 * res.cvar_stderr
    assert res.var_stderr < 0.01 * exact_var


def test_option_pnl_is_full_revaluation_of_the_simulated_move():
    # one asset, no linear exposure: the path P&L must equal revalue() of the same path's return, which
    # we recover from a linear position of 1 currency unit in the same seeded run
    cov = np.array([[VOL**2]])
    lin, _ = portfolio_pnl(cov, [1.0], paths=2_000, horizon=5, seed=7, dtype="float64", aggregation="compound")
    opt, _ = portfolio_pnl(cov, [0.0], paths=2_000, horizon=5, seed=7, dtype="float64", aggregation="compound",
                           options=_call_book())
    expected = revalue(_call_book(), lin[:, None], None, 5.0, scenario_type="return", days_per_year=252)
    np.testing.assert_allclose(opt, expected, rtol=1e-10, atol=1e-8)
    # and it is not the delta-gamma approximation: big moves make them differ
    approx = delta_gamma_pnl(_call_book(), lin[:, None], None, 5.0, scenario_type="return", days_per_year=252)
    assert np.max(np.abs(approx - expected)) > 1.0


@pytest.mark.parametrize("vr", ["none", "importance"])
def test_option_components_land_on_the_underlying(vr):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    cov = (a @ a.T + np.eye(3)) * 1e-4
    # asset 2 has no linear exposure but carries a short call; asset 1 has nothing at all
    book = OptionPositions.create(underlying=[2], option_type="call", strike=100.0, expiry=0.5, quantity=-50.0,
                                  multiplier=100, implied_vol=0.25, spot=np.full(3, 100.0))
    res = simulate(cov, [1e5, 0.0, 0.0], options=book, paths=100_000, seed=1, variance_reduction=vr,
                   model="t", nu=6, horizon=3)
    assert res.component_cvar.sum() == pytest.approx(res.cvar, rel=1e-9)
    assert res.component_cvar[1] == 0.0
    assert res.component_cvar[2] > 0.05 * res.cvar  # the short call loses in the tail


def test_importance_sampling_agrees_with_plain_on_an_option_book():
    cov = np.array([[VOL**2, 0.5 * VOL**2], [0.5 * VOL**2, VOL**2]])
    book = OptionPositions.create(underlying=[0, 1], option_type=["put", "call"], strike=[95.0, 105.0],
                                  expiry=[0.2, 0.4], quantity=[-100.0, 40.0], multiplier=100,
                                  implied_vol=[0.35, 0.25], spot=[100.0, 100.0])
    plain = simulate(cov, [2e5, -5e4], options=book, paths=400_000, seed=2, horizon=10, aggregation="compound")
    imp = simulate(cov, [2e5, -5e4], options=book, paths=100_000, seed=4, horizon=10, aggregation="compound",
                   variance_reduction="importance")
    se = np.hypot(plain.var_stderr, imp.var_stderr)
    assert abs(plain.var - imp.var) < 4 * se
    assert abs(plain.cvar - imp.cvar) < 4 * np.hypot(plain.cvar_stderr, imp.cvar_stderr)


def test_option_book_must_cover_the_portfolio():
    with pytest.raises(InvalidInput) as err:
        simulate(np.eye(2) * 1e-4, [1.0, 1.0], options=_call_book(n_assets=3), paths=1_000)
    assert err.value.field == "options"
    with pytest.raises(InvalidInput):
        simulate(np.eye(1) * 1e-4, [1.0], options={"strike": 1}, paths=1_000)
