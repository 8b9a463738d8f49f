"""VaR / expected shortfall from (possibly weighted) loss samples, with standard errors.

Losses ``L = -P&L``; weights are likelihood ratios (importance sampling) divided by the number of
samples, or all ``1/n``: probabilities ``p``. ``VaR_c = min{x : P(L <= x) >= c}`` on the weighted empirical distribution and
``ES_c = [sum_{L_j > VaR} p_j L_j + VaR * (alpha - P(L > VaR))] / alpha`` with ``alpha = 1 - c``
(Acerbi-Tasche, exact for a discrete distribution). The same tail probabilities (the scenario at VaR
carrying the fractional remainder) weight the per-asset losses for the Euler allocation, so component
ES sums to ES.

Standard errors use the influence functions (asymptotic, iid draws): VaR ``(n p 1{L > VaR} - alpha) / f``
with ``f`` a weighted Gaussian kernel density at VaR, ES ``n p (L - VaR)^+ / alpha + VaR - ES``;
antithetic pairs are averaged into one unit first. For scrambled Sobol points the iid formula is
conservative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TailEstimate:
    var: float
    cvar: float
    tail_idx: np.ndarray  # sample indices of the tail, worst first (the last one is the VaR scenario)
    tail_prob: np.ndarray  # probability mass each tail sample carries; sums to alpha


def normalized_weights(logw: np.ndarray | None, n: int) -> np.ndarray | None:
    """Probability weights ``p_i = LR_i / n`` (not self-normalized: the likelihood ratio is exact and the
    self-normalizing sum is dominated by the rare huge ratios of paths far from the tail)."""
    if logw is None:
        return None
    return np.exp(logw) / n


def tail_estimate(loss: np.ndarray, confidence: float, p: np.ndarray | None = None) -> TailEstimate:
    n = loss.shape[0]
    alpha = 1.0 - confidence
    if p is None:
        k = max(1, int(np.ceil(alpha * n - 1e-9)))
        top = np.argpartition(-loss, k - 1)[:k] if k < n else np.arange(n)
        order = top[np.argsort(-loss[top], kind="stable")]
        prob = np.full(k, 1.0 / n)
        prob[-1] = alpha - (k - 1) / n
    else:
        order = np.argsort(-loss, kind="stable")
        cum = np.cumsum(p[order])
        k = int(np.searchsorted(cum, alpha - 1e-15)) + 1
        k = min(k, n)
        order = order[:k]
        prob = p[order].copy()
        prob[-1] = alpha - (cum[k - 2] if k > 1 else 0.0)
    var = float(loss[order[-1]])
    cvar = float(prob @ loss[order]) / alpha
    return TailEstimate(var=var, cvar=cvar, tail_idx=order, tail_prob=prob)


def _pair_units(psi: np.ndarray, pairs: np.ndarray | None) -> np.ndarray:
    if pairs is None:
        return psi
    return 0.5 * (psi[pairs[0]] + psi[pairs[1]])


def standard_errors(
    loss: np.ndarray,
    confidence: float,
    var: float,
    cvar: float,
    p: np.ndarray | None = None,
    pairs: np.ndarray | None = None,
) -> tuple[float, float]:
    """Asymptotic standard errors (VaR, ES); ``pairs`` [2, n/2] indexes antithetic partners."""
    n = loss.shape[0]
    alpha = 1.0 - confidence
    w = np.ones(n) if p is None else p * n  # mean-one weights
    bw = max(0.9 * float(np.std(loss)) * n ** (-0.2), 1e-300)
    near = np.abs(loss - var) < 6.0 * bw
    u = (loss[near] - var) / bw
    dens = float(np.sum(w[near] * np.exp(-0.5 * u * u)) / (n * bw * np.sqrt(2.0 * np.pi)))
    exceed = loss > var
    psi_var = w * exceed - alpha
    psi_es = w * np.where(exceed, loss - var, 0.0) / alpha + var - cvar
    units_var = _pair_units(psi_var, pairs)
    units_es = _pair_units(psi_es, pairs)
    m = units_var.shape[0]
    se_var = float(np.std(units_var) / np.sqrt(m) / dens) if dens > 0 else float("inf")
    se_es = float(np.std(units_es) / np.sqrt(m))
    return se_var, se_es
