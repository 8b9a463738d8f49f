"""Portfolio optimisation methods (pure; cvxpy for the convex problems).

Conventions
- Inputs are annualised expected returns ``mu`` [n] and covariance ``cov`` [n, n] (see ``estimators``), or a
  ``[n_obs, n_assets]`` simple-returns matrix from which ``optimize`` estimates them.
- Weights are fractions of equity and sum to 1 (budget). Bounds: a global ``(lo, hi)`` pair, or one pair per
  asset (list or ``{name: (lo, hi)}``); default ``(0, 1)`` = long-only. Shorts: give negative lower bounds.
- ``w_current`` + ``max_turnover`` add ``sum |w - w_current| <= max_turnover``.
- ``risk_contributions`` are fractions of variance, ``w_i (S w)_i / w' S w`` (they sum to 1).
- Sharpe = ``(mu'w - risk_free_rate) / sqrt(w' S w)``.
- Infeasible inputs raise ``InvalidInput`` naming the field; a solver that does not reach an optimal status
  raises ``SolverFailed`` (an ``InvalidInput`` with field ``method``) -- never a silently wrong answer.
- ``risk_parity`` and ``hrp`` are long-only and ignore bounds/turnover (documented limitation).
- ``min_cvar`` works on the raw (per-period) scenario returns; ``target_return`` there is per period too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.portfolio.black_litterman import black_litterman_posterior, market_implied_prior
from nautilus.portfolio.estimators import as_returns, check_mu_cov, estimate_cov, mean_returns
from nautilus.portfolio.hrp import hrp_weights

METHODS = (
    "min_variance", "mean_variance", "max_sharpe", "efficient_frontier", "risk_parity", "hrp",
    "black_litterman", "min_cvar",
)
_OK = (cp.OPTIMAL,)
_MV = ("risk_aversion", "target_return", "target_volatility")
_PARAMS: dict[str, tuple[str, ...]] = {
    "min_variance": (), "mean_variance": _MV, "max_sharpe": (), "efficient_frontier": ("n_points",),
    "risk_parity": ("risk_budgets",), "hrp": (), "min_cvar": ("beta", "target_return"),
    "black_litterman": ("market_caps", "market_risk_aversion", "P", "Q", "tau", "omega", "view_confidences",
                        "objective", *_MV),
}
_TOL = 1e-7

BoundsSpec = tuple[float, float] | Sequence[tuple[float, float]] | Mapping[str, tuple[float, float]] | None


class SolverFailed(InvalidInput):
    """The solver did not reach an optimal solution (numerically hard or ill-posed inputs)."""


@dataclass
class OptimizationResult:
    method: str
    weights: dict[str, float]
    expected_return: float
    volatility: float
    sharpe: float
    risk_contributions: dict[str, float]
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Constraints:
    lo: np.ndarray
    hi: np.ndarray
    w_current: np.ndarray | None = None
    max_turnover: float | None = None


# ---------------------------------------------------------------------------------------------- helpers


def make_constraints(
    n: int,
    assets: Sequence[str],
    bounds: BoundsSpec = None,
    w_current: Sequence[float] | Mapping[str, float] | None = None,
    max_turnover: float | None = None,
) -> Constraints:
    """Resolve bounds / turnover specs into arrays and check they admit a budget-1 portfolio."""
    if bounds is None:
        lo, hi = np.zeros(n), np.ones(n)
    elif isinstance(bounds, Mapping):
        unknown = set(bounds) - set(assets)
        if unknown:
            raise InvalidInput(f"bounds name unknown assets {sorted(unknown)}", field="bounds")
        pairs = [bounds.get(a, (0.0, 1.0)) for a in assets]
        lo, hi = _pairs(pairs)
    else:
        b = list(bounds)
        if len(b) == 2 and all(np.isscalar(x) or x is None for x in b):
            lo, hi = _pairs([tuple(b)] * n)  # type: ignore[list-item]
        elif len(b) == n:
            lo, hi = _pairs(b)  # type: ignore[arg-type]
        else:
            raise InvalidInput(f"bounds must be (lo, hi) or {n} pairs", field="bounds")
    if np.any(lo > hi):
        raise InvalidInput("bounds have lo > hi", field="bounds")
    if lo.sum() > 1 + 1e-12 or hi.sum() < 1 - 1e-12:
        raise InvalidInput(f"bounds cannot sum to 1 (sum lo={lo.sum():.4g}, sum hi={hi.sum():.4g})", field="bounds")
    wc = None
    if w_current is not None:
        if isinstance(w_current, Mapping):
            unknown = set(w_current) - set(assets)
            if unknown:
                raise InvalidInput(f"w_current names unknown assets {sorted(unknown)}", field="w_current")
            wc = np.array([float(w_current.get(a, 0.0)) for a in assets])
        else:
            wc = np.asarray(w_current, dtype=float).reshape(-1)
        if wc.shape[0] != n or not np.all(np.isfinite(wc)):
            raise InvalidInput(f"w_current must have {n} finite weights", field="w_current")
    if max_turnover is not None:
        if wc is None:
            raise InvalidInput("max_turnover needs w_current", field="w_current")
        if not np.isfinite(max_turnover) or max_turnover < 0:
            raise InvalidInput("max_turnover must be >= 0", field="max_turnover")
        # feasibility: the closest budget-1 point in the box to w_current (an LP), in L1
        w = cp.Variable(n)
        prob = cp.Problem(cp.Minimize(cp.norm1(w - wc)), [cp.sum(w) == 1, w >= lo, w <= hi])
        _solve(prob, "max_turnover")
        if prob.value > max_turnover + 1e-6:
            raise InvalidInput(
                f"max_turnover {max_turnover:.4g} is below the minimum {prob.value:.4g} needed to meet bounds and budget",
                field="max_turnover",
            )
    return Constraints(lo, hi, wc, None if max_turnover is None else float(max_turnover))


def _pairs(pairs: Sequence[tuple[float | None, float | None]]) -> tuple[np.ndarray, np.ndarray]:
    try:
        lo = np.array([-np.inf if p[0] is None else float(p[0]) for p in pairs])
        hi = np.array([np.inf if p[1] is None else float(p[1]) for p in pairs])
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidInput(f"bounds must be numeric (lo, hi) pairs: {exc}", field="bounds") from exc
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise InvalidInput("bounds must not be NaN", field="bounds")
    return lo, hi


def _cons(w: cp.Variable, c: Constraints, scale: cp.Expression | float = 1.0) -> list[cp.Constraint]:
    out: list[cp.Constraint] = [cp.sum(w) == scale]
    fin_lo, fin_hi = np.isfinite(c.lo), np.isfinite(c.hi)
    if fin_lo.any():
        out.append(w[np.where(fin_lo)[0]] >= c.lo[fin_lo] * scale)
    if fin_hi.any():
        out.append(w[np.where(fin_hi)[0]] <= c.hi[fin_hi] * scale)
    if c.max_turnover is not None and c.w_current is not None:
        out.append(cp.norm1(w - c.w_current * scale) <= c.max_turnover * scale)
    return out


def _solve(prob: cp.Problem, infeasible_field: str, allow_unbounded: bool = False) -> None:
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.SolverError:
        try:
            prob.solve(solver=cp.SCS, eps=1e-9, max_iters=200_000)
        except cp.SolverError as exc:
            raise SolverFailed(f"solver failed: {exc}", field="method") from exc
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise InvalidInput("constraints are infeasible", field=infeasible_field)
    if prob.status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        if allow_unbounded:
            return
        raise InvalidInput("problem is unbounded: give finite bounds", field="bounds")
    if prob.status not in _OK:  # optimal_inaccurate included: never hand back a doubtful answer
        raise SolverFailed(f"solver did not converge (status {prob.status})", field="method")


def _psd(cov: np.ndarray) -> Any:
    return cp.psd_wrap(0.5 * (cov + cov.T))


def _clean(w: np.ndarray, c: Constraints | None = None) -> np.ndarray:
    w = np.asarray(w, dtype=float).copy()
    if c is not None:
        w = np.clip(w, c.lo, c.hi)
    w[np.abs(w) < 1e-10] = 0.0
    return w


def portfolio_stats(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, rf: float = 0.0) -> tuple[float, float, float]:
    """``(expected return, volatility, sharpe)``; sharpe is NaN for zero volatility."""
    ret = float(w @ mu)
    vol = float(np.sqrt(max(w @ cov @ w, 0.0)))
    return ret, vol, (ret - rf) / vol if vol > 0 else float("nan")


def risk_contributions(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Fractions of portfolio variance ``w_i (S w)_i / w' S w``."""
    var = float(w @ cov @ w)
    return w * (cov @ w) / var if var > 0 else np.zeros_like(w)


