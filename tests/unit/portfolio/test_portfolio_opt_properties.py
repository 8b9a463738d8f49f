"""Hypothesis: bounds, budget and turnover constraints hold for random inputs; max_sharpe beats the frontier."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.portfolio import optimize

METHODS = ["min_variance", "max_sharpe", "mean_variance", "min_cvar"]


@st.composite
def problems(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.2, 1.5, n)
    r = rng.normal(0, 0.01, (120, 1)) * load + rng.normal(0, 0.01, (120, n)) + rng.uniform(0.0002, 0.001, n)
    lo = draw(st.floats(-0.3, 0.9 / n))
    hi = draw(st.floats(max(1.05 / n, lo + 0.01), 1.0))
    wc = rng.dirichlet(np.ones(n))
    turnover = draw(st.one_of(st.none(), st.floats(0.05, 1.5)))
    return {"returns": r, "bounds": (lo, hi), "w_current": wc, "max_turnover": turnover}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from(METHODS))
def test_constraints_hold(p: dict, method: str) -> None:
    extra = {"risk_aversion": 2.0} if method == "mean_variance" else {}
    try:
        res = optimize(method, p["returns"], bounds=p["bounds"], w_current=p["w_current"],
                       max_turnover=p["max_turnover"], **extra)
    except InvalidInput as exc:  # only a documented, named infeasibility is acceptable
        assert exc.field in {"max_turnover", "risk_free_rate", "bounds"}
        return
    w = np.array(list(res.weights.values()))
    lo, hi = p["bounds"]
    assert abs(w.sum() - 1) < 1e-6
    assert w.min() >= lo - 1e-6 and w.max() <= hi + 1e-6
    if p["max_turnover"] is not None:
        assert np.abs(w - p["w_current"]).sum() <= p["max_turnover"] + 1e-5
    assert abs(sum(res.risk_contributions.values()) - 1) < 1e-6


@settings(max_examples=25, deadline=None)
@given(problems())
def test_max_sharpe_dominates_frontier(p: dict) -> None:
    try:
        ms = optimize("max_sharpe", p["returns"], bounds=p["bounds"])
        fr = optimize("efficient_frontier", p["returns"], bounds=p["bounds"], n_points=6)
    except InvalidInput as exc:
        assert exc.field in {"risk_free_rate", "bounds"}
        return
    assert all(ms.sharpe >= pt["sharpe"] - 1e-6 for pt in fr.extra["frontier"])


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000))
def test_risk_parity_equal_contributions(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n + np.diag(rng.uniform(0.01, 0.3, n))
    res = optimize("risk_parity", mu=np.zeros(n), cov=cov)
    np.testing.assert_allclose(list(res.risk_contributions.values()), np.full(n, 1 / n), atol=1e-8)
    assert min(res.weights.values()) > 0
