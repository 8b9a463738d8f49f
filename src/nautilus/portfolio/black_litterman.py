"""Black-Litterman posterior (pure numpy).

Prior: market-implied excess returns ``pi = delta * S @ w_mkt`` (+ ``risk_free_rate`` to get total returns),
with ``w_mkt`` the normalised market-cap weights and ``delta`` the market risk aversion.
Views: ``P`` [k, n] picks, ``Q`` [k] view returns. ``Omega``:
- ``"he_litterman"`` (default): ``diag(tau * P S P')``;
- ``"idzorek"``: per-view confidences c in (0, 1]: ``omega_k = tau * (1 - c)/c * P_k S P_k'`` (Idzorek's closed
  form as used by PyPortfolioOpt), c = 1 gives a (near) certain view;
- or an explicit [k, k] matrix.
Posterior: ``mu = pi + tau S P' (P tau S P' + Omega)^-1 (Q - P pi)``,
``cov = S + [(tau S)^-1 + P' Omega^-1 P]^-1``. With no views ``mu = pi`` and ``cov = (1 + tau) S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nautilus.core.errors import InvalidInput


@dataclass(frozen=True)
class BLPosterior:
    prior: np.ndarray
    mu: np.ndarray
    cov: np.ndarray
    omega: np.ndarray


def market_implied_prior(
    cov: np.ndarray, market_caps: np.ndarray, risk_aversion: float = 1.0, risk_free_rate: float = 0.0
) -> np.ndarray:
    """``pi = delta * S w_mkt + rf`` with ``w_mkt = caps / sum(caps)``."""
    caps = np.asarray(market_caps, dtype=float).reshape(-1)
    if caps.shape[0] != cov.shape[0] or not np.all(np.isfinite(caps)) or np.any(caps < 0) or caps.sum() <= 0:
        raise InvalidInput(f"market_caps must be {cov.shape[0]} non-negative numbers, not all 0", field="market_caps")
    if not np.isfinite(risk_aversion) or risk_aversion <= 0:
        raise InvalidInput("risk_aversion must be > 0", field="risk_aversion")
    return risk_aversion * cov @ (caps / caps.sum()) + risk_free_rate


def black_litterman_posterior(
    cov: np.ndarray,
    prior: np.ndarray,
    P: np.ndarray | None = None,
    Q: np.ndarray | None = None,
    tau: float = 0.05,
    omega: str | np.ndarray = "he_litterman",
    view_confidences: np.ndarray | None = None,
) -> BLPosterior:
    """Posterior mean and covariance; see the module docstring for the formulas."""
    n = cov.shape[0]
    pi = np.asarray(prior, dtype=float).reshape(-1)
    if not np.isfinite(tau) or tau <= 0:
        raise InvalidInput("tau must be > 0", field="tau")
    if P is None or Q is None or np.size(Q) == 0:
        if (P is None) != (Q is None):
            raise InvalidInput("views need both P and Q", field="P" if P is None else "Q")
        return BLPosterior(pi, pi.copy(), (1.0 + tau) * cov, np.zeros((0, 0)))
    p = np.atleast_2d(np.asarray(P, dtype=float))
    q = np.asarray(Q, dtype=float).reshape(-1)
    k = q.shape[0]
    if p.shape != (k, n) or not np.all(np.isfinite(p)):
        raise InvalidInput(f"P must be a finite [{k}, {n}] matrix", field="P")
    if not np.all(np.isfinite(q)):
        raise InvalidInput("Q must be finite", field="Q")
    ts = tau * cov
    if isinstance(omega, str):
        if omega == "he_litterman":
            om = np.diag(np.diag(p @ ts @ p.T))
        elif omega == "idzorek":
            if view_confidences is None:
                raise InvalidInput("idzorek omega needs view_confidences", field="view_confidences")
            c = np.asarray(view_confidences, dtype=float).reshape(-1)
            if c.shape[0] != k or np.any(~np.isfinite(c)) or np.any(c <= 0) or np.any(c > 1):
                raise InvalidInput(f"view_confidences must be {k} numbers in (0, 1]", field="view_confidences")
            om = np.diag((1.0 - c) / c * np.diag(p @ ts @ p.T))
        else:
            raise InvalidInput("omega must be 'he_litterman', 'idzorek' or a matrix", field="omega")
    else:
        om = np.asarray(omega, dtype=float)
        if om.shape != (k, k) or not np.all(np.isfinite(om)):
            raise InvalidInput(f"omega must be a finite [{k}, {k}] matrix", field="omega")
    a = p @ ts @ p.T + om
    try:
        mu = pi + ts @ p.T @ np.linalg.solve(a, q - p @ pi)
        # M = tS - tS P' A^-1 P tS  (Woodbury form of [(tS)^-1 + P' Om^-1 P]^-1, valid for singular Omega)
        m = ts - ts @ p.T @ np.linalg.solve(a, p @ ts)
    except np.linalg.LinAlgError as exc:
        raise InvalidInput(f"views are degenerate: {exc}", field="P") from exc
    post_cov = cov + 0.5 * (m + m.T)
    return BLPosterior(pi, mu, post_cov, om)