# ---------------------------------------------------------------------------------------------- methods


def min_variance(cov: np.ndarray, c: Constraints) -> np.ndarray:
    w = cp.Variable(cov.shape[0])
    prob = cp.Problem(cp.Minimize(cp.quad_form(w, _psd(cov))), _cons(w, c))
    _solve(prob, "bounds")
    return _clean(w.value, c)


def max_return(mu: np.ndarray, c: Constraints) -> tuple[float, np.ndarray]:
    """The highest ``mu'w`` reachable under the constraints (an LP); ``inf`` when unbounded."""
    w = cp.Variable(mu.shape[0])
    prob = cp.Problem(cp.Maximize(mu @ w), _cons(w, c))
    _solve(prob, "bounds", allow_unbounded=True)
    if prob.status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        return float("inf"), np.full(mu.shape[0], np.nan)
    return float(prob.value), _clean(w.value, c)


def efficient_return(mu: np.ndarray, cov: np.ndarray, c: Constraints, target_return: float) -> np.ndarray:
    """Minimum variance with ``mu'w >= target_return``."""
    top, _ = max_return(mu, c)
    if target_return > top + 1e-9:
        raise InvalidInput(f"target_return {target_return:.6g} exceeds the maximum {top:.6g}", field="target_return")
    w = cp.Variable(mu.shape[0])
    prob = cp.Problem(
        cp.Minimize(cp.quad_form(w, _psd(cov))), [*_cons(w, c), mu @ w >= min(target_return, top)]
    )
    _solve(prob, "target_return")
    return _clean(w.value, c)


