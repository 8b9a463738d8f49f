"""Marginal, component and incremental VaR/CVaR per position: pure functions, no I/O.

Parametric (normal), exact Euler allocation
    ``sigma_p = sqrt(w' S w)``; ``marginal_i = dVaR/dw_i = z sqrt(h) (S w)_i / sigma_p - mu_i h``;
    ``component_i = w_i marginal_i``; ``sum_i component_i = VaR`` exactly (VaR is homogeneous of
    degree one in ``w``).  Same for CVaR with ``phi(z) / (1 - c)`` in place of ``z``.

Scenario based (historical or simulated per-asset P&L matrix ``[S, N]`` in currency)
    Portfolio loss per scenario ``L_s = -sum_i P_{s,i}``.  The tail set is the one used by
    :func:`nautilus.risk.measures.historical_cvar` (the ``k = ceil(S (1 - c))`` worst scenarios, or the
    weighted tail when ``weights`` is given); ``component CVaR_i`` = (weighted) mean over that set of
    asset i's loss ``-P_{s,i}``, which sums exactly to the tail-mean CVaR.

    Component VaR uses the kernel estimator of ``E[-P_i | L = VaR]`` (Epperlein & Smillie, 2006):
    Gaussian kernel weights ``K_s = exp(-0.5 ((L_s - VaR) / b)^2)`` (times scenario weights) with
    Silverman's bandwidth ``b = 0.9 min(sd(L), IQR(L) / 1.34) S^(-1/5)`` unless given;
    ``component VaR_i = sum_s K_s (-P_{s,i}) / sum_s K_s``.  Their sum is the kernel-smoothed loss near
    the quantile, so it equals VaR only approximately; ``var_residual = VaR - sum(component_var)``
    is reported.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.risk import measures as m

__all__ = [
    "incremental_var",
    "parametric_decomposition",
    "scenario_decomposition",
]


def parametric_decomposition(
    positions: Any,
    covariance: Any,
    confidence: float = 0.99,
    horizon: int = 1,
    mean: Any | None = None,
) -> dict[str, Any]:
    """Normal VaR/CVaR with marginal and component (Euler) contributions per position.

    ``mean`` is None (zero) or a vector of 1-day expected returns ``[N]``.  Returns ``var``, ``cvar``,
    ``sigma`` (1-day portfolio std), and per position ``marginal_var``, ``component_var``,
    ``marginal_cvar``, ``component_cvar`` (lists), plus ``pct_component_var``.
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
    sw = s @ w
    sigma = math.sqrt(max(float(w @ sw), 0.0))
    z = float(stats.norm.ppf(c))
    k_es = float(stats.norm.pdf(z) / (1.0 - c))
    root_h = math.sqrt(h)
    # zero-risk portfolio: the gradient of sigma is undefined; use zero
    grad_sigma = sw / sigma if sigma > 0 else np.zeros(n)
    marginal_var = z * root_h * grad_sigma - mu * h
    marginal_cvar = k_es * root_h * grad_sigma - mu * h
    var, cvar = m.normal_var_cvar(sigma, c, h, float(mu @ w))
    comp_var = w * marginal_var
    comp_cvar = w * marginal_cvar
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = comp_var / var if var != 0 else np.full(n, np.nan)
    return {
        "method": "normal",
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
        "var_residual": float(var - comp_var.sum()),
        "cvar_residual": float(cvar - comp_cvar.sum()),
    }


def _silverman(x: np.ndarray, wts: np.ndarray) -> float:
    sd = float(np.sqrt(np.sum(wts * (x - np.sum(wts * x)) ** 2)))
    q75, q25 = np.percentile(x, [75, 25])
    iqr = float(q75 - q25) / 1.34
    spread = min(sd, iqr) if iqr > 0 else sd
    b = 0.9 * spread * x.shape[0] ** (-0.2)
    return b if b > 0 else 1e-12


def scenario_decomposition(
    asset_pnl: Any,
    confidence: float = 0.99,
    *,
    weights: Any | None = None,
    bandwidth: float | None = None,
) -> dict[str, Any]:
    """Component VaR/CVaR from a per-asset P&L matrix ``[S, N]`` (currency, one row per scenario).

    Build it from returns as ``returns * positions`` (broadcast).  Returns ``var``, ``cvar``,
    ``component_cvar`` (sums exactly to ``cvar``), ``component_var`` (kernel estimator, sums to ``var``
    approximately), ``var_residual = var - sum(component_var)``, ``cvar_residual``, ``bandwidth``,
    ``tail_size``.
    """
    c = m.check_confidence(confidence)
    p = m.check_returns(asset_pnl, min_rows=1)
    n_s = p.shape[0]
    wts = None if weights is None else m._check_weights(weights, n_s)
    pnl = p.sum(axis=1)
    var, cvar = m.historical_var_cvar(pnl, c, wts)
    idx, tw = m._sorted_tail(pnl, c, wts)
    comp_cvar = tw @ (-p[idx])

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
        kern[idx[-1]] = 1.0  # degenerate: use the VaR scenario itself
    kern = kern / kern.sum()
    comp_var = kern @ (-p)
    return {
        "confidence": c,
        "var": var,
        "cvar": cvar,
        "component_var": comp_var.tolist(),
        "component_cvar": comp_cvar.tolist(),
        "var_residual": float(var - comp_var.sum()),
        "cvar_residual": float(cvar - comp_cvar.sum()),
        "bandwidth": b,
        "tail_size": int(idx.shape[0]),
    }


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
