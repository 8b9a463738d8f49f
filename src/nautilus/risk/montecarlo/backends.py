"""Compute backends: numpy, numba (parallel), torch (on the device its caller names) and Dask sharding.

A backend turns a list of block ids into shocks (``generate``) and prices them into portfolio P&L
(``pnl``): for one step or summed returns that is one mat-vec ``z @ (F^T w)`` in the working dtype
(BLAS sgemv in float32), so the [paths, N] per-asset matrix is never formed; compounded multi-day
returns need the per-asset returns of each step (one gemm per step). ``run_blocks`` walks blocks chunk
by chunk and keeps the shocks of the worst ``keep`` paths (a running partial selection) so the tail
scenarios' per-asset P&L can be recomputed afterwards without regenerating anything.

The torch backend runs on the ``device`` it is given (``cpu``, ``cuda`` or ``mps``); nothing here reads
settings: the Risk engine resolves its configured backend (``auto``: cuda > mps > cpu) and passes it down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nautilus.risk.montecarlo.estimators import tail_estimate
from nautilus.risk.montecarlo.sampling import (
    Spec,
    apply_importance_numpy,
    block_int_seed,
    block_seed,
    horizon_returns,
    importance_shift,
    numpy_shocks,
    options_pnl,
    t_scale,
    tilt_chi2,
)

BACKENDS = ("numpy", "numba", "torch", "dask")
DEVICES = ("cpu", "cuda", "mps")  # torch devices


class NumpyBackend:
    name = "numpy"
    device = "cpu"

    def generate(self, spec: Spec, blocks: list[int]):
        parts = [numpy_shocks(spec, b) for b in blocks]
        z = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
        v = None
        if spec.model == "t":
            v = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
        return apply_importance_numpy(spec, z, v, blocks)

    def pnl(self, spec: Spec, z, v) -> np.ndarray:
        dt = z.dtype
        k, h, n = z.shape
        if not spec.linear and spec.aggregation == "sum":
            # summed returns are linear in the shocks: add the (t-scaled) steps first, one gemm per path
            zs = z.sum(axis=1) if v is None else np.einsum("khn,kh->kn", z, t_scale(spec, v).astype(dt))
            total = zs @ spec.factor.T.astype(dt) + (spec.horizon * spec.mean).astype(dt)
            return nonlinear_pnl(spec, total)
        if not spec.linear:
            r = (z.reshape(k * h, n) @ spec.factor.T.astype(dt)).reshape(k, h, n)
            if v is not None:
                r *= t_scale(spec, v).astype(dt)[:, :, None]
            r += spec.mean.astype(dt)
            return nonlinear_pnl(spec, horizon_returns(spec, r))  # compounded
        proj = (z.reshape(k * h, n) @ spec.direction.astype(dt)).astype(np.float64).reshape(k, h)
        if v is not None:
            proj *= t_scale(spec, v)
        return proj.sum(axis=1) + spec.horizon * float(spec.mean @ spec.exposures)

    def rows(self, z, v, idx: np.ndarray):
        return z[idx], (None if v is None else v[idx])


_NUMBA_KERNEL = None


def _numba_kernel():
    """Compile (once, cached on disk) the numba shock kernel.

    Normals: SplitMix64 on a per-block key and a counter (a counter-based stream, so any element can be
    computed by any thread) gives two 32-bit uniforms per pair, turned into two normals by Box-Muller
    (float64 math; 32-bit uniforms bound |z| at 6.66, a 3e-11 tail). Chi-squares: numba's per-thread
    generator reseeded per block.
    """
    global _NUMBA_KERNEL
    if _NUMBA_KERNEL is None:
        import numba

        @numba.njit(parallel=True, cache=True)
        def fill(keys, seeds, sizes, offsets, per_path, antithetic, want_chi2, nu, z, v):
            golden = np.uint64(0x9E3779B97F4A7C15)
            m1 = np.uint64(0xBF58476D1CE4E5B9)
            m2 = np.uint64(0x94D049BB133111EB)
            lo = np.uint64(0xFFFFFFFF)
            inv32 = 2.0**-32
            two_pi = 2.0 * np.pi
            for i in numba.prange(keys.shape[0]):
                size = sizes[i]
                off = offsets[i]
                m = size // 2 if antithetic else size
                cnt = m * per_path
                flat = z[off : off + size].reshape(size * per_path)
                key = keys[i]
                half = cnt // 2
                for p in range(half + cnt % 2):
                    x = key + np.uint64(p + 1) * golden
                    x = (x ^ (x >> np.uint64(30))) * m1
                    x = (x ^ (x >> np.uint64(27))) * m2
                    x = x ^ (x >> np.uint64(31))
                    u1 = (float(x >> np.uint64(32)) + 1.0) * inv32
                    u2 = float(x & lo) * inv32
                    r = np.sqrt(-2.0 * np.log(u1))
                    th = two_pi * u2
                    if p < half:
                        flat[p] = r * np.cos(th)
                        flat[half + p] = r * np.sin(th)
                    else:
                        flat[cnt - 1] = r * np.cos(th)
                if antithetic:
                    for j in range(cnt):
                        flat[cnt + j] = -flat[j]
                if want_chi2:
                    np.random.seed(seeds[i])
                    h = v.shape[1]
                    for j in range(m):
                        for t in range(h):
                            v[off + j, t] = np.random.chisquare(nu)
                    if antithetic:
                        for j in range(m, size):
                            for t in range(h):
                                v[off + j, t] = v[off + j - m, t]

        _NUMBA_KERNEL = fill
    return _NUMBA_KERNEL


class NumbaBackend(NumpyBackend):
    """Shocks drawn in a numba ``prange`` over blocks (see ``_numba_kernel``); deterministic per block."""

    name = "numba"

    def generate(self, spec: Spec, blocks: list[int]):
        if spec.sobol:
            return super().generate(spec, blocks)
        sizes = np.array([spec.block_size(b) for b in blocks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        seeds = np.array([block_int_seed(spec.seed, b) for b in blocks], dtype=np.int64)
        keys = np.array(
            [block_seed(spec.seed, b).generate_state(1, np.uint64)[0] for b in blocks], dtype=np.uint64
        )
        total = int(sizes.sum())
        z = np.empty((total, spec.horizon, spec.n_assets), dtype=spec.np_dtype)
        want = spec.model == "t"
        v = np.empty((total, spec.horizon) if want else (1, 1), dtype=np.float64)
        _numba_kernel()(
            keys,
            seeds,
            sizes,
            offsets,
            spec.horizon * spec.n_assets,
            spec.antithetic,
            want,
            float(spec.nu),
            z,
            v,
        )
        return apply_importance_numpy(spec, z, v if want else None, blocks)


class TorchBackend:
    """Normals from a per-block ``torch.Generator`` on the device; chi-squares from the block's numpy stream."""

    name = "torch"

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = device

    def generate(self, spec: Spec, blocks: list[int]):
        torch = self.torch
        dt = torch.float32 if spec.dtype == "float32" or self.device == "mps" else torch.float64
        zs, vs = [], []
        for b in blocks:
            size = spec.block_size(b)
            if spec.sobol:
                z_np, v_np = numpy_shocks(spec, b)
                zs.append(torch.from_numpy(np.ascontiguousarray(z_np)).to(self.device, dt))
                vs.append(v_np)
                continue
            m = size // 2 if spec.antithetic else size
            g = torch.Generator(device=self.device)
            g.manual_seed(block_int_seed(spec.seed, b))
            z = torch.randn((m, spec.horizon, spec.n_assets), generator=g, dtype=dt, device=self.device)
            v = None
            if spec.model == "t":
                rng = np.random.Generator(np.random.PCG64(block_seed(spec.seed, b)))
                v = rng.chisquare(spec.nu, size=(m, spec.horizon))
            if spec.antithetic:
                z = torch.cat([z, -z])
                v = None if v is None else np.concatenate([v, v])
            zs.append(z)
            vs.append(v)
        z = zs[0] if len(zs) == 1 else torch.cat(zs)
        v = None if spec.model != "t" else np.concatenate(vs)
        if not spec.importance:
            return z, v, None
        mu = torch.from_numpy(importance_shift(spec)).to(self.device, dt)
        z += mu
        mu64 = mu.double()
        logw = (-(z @ mu).double() + 0.5 * float(mu64 @ mu64)).sum(dim=1).cpu().numpy()
        if v is not None and spec.chi2_scale != 1.0:
            v, extra = tilt_chi2(spec, v, blocks)
            logw += extra
        return z, v, logw

    def pnl(self, spec: Spec, z, v) -> np.ndarray:
        torch = self.torch
        dt = z.dtype
        if not spec.linear:
            k, h, n = z.shape
            factor_t = torch.from_numpy(spec.factor.T.copy()).to(self.device, dt)
            r = (z.reshape(k * h, n) @ factor_t).reshape(k, h, n)
            if v is not None:
                r.mul_(torch.from_numpy(t_scale(spec, v)).to(self.device, dt)[:, :, None])
            r.add_(torch.from_numpy(spec.mean).to(self.device, dt))
            if spec.aggregation == "compound":
                total = torch.prod(r.add_(1.0), dim=1).sub_(1.0)
            else:
                total = r.sum(dim=1)
            return nonlinear_pnl(spec, total.double().cpu().numpy())
        proj = (z @ torch.from_numpy(spec.direction).to(self.device, dt)).double().cpu().numpy()
        if v is not None:
            proj *= t_scale(spec, v)
        return proj.sum(axis=1) + spec.horizon * float(spec.mean @ spec.exposures)

    def rows(self, z, v, idx: np.ndarray):
        t_idx = self.torch.from_numpy(idx).to(z.device)
        return z[t_idx].cpu().numpy(), (None if v is None else np.array(v[idx]))


