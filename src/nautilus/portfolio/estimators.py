"""Return and covariance estimators for portfolio optimisation (pure, no I/O).

Conventions
- ``returns`` is a ``[n_obs, n_assets]`` matrix of *simple* returns, rows are periods (oldest first).
- Estimates are annualised by ``periods_per_year`` (252 for daily bars): mean x ppy, covariance x ppy.
- ``mean_returns`` is the arithmetic mean; ``sample_cov`` uses ``ddof=1``; ``ledoit_wolf_cov`` is
  sklearn's ``LedoitWolf`` (shrinkage towards a scaled identity, Ledoit & Wolf 2004) on the same returns.
Bad input raises ``InvalidInput`` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.covariance import LedoitWolf

from nautilus.core.errors import InvalidInput

COV_ESTIMATORS = ("sample", "ledoit_wolf")


def as_returns(returns: object, assets: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Validate a returns matrix and its asset names; return ``(float array, names)``."""
    try:
        r = np.asarray(returns, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"returns must be a numeric matrix: {exc}", field="returns") from exc
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 1:
        raise InvalidInput("returns must be a [n_obs >= 2, n_assets >= 1] matrix", field="returns")
    if not np.all(np.isfinite(r)):
        raise InvalidInput("returns contain NaN or infinite values", field="returns")
    names = _names(assets, r.shape[1])
    return r, names


def _names(assets: Sequence[str] | None, n: int) -> list[str]:
    if assets is None:
        return [f"asset_{i}" for i in range(n)]
    names = [str(a) for a in assets]
    if len(names) != n:
        raise InvalidInput(f"assets has {len(names)} names for {n} columns", field="assets")
    if len(set(names)) != n:
        raise InvalidInput("assets names must be unique", field="assets")
    return names


def mean_returns(returns: np.ndarray, periods_per_year: float = 252.0) -> np.ndarray:
    """Annualised arithmetic mean of simple returns."""
    _check_ppy(periods_per_year)
    return np.asarray(returns, dtype=float).mean(axis=0) * periods_per_year


def sample_cov(returns: np.ndarray, periods_per_year: float = 252.0) -> np.ndarray:
    """Annualised sample covariance (ddof=1)."""
    _check_ppy(periods_per_year)
    return np.atleast_2d(np.cov(np.asarray(returns, dtype=float), rowvar=False, ddof=1)) * periods_per_year


def ledoit_wolf_cov(returns: np.ndarray, periods_per_year: float = 252.0) -> np.ndarray:
    """Annualised Ledoit-Wolf shrunk covariance (sklearn ``LedoitWolf``, centred data)."""
    _check_ppy(periods_per_year)
    return LedoitWolf().fit(np.asarray(returns, dtype=float)).covariance_ * periods_per_year


def estimate_cov(returns: np.ndarray, method: str = "sample", periods_per_year: float = 252.0) -> np.ndarray:
    """Dispatch on ``method`` in ``COV_ESTIMATORS``."""
    if method == "sample":
        return sample_cov(returns, periods_per_year)
    if method == "ledoit_wolf":
        return ledoit_wolf_cov(returns, periods_per_year)
    raise InvalidInput(f"cov_estimator must be one of {COV_ESTIMATORS}, got {method!r}", field="cov_estimator")


def check_mu_cov(mu: object, cov: object, assets: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validate expected returns ``mu`` [n] and a symmetric PSD covariance ``cov`` [n, n]."""
    try:
        m = np.asarray(mu, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"mu must be a numeric vector: {exc}", field="mu") from exc
    try:
        s = np.asarray(cov, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"cov must be a numeric matrix: {exc}", field="cov") from exc
    n = m.shape[0]
    if n < 1 or not np.all(np.isfinite(m)):
        raise InvalidInput("mu must be a non-empty finite vector", field="mu")
    if s.shape != (n, n) or not np.all(np.isfinite(s)):
        raise InvalidInput(f"cov must be a finite [{n}, {n}] matrix", field="cov")
    if not np.allclose(s, s.T, rtol=1e-8, atol=1e-12):
        raise InvalidInput("cov must be symmetric", field="cov")
    s = 0.5 * (s + s.T)
    if np.linalg.eigvalsh(s).min() < -1e-10 * max(1.0, float(np.abs(s).max())):
        raise InvalidInput("cov must be positive semi-definite", field="cov")
    return m, s, _names(assets, n)


def _check_ppy(periods_per_year: float) -> None:
    if not np.isfinite(periods_per_year) or periods_per_year <= 0:
        raise InvalidInput("periods_per_year must be > 0", field="periods_per_year")
