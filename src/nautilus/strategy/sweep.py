"""Parameter sweeps: grid and random search, chunked over Dask, and walk-forward analysis.

Each task backtests a chunk of parameter sets at once (the backtester vectorises across parameter
columns) and returns statistics only, so memory stays bounded by ``chunk`` whatever the number of
sets. Tasks run on Dask: a ``LocalCluster`` (one single-threaded worker process per core) unless a
scheduler address is given (engines pass ``settings.dask_scheduler``, never an address from a request),
or in this process for small sweeps.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.strategy import backtest

MAX_SETS = 1_000_000
Progress = Callable[[int, int], None]

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


@dataclass
class SweepResult:
    evaluated: int
    params: list[str]
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None
    table: pd.DataFrame
    walk_forward: list[dict[str, Any]] | None
    elapsed_s: float
    backend: str


# Parameter sets --------------------------------------------------------------------------------
def _schema(strategy: str) -> dict[str, dict[str, Any]]:
    for item in backtest.list_strategies():
        if item["name"] == strategy:
            return {p["name"]: p for p in item["params"]}
    raise InvalidInput(f"unknown strategy {strategy!r}", field="strategy")


def param_sets(strategy: str, grid: dict[str, Sequence[Any]] | None = None,
               space: dict[str, Sequence[float]] | None = None, samples: int = 100,
               seed: int = 0) -> list[dict[str, Any]]:
    """Valid parameter sets of a grid (all combinations) or a random search (``samples`` draws)."""
    schema = _schema(strategy)
    if (grid is None) == (space is None):
        raise InvalidInput("give either a grid or a random search space", field="grid")
    source = grid if grid is not None else space
    assert source is not None
    for name in source:
        if name not in schema:
            raise InvalidInput(f"{strategy} has no parameter {name!r} ({', '.join(schema)})", field=name)
    if grid is not None:
        for name, values in grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise InvalidInput(f"grid values of {name!r} must be a non-empty list", field=name)
        names = list(grid)
        total = math.prod(len(grid[n]) for n in names)  # Python ints: a huge grid cannot wrap around
        if total > MAX_SETS:
            raise InvalidInput(f"the grid has {total} sets; at most {MAX_SETS}", field="grid")
        candidates = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]
    else:
        if not 1 <= samples <= MAX_SETS:
            raise InvalidInput(f"samples must be between 1 and {MAX_SETS}", field="samples")
        rng = np.random.default_rng(seed)
        candidates = []
        for _ in range(samples):
            draw = {}
            for name, bounds in space.items():  # type: ignore[union-attr]
                if len(bounds) != 2 or not bounds[0] <= bounds[1]:
                    raise InvalidInput(f"space of {name!r} must be [low, high]", field=name)
                lo, hi = bounds
                if schema[name].get("type") == "int":
                    draw[name] = int(rng.integers(int(lo), int(hi) + 1))
                else:
                    draw[name] = float(rng.uniform(lo, hi))
            candidates.append(draw)
    out, seen = [], set()
    for cand in candidates:
        try:
            full = backtest.validate_params(strategy, cand)
        except InvalidInput:
            continue  # e.g. fast >= slow: not a valid combination, skipped
        key = tuple(sorted(full.items()))
        if key not in seen:
            seen.add(key)
            out.append(full)
    if not out:
        raise InvalidInput("no valid parameter set in the sweep", field="grid" if grid is not None else "space")
    return out


# Execution -------------------------------------------------------------------------------------
def _run_chunk(bars: Bars, strategy: str, sets: list[dict[str, Any]], config: Any, warmup: int = 0) -> pd.DataFrame:
    return backtest.run_param_grid(bars, strategy, sets, config, warmup=warmup)


def sets_warmup(strategy: str, sets: list[dict[str, Any]]) -> int | None:
    """Warm-up bars the signals of every set need (the largest; ``None``: the whole history)."""
    from nautilus.strategy.backtest.strategies import strategy_warmup
    from nautilus.strategy.indicators.warmups import combine

    return combine([strategy_warmup(strategy, p) for p in sets])


def dask_client(scheduler: str | None) -> Any:
    """A shared Dask client: the given scheduler, or a LocalCluster with one process per core."""
    from dask.distributed import Client, LocalCluster

    key = scheduler or "local"
    with _clients_lock:
        client = _clients.get(key)
        if client is not None and client.status == "running":
            return client
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        _clients[key] = client
        return client


def close_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        _clients.clear()


def evaluate(bars: Bars, strategy: str, sets: list[dict[str, Any]], config: Any, *, chunk: int = 256,
             scheduler: str | None = None, executor: str = "auto",
             progress: Progress | None = None, warmup: int = 0) -> tuple[pd.DataFrame, str]:
    """Statistics of every parameter set (one row each, in order) and the backend that ran them; the first
    ``warmup`` bars only warm the indicators up (never traded, not in the statistics)."""
    if not 1 <= chunk <= 100_000:
        raise InvalidInput("chunk must be between 1 and 100000", field="chunk")
    chunks = [sets[i:i + chunk] for i in range(0, len(sets), chunk)]
    use_dask = executor == "dask" or scheduler is not None or (
        executor == "auto" and len(chunks) >= 4 and (os.cpu_count() or 1) > 1)
    done = 0
    parts: list[pd.DataFrame | None] = [None] * len(chunks)
    if not use_dask:
        for i, part in enumerate(chunks):
            parts[i] = _run_chunk(bars, strategy, part, config, warmup)
            done += len(part)
            if progress:
                progress(done, len(sets))
        backend = "local"
    else:
        from dask.distributed import as_completed

        client = dask_client(scheduler)
        shared = client.scatter(bars, broadcast=True)
        futures = {client.submit(_run_chunk, shared, strategy, part, config, warmup, pure=False): i
                   for i, part in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            parts[i] = future.result()
            done += len(chunks[i])
            if progress:
                progress(done, len(sets))
        backend = f"dask:{scheduler or 'local'}"
    table = pd.concat([p for p in parts if p is not None], ignore_index=True)
    return table, backend


def _rank(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    if metric not in table.columns:
        raise InvalidInput(f"unknown metric {metric!r}", field="metric")
    ascending = metric in ("max_drawdown_duration", "annual_volatility")
    key = table[metric].astype(float)
    if metric == "max_drawdown":  # negative fractions: closer to zero is better
        key = -key.abs()
        ascending = False
    return table.assign(_key=key).sort_values("_key", ascending=ascending, na_position="last").drop(columns="_key")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(pd.notna(frame), None)
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in clean.to_dict(orient="records")]


def run_walk_forward(bars: Bars, strategy: str, sets: list[dict[str, Any]], config: Any, *, folds: int,
                     train_fraction: float, metric: str, warmup: int = 0, **kw: Any) -> list[dict[str, Any]]:
    """Anchored-free rolling walk-forward: optimise on each fold's in-sample part, test out of sample.

    Folds split the bars after the first ``warmup`` (those only warm indicators up). Each window, in-sample
    and out-of-sample alike, warms its indicators on the bars before it (as many as the sets declare, see
    :func:`sets_warmup`; all earlier bars when one declares none) without trading on them, so a test window
    shorter than a slow indicator still gets real signals from its first bar and real statistics."""
    if not 1 <= folds <= 50:
        raise InvalidInput("walk_forward.folds must be between 1 and 50", field="walk_forward.folds")
    if not 0.1 <= train_fraction <= 0.95:
        raise InvalidInput("walk_forward.train_fraction must be in [0.1, 0.95]",
                           field="walk_forward.train_fraction")
    n = len(bars)
    edges = (warmup + np.linspace(0, n - warmup, folds + 1)).astype(int)
    need = sets_warmup(strategy, sets)

    def window(lo: int, hi: int) -> tuple[Bars, int]:
        first = 0 if need is None else max(0, lo - need)
        return bars.slice(first, hi), lo - first

    out = []
    for f in range(folds):
        lo, hi = int(edges[f]), int(edges[f + 1])
        cut = lo + int((hi - lo) * train_fraction)
        if cut - lo < 20 or hi - cut < 5:
            raise InvalidInput(f"fold {f + 1} is too short ({hi - lo} bars); use fewer folds",
                               field="walk_forward.folds")
        train_bars, train_skip = window(lo, cut)
        in_sample = _rank(evaluate(train_bars, strategy, sets, config, warmup=train_skip, **kw)[0], metric)
        best = {k: in_sample.iloc[0][k] for k in sets[0]}
        best = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in best.items()}
        test_bars, test_skip = window(cut, hi)
        oos = backtest.run_param_grid(test_bars, strategy, [best], config, warmup=test_skip)
        out.append({
            "fold": f + 1, "in_sample": [int(bars.ts[lo]), int(bars.ts[cut - 1])],
            "out_of_sample": [int(bars.ts[cut]), int(bars.ts[hi - 1])], "params": best,
            "in_sample_metric": _float(in_sample.iloc[0][metric]), "out_of_sample_metric": _float(oos.iloc[0][metric]),
        })
    return out


def _float(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def run_sweep(bars: Bars, strategy: str, config: Any, *, grid: dict | None = None, space: dict | None = None,
              samples: int = 100, seed: int = 0, metric: str = "sharpe", top: int = 20, chunk: int = 256,
              scheduler: str | None = None, executor: str = "auto", walk_forward: dict | None = None,
              progress: Progress | None = None, warmup: int = 0) -> SweepResult:
    """Sweep the sets over ``bars``; the first ``warmup`` bars only warm indicators up (never traded)."""
    started = time.perf_counter()
    if not 1 <= top <= 10_000:
        raise InvalidInput("top must be between 1 and 10000", field="top")
    sets = param_sets(strategy, grid, space, samples, seed)
    kw = dict(chunk=chunk, scheduler=scheduler, executor=executor)
    table, backend = evaluate(bars, strategy, sets, config, progress=progress, warmup=warmup, **kw)
    ranked = _rank(table, metric)
    rows = _records(ranked.head(top))
    wf = None
    if walk_forward is not None:
        wf = run_walk_forward(bars, strategy, sets, config, metric=metric, warmup=warmup, **walk_forward, **kw)
    return SweepResult(evaluated=len(sets), params=list(sets[0]), rows=rows, best=rows[0] if rows else None,
                       table=ranked, walk_forward=wf, elapsed_s=time.perf_counter() - started, backend=backend)


def heatmap(table: pd.DataFrame, x: str, y: str, metric: str, path: str) -> str:
    """Save a heatmap of ``metric`` over two parameters (others: best value per cell) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in (x, y, metric):
        if name not in table.columns:
            raise InvalidInput(f"no column {name!r} in the sweep results", field="heatmap")
    pivot = table.pivot_table(index=y, columns=x, values=metric, aggfunc="max").sort_index().sort_index(axis=1)
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * pivot.shape[1] + 2), max(3, 0.4 * pivot.shape[0] + 1.5)))
    im = ax.imshow(pivot.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="RdYlGn")
    ax.set_xticks(range(pivot.shape[1]), [str(v) for v in pivot.columns], rotation=45)
    ax.set_yticks(range(pivot.shape[0]), [str(v) for v in pivot.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} by {x} and {y}")
    fig.colorbar(im, ax=ax, label=metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