def efficient_risk(mu: np.ndarray, cov: np.ndarray, c: Constraints, target_volatility: float) -> np.ndarray:
    """Maximum return with ``sqrt(w'Sw) <= target_volatility``."""
    w0 = min_variance(cov, c)
    vmin = float(np.sqrt(w0 @ cov @ w0))
    if not np.isfinite(target_volatility) or target_volatility < vmin - 1e-9:
        raise InvalidInput(
            f"target_volatility {target_volatility:.6g} is below the minimum {vmin:.6g}", field="target_volatility"
        )
    w = cp.Variable(mu.shape[0])
    prob = cp.Problem(
        cp.Maximize(mu @ w), [*_cons(w, c), cp.quad_form(w, _psd(cov)) <= max(target_volatility, vmin) ** 2]
    )
    _solve(prob, "target_volatility")
    return _clean(w.value, c)


def quadratic_utility(mu: np.ndarray, cov: np.ndarray, c: Constraints, risk_aversion: float) -> np.ndarray:
    """Maximise ``mu'w - risk_aversion/2 * w'Sw``."""
    if not np.isfinite(risk_aversion) or risk_aversion <= 0:
        raise InvalidInput("risk_aversion must be > 0", field="risk_aversion")
    w = cp.Variable(mu.shape[0])
    prob = cp.Problem(cp.Maximize(mu @ w - 0.5 * risk_aversion * cp.quad_form(w, _psd(cov))), _cons(w, c))
    _solve(prob, "bounds")
    return _clean(w.value, c)


