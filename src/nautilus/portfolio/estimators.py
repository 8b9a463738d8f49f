"""Return and covariance estimators for portfolio optimisation (pure, no I/O).

Conventions
- ``returns`` is a ``[n_obs, n_assets]`` matrix of *simple* returns, rows are periods (oldest first).
- Estimates are annualised by ``periods_per_year`` (252 for daily bars): mean x ppy, covariance x ppy.
- ``mean_returns`` is the arithmetic mean; ``sample_cov`` uses ``ddof=1``; ``ledoit_wolf_cov`` is
  sklearn's ``LedoitWolf`` (shrinkage towards a scaled identity, Ledoit & Wolf 2004) on the same returns.
- Missing values follow an explicit ``nan_policy`` (never silently): ``"refuse"`` (default) raises
  ``InvalidInput`` naming the first column with a NaN and how many it has; ``"drop"`` drops every row with a
  NaN (listwise: numpy on the complete rows); ``"pairwise"`` uses, for each mean, the column's observations
  and, for each covariance entry, the rows where both columns are observed (``pandas.DataFrame.cov``, which
  may not be positive semi-definite; Ledoit-Wolf and scenario methods need complete rows and refuse it).
  Infinite values are always refused.
Bad input raises ``InvalidInput`` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.covariance import LedoitWolf

from nautilus.core.errors import InvalidInput

COV_ESTIMATORS = ("sample", "ledoit_wolf")
NAN_POLICIES = ("refuse", "pairwise", "drop")


def check_nan_policy(nan_policy: str) -> str:
    if nan_policy not in NAN_POLICIES:
        raise InvalidInput(f"nan_policy must be one of {', '.join(NAN_POLICIES)}, got {nan_policy!r}",
                           field="nan_policy")
    return nan_policy


def as_returns(returns: object, assets: Sequence[str] | None = None,
               nan_policy: str = "refuse") -> tuple[np.ndarray, list[str]]:
    """Validate a returns matrix and its asset names; return ``(float array, names)``. NaNs follow
    ``nan_policy`` (module docstring): refused naming the column, rows dropped, or kept for pairwise use."""
    check_nan_policy(nan_policy)
    try:
        r = np.asarray(returns, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"returns must be a numeric matrix: {exc}", field="returns") from exc
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 1:
        raise InvalidInput("returns must be a [n_obs >= 2, n_assets >= 1] matrix", field="returns")
    names = _names(assets, r.shape[1])
    if np.isinf(r).any():
        col = int(np.isinf(r).any(axis=0).argmax())
        raise InvalidInput(f"returns of {names[col]!r} (column {col}) contain infinite values", field="returns")
    r = apply_nan_policy(r, nan_policy, names)
    return r, names


def apply_nan_policy(r: np.ndarray, nan_policy: str, names: Sequence[str] | None = None,
                     min_rows: int = 2) -> np.ndarray:
    """``r`` under ``nan_policy``: ``refuse`` raises naming the first column with a NaN, ``drop`` keeps the
    complete rows (at least ``min_rows``), ``pairwise`` returns ``r`` as is (each column needs ``min_rows``
    observations)."""
    check_nan_policy(nan_policy)
    missing = np.isnan(r)
    if not missing.any():
        return r
    label = names if names is not None else [f"asset_{i}" for i in range(r.shape[1])]
    per_col = missing.sum(axis=0)
    if nan_policy == "refuse":
        col = int(np.argmax(per_col > 0))
        raise InvalidInput(f"returns of {label[col]!r} (column {col}) have {int(per_col[col])} missing value(s) "
                           "(NaN); give nan_policy 'drop' (complete rows) or 'pairwise'", field="returns")
    if nan_policy == "drop":
        kept = r[~missing.any(axis=1)]
        if kept.shape[0] < min_rows:
            raise InvalidInput(f"returns have {kept.shape[0]} complete row(s) after dropping NaNs; need {min_rows}",
                               field="returns")
        return kept
    short = np.flatnonzero(r.shape[0] - per_col < min_rows)
    if short.size:
        col = int(short[0])
        raise InvalidInput(f"returns of {label[col]!r} (column {col}) have fewer than {min_rows} observations",
                           field="returns")
    return r


def _names(assets: Sequence[str] | None, n: int) -> list[str]:
    if assets is None:
        return [f"asset_{i}" for i in range(n)]
    names = [str(a) for a in assets]
    if len(names) != n:
        raise InvalidInput(f"assets has {len(names)} names for {n} columns", field="assets")
    if len(set(names)) != n:
        raise InvalidInput("assets names must be unique", field="assets")
    return names


def mean_returns(returns: np.ndarray, periods_per_year: float = 252.0, nan_policy: str = "refuse") -> np.ndarray:
    """Annualised arithmetic mean of simple returns (pairwise: each column's observations)."""
    _check_ppy(periods_per_year)
    r = apply_nan_policy(np.atleast_2d(np.asarray(returns, dtype=float)), nan_policy, min_rows=1)
    return np.nanmean(r, axis=0) * periods_per_year if nan_policy == "pairwise" else r.mean(axis=0) * periods_per_year


def sample_cov(returns: np.ndarray, periods_per_year: float = 252.0, nan_policy: str = "refuse") -> np.ndarray:
    """Annualised sample covariance (ddof=1); NaNs by ``nan_policy`` (pairwise equals ``DataFrame.cov()``)."""
    _check_ppy(periods_per_year)
    r = apply_nan_policy(np.atleast_2d(np.asarray(returns, dtype=float)), nan_policy)
    if nan_policy == "pairwise" and np.isnan(r).any():
        return _pairwise_cov(r) * periods_per_year
    return np.atleast_2d(np.cov(r, rowvar=False, ddof=1)) * periods_per_year


def _pairwise_cov(r: np.ndarray) -> np.ndarray:
    """ddof=1 covariance of each pair over the rows where both are observed (NaN below 2 such rows)."""
    k = r.shape[1]
    out = np.full((k, k), np.nan)
    ok = ~np.isnan(r)
    for i in range(k):
        for j in range(i, k):
            both = ok[:, i] & ok[:, j]
            m = int(both.sum())
            if m >= 2:
                x, y = r[both, i], r[both, j]
                out[i, j] = out[j, i] = float(np.dot(x - x.mean(), y - y.mean()) / (m - 1))
    return out


def ledoit_wolf_cov(returns: np.ndarray, periods_per_year: float = 252.0, nan_policy: str = "refuse") -> np.ndarray:
    """Annualised Ledoit-Wolf shrunk covariance (sklearn ``LedoitWolf``, centred data); needs complete rows
    (``nan_policy`` refuse or drop)."""
    _check_ppy(periods_per_year)
    if check_nan_policy(nan_policy) == "pairwise":
        raise InvalidInput("ledoit_wolf needs complete rows: nan_policy 'refuse' or 'drop'", field="nan_policy")
    r = apply_nan_policy(np.atleast_2d(np.asarray(returns, dtype=float)), nan_policy)
    return LedoitWolf().fit(r).covariance_ * periods_per_year


def estimate_cov(returns: np.ndarray, method: str = "sample", periods_per_year: float = 252.0,
                 nan_policy: str = "refuse") -> np.ndarray:
    """Dispatch on ``method`` in ``COV_ESTIMATORS``."""
    if method == "sample":
        return sample_cov(returns, periods_per_year, nan_policy)
    if method == "ledoit_wolf":
        return ledoit_wolf_cov(returns, periods_per_year, nan_policy)
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
