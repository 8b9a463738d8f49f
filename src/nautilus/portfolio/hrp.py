"""Hierarchical risk parity (Lopez de Prado 2016), pure numpy/scipy.

Steps: correlation distance ``d = sqrt((1 - rho) / 2)``; single-linkage clustering (scipy); quasi-diagonal
order = the dendrogram's leaf order; recursive bisection splitting weight between the two halves in inverse
proportion to each half's inverse-variance-portfolio variance. Weights are long-only and sum to 1; HRP takes
no bounds or turnover constraints.
"""

from __future__ import annotations

import numpy as np
import scipy.cluster.hierarchy as sch
from scipy.spatial.distance import squareform


def hrp_weights(cov: np.ndarray) -> np.ndarray:
    """HRP weights for covariance ``cov`` [n, n] (any scale; only relative values matter)."""
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    if n == 1:
        return np.ones(1)
    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    link = sch.linkage(squareform(dist, checks=False), "single")
    order = [int(i) for i in sch.to_tree(link, rd=False).pre_order()]
    w = np.ones(n)
    clusters = [order]
    while clusters:
        clusters = [c[j:k] for c in clusters for j, k in ((0, len(c) // 2), (len(c) // 2, len(c))) if len(c) > 1]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            v_left, v_right = _cluster_var(cov, left), _cluster_var(cov, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            w[left] *= alpha
            w[right] *= 1.0 - alpha
    return w / w.sum()


def _cluster_var(cov: np.ndarray, items: list[int]) -> float:
    sub = cov[np.ix_(items, items)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)