def max_sharpe(mu: np.ndarray, cov: np.ndarray, c: Constraints, risk_free_rate: float = 0.0) -> np.ndarray:
    """Tangency portfolio via ``y = kappa w``: min ``y'Sy`` s.t. ``(mu - rf)'y = 1``, ``sum y = kappa >= 0``,
    bounds and turnover scaled by ``kappa``; ``w = y / kappa``."""
    excess = mu - risk_free_rate
    top, _ = max_return(mu, c)
    if top - risk_free_rate <= 1e-12:
        raise InvalidInput("no feasible portfolio has expected return above risk_free_rate", field="risk_free_rate")
    n = mu.shape[0]
    y = cp.Variable(n)
    kappa = cp.Variable(nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.quad_form(y, _psd(cov))), [*_cons(y, c, kappa), excess @ y == 1])
    _solve(prob, "bounds")
    k = float(kappa.value)
    if not np.isfinite(k) or k <= 1e-12:
        raise SolverFailed("max_sharpe degenerate (kappa = 0)", field="method")
    return _clean(y.value / k, c)


def efficient_frontier(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, n_points: int = 20, risk_free_rate: float = 0.0
) -> list[dict[str, Any]]:
    """``n_points`` frontier portfolios with returns evenly spaced from min-variance to max return."""
    if n_points < 2 or n_points > 500:
        raise InvalidInput("n_points must be in [2, 500]", field="n_points")
    w0 = min_variance(cov, c)
    r0 = float(w0 @ mu)
    top, _ = max_return(mu, c)
    if not np.isfinite(top):
        raise InvalidInput("efficient_frontier needs bounds that cap the maximum return", field="bounds")
    out = []
    for t in np.linspace(r0, max(top, r0), n_points):
        w = w0 if t <= r0 else efficient_return(mu, cov, c, float(t))
        ret, vol, sh = portfolio_stats(w, mu, cov, risk_free_rate)
        out.append({"target_return": float(t), "return": ret, "volatility": vol, "sharpe": sh, "weights": w})
    return out


def risk_parity(cov: np.ndarray, risk_budgets: np.ndarray | None = None) -> np.ndarray:
    """Risk budgeting (ERC when budgets are equal), long-only: minimise the strictly convex
    ``f(y) = 1/2 y'Sy - sum b_i log y_i`` (y > 0) by damped Newton (Spinu, 2013) and normalise
    ``w = y / sum y``; at the optimum ``S y = b / y``, so ``RC_i / var = b_i``. Newton with a backtracking line
    search on ``f`` converges from any positive start for this function (conic solvers sometimes stop
    "inaccurate" on it), to a gradient below 1e-12 of the scale."""
    n = cov.shape[0]
    b = np.full(n, 1.0 / n) if risk_budgets is None else np.asarray(risk_budgets, dtype=float).reshape(-1)
    if b.shape[0] != n or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise InvalidInput(f"risk_budgets must be {n} positive numbers", field="risk_budgets")
    b = b / b.sum()
    if np.any(np.diag(cov) <= 0):
        raise InvalidInput("risk_parity needs positive variances", field="cov")
    s = 0.5 * (cov + cov.T) / float(np.mean(np.diag(cov)))

    def f(y: np.ndarray) -> float:
        return float(0.5 * y @ s @ y - b @ np.log(y))

    y = np.sqrt(b / np.diag(s))  # the solution when S is diagonal
    for _ in range(200):
        g = s @ y - b / y
        if np.max(np.abs(g * y)) < 1e-14:
            return y / y.sum()
        try:
            step = np.linalg.solve(s + np.diag(b / y**2), g)
        except np.linalg.LinAlgError:
            break
        t, fy, slope = 1.0, f(y), float(g @ step)  # slope: the squared Newton decrement
        while np.any(y - t * step <= 0) or (slope > 1e-10 and f(y - t * step) > fy - 1e-4 * t * slope):
            t *= 0.5  # near the optimum (tiny decrement) full steps converge quadratically; f cannot resolve them
            if t < 1e-20:
                break
        y = y - t * step
    if np.max(np.abs((s @ y - b / y) * y)) < 1e-10:
        return y / y.sum()
    raise SolverFailed("risk parity did not converge (is the covariance matrix positive definite?)", field="cov")


