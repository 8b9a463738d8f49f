"""Parameter sweeps: orchestration (chunks, Dask) changes nothing, ranking and walk-forward are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.strategy import backtest, sweep
from nautilus.strategy.backtest.config import config_for

GRID = {"fast": [3, 5, 8, 13], "slow": [20, 30, 50]}


@pytest.fixture(scope="module")
def bars():
    return gbm_bars("SWP", "1d", 0, 1500, seed=3, sigma=0.3)


@pytest.fixture(scope="module")
def cfg():
    return config_for({"fees_bps": 5}, "1d")


def test_grid_sets_are_the_valid_product() -> None:
    sets = sweep.param_sets("sma_cross", {"fast": [5, 10, 40], "slow": [20, 40]})
    assert {(s["fast"], s["slow"]) for s in sets} == {(5, 20), (5, 40), (10, 20), (10, 40)}  # fast < slow only


def test_random_search_is_seeded_and_in_bounds() -> None:
    a = sweep.param_sets("rsi_reversion", space={"period": [5, 30], "lower": [10, 40]}, samples=50, seed=4)
    b = sweep.param_sets("rsi_reversion", space={"period": [5, 30], "lower": [10, 40]}, samples=50, seed=4)
    assert a == b
    assert all(5 <= s["period"] <= 30 and isinstance(s["period"], int) and 10 <= s["lower"] <= 40 for s in a)


def test_rows_equal_single_backtests_whatever_the_chunking(bars, cfg) -> None:
    sets = sweep.param_sets("sma_cross", GRID)
    table, backend = sweep.evaluate(bars, "sma_cross", sets, cfg, chunk=5, executor="local")
    assert backend == "local" and len(table) == len(sets)
    for row, params in zip(table.to_dict(orient="records"), sets, strict=True):
        single = backtest.run_backtest(bars, "sma_cross", params, cfg).stats
        assert row["fast"] == params["fast"] and row["slow"] == params["slow"]
        for key in ("total_return", "sharpe", "max_drawdown", "n_trades", "final_equity"):
            assert row[key] == pytest.approx(single[key], rel=1e-12, nan_ok=True), key


@pytest.mark.integration
def test_dask_gives_the_same_table(bars, cfg) -> None:
    sets = sweep.param_sets("sma_cross", GRID)
    local, _ = sweep.evaluate(bars, "sma_cross", sets, cfg, chunk=4, executor="local")
    seen = []
    try:
        distributed, backend = sweep.evaluate(bars, "sma_cross", sets, cfg, chunk=4, executor="dask",
                                              progress=lambda done, total: seen.append((done, total)))
    finally:
        sweep.close_clients()
    assert backend == "dask:local"
    pd.testing.assert_frame_equal(local, distributed)
    assert seen[-1] == (len(sets), len(sets))


def test_run_sweep_ranks_by_metric(bars, cfg) -> None:
    result = sweep.run_sweep(bars, "sma_cross", cfg, grid=GRID, metric="sharpe", top=5, executor="local")
    sharpes = [r["sharpe"] for r in result.rows]
    assert sharpes == sorted(sharpes, reverse=True)
    assert result.best == result.rows[0]
    assert result.evaluated == 12 and result.params == ["fast", "slow"]
    assert result.rows[0]["sharpe"] == pytest.approx(result.table["sharpe"].max())


def test_walk_forward_picks_the_in_sample_best(bars, cfg) -> None:
    result = sweep.run_sweep(bars, "sma_cross", cfg, grid=GRID, metric="total_return", executor="local",
                             walk_forward={"folds": 3, "train_fraction": 0.6})
    folds = result.walk_forward
    assert [f["fold"] for f in folds] == [1, 2, 3]
    edges = np.linspace(0, len(bars), 4).astype(int)
    for f, fold in enumerate(folds):
        lo, hi = edges[f], edges[f + 1]
        cut = lo + int((hi - lo) * 0.6)
        assert fold["in_sample"] == [int(bars.ts[lo]), int(bars.ts[cut - 1])]
        assert fold["out_of_sample"] == [int(bars.ts[cut]), int(bars.ts[hi - 1])]
        # each window warms up on the slowest SMA's bars before it (max slow of the grid), never trading on them
        need = max(GRID["slow"])
        first = max(0, lo - need)
        in_sample = backtest.run_param_grid(bars.slice(first, cut), "sma_cross", sweep.param_sets("sma_cross", GRID),
                                            cfg, warmup=lo - first)
        assert fold["in_sample_metric"] == pytest.approx(in_sample["total_return"].max())
        oos = backtest.run_backtest(bars.slice(cut - need, hi), "sma_cross", fold["params"], cfg, warmup=need).stats
        assert fold["out_of_sample_metric"] == pytest.approx(oos["total_return"])


def test_heatmap_is_written(tmp_path, bars, cfg) -> None:
    result = sweep.run_sweep(bars, "sma_cross", cfg, grid=GRID, executor="local")
    path = sweep.heatmap(result.table, "fast", "slow", "sharpe", str(tmp_path / "heat.png"))
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.endswith("heat.png")


@pytest.mark.parametrize(("kw", "field"), [
    ({"grid": {"nope": [1]}}, "nope"),
    ({"grid": {"fast": []}}, "fast"),
    ({"grid": GRID, "space": {"fast": [1, 2]}}, "grid"),
    ({}, "grid"),
    ({"grid": {"fast": [50], "slow": [10]}}, "grid"),
])
def test_bad_sweeps_name_the_field(kw, field) -> None:
    with pytest.raises(InvalidInput) as info:
        sweep.param_sets("sma_cross", **kw)
    assert info.value.field == field


def test_unknown_metric(bars, cfg) -> None:
    with pytest.raises(InvalidInput) as info:
        sweep.run_sweep(bars, "sma_cross", cfg, grid=GRID, metric="luck", executor="local")
    assert info.value.field == "metric"
