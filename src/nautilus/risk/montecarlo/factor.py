"""Factor a covariance matrix for correlated path generation.

Cholesky when the matrix is positive definite; otherwise the eigenvalues are clipped at zero
(the Frobenius-nearest positive semi-definite matrix, Higham 1988) and the factor is
``V diag(sqrt(max(lambda, 0)))`` so that ``F @ F.T`` equals that nearest PSD matrix. Clipping
emits a :class:`CovarianceClippedWarning` and sets ``clipped`` in the result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from nautilus.core.errors import InvalidInput


class CovarianceClippedWarning(UserWarning):
    """The covariance was not positive definite and its eigenvalues were clipped."""


@dataclass(frozen=True)
class Factor:
    """``matrix`` [N, N] with ``matrix @ matrix.T`` ~ the (clipped) covariance."""

    matrix: np.ndarray
    clipped: bool
    min_eigenvalue: float


def validate_covariance(cov: object) -> np.ndarray:
    try:
        a = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"covariance is not numeric: {exc}", field="covariance") from exc
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise InvalidInput(
            f"covariance must be a non-empty square matrix, got shape {a.shape}", field="covariance"
        )
    if not np.all(np.isfinite(a)):
        raise InvalidInput("covariance contains NaN or infinite values", field="covariance")
    scale = max(float(np.max(np.abs(a))), 1e-300)
    if not np.allclose(a, a.T, rtol=0.0, atol=1e-10 * scale):
        raise InvalidInput("covariance is not symmetric", field="covariance")
    if np.any(np.diag(a) < 0):
        raise InvalidInput("covariance has negative variances on its diagonal", field="covariance")
    return 0.5 * (a + a.T)


def nearest_psd(cov: np.ndarray) -> np.ndarray:
    """Frobenius-nearest positive semi-definite matrix (eigenvalues clipped at zero)."""
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.clip(vals, 0.0, None)) @ vecs.T


def factorize(cov: object, *, warn: bool = True) -> Factor:
    """Return a factor ``F`` of ``cov`` (lower Cholesky factor when positive definite)."""
    a = validate_covariance(cov)
    try:
        chol = np.linalg.cholesky(a)
        if np.all(np.isfinite(chol)):
            return Factor(chol, clipped=False, min_eigenvalue=float(np.linalg.eigvalsh(a)[0]))
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(a)
    min_eig = float(vals[0])
    clipped_vals = np.clip(vals, 0.0, None)
    if warn:
        warnings.warn(
            f"covariance is not positive definite (min eigenvalue {min_eig:.3g}); eigenvalues clipped at 0",
            CovarianceClippedWarning,
            stacklevel=3,
        )
    return Factor(vecs * np.sqrt(clipped_vals), clipped=True, min_eigenvalue=min_eig)