def min_cvar(
    scenarios: np.ndarray, c: Constraints, beta: float = 0.95, target_return: float | None = None
) -> tuple[np.ndarray, float]:
    """Rockafellar-Uryasev: min ``alpha + 1/((1-beta) T) sum max(-r_t'w - alpha, 0)``; returns (w, CVaR)."""
    if not 0 < beta < 1:
        raise InvalidInput("beta must be in (0, 1)", field="beta")
    t_obs, n = scenarios.shape
    mu = scenarios.mean(axis=0)
    w = cp.Variable(n)
    alpha = cp.Variable()
    u = cp.Variable(t_obs, nonneg=True)
    cons = [*_cons(w, c), u >= -scenarios @ w - alpha]
    if target_return is not None:
        top, _ = max_return(mu, c)
        if target_return > top + 1e-12:
            raise InvalidInput(
                f"target_return {target_return:.6g} exceeds the maximum {top:.6g} (per period)", field="target_return"
            )
        cons.append(mu @ w >= min(target_return, top))
    prob = cp.Problem(cp.Minimize(alpha + cp.sum(u) / ((1 - beta) * t_obs)), cons)
    _solve(prob, "target_return" if target_return is not None else "bounds")
    return _clean(w.value, c), float(prob.value)


# ---------------------------------------------------------------------------------------------- entry point