def nonlinear_pnl(spec: Spec, total) -> np.ndarray:
    """Portfolio P&L [k] (float64) from each asset's horizon return ``total`` [k, N]: the linear
    positions plus the fully revalued option book."""
    pnl = (total @ spec.exposures.astype(total.dtype)).astype(np.float64)
    if spec.options is not None:
        pnl += options_pnl(spec, total)
    return pnl


def get_backend(name: str, device: str = "cpu"):
    """Backend ``name``; ``device`` is the torch backend's (the others run on the CPU)."""
    if name in ("numpy", "dask"):
        return NumpyBackend()
    if name == "numba":
        return NumbaBackend()
    if name == "torch":
        return TorchBackend(device)
    raise ValueError(name)


@dataclass
class Partial:
    """What a run over a range of blocks returns: every path's P&L, the shocks of its worst paths."""

    pnl: np.ndarray
    logw: np.ndarray | None
    keep_idx: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    keep_loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    keep_z: np.ndarray | None = None
    keep_v: np.ndarray | None = None


class Keeper:
    """Running partial selection of the ``keep`` largest losses with their shocks.

    Candidates are appended and compacted (one ``argpartition``) only when they exceed twice ``keep``, so
    the work is linear in the number of candidates and memory stays within ``2 * keep`` rows.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.parts: list[tuple] = []
        self.count = 0

    def add(self, idx, loss, z, v) -> None:
        if self.keep <= 0 or idx.shape[0] == 0:
            return
        self.parts.append((idx, loss, z, v))
        self.count += idx.shape[0]
        if self.count > 2 * self.keep:
            self._compact()

    def _compact(self) -> None:
        idx = np.concatenate([p[0] for p in self.parts])
        loss = np.concatenate([p[1] for p in self.parts])
        z = np.concatenate([p[2] for p in self.parts])
        v = None if self.parts[0][3] is None else np.concatenate([p[3] for p in self.parts])
        if loss.shape[0] > self.keep:
            sel = np.argpartition(-loss, self.keep - 1)[: self.keep]
            idx, loss, z = idx[sel], loss[sel], z[sel]
            v = None if v is None else v[sel]
        self.parts = [(idx, loss, z, v)]
        self.count = idx.shape[0]

    def into(self, out: Partial) -> Partial:
        if self.parts:
            self._compact()
            out.keep_idx, out.keep_loss, out.keep_z, out.keep_v = self.parts[0]
        return out


def run_blocks(spec: Spec, backend_name: str, blocks: list[int], chunk_blocks: int, keep: int,
               device: str = "cpu") -> Partial:
    """Simulate ``blocks`` (ascending) in chunks of ``chunk_blocks`` blocks; keep the worst ``keep`` paths."""
    be = get_backend(backend_name, device)
    pnls, logws = [], []
    keeper = Keeper(keep)
    for s in range(0, len(blocks), chunk_blocks):
        chunk = blocks[s : s + chunk_blocks]
        z, v, logw = be.generate(spec, chunk)
        pnl = be.pnl(spec, z, v)
        pnls.append(pnl)
        if logw is not None:
            logws.append(logw)
        start = chunk[0] * spec.block
        loss = -pnl
        k = min(keep, loss.shape[0])
        if k > 0 and logw is not None:
            # weighted tail: keep the paths beyond this chunk's own VaR estimate less a quarter of a standard
            # deviation (tail paths missed here are regenerated from their block seeds afterwards)
            cut = tail_estimate(loss, spec.confidence, np.exp(logw) / loss.shape[0]).var - 0.25 * float(
                np.std(loss)
            )
            k = min(k, int(np.count_nonzero(loss >= cut)))
        if k > 0:
            local = np.argpartition(-loss, k - 1)[:k] if k < loss.shape[0] else np.arange(loss.shape[0])
            zr, vr = be.rows(z, v, local)
            keeper.add(start + local.astype(np.int64), loss[local], zr, vr)
        del z, v
    return keeper.into(Partial(pnl=np.concatenate(pnls), logw=np.concatenate(logws) if logws else None))


def regenerate_rows(spec: Spec, backend_name: str, idx: np.ndarray, device: str = "cpu"):
    """Shocks (z, v) of the paths ``idx`` (global ids), regenerating only the blocks they live in."""
    be = get_backend(backend_name, device)
    z_out = np.empty((idx.shape[0], spec.horizon, spec.n_assets), dtype=spec.np_dtype)
    v_out = np.empty((idx.shape[0], spec.horizon)) if spec.model == "t" else None
    blocks = idx // spec.block
    for b in np.unique(blocks):
        sel = np.nonzero(blocks == b)[0]
        z, v, _ = be.generate(spec, [int(b)])
        zr, vr = be.rows(z, v, (idx[sel] - b * spec.block).astype(np.int64))
        z_out[sel] = zr
        if v_out is not None:
            v_out[sel] = vr
    return z_out, v_out


def run_dask(spec: Spec, chunk_blocks: int, keep: int, scheduler=None) -> Partial:
    """Shard blocks across Dask workers (numpy kernel per shard); LocalCluster unless ``scheduler`` given.

    ``scheduler`` may be an address string or an existing ``distributed.Client``.
    """
    from distributed import Client, LocalCluster

    own_cluster = None
    if scheduler is None:
        own_cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(own_cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
    else:
        client = Client(scheduler)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        n_shards = min(spec.n_blocks, max(n_workers * 2, math.ceil(spec.n_blocks / (chunk_blocks * 4))))
        per = math.ceil(spec.n_blocks / n_shards)
        shards = [list(range(s, min(s + per, spec.n_blocks))) for s in range(0, spec.n_blocks, per)]
        futures = client.map(
            run_blocks,
            [spec] * len(shards),
            ["numpy"] * len(shards),
            shards,
            [chunk_blocks] * len(shards),
            [keep] * len(shards),
            pure=False,
        )
        parts = client.gather(futures)
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
        elif not isinstance(scheduler, Client):
            client.close()
    out = Partial(
        pnl=np.concatenate([p.pnl for p in parts]),
        logw=None if parts[0].logw is None else np.concatenate([p.logw for p in parts]),
    )
    keeper = Keeper(keep)
    for p in parts:
        if p.keep_z is not None:
            keeper.add(p.keep_idx, p.keep_loss, p.keep_z, p.keep_v)
    return keeper.into(out)
