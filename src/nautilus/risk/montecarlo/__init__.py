"""Monte Carlo VaR / expected shortfall (``simulate``) for a linear portfolio of N assets.

Models (daily returns, covariance ``cov`` given or fitted elsewhere, ``F F^T = cov``):

* ``"normal"``: ``r = mean + F z``, ``z ~ N(0, I)``.
* ``"t"``: multivariate Student-t (t copula with t marginals, ``nu > 2`` degrees of freedom)
  ``r = mean + F z * sqrt((nu - 2) / V)``, ``V ~ chi2(nu)``; the ``(nu - 2)`` scaling makes the covariance
  of ``r`` equal ``cov`` (an unscaled t would have covariance ``cov * nu / (nu - 2)``).

Horizon: ``horizon`` daily steps are simulated per path (independent daily shocks, the t mixing variable
drawn per day). ``aggregation="sum"`` (default) takes the horizon return of each asset as the sum of its
daily returns (log-return style, P&L linear in the shocks); ``"compound"`` uses ``prod(1 + r_t) - 1``.
P&L = horizon return . exposures; VaR/CVaR are positive losses at ``confidence``.

Options (``options``, an :class:`~nautilus.risk.options.OptionPositions` book on the same N assets): every
path's option P&L is a full Black-Scholes revaluation at the horizon (spot moved by the asset's horizon
return, ``horizon`` trading days of time decay at 252 a year, implied vols unchanged), added to the linear
P&L; component CVaR then attributes each option's P&L to its underlying, and importance sampling shifts
along the delta-equivalent loss direction.

Variance reduction (``variance_reduction``, options joined by ``+``): ``"antithetic"``, ``"sobol"``
(scrambled Sobol points), ``"importance"`` (mean shift of the normal shocks along the portfolio loss
direction ``-F^T w``; for ``t`` the chi-square is drawn from a defensive mixture of itself and a
scaled-down copy, so heavy-tail scenarios are frequent while the likelihood ratio stays bounded; exact
likelihood-ratio weights, not self-normalized).

Outputs include every tail scenario's per-asset P&L (``tail_asset_pnl``, computed on first access from
the stored tail shocks) and the Euler component CVaR ``component_cvar[i] = sum_j p_j * (-pnl_ij) / alpha``
over the tail scenarios ``j`` (probabilities ``p_j``, the VaR scenario carrying the fractional remainder);
``cvar`` is reported as the sum of its components, recomputed from the stored shocks of the tail (found
by a running partial selection while simulating; shocks of tail paths that were not kept are regenerated
block by block from their seeds): one mat-vec in the working dtype when P&L is linear in the shocks, the
float64 per-asset P&L otherwise. It differs from the estimate on the P&L vector by float32 rounding only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import special

from nautilus.core.errors import InvalidInput
from nautilus.risk.montecarlo.backends import (
    BACKENDS,
    DEVICES,
    Partial,
    get_backend,
    regenerate_rows,
    run_blocks,
    run_dask,
)
from nautilus.risk.montecarlo.estimators import normalized_weights, standard_errors, tail_estimate
from nautilus.risk.montecarlo.factor import CovarianceClippedWarning, Factor, factorize, nearest_psd
from nautilus.risk.montecarlo.sampling import BLOCK, Spec, asset_pnl, t_scale
from nautilus.risk.options import OptionPositions

__all__ = [
    "BACKENDS",
    "DEVICES",
    "CovarianceClippedWarning",
    "Factor",
    "MCResult",
    "factorize",
    "nearest_psd",
    "portfolio_pnl",
    "simulate",
]

VARIANCE_REDUCTION = ("none", "antithetic", "importance", "sobol")
_KEEP_BYTES = 128 * 1024 * 1024  # bound on the stored tail shocks under importance sampling


@dataclass
class MCResult:
    var: float
    cvar: float
    var_stderr: float
    cvar_stderr: float
    component_cvar: np.ndarray | None
    paths: int
    backend: str
    device: str
    clipped: bool
    elapsed: float
    confidence: float
    horizon: int
    model: str
    dtype: str
    variance_reduction: str
    tail_prob: np.ndarray | None = None  # [k] probability mass of each tail scenario (sums to 1 - c)
    extra: dict = field(default_factory=dict)
    tail_shocks: tuple | None = field(default=None, repr=False)  # (spec, z [k, h, N], v [k, h] | None)

    @cached_property
    def tail_asset_pnl(self) -> np.ndarray | None:
        """[k, N] per-asset P&L (float64) of the tail scenarios, worst first, computed on first access."""
        if self.tail_shocks is None:
            return None
        spec, z, v = self.tail_shocks
        return asset_pnl(spec, z, v)


def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < minimum:
        raise InvalidInput(f"{name} must be an integer >= {minimum}, got {value!r}", field=name)
    return int(value)


def _parse_vr(variance_reduction: str) -> set[str]:
    if not isinstance(variance_reduction, str):
        raise InvalidInput("variance_reduction must be a string", field="variance_reduction")
    opts = {o.strip() for o in variance_reduction.split("+") if o.strip()}
    bad = opts - set(VARIANCE_REDUCTION)
    if bad or not opts:
        raise InvalidInput(
            f"unknown variance_reduction {variance_reduction!r}; options {VARIANCE_REDUCTION} joined by '+'",
            field="variance_reduction",
        )
    return opts - {"none"}


def _build_spec(
    cov,
    exposures,
    *,
    mean,
    paths,
    horizon,
    model,
    nu,
    confidence,
    dtype,
    seed,
    variance_reduction,
    aggregation,
    is_shift=None,
    is_chi2_scale=None,
    is_chi2_mix=None,
    options=None,
) -> tuple[Spec, Factor]:
    paths = _int(paths, "paths", 100)
    horizon = _int(horizon, "horizon", 1)
    seed = _int(seed, "seed", 0)
    if isinstance(confidence, bool) or not isinstance(confidence, float | int | np.floating):
        raise InvalidInput("confidence must be a number in (0, 1)", field="confidence")
    confidence = float(confidence)
    if not (0.0 < confidence < 1.0) or not math.isfinite(confidence):
        raise InvalidInput(f"confidence must be in (0, 1), got {confidence}", field="confidence")
    if model not in ("normal", "t"):
        raise InvalidInput(f"model must be 'normal' or 't', got {model!r}", field="model")
    bad_nu = (
        isinstance(nu, bool) or not isinstance(nu, float | int | np.floating) or not 2.0 < float(nu) < np.inf
    )
    if model == "t" and bad_nu:
        raise InvalidInput(f"nu must be a finite number > 2 (finite covariance), got {nu!r}", field="nu")
    if dtype not in ("float32", "float64"):
        raise InvalidInput(f"dtype must be 'float32' or 'float64', got {dtype!r}", field="dtype")
    if aggregation not in ("sum", "compound"):
        raise InvalidInput(
            f"aggregation must be 'sum' or 'compound', got {aggregation!r}", field="aggregation"
        )
    opts = _parse_vr(variance_reduction)
    fac = factorize(cov)
    n = fac.matrix.shape[0]
    try:
        w = np.asarray(exposures, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"exposures are not numeric: {exc}", field="exposures") from exc
    if w.shape[0] != n or not np.all(np.isfinite(w)):
        raise InvalidInput(f"exposures must be {n} finite numbers", field="exposures")
    if mean is None:
        mu = np.zeros(n)
    else:
        try:
            mu = np.asarray(mean, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"mean is not numeric: {exc}", field="mean") from exc
        if mu.shape[0] != n or not np.all(np.isfinite(mu)):
            raise InvalidInput(f"mean must be {n} finite numbers", field="mean")
    if options is not None:
        if not isinstance(options, OptionPositions):
            raise InvalidInput("options must be an OptionPositions book", field="options")
        if options.n_underlyings != n:
            raise InvalidInput(f"the option book has {options.n_underlyings} underlyings, the portfolio {n}",
                               field="options")
        if options.n_positions == 0:
            options = None
    if "antithetic" in opts and paths % 2:
        raise InvalidInput("antithetic variates need an even number of paths", field="paths")
    if (1.0 - confidence) * paths < 1.0:
        raise InvalidInput(
            f"confidence {confidence} leaves no tail scenario among {paths} paths", field="confidence"
        )
    theta, s, lam = 0.0, 1.0, 0.0
    if "importance" in opts:
        z_c = float(special.ndtri(confidence))
        default_shift = z_c if model == "normal" else 0.85 * z_c
        theta = default_shift if is_shift is None else float(is_shift)
        if model == "t":
            s = 0.25 if is_chi2_scale is None else float(is_chi2_scale)
            lam = 0.15 if is_chi2_mix is None else float(is_chi2_mix)
            if not (0.0 < s <= 1.0 and 0.0 < lam <= 1.0):
                raise InvalidInput("chi-square scale and mix must be in (0, 1]", field="variance_reduction")
    spec = Spec(
        factor=fac.matrix,
        exposures=w,
        mean=mu,
        paths=paths,
        horizon=horizon,
        model=model,
        nu=float(nu) if model == "t" else 5.0,
        dtype=dtype,
        seed=seed,
        aggregation=aggregation,
        antithetic="antithetic" in opts,
        sobol="sobol" in opts,
        importance="importance" in opts,
        theta=theta,
        chi2_scale=s,
        chi2_mix=lam,
        confidence=confidence,
        options=options,
    )
    return spec, fac


def _keep_count(spec: Spec, confidence: float, keep_tail: bool) -> int:
    if not keep_tail:
        return 0
    k = int(math.ceil((1.0 - confidence) * spec.paths)) + 16
    if spec.importance:
        itemsize = 4 if spec.dtype == "float32" else 8
        k = max(k, _KEEP_BYTES // (spec.horizon * spec.n_assets * itemsize))
    return min(k, spec.paths)


def _pairs(spec: Spec) -> np.ndarray | None:
    if not spec.antithetic:
        return None
    firsts, seconds = [], []
    for b in range(spec.n_blocks):
        size = spec.block_size(b)
        start = b * spec.block
        half = np.arange(size // 2) + start
        firsts.append(half)
        seconds.append(half + size // 2)
    return np.stack([np.concatenate(firsts), np.concatenate(seconds)])


def _run(spec: Spec, backend: str, chunk: int, keep: int, scheduler, device: str) -> tuple[Partial, str]:
    chunk_blocks = max(1, chunk // spec.block)
    if backend == "dask":
        return run_dask(spec, chunk_blocks, keep, scheduler), "dask"
    try:
        be = get_backend(backend, device)
    except ImportError as exc:
        raise InvalidInput(f"backend {backend!r} is not installed: {exc}", field="backend") from exc
    return run_blocks(spec, backend, list(range(spec.n_blocks)), chunk_blocks, keep, device), be.device


def _check_backend(backend, chunk, scheduler, device) -> int:
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown backend {backend!r}; one of {BACKENDS}", field="backend")
    if device not in DEVICES:
        raise InvalidInput(f"unknown device {device!r}; one of {DEVICES}", field="device")
    if scheduler is not None and backend != "dask":
        raise InvalidInput("scheduler is only used by the dask backend", field="backend")
    return _int(chunk, "chunk", 1)


def simulate(
    cov,
    exposures,
    *,
    mean=None,
    paths: int = 100_000,
    horizon: int = 1,
    model: str = "normal",
    nu: float = 5,
    confidence: float = 0.99,
    backend: str = "numpy",
    dtype: str = "float32",
    chunk: int = 100_000,
    seed: int = 0,
    variance_reduction: str = "none",
    scheduler=None,
    keep_tail: bool = True,
    aggregation: str = "sum",
    is_shift: float | None = None,
    is_chi2_scale: float | None = None,
    is_chi2_mix: float | None = None,
    options: OptionPositions | None = None,
    device: str = "cpu",
) -> MCResult:
    """Simulate ``paths`` scenarios and estimate VaR, CVaR (ES), their standard errors and component CVaR.

    ``chunk`` bounds memory (paths per chunk, rounded up to whole blocks of ``BLOCK`` paths; it does not
    change the result). ``scheduler``: Dask scheduler address or ``distributed.Client`` (backend ``"dask"``;
    default a local cluster). ``is_shift``/``is_chi2_scale`` override the importance-sampling parameters
    (shift ``Phi^-1(c)`` standard deviations along the loss direction, ``0.85 Phi^-1(c)`` for ``t``, whose
    chi-square comes from the mixture ``0.15 chi2 + 0.85 * (0.25 chi2)``; tuned on 99% t5 VaR/ES).
    ``device``: where the torch backend runs (``cpu``, ``cuda`` or ``mps``; the caller resolves it, the Risk
    engine from its configured compute backend).
    """
    t0 = time.perf_counter()
    chunk = _check_backend(backend, chunk, scheduler, device)
    spec, fac = _build_spec(
        cov,
        exposures,
        mean=mean,
        paths=paths,
        horizon=horizon,
        model=model,
        nu=nu,
        confidence=confidence,
        dtype=dtype,
        seed=seed,
        variance_reduction=variance_reduction,
        aggregation=aggregation,
        is_shift=is_shift,
        is_chi2_scale=is_chi2_scale,
        is_chi2_mix=is_chi2_mix,
        options=options,
    )
    confidence = float(confidence)
    alpha = 1.0 - confidence
    keep = _keep_count(spec, confidence, keep_tail)
    part, used = _run(spec, backend, chunk, keep, scheduler, device)
    loss = -part.pnl
    p = normalized_weights(part.logw, loss.shape[0])
    est = tail_estimate(loss, confidence, p)
    se_var, se_es = standard_errors(loss, confidence, est.var, est.cvar, p, _pairs(spec))
    var, cvar = est.var, est.cvar
    component = tail_prob = shocks = None
    if keep_tail:
        z, v = _tail_shocks(spec, part, est.tail_idx, "numpy" if backend == "dask" else backend, device)
        tail_prob = est.tail_prob
        component = _component(spec, z, v, tail_prob, alpha)
        cvar = float(component.sum())
        var = float(-asset_pnl(spec, z[-1:], None if v is None else v[-1:]).sum())
        shocks = (spec, z, v)
    return MCResult(
        var=var,
        cvar=cvar,
        var_stderr=se_var,
        cvar_stderr=se_es,
        component_cvar=component,
        paths=spec.paths,
        backend=backend,
        device=used,
        clipped=fac.clipped,
        elapsed=time.perf_counter() - t0,
        confidence=confidence,
        horizon=spec.horizon,
        model=model,
        dtype=dtype,
        variance_reduction=variance_reduction,
        tail_prob=tail_prob,
        tail_shocks=shocks,
        extra={
            "block": BLOCK,
            "tail_scenarios": int(est.tail_idx.shape[0]),
            "effective_paths": float(p.sum() ** 2 / np.sum(p**2)) if p is not None else float(spec.paths),
        },
    )


def _component(spec: Spec, z: np.ndarray, v: np.ndarray | None, prob: np.ndarray, alpha: float) -> np.ndarray:
    """Euler component ES ``sum_j p_j (-pnl_ij) / alpha``; a single mat-vec when P&L is linear in the shocks."""
    if not spec.linear:
        return (prob @ -asset_pnl(spec, z, v)) / alpha
    k, h, n = z.shape
    pw = np.repeat(prob[:, None], h, axis=1) if v is None else prob[:, None] * t_scale(spec, v)
    y = (pw.reshape(-1).astype(z.dtype) @ z.reshape(k * h, n)).astype(np.float64)  # sgemv in float32 mode
    return -spec.exposures * (spec.factor @ y + spec.horizon * spec.mean * float(prob.sum())) / alpha


def _tail_shocks(spec: Spec, part: Partial, idx: np.ndarray, backend: str, device: str):
    z = np.empty((idx.shape[0], spec.horizon, spec.n_assets), dtype=spec.np_dtype)
    v = np.empty((idx.shape[0], spec.horizon)) if spec.model == "t" else None
    if part.keep_z is not None and part.keep_idx.shape[0]:
        order = np.argsort(part.keep_idx)
        sorted_idx = part.keep_idx[order]
        pos = np.clip(np.searchsorted(sorted_idx, idx), 0, sorted_idx.shape[0] - 1)
        found = sorted_idx[pos] == idx
    else:
        order = pos = None
        found = np.zeros(idx.shape[0], dtype=bool)
    if found.any():
        src = order[pos[found]]
        z[found] = part.keep_z[src]
        if v is not None:
            v[found] = part.keep_v[src]
    if not found.all():
        zr, vr = regenerate_rows(spec, backend, idx[~found], device)
        z[~found] = zr
        if v is not None:
            v[~found] = vr
    return z, v


def portfolio_pnl(
    cov,
    exposures,
    *,
    mean=None,
    paths: int = 10_000,
    horizon: int = 1,
    model: str = "normal",
    nu: float = 5,
    backend: str = "numpy",
    dtype: str = "float32",
    chunk: int = 100_000,
    seed: int = 0,
    variance_reduction: str = "none",
    aggregation: str = "sum",
    scheduler=None,
    options: OptionPositions | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw portfolio P&L of every path and its probability weight ``LR_i / n`` (None when unweighted).

    For tests and diagnostics: it holds every path in memory, so keep ``paths`` small.
    """
    chunk = _check_backend(backend, chunk, scheduler, device)
    spec, _ = _build_spec(
        cov,
        exposures,
        mean=mean,
        paths=paths,
        horizon=horizon,
        model=model,
        nu=nu,
        confidence=0.99,
        dtype=dtype,
        seed=seed,
        variance_reduction=variance_reduction,
        aggregation=aggregation,
        options=options,
    )
    part, _ = _run(spec, backend, chunk, 0, scheduler, device)
    return part.pnl, normalized_weights(part.logw, part.pnl.shape[0])
