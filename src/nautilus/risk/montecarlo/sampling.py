"""Shock generation: seeds per block, normal / Student-t shocks, antithetic, Sobol, importance sampling.

Paths are laid out in fixed-size *blocks* of ``BLOCK`` paths (the last one may be shorter). Block ``b``
draws from its own stream, ``SeedSequence(seed, spawn_key=(b,))`` (the ``b``-th child of
``SeedSequence(seed).spawn``), so a path's shocks depend only on ``(seed, b)``: the result does not
depend on the chunk size (chunks are whole numbers of blocks), the number of threads or the number of
Dask workers. Each backend turns the block stream into numbers its own way (numpy PCG64, numba's
per-thread Mersenne Twister seeded per block, torch's generator), so the same seed gives the same
answer per backend and agreement *across* backends is statistical.

Antithetic: a block's second half is the negated first half (and the same chi-square draw for ``t``).
Sobol: one scrambled Sobol sequence seeded by ``seed`` (``scipy.stats.qmc.Sobol``); block ``b`` takes
points ``[b*BLOCK, b*BLOCK + size)`` by fast-forwarding, normals by the inverse normal CDF, and for the
``t`` model one extra coordinate per step gives the chi-square by its inverse CDF.
Importance sampling: the normal shocks of each step are shifted by ``theta / sqrt(h)`` along the loss
direction ``-F^T w / |F^T w|`` and, for the ``t`` model, the chi-square is scaled by ``s < 1`` (heavier
tails); each path carries its log likelihood ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from nautilus.risk.options import OptionPositions, revalue

BLOCK = 8192


@dataclass(frozen=True)
class Spec:
    """Everything a worker needs to generate and price a block (picklable)."""

    factor: np.ndarray  # [N, N] float64, factor @ factor.T = covariance
    exposures: np.ndarray  # [N] float64
    mean: np.ndarray  # [N] float64 daily mean returns
    paths: int
    horizon: int
    model: str  # "normal" | "t"
    nu: float
    dtype: str  # "float32" | "float64"
    seed: int
    aggregation: str  # "sum" | "compound"
    antithetic: bool = False
    sobol: bool = False
    importance: bool = False
    theta: float = 0.0  # total normal shift along the loss direction (importance sampling)
    chi2_scale: float = 1.0  # chi-square scale s (importance sampling, t model)
    chi2_mix: float = 0.0  # defensive weight lambda of the untilted chi-square in the proposal mixture
    block: int = BLOCK
    confidence: float = 0.99
    options: OptionPositions | None = None  # option book on the same N assets, fully revalued per path
    days_per_year: float = 252.0  # a horizon step is one trading day of option time decay

    @property
    def linear(self) -> bool:
        """P&L is linear in the shocks: one mat-vec per path, no per-asset returns needed."""
        return self.options is None and (self.aggregation == "sum" or self.horizon == 1)

    @property
    def n_assets(self) -> int:
        return int(self.exposures.shape[0])

    @property
    def n_blocks(self) -> int:
        return -(-self.paths // self.block)

    def block_size(self, b: int) -> int:
        return min(self.block, self.paths - b * self.block)

    @property
    def direction(self) -> np.ndarray:
        """Portfolio vector in shock space: P&L of one step = z . (F^T w) (+ mean . w); with an option
        book, the delta-equivalent exposures (the loss direction importance sampling shifts along)."""
        w = self.exposures if self.options is None else self.exposures + self.options.dollar_delta()
        return self.factor.T @ w

    @property
    def np_dtype(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64


def block_seed(seed: int, b: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(b,))


def block_int_seed(seed: int, b: int) -> int:
    """A 31-bit integer seed for generators that take one (numba, torch)."""
    return int(block_seed(seed, b).generate_state(1, np.uint32)[0] >> 1)


def _antithetic(z: np.ndarray, v: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    z = np.concatenate([z, -z], axis=0)
    if v is not None:
        v = np.concatenate([v, v], axis=0)
    return z, v


def numpy_shocks(spec: Spec, b: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw shocks of block ``b``: z [size, h, N] standard normals, v [size, h] chi-square or None."""
    size = spec.block_size(b)
    m = size // 2 if spec.antithetic else size
    h, n = spec.horizon, spec.n_assets
    if spec.sobol:
        return sobol_shocks(spec, b)
    rng = np.random.Generator(np.random.PCG64(block_seed(spec.seed, b)))
    z = rng.standard_normal((m, h, n), dtype=spec.np_dtype)
    v = rng.chisquare(spec.nu, size=(m, h)) if spec.model == "t" else None
    if spec.antithetic:
        z, v = _antithetic(z, v)
    return z, v