def optimize(
    method: str,
    returns: object = None,
    *,
    mu: object = None,
    cov: object = None,
    assets: Sequence[str] | None = None,
    periods_per_year: float = 252.0,
    cov_estimator: str = "sample",
    nan_policy: str = "refuse",
    bounds: BoundsSpec = None,
    w_current: Sequence[float] | Mapping[str, float] | None = None,
    max_turnover: float | None = None,
    risk_free_rate: float = 0.0,
    **params: Any,
) -> OptimizationResult:
    """Run one method on a returns matrix (``returns``) or on ``mu``/``cov`` (also accepted as a tuple in
    ``returns``). Method-specific params: ``risk_aversion`` / ``target_return`` / ``target_volatility``
    (mean_variance), ``n_points`` (efficient_frontier), ``risk_budgets`` (risk_parity), ``market_caps``,
    ``market_risk_aversion``, ``P``, ``Q``, ``tau``, ``omega``, ``view_confidences``, ``objective``
    ('max_sharpe' | 'mean_variance' | 'min_variance') (black_litterman), ``beta``, ``target_return``
    (min_cvar, which needs a returns matrix). Unknown params raise ``InvalidInput`` naming them.
    ``efficient_frontier`` puts the points in ``extra["frontier"]`` and returns the highest-Sharpe point's
    weights as the result. ``nan_policy`` ('refuse' | 'drop' | 'pairwise', see
    :mod:`nautilus.portfolio.estimators`) says what a NaN in ``returns`` does; scenario methods (min_cvar) need
    complete rows."""
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {METHODS}, got {method!r}", field="method")
    unknown = sorted(set(params) - set(_PARAMS[method]))
    if unknown:
        raise InvalidInput(f"unknown parameter(s) {unknown} for {method}", field=unknown[0])
    if not np.isfinite(risk_free_rate):
        raise InvalidInput("risk_free_rate must be finite", field="risk_free_rate")
    scen = None
    if isinstance(returns, tuple) and len(returns) == 2 and mu is None and cov is None:
        mu, cov = returns
        returns = None
    if returns is not None:
        if nan_policy == "pairwise" and method == "min_cvar":
            raise InvalidInput("min_cvar needs complete scenario rows: nan_policy 'refuse' or 'drop'",
                               field="nan_policy")
        scen, names = as_returns(returns, assets, nan_policy)
        m = mean_returns(scen, periods_per_year, nan_policy) if mu is None else mu
        s = estimate_cov(scen, cov_estimator, periods_per_year, nan_policy) if cov is None else cov
        m_arr, s_arr, names = check_mu_cov(m, s, names)
    elif mu is not None and cov is not None:
        m_arr, s_arr, names = check_mu_cov(mu, cov, assets)
    else:
        raise InvalidInput("give a returns matrix or both mu and cov", field="returns")
    n = len(names)
    c = make_constraints(n, names, bounds, w_current, max_turnover)
    extra: dict[str, Any] = {}
    used = dict(params)
    mu_eval, cov_eval = m_arr, s_arr

    if method == "min_variance":
        w = min_variance(s_arr, c)
    elif method == "mean_variance":
        w = _mean_variance(m_arr, s_arr, c, params)
    elif method == "max_sharpe":
        w = max_sharpe(m_arr, s_arr, c, risk_free_rate)
    elif method == "efficient_frontier":
        pts = efficient_frontier(m_arr, s_arr, c, int(params.get("n_points", 20)), risk_free_rate)
        extra["frontier"] = [{**p, "weights": _named(p["weights"], names)} for p in pts]
        w = max(pts, key=lambda p: -np.inf if np.isnan(p["sharpe"]) else p["sharpe"])["weights"]
    elif method == "risk_parity":
        w = risk_parity(s_arr, params.get("risk_budgets"))
    elif method == "hrp":
        w = hrp_weights(s_arr)
    elif method == "black_litterman":
        caps = params.get("market_caps")
        if caps is None:
            raise InvalidInput("black_litterman needs market_caps", field="market_caps")
        if isinstance(caps, Mapping):
            caps = [float(caps.get(a, 0.0)) for a in names]
        prior = market_implied_prior(s_arr, np.asarray(caps), float(params.get("market_risk_aversion", 1.0)),
                                     risk_free_rate)
        post = black_litterman_posterior(
            s_arr, prior, params.get("P"), params.get("Q"), float(params.get("tau", 0.05)),
            params.get("omega", "he_litterman"), params.get("view_confidences"),
        )
        mu_eval, cov_eval = post.mu, post.cov
        extra.update(prior=_named(post.prior, names), posterior_mu=_named(post.mu, names),
                     posterior_cov=post.cov.tolist())
        objective = params.get("objective", "max_sharpe")
        if objective == "max_sharpe":
            w = max_sharpe(post.mu, post.cov, c, risk_free_rate)
        elif objective == "mean_variance":
            w = _mean_variance(post.mu, post.cov, c, params)
        elif objective == "min_variance":
            w = min_variance(post.cov, c)
        else:
            raise InvalidInput("objective must be max_sharpe, mean_variance or min_variance", field="objective")
    else:  # min_cvar
        if scen is None:
            raise InvalidInput("min_cvar needs a returns matrix (scenarios)", field="returns")
        tr = params.get("target_return")
        w, cvar = min_cvar(scen, c, float(params.get("beta", 0.95)), None if tr is None else float(tr))
        extra["cvar"] = cvar
    for k in ("P", "Q", "market_caps", "risk_budgets", "view_confidences", "omega"):
        if k in used and used[k] is not None and not isinstance(used[k], Mapping | str):
            used[k] = np.asarray(used[k]).tolist()
    used.update(risk_free_rate=risk_free_rate, periods_per_year=periods_per_year, cov_estimator=cov_estimator,
                max_turnover=max_turnover, nan_policy=nan_policy)
    ret, vol, sh = portfolio_stats(w, mu_eval, cov_eval, risk_free_rate)
    return OptimizationResult(
        method=method, weights=_named(w, names), expected_return=ret, volatility=vol, sharpe=sh,
        risk_contributions=_named(risk_contributions(w, cov_eval), names), status="optimal", params=used, extra=extra,
    )


def _mean_variance(mu: np.ndarray, cov: np.ndarray, c: Constraints, params: Mapping[str, Any]) -> np.ndarray:
    given = [k for k in ("risk_aversion", "target_return", "target_volatility") if params.get(k) is not None]
    if len(given) != 1:
        raise InvalidInput("mean_variance needs exactly one of risk_aversion, target_return, target_volatility",
                           field="risk_aversion")
    k = given[0]
    v = float(params[k])
    if k == "risk_aversion":
        return quadratic_utility(mu, cov, c, v)
    if k == "target_return":
        return efficient_return(mu, cov, c, v)
    return efficient_risk(mu, cov, c, v)


def _named(w: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    return {a: float(x) for a, x in zip(names, w, strict=True)}
