"""Portfolio optimisation vs PyPortfolioOpt 1.6 and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientCVaR, EfficientFrontier, HRPOpt
from pypfopt.black_litterman import BlackLittermanModel, market_implied_prior_returns

from nautilus.core.errors import InvalidInput
from nautilus.portfolio import optimize
from nautilus.portfolio.estimators import ledoit_wolf_cov, mean_returns, sample_cov
from nautilus.portfolio.optimize import make_constraints, max_sharpe, min_variance, risk_parity

NAMES = ["A", "B", "C", "D", "E"]


@pytest.fixture(scope="module")
def rets() -> np.ndarray:
    rng = np.random.default_rng(7)
    n_obs = 500
    f = rng.normal(0.0006, 0.01, (n_obs, 1))
    eps = rng.normal(0, 0.008, (n_obs, 5))
    betas = np.array([0.6, 0.9, 1.1, 1.4, 0.3])
    drift = np.array([0.0006, 0.0009, 0.0005, 0.0012, 0.0007])
    return f * betas + eps * np.array([1.0, 1.3, 0.7, 1.6, 1.1]) + drift


@pytest.fixture(scope="module")
def mu_cov(rets: np.ndarray) -> tuple[pd.Series, pd.DataFrame]:
    return pd.Series(mean_returns(rets), index=NAMES), pd.DataFrame(sample_cov(rets), index=NAMES, columns=NAMES)


def _w(res: object) -> np.ndarray:
    return np.array([res.weights[a] for a in NAMES])  # type: ignore[attr-defined]


def _pp(d: dict) -> np.ndarray:
    return np.array([d[a] for a in NAMES])


# ------------------------------------------------------------------------------------------- estimators


def test_estimators_match_pandas_and_sklearn(rets: np.ndarray) -> None:
    from pypfopt import risk_models

    df = pd.DataFrame(rets, columns=NAMES)
    np.testing.assert_allclose(mean_returns(rets), df.mean().to_numpy() * 252, rtol=1e-12)
    np.testing.assert_allclose(sample_cov(rets), df.cov().to_numpy() * 252, rtol=1e-12)
    lw = risk_models.CovarianceShrinkage(df, returns_data=True, frequency=252).ledoit_wolf()
    np.testing.assert_allclose(ledoit_wolf_cov(rets), lw.to_numpy(), rtol=1e-10)


# ------------------------------------------------------------------------------------------- vs pypfopt


def test_min_variance_matches_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    ef = EfficientFrontier(mu, s, weight_bounds=(0, 1))
    ef.min_volatility()
    res = optimize("min_variance", mu=mu.to_numpy(), cov=s.to_numpy(), assets=NAMES)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)
    assert res.volatility == pytest.approx(ef.portfolio_performance()[1], rel=1e-5)


@pytest.mark.parametrize("rf", [0.0, 0.02])
def test_max_sharpe_matches_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame], rf: float) -> None:
    mu, s = mu_cov
    ef = EfficientFrontier(mu, s, weight_bounds=(0, 1))
    ef.max_sharpe(risk_free_rate=rf)
    res = optimize("max_sharpe", (mu.to_numpy(), s.to_numpy()), assets=NAMES, risk_free_rate=rf)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)
    assert res.sharpe == pytest.approx(ef.portfolio_performance(risk_free_rate=rf)[2], rel=1e-6)


def test_max_sharpe_with_bounds_matches_slsqp(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    # pypfopt 1.6's max_sharpe mis-transforms parametrised bounds (reports infeasible), so the oracle here is
    # scipy SLSQP maximising the Sharpe ratio directly from many starts.
    from scipy.optimize import minimize

    mu, s = mu_cov
    m, c = mu.to_numpy(), s.to_numpy()
    bounds = [(0.05, 0.35)] * 5

    def neg_sharpe(w: np.ndarray) -> float:
        return -(w @ m) / np.sqrt(w @ c @ w)

    best = min(
        (minimize(neg_sharpe, x0, method="SLSQP", bounds=bounds, options={"ftol": 1e-14, "maxiter": 1000},
                  constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}])
         for x0 in np.random.default_rng(0).dirichlet(np.ones(5), 5) * 0.5 + 0.1),
        key=lambda r: r.fun,
    )
    res = optimize("max_sharpe", mu=m, cov=c, assets=NAMES, bounds=(0.05, 0.35))
    assert res.sharpe >= -best.fun - 1e-9
    np.testing.assert_allclose(_w(res), best.x, atol=1e-4)
    ef = EfficientFrontier(mu, s, weight_bounds=(0.05, 0.35))
    ef.max_sharpe(risk_free_rate=0.0)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)


def test_efficient_return_and_risk_and_utility_match_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    m, c = mu.to_numpy(), s.to_numpy()
    target = float(mu.mean() + 0.5 * (mu.max() - mu.mean()))
    ef = EfficientFrontier(mu, s)
    ef.efficient_return(target)
    res = optimize("mean_variance", mu=m, cov=c, assets=NAMES, target_return=target)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)
    assert res.expected_return == pytest.approx(target, abs=1e-7)

    ef = EfficientFrontier(mu, s)
    ef.efficient_risk(0.2)
    res = optimize("mean_variance", mu=m, cov=c, assets=NAMES, target_volatility=0.2)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)

    ef = EfficientFrontier(mu, s)
    ef.max_quadratic_utility(risk_aversion=3.0)
    res = optimize("mean_variance", mu=m, cov=c, assets=NAMES, risk_aversion=3.0)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)


def test_short_bounds_match_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    ef = EfficientFrontier(mu, s, weight_bounds=(-0.5, 1))
    target = 0.9 * float(mu.max())
    ef.efficient_return(target)
    res = optimize("mean_variance", mu=mu.to_numpy(), cov=s.to_numpy(), assets=NAMES, bounds=(-0.5, 1),
                   target_return=target)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)
    assert _w(res).min() < 0


def test_hrp_matches_pypfopt(rets: np.ndarray) -> None:
    df = pd.DataFrame(rets, columns=NAMES)
    ref = HRPOpt(df).optimize()
    res = optimize("hrp", rets, assets=NAMES)
    np.testing.assert_allclose(_w(res), _pp(ref), atol=1e-8)


def test_hrp_larger_universe_matches_pypfopt() -> None:
    rng = np.random.default_rng(3)
    names = [f"x{i}" for i in range(12)]
    r = rng.normal(0, 0.01, (400, 12)) + rng.normal(0, 0.01, (400, 1)) * rng.uniform(0, 1.5, 12)
    ref = HRPOpt(pd.DataFrame(r, columns=names)).optimize()
    res = optimize("hrp", r, assets=names)
    np.testing.assert_allclose([res.weights[a] for a in names], [ref[a] for a in names], atol=1e-8)


def test_black_litterman_matches_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    _, s = mu_cov
    caps = pd.Series([3.0, 1.0, 2.0, 0.5, 1.5], index=NAMES)
    prior = market_implied_prior_returns(caps, 2.5, s, risk_free_rate=0.01)
    p = np.array([[1, -1, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=float)
    q = np.array([0.03, 0.08])
    bl = BlackLittermanModel(s, pi=prior, P=p, Q=q, tau=0.05)
    res = optimize("black_litterman", mu=np.zeros(5), cov=s.to_numpy(), assets=NAMES, market_caps=caps.to_dict(),
                   market_risk_aversion=2.5, risk_free_rate=0.01, P=p, Q=q, tau=0.05)
    np.testing.assert_allclose(_pp(res.extra["prior"]), prior.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(_pp(res.extra["posterior_mu"]), bl.bl_returns().to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(np.array(res.extra["posterior_cov"]), bl.bl_cov().to_numpy(), rtol=1e-8)
    ef = EfficientFrontier(bl.bl_returns(), bl.bl_cov())
    ef.max_sharpe(risk_free_rate=0.01)
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)


def test_black_litterman_idzorek_matches_pypfopt(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    _, s = mu_cov
    caps = np.array([3.0, 1.0, 2.0, 0.5, 1.5])
    prior = market_implied_prior_returns(pd.Series(caps, index=NAMES), 1.0, s)
    p = np.array([[0, 0, 0, 1, 0], [1, 0, -1, 0, 0]], dtype=float)
    q = np.array([0.1, -0.02])
    conf = np.array([0.6, 0.3])
    bl = BlackLittermanModel(s, pi=prior, P=p, Q=q, omega="idzorek", view_confidences=conf)
    res = optimize("black_litterman", mu=np.zeros(5), cov=s.to_numpy(), assets=NAMES, market_caps=caps, P=p, Q=q,
                   omega="idzorek", view_confidences=conf, objective="min_variance")
    np.testing.assert_allclose(_pp(res.extra["posterior_mu"]), bl.bl_returns().to_numpy(), rtol=1e-8, atol=1e-12)


def test_black_litterman_no_views_is_prior(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    _, s = mu_cov
    caps = np.array([3.0, 1.0, 2.0, 0.5, 1.5])
    res = optimize("black_litterman", mu=np.zeros(5), cov=s.to_numpy(), assets=NAMES, market_caps=caps,
                   market_risk_aversion=3.0, objective="mean_variance", risk_aversion=3.0 / 1.05)
    np.testing.assert_allclose(_pp(res.extra["posterior_mu"]), 3.0 * s.to_numpy() @ (caps / caps.sum()), rtol=1e-12)
    # with no views and the market's own risk aversion (scaled for the (1+tau) cov) the market portfolio comes back
    np.testing.assert_allclose(_w(res), caps / caps.sum(), atol=1e-5)


def test_min_cvar_matches_pypfopt(rets: np.ndarray) -> None:
    df = pd.DataFrame(rets, columns=NAMES)
    mu = df.mean()
    ec = EfficientCVaR(mu, df, beta=0.95)
    ec.min_cvar()
    ref_cvar = ec.portfolio_performance()[1]
    res = optimize("min_cvar", rets, assets=NAMES, beta=0.95)
    assert res.extra["cvar"] == pytest.approx(ref_cvar, rel=1e-5)
    np.testing.assert_allclose(_w(res), ec.weights, atol=1e-3)  # LP optimum is unique here only approximately
    # hand check of the objective: the empirical CVaR (mean of the worst 5% losses) of the weights found
    losses = np.sort(-(rets @ _w(res)))[::-1]
    k = int(round(0.05 * len(losses)))
    assert res.extra["cvar"] == pytest.approx(losses[:k].mean(), rel=1e-6)

    target = float(mu.mean())
    ec = EfficientCVaR(mu, df, beta=0.95)
    ec.efficient_return(target)
    res = optimize("min_cvar", rets, assets=NAMES, beta=0.95, target_return=target)
    assert res.extra["cvar"] == pytest.approx(ec.portfolio_performance()[1], rel=1e-5)
    assert float(rets.mean(axis=0) @ _w(res)) >= target - 1e-9


# ------------------------------------------------------------------------------------------- closed forms


def _spd(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    return a @ a.T / n + np.diag(rng.uniform(0.05, 0.2, n))


def test_unconstrained_min_variance_closed_form() -> None:
    s = _spd(6, 1)
    c = make_constraints(6, [str(i) for i in range(6)], (None, None))
    inv1 = np.linalg.solve(s, np.ones(6))
    np.testing.assert_allclose(min_variance(s, c), inv1 / inv1.sum(), atol=1e-7)


def test_unconstrained_max_sharpe_closed_form() -> None:
    s = _spd(6, 2)
    mu = np.random.default_rng(2).uniform(0.03, 0.15, 6)
    c = make_constraints(6, [str(i) for i in range(6)], (None, None))
    x = np.linalg.solve(s, mu - 0.01)
    np.testing.assert_allclose(max_sharpe(mu, s, c, 0.01), x / x.sum(), atol=1e-6)


def test_erc_diagonal_is_inverse_vol() -> None:
    sig = np.array([0.1, 0.2, 0.3, 0.5])
    w = risk_parity(np.diag(sig**2))
    np.testing.assert_allclose(w, (1 / sig) / (1 / sig).sum(), atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_erc_equal_risk_contributions_and_budgets(seed: int) -> None:
    s = _spd(7, seed)
    res = optimize("risk_parity", mu=np.zeros(7), cov=s)
    np.testing.assert_allclose(list(res.risk_contributions.values()), np.full(7, 1 / 7), atol=1e-9)
    b = np.arange(1, 8, dtype=float)
    res = optimize("risk_parity", mu=np.zeros(7), cov=s, risk_budgets=b)
    np.testing.assert_allclose(list(res.risk_contributions.values()), b / b.sum(), atol=1e-9)
    assert sum(res.weights.values()) == pytest.approx(1.0, abs=1e-12)


def test_efficient_frontier_points(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    res = optimize("efficient_frontier", mu=mu.to_numpy(), cov=s.to_numpy(), assets=NAMES, n_points=8)
    pts = res.extra["frontier"]
    assert len(pts) == 8
    rets_ = [p["return"] for p in pts]
    vols = [p["volatility"] for p in pts]
    assert all(np.diff(rets_) > 0) and all(np.diff(vols) >= -1e-9)
    assert rets_[-1] == pytest.approx(mu.max(), rel=1e-6)
    ef = EfficientFrontier(mu, s)
    ef.min_volatility()
    assert vols[0] == pytest.approx(ef.portfolio_performance()[1], rel=1e-5)
    assert res.sharpe == pytest.approx(max(p["sharpe"] for p in pts))


# ------------------------------------------------------------------------------------------- errors


def test_infeasible_inputs_name_the_field(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    m, c = mu.to_numpy(), s.to_numpy()
    with pytest.raises(InvalidInput) as e:
        optimize("min_variance", mu=m, cov=c, bounds=(0, 0.1))
    assert e.value.field == "bounds"
    with pytest.raises(InvalidInput) as e:
        optimize("mean_variance", mu=m, cov=c, target_return=float(m.max()) + 0.01)
    assert e.value.field == "target_return"
    with pytest.raises(InvalidInput) as e:
        optimize("mean_variance", mu=m, cov=c, target_volatility=1e-4)
    assert e.value.field == "target_volatility"
    with pytest.raises(InvalidInput) as e:
        optimize("max_sharpe", mu=m, cov=c, risk_free_rate=float(m.max()) + 0.01)
    assert e.value.field == "risk_free_rate"
    with pytest.raises(InvalidInput) as e:
        optimize("min_variance", mu=m, cov=c, w_current=[1, 0, 0, 0, 0], max_turnover=0.0, bounds=(0, 0.5))
    assert e.value.field == "max_turnover"
    with pytest.raises(InvalidInput) as e:
        optimize("mean_variance", mu=m, cov=c, target_retrun=0.1)
    assert e.value.field == "target_retrun"
    with pytest.raises(InvalidInput) as e:
        optimize("mean_variance", mu=m, cov=c)
    assert e.value.field == "risk_aversion"
    with pytest.raises(InvalidInput) as e:
        optimize("nope", mu=m, cov=c)
    assert e.value.field == "method"
    with pytest.raises(InvalidInput) as e:
        optimize("min_variance", mu=m, cov=-c)
    assert e.value.field == "cov"
    with pytest.raises(InvalidInput) as e:
        optimize("min_cvar", mu=m, cov=c)
    assert e.value.field == "returns"
    with pytest.raises(InvalidInput) as e:
        optimize("min_variance", mu=m, cov=c, bounds={"zz": (0, 1)}, assets=NAMES)
    assert e.value.field == "bounds"


def test_per_asset_bounds_and_ledoit_wolf_match_pypfopt(rets: np.ndarray) -> None:
    from pypfopt import risk_models

    df = pd.DataFrame(rets, columns=NAMES)
    s = risk_models.CovarianceShrinkage(df, returns_data=True, frequency=252).ledoit_wolf()
    per = [(0.1, 0.3), (0.0, 0.2), (0.0, 1.0), (0.15, 0.5), (0.0, 0.25)]
    ef = EfficientFrontier(None, s, weight_bounds=per)
    ef.min_volatility()
    res = optimize("min_variance", rets, assets=NAMES, cov_estimator="ledoit_wolf",
                   bounds=dict(zip(NAMES, per, strict=True)))
    np.testing.assert_allclose(_w(res), ef.weights, atol=1e-4)
    res2 = optimize("min_variance", rets, assets=NAMES, cov_estimator="ledoit_wolf", bounds=per)
    np.testing.assert_allclose(_w(res2), _w(res), atol=1e-9)


def test_turnover_limit_binds(mu_cov: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, s = mu_cov
    m, c = mu.to_numpy(), s.to_numpy()
    wc = np.full(5, 0.2)
    free = _w(optimize("max_sharpe", mu=m, cov=c, assets=NAMES))
    assert np.abs(free - wc).sum() > 0.3
    res = optimize("max_sharpe", mu=m, cov=c, assets=NAMES, w_current=dict(zip(NAMES, wc, strict=True)),
                   max_turnover=0.3)
    w = _w(res)
    assert np.abs(w - wc).sum() == pytest.approx(0.3, abs=1e-6)
    # a feasible competitor: move from wc towards the free optimum until the turnover budget is spent
    x = wc + 0.3 / np.abs(free - wc).sum() * (free - wc)
    assert res.sharpe >= (x @ m) / np.sqrt(x @ c @ x) - 1e-9
