"""Marginal, component and incremental VaR/CVaR per position: pure functions, no I/O.

Every decomposition names its allocation method and reports a residual
``reported figure - sum(components)``; with the methods below the residual is floating-point rounding
only (``|residual| <= 1e-9 * max(|VaR|, max |component|)``), never a modelling gap.

Parametric (normal, Student-t): Euler allocation (``"euler"``)
    ``sigma_p = sqrt(w' S w)``; ``marginal_i = dVaR/dw_i = k sqrt(h) (S w)_i / sigma_p - mu_i h`` with
    ``k = z`` (normal) or ``k = sqrt((nu-2)/nu) t_nu^-1(c)`` (t); ``component_i = w_i marginal_i``;
    ``sum_i component_i = VaR`` exactly (VaR is homogeneous of degree one in ``w``).  Same for CVaR with
    the CVaR multiplier in place of ``k``.

Cornish-Fisher: Euler allocation (``"euler"``) with the analytic gradient of the modified VaR
    ``-(mu h + sigma sqrt(h) z_cf(skew, kurt))`` through the sample std, skewness and excess kurtosis of the
    portfolio return series (Boudt, Peterson & Croux, 2008); skewness and kurtosis are homogeneous of degree
    zero, so the Euler sum is the modified VaR exactly.  Same for the Cornish-Fisher CVaR.

Scenario based (historical, EW historical, FHS, Monte Carlo; a per-asset P&L matrix ``[S, N]``)
    ``"scenario_at_quantile"`` (Hallerbach's component at the VaR scenario): the VaR is the loss of one
    scenario ``s*`` (the k-th worst, see :mod:`nautilus.risk.measures`); ``component VaR_i = -P_{s*,i}``
    (times the horizon scaling), whose sum is that scenario's loss, i.e. the VaR, exactly.  Were the VaR
    ever to fall between two scenarios' losses (an interpolating quantile), the components interpolate the
    two bracketing scenarios linearly with the same weight, which is again exact.
    ``"tail_mean"`` for CVaR: ``component CVaR_i`` = the (weighted) mean over the tail set of asset i's
    loss, which sums exactly to the tail-mean CVaR.
    The kernel estimator of ``E[-P_i | L = VaR]`` (Epperlein & Smillie, 2006; smoother, but it sums to the
    VaR only approximately) is still available with ``var_allocation="kernel"``; its residual is reported.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.risk import measures as m

__all__ = [
    "ALLOCATION",
    "cornish_fisher_decomposition",
    "SCENARIO_METHODS",
    "decompose",
    "incremental_var",
    "parametric_decomposition",
    "scenario_allocation",
    "scenario_decomposition",
]

SCENARIO_METHODS = ("historical", "historical_ew", "fhs", "mc")
#: method -> (VaR allocation, CVaR allocation)
ALLOCATION = {
    "normal": ("euler", "euler"),
    "t": ("euler", "euler"),
    "cornish_fisher": ("euler", "euler"),
    "historical": ("scenario_at_quantile", "tail_mean"),
    "historical_ew": ("scenario_at_quantile", "tail_mean"),
    "fhs": ("scenario_at_quantile", "tail_mean"),
    "mc": ("scenario_at_quantile", "tail_mean"),
}


def _residual(total: float, comps: np.ndarray) -> float:
    return float(total - math.fsum(comps.tolist()))


def _euler_multipliers(c: float, nu: float | None) -> tuple[float, float]:
    """(VaR, CVaR) per unit of the h-day P&L standard deviation for a normal or std-scaled t."""
    if nu is None:
        z = float(stats.norm.ppf(c))
        return z, float(stats.norm.pdf(z) / (1.0 - c))
    scale = math.sqrt((nu - 2.0) / nu)
    q = float(stats.t.ppf(c, nu))
    es = float(stats.t.pdf(q, nu) * (nu + q * q) / ((nu - 1.0) * (1.0 - c)))
    return scale * q, scale * es


def parametric_decomposition(
    positions: Any,
    covariance: Any,
    confidence: float = 0.99,
    horizon: int = 1,
    mean: Any | None = None,
    *,
    nu: float | None = None,
) -> dict[str, Any]:
    """Normal (or, with ``nu``, Student-t) VaR/CVaR with marginal and Euler component contributions.

    ``mean`` is None (zero) or a vector of 1-day expected returns ``[N]``.  Returns ``var``, ``cvar``,
    ``sigma`` (1-day portfolio std), and per position ``marginal_var``, ``component_var``,
    ``marginal_cvar``, ``component_cvar`` (lists), plus ``pct_component_var``, ``allocation`` and the
    rounding residuals ``var_residual`` / ``cvar_residual``.
    """
    c = m.check_confidence(confidence)
    h = m.check_horizon(horizon)
    try:
        pos = np.asarray(positions, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("positions must be a numeric 1-D array", field="positions") from None
    if pos.ndim != 1:
        raise InvalidInput("positions must be a 1-D array", field="positions")
    w = m.check_positions(pos, pos.shape[0])
    n = w.shape[0]
    s = m.check_covariance(covariance, n)
    mu = np.zeros(n) if mean is None else np.asarray(mean, dtype=float)
    if mu.shape != (n,) or not np.all(np.isfinite(mu)):
        raise InvalidInput(f"mean must be a finite vector of length {n}", field="returns")
    v = None if nu is None else m.check_nu(nu)
    sw = s @ w
    sigma = math.sqrt(max(float(w @ sw), 0.0))
    k_var, k_es = _euler_multipliers(c, v)
    root_h = math.sqrt(h)
    # zero-risk portfolio: the gradient of sigma is undefined; use zero
    grad_sigma = sw / sigma if sigma > 0 else np.zeros(n)
    marginal_var = k_var * root_h * grad_sigma - mu * h
    marginal_cvar = k_es * root_h * grad_sigma - mu * h
    if v is None:
        var, cvar = m.normal_var_cvar(sigma, c, h, float(mu @ w))
    else:
        var, cvar = m.student_t_var_cvar(sigma, c, v, h, float(mu @ w))
    comp_var = w * marginal_var
    comp_cvar = w * marginal_cvar
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = comp_var / var if var != 0 else np.full(n, np.nan)
    return {
        "method": "normal" if v is None else "t",
        "allocation": {"var": "euler", "cvar": "euler"},
        "confidence": c,
        "horizon": h,
        "var": var,
        "cvar": cvar,
        "sigma": sigma,
        "marginal_var": marginal_var.tolist(),
        "component_var": comp_var.tolist(),
        "marginal_cvar": marginal_cvar.tolist(),
        "component_cvar": comp_cvar.tolist(),
        "pct_component_var": pct.tolist(),
        "var_residual": _residual(var, comp_var),
        "cvar_residual": _residual(cvar, comp_cvar),
    }


def cornish_fisher_decomposition(
    returns: Any, positions: Any, confidence: float = 0.99, horizon: int = 1, mean: Any = None
) -> dict[str, Any]:
    """Euler decomposition of the Cornish-Fisher (modified) VaR and CVaR of ``returns @ positions``.

    Same estimator as :func:`nautilus.risk.measures.var_cvar` with ``method="cornish_fisher"`` (sample std
    with ``ddof=1``, moment skewness and excess kurtosis; ``mean`` None or "sample"), differentiated
    analytically: ``component_i = w_i dVaR/dw_i``.
    """
    c = m.check_confidence(confidence)
    h = m.check_horizon(horizon)
    r = m.check_returns(returns)
    w = m.check_positions(positions, r.shape[1])
    t = r.shape[0]
    p = r @ w
    use_mean = mean in (True, "sample")
    mu = float(p.mean()) if use_mean else 0.0
    dmu = r.mean(axis=0) if use_mean else np.zeros(w.shape[0])
    sig = float(np.std(p, ddof=1))
    sk, ku = m._sample_skew_kurt(p)
    dev = r - r.mean(axis=0)
    d = dev @ w
    m2, m3, m4 = float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))
    if m2 > 0 and sig > 0:
        dm2 = 2.0 * (dev.T @ d) / t
        dm3 = 3.0 * (dev.T @ d**2) / t
        dm4 = 4.0 * (dev.T @ d**3) / t
        dsig = (t / (t - 1.0)) * dm2 / (2.0 * sig)
        dsk = dm3 / m2**1.5 - 1.5 * m3 * m2**-2.5 * dm2
        dku = dm4 / m2**2 - 2.0 * m4 * m2**-3 * dm2
    else:
        dsig = dsk = dku = np.zeros(w.shape[0])
    rh = math.sqrt(h)
    s_h, k_h = sk / rh, ku / h
    a = 1.0 - c
    z = float(stats.norm.ppf(a))
    zcf = float(m.cornish_fisher_quantile(z, s_h, k_h))
    dz_ds = ((z * z - 1.0) / 6.0 - (2.0 * z**3 - 5.0 * z) * 2.0 * s_h / 36.0) / rh
    dz_dk = ((z**3 - 3.0 * z) / 24.0) / h
    grad_var = -(h * dmu + rh * (dsig * zcf + sig * (dz_ds * dsk + dz_dk * dku)))
    pdf = float(stats.norm.pdf(z))
    n0, n1, n2, n3 = a, -pdf, a - z * pdf, -(z * z + 2.0) * pdf
    integral = n1 + (n2 - n0) * s_h / 6.0 + (n3 - 3.0 * n1) * k_h / 24.0 - (2.0 * n3 - 5.0 * n1) * s_h * s_h / 36.0
    di_ds = ((n2 - n0) / 6.0 - (2.0 * n3 - 5.0 * n1) * 2.0 * s_h / 36.0) / rh
    di_dk = ((n3 - 3.0 * n1) / 24.0) / h
    grad_cvar = -(h * dmu + rh * (dsig * integral + sig * (di_ds * dsk + di_dk * dku)) / a)
    var = m.cornish_fisher_var(sig, c, sk, ku, h, mu)
    cvar = m.cornish_fisher_cvar(sig, c, sk, ku, h, mu)
    comp_var, comp_cvar = w * grad_var, w * grad_cvar
    return {
        "method": "cornish_fisher",
        "allocation": {"var": "euler", "cvar": "euler"},
        "confidence": c,
        "horizon": h,
        "var": var,
        "cvar": cvar,
        "marginal_var": grad_var.tolist(),
        "marginal_cvar": grad_cvar.tolist(),
        "component_var": comp_var.tolist(),
        "component_cvar": comp_cvar.tolist(),
        "var_residual": _residual(var, comp_var),
        "cvar_residual": _residual(cvar, comp_cvar),
    }


def _silverman(x: np.ndarray, wts: np.ndarray) -> float:
    sd = float(np.sqrt(np.sum(wts * (x - np.sum(wts * x)) ** 2)))
    q75, q25 = np.percentile(x, [75, 25])
    iqr = float(q75 - q25) / 1.34
    spread = min(sd, iqr) if iqr > 0 else sd
    b = 0.9 * spread * x.shape[0] ** (-0.2)
    return b if b > 0 else 1e-12


def _quantile_scenario(losses: np.ndarray, target: float, preferred: int) -> tuple[list[int], list[float]]:
    """Scenario(s) and weights whose loss is ``target``: ``preferred`` (the VaR scenario of the quantile
    rule) when its loss is the target, else any scenario at the target, else the two bracketing scenarios
    interpolated linearly (exact for any quantile that interpolates order statistics)."""
    tol = 1e-12 * max(abs(target), float(np.max(np.abs(losses))), 1e-300)
    if abs(losses[preferred] - target) <= tol:
        return [preferred], [1.0]
    hits = np.flatnonzero(np.abs(losses - target) <= tol)
    if hits.size:
        return [int(hits[0])], [1.0]
    above = np.flatnonzero(losses > target)
    below = np.flatnonzero(losses < target)
    if above.size == 0 or below.size == 0:  # outside the sample: the nearest scenario (residual reported)
        return [int(np.argmin(np.abs(losses - target)))], [1.0]
    hi = int(above[np.argmin(losses[above])])
    lo = int(below[np.argmax(losses[below])])
    theta = (target - losses[lo]) / (losses[hi] - losses[lo])
    return [hi, lo], [float(theta), float(1.0 - theta)]


def scenario_allocation(
    asset_pnl: Any,
    var: float,
    cvar: float,
    confidence: float,
    *,
    weights: np.ndarray | None = None,
    scale: float = 1.0,
    pnl: np.ndarray | None = None,
) -> dict[str, Any]:
    """Components of a reported scenario VaR/CVaR: ``var``/``cvar`` are ``scale`` times the 1-day figures
    of the portfolio P&L ``pnl`` (default: the row sums of ``asset_pnl [S, N]``) by the quantile rule of
    :mod:`nautilus.risk.measures` (``weights``: the scenario weights, if any).

    Component VaR at the quantile scenario, component CVaR as the tail mean; returns ``component_var``,
    ``component_cvar`` (arrays), ``var_scenarios`` (the scenario indices used, with ``var_scenario_weights``),
    ``tail_size`` and the rounding residuals.
    """
    c = m.check_confidence(confidence)
    p = np.asarray(asset_pnl, dtype=float)
    total = p.sum(axis=1) if pnl is None else np.asarray(pnl, dtype=float)
    idx, tw = m._sorted_tail(total, c, weights)
    losses = -total
    target = var / scale if scale else var
    rows, theta = _quantile_scenario(losses, target, int(idx[-1]))
    comp_var = -scale * sum(t * p[s] for s, t in zip(rows, theta, strict=True))
    comp_cvar = -scale * (tw @ p[idx])
    return {
        "component_var": comp_var,
        "component_cvar": comp_cvar,
        "var_scenarios": rows,
        "var_scenario_weights": theta,
        "tail_size": int(idx.shape[0]),
        "var_residual": _residual(var, comp_var),
        "cvar_residual": _residual(cvar, comp_cvar),
    }


def scenario_decomposition(
    asset_pnl: Any,
    confidence: float = 0.99,
    *,
    weights: Any | None = None,
    bandwidth: float | None = None,
    var_allocation: str = "scenario_at_quantile",
) -> dict[str, Any]:
    """Component VaR/CVaR from a per-asset P&L matrix ``[S, N]`` (currency, one row per scenario).

    Build it from returns as ``returns * positions`` (broadcast).  Returns ``var``, ``cvar``,
    ``component_cvar`` (tail mean, sums exactly to ``cvar``), ``component_var`` (``var_allocation``:
    ``"scenario_at_quantile"``, exact, or ``"kernel"``, approximate), ``allocation``,
    ``var_residual = var - sum(component_var)``, ``cvar_residual``, ``bandwidth`` (kernel only),
    ``tail_size``, ``var_scenarios``.
    """
    c = m.check_confidence(confidence)
    p = m.check_returns(asset_pnl, min_rows=1)
    n_s = p.shape[0]
    wts = None if weights is None else m._check_weights(weights, n_s)
    pnl = p.sum(axis=1)
    var, cvar = m.historical_var_cvar(pnl, c, wts)
    out = scenario_allocation(p, var, cvar, c, weights=wts, pnl=pnl)
    comp_var = out["component_var"]
    b = None
    if var_allocation == "kernel":
        losses = -pnl
        base = np.full(n_s, 1.0 / n_s) if wts is None else wts
        if bandwidth is None:
            b = _silverman(losses, base)
        else:
            b = float(bandwidth)
            if not (math.isfinite(b) and b > 0):
                raise InvalidInput("bandwidth must be a positive number", field="returns")
        kern = base * np.exp(-0.5 * ((losses - var) / b) ** 2)
        if kern.sum() <= 0 or not np.isfinite(kern.sum()):
            kern = np.zeros(n_s)
            kern[out["var_scenarios"][0]] = 1.0  # degenerate: use the VaR scenario itself
        kern = kern / kern.sum()
        comp_var = kern @ (-p)
    elif var_allocation != "scenario_at_quantile":
        raise InvalidInput("var_allocation must be scenario_at_quantile or kernel", field="var_allocation")
    return {
        "confidence": c,
        "allocation": {"var": var_allocation, "cvar": "tail_mean"},
        "var": var,
        "cvar": cvar,
        "component_var": comp_var.tolist(),
        "component_cvar": out["component_cvar"].tolist(),
        "var_residual": _residual(var, comp_var),
        "cvar_residual": out["cvar_residual"],
        "bandwidth": b,
        "tail_size": out["tail_size"],
        "var_scenarios": out["var_scenarios"],
    }


def decompose(
    returns: Any,
    positions: Any,
    confidence: float = 0.99,
    horizon: int = 1,
    method: str = "historical",
    **options: Any,
) -> dict[str, Any]:
    """:func:`nautilus.risk.measures.var_cvar` plus per-position components that sum to its figures.

    The VaR and CVaR are those of ``var_cvar`` (same position-independent precomputation, evaluated once),
    and the result carries ``component_var``, ``component_cvar`` (lists), ``marginal_var`` (Euler methods),
    ``allocation`` (``{"var": ..., "cvar": ...}``, see :data:`ALLOCATION`) and ``var_residual`` /
    ``cvar_residual`` (reported figure minus the sum of the components: rounding only).
    """
    r = m.check_returns(returns)
    w = m.check_positions(positions, r.shape[1])
    f, details = m.var_function(r, confidence, horizon, method, **options)
    var, cvar = f(w)
    out: dict[str, Any] = dict(details)
    scen = out.pop("scenarios", None)
    c, h = details["confidence"], details["horizon"]
    if method in ("historical", "historical_ew", "fhs"):
        weights = None
        if method == "historical_ew":
            weights = m.ew_weights(r.shape[0], details["lam"])
        elif method == "historical" and options.get("weights") is not None:
            weights = m._check_weights(options["weights"], r.shape[0])
        if method == "fhs":
            assert scen is not None
            scale = math.sqrt(h) if details["horizon_scaling"] == "sqrt" else 1.0
        else:
            scen, scale = r, math.sqrt(h)
        dec = scenario_allocation(scen * w, var, cvar, c, weights=weights, scale=scale, pnl=scen @ w)
        comps = {"component_var": dec["component_var"].tolist(), "component_cvar": dec["component_cvar"].tolist(),
                 "var_scenarios": dec["var_scenarios"], "var_scenario_weights": dec["var_scenario_weights"],
                 "tail_size": dec["tail_size"]}
    elif method in ("normal", "t"):
        dec = parametric_decomposition(w, details["covariance"], c, h, mean=details["mean"],
                                       nu=details.get("nu"))
        comps = {k: dec[k] for k in ("component_var", "component_cvar", "marginal_var", "marginal_cvar")}
        comps["component_var"] = np.asarray(comps["component_var"])
        comps["component_cvar"] = np.asarray(comps["component_cvar"])
    else:  # cornish_fisher (var_function has refused anything else)
        dec = cornish_fisher_decomposition(r, w, c, h, mean=options.get("mean"))
        comps = {k: dec[k] for k in ("component_var", "component_cvar", "marginal_var", "marginal_cvar")}
    cv, ccv = np.asarray(comps["component_var"], dtype=float), np.asarray(comps["component_cvar"], dtype=float)
    comps["component_var"], comps["component_cvar"] = cv.tolist(), ccv.tolist()
    if "covariance" in out:
        out["covariance"] = out["covariance"].tolist()
        out["mean"] = out["mean"].tolist()
        out["sigma"] = math.sqrt(max(float(w @ np.asarray(out["covariance"]) @ w), 0.0))
    if method == "cornish_fisher":
        p = r @ w  # both conventions, named: the expansion itself uses the biased (moment) estimators
        out.update(sigma=float(np.std(p, ddof=1)), **m.sample_moments(p))
    va, ca = ALLOCATION[method]
    out.update(comps, var=var, cvar=cvar, allocation={"var": va, "cvar": ca},
               var_residual=_residual(var, cv), cvar_residual=_residual(cvar, ccv))
    return out


def incremental_var(
    returns: Any,
    positions: Any,
    delta: Any,
    confidence: float = 0.99,
    horizon: int = 1,
    method: str = "normal",
    *,
    step: float | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Incremental VaR of adding ``delta`` (currency exposures ``[N]``) to ``positions``.

    ``incremental = VaR(w + dw) - VaR(w)`` by exact re-evaluation with the same method (position-
    independent inputs such as the covariance or FHS scenarios are computed once), and the first-order
    approximation ``marginal . dw``.  Marginal VaR is analytic for ``"normal"`` and otherwise a central
    finite difference with step ``step`` (default ``1e-6 * max(|w|, 1)`` in currency) — for historical
    methods this recovers the loss vector of the VaR scenario.  Same for CVaR.
    """
    r = m.check_returns(returns)
    n = r.shape[1]
    w = m.check_positions(positions, n)
    dw = m.check_positions(delta, n)
    f, details = m.var_function(r, confidence, horizon, method, **options)
    v0, cv0 = f(w)
    v1, cv1 = f(w + dw)
    if method == "normal":
        dec = parametric_decomposition(w, details["covariance"], confidence, horizon, mean=details["mean"])
        mv = np.asarray(dec["marginal_var"])
        mcv = np.asarray(dec["marginal_cvar"])
    else:
        eps = step if step is not None else 1e-6 * max(float(np.max(np.abs(w))), 1.0)
        mv = np.empty(n)
        mcv = np.empty(n)
        for i in range(n):
            e = np.zeros(n)
            e[i] = eps
            up, dn = f(w + e), f(w - e)
            mv[i] = (up[0] - dn[0]) / (2 * eps)
            mcv[i] = (up[1] - dn[1]) / (2 * eps)
    return {
        "method": method,
        "var_before": v0,
        "var_after": v1,
        "incremental_var": v1 - v0,
        "first_order_var": float(mv @ dw),
        "cvar_before": cv0,
        "cvar_after": cv1,
        "incremental_cvar": cv1 - cv0,
        "first_order_cvar": float(mcv @ dw),
        "marginal_var": mv.tolist(),
        "marginal_cvar": mcv.tolist(),
    }