def sobol_shocks(spec: Spec, b: int) -> tuple[np.ndarray, np.ndarray | None]:
    size = spec.block_size(b)
    m = size // 2 if spec.antithetic else size
    h, n = spec.horizon, spec.n_assets
    extra = 1 if spec.model == "t" else 0
    engine = stats.qmc.Sobol(
        d=h * (n + extra), scramble=True, seed=np.random.default_rng(block_seed(spec.seed, 0))
    )
    start = b * (spec.block // 2 if spec.antithetic else spec.block)
    if start:
        engine.fast_forward(start)
    u = engine.random(m).reshape(m, h, n + extra)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    z = special.ndtri(u[:, :, :n]).astype(spec.np_dtype)
    v = special.chdtri(spec.nu, 1.0 - u[:, :, n]) if extra else None
    if spec.antithetic:
        z, v = _antithetic(z, v)
    return z, v


def importance_shift(spec: Spec, dtype: type = np.float64) -> np.ndarray:
    """Per-step shift vector (theta / sqrt(h)) * d, d = unit loss direction in shock space."""
    d = spec.direction
    norm = float(np.linalg.norm(d))
    unit = -d / norm if norm > 0 else np.zeros_like(d)
    return (spec.theta / np.sqrt(spec.horizon) * unit).astype(dtype)


def tilt_chi2(spec: Spec, v: np.ndarray, blocks: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Draw the chi-square from the defensive mixture ``lambda f + (1 - lambda) f_s`` (``f_s``: law of
    ``s * V``), choosing the component per path-step from the block's second stream
    ``SeedSequence(seed, spawn_key=(b, 1))``; return the tilted v and the log likelihood ratio per path.
    The ratio ``f / (lambda f + (1 - lambda) f_s)`` is at most ``1 / lambda``."""
    s, lam, a = spec.chi2_scale, spec.chi2_mix, 0.5 * spec.nu
    u = np.concatenate(
        [
            np.random.Generator(np.random.PCG64(np.random.SeedSequence(spec.seed, spawn_key=(b, 1)))).random(
                (spec.block_size(b), spec.horizon)
            )
            for b in blocks
        ]
    )
    v = np.where(u >= lam, v * s, v)
    log_fs_over_f = -a * np.log(s) + 0.5 * v * (1.0 - 1.0 / s)
    log_lr = -np.log(lam + (1.0 - lam) * np.exp(log_fs_over_f))
    return v, log_lr.sum(axis=1)


def apply_importance_numpy(
    spec: Spec, z: np.ndarray, v: np.ndarray | None, blocks: list[int]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Shift/tilt raw shocks in place; return (z, v, log likelihood ratio per path or None)."""
    if not spec.importance:
        return z, v, None
    mu = importance_shift(spec, z.dtype)
    z += mu
    mu64 = mu.astype(np.float64)
    logw = (-(z @ mu).astype(np.float64) + 0.5 * float(mu64 @ mu64)).sum(axis=1)
    if v is not None and spec.chi2_scale != 1.0:
        v, extra = tilt_chi2(spec, v, blocks)
        logw += extra
    return z, v, logw


def t_scale(spec: Spec, v: np.ndarray) -> np.ndarray:
    """Student-t mixing factor sqrt((nu - 2) / V): each step's return has exactly the given covariance."""
    return np.sqrt((spec.nu - 2.0) / v)


def horizon_returns(spec: Spec, r: np.ndarray) -> np.ndarray:
    """Each asset's return over the horizon from its daily returns ``r`` [k, h, N]."""
    if r.shape[1] == 1:
        return r[:, 0, :]
    if spec.aggregation == "compound":
        total = 1.0 + r[:, 0, :]
        for t in range(1, r.shape[1]):  # a step at a time: contiguous rows, no [k, h, N] temporary
            total *= 1.0 + r[:, t, :]
        return total - 1.0
    return r.sum(axis=1)


def options_pnl(spec: Spec, total: np.ndarray, by_underlying: bool = False) -> np.ndarray:
    """Full-revaluation P&L of the option book when the assets move by ``total`` [k, N] over the
    horizon (time decay of ``horizon`` trading days); [k] or, ``by_underlying``, [k, N]. Returns are
    floored at -99.9999% so a price stays positive."""
    opts = spec.options
    assert opts is not None
    moves = np.maximum(np.asarray(total, dtype=np.float64), -0.999999)
    pnl = revalue(opts, moves, None, float(spec.horizon), scenario_type="return",
                  days_per_year=spec.days_per_year, by_position=by_underlying)
    if not by_underlying:
        return pnl
    out = np.zeros((pnl.shape[0], spec.n_assets))
    for j in range(opts.n_positions):
        out[:, opts.underlying[j]] += pnl[:, j]
    return out


def asset_pnl(spec: Spec, z: np.ndarray, v: np.ndarray | None) -> np.ndarray:
    """Per-asset P&L [k, N] in float64 for a few paths (tail scenarios), options on an asset included."""
    k, h, n = z.shape
    r = (np.asarray(z, dtype=np.float64).reshape(k * h, n) @ spec.factor.T).reshape(k, h, n)
    if v is not None:
        r = r * t_scale(spec, np.asarray(v, dtype=np.float64))[:, :, None]
    total = horizon_returns(spec, r + spec.mean)
    pnl = total * spec.exposures
    if spec.options is not None:
        pnl += options_pnl(spec, total, by_underlying=True)
    return pnl
