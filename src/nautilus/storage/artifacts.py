"""Saved backtests' artifacts (the Strategy engine writes them, Analytics reads them): one folder per run
with the equity curve and the trades as Parquet, under ``data_dir/backtests/<run id>``.

pyarrow is imported by the functions that read or write, so listing engines' handlers stays cheap.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np


def folder_for(data_dir: Path, run_id: int) -> Path:
    return Path(data_dir) / "backtests" / str(run_id)


def save(data_dir: Path, run_id: int, ts: np.ndarray, equity: np.ndarray,
         trades: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = folder_for(data_dir, run_id)
    tmp = folder.with_name(f".{run_id}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pq.write_table(pa.table({"ts": np.asarray(ts, np.int64), "equity": np.asarray(equity, np.float64)}),
                   tmp / "equity.parquet")
    pq.write_table(pa.Table.from_pylist(trades) if trades else pa.table({}), tmp / "trades.parquet")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def load(folder: str | None) -> tuple[np.ndarray | None, np.ndarray | None, list[dict[str, Any]]]:
    if not folder or not Path(folder).is_dir():
        return None, None, []
    import pyarrow.parquet as pq

    eq = pq.read_table(Path(folder) / "equity.parquet")
    trades = pq.read_table(Path(folder) / "trades.parquet").to_pylist()
    return eq.column("ts").to_numpy(), eq.column("equity").to_numpy(), trades


def remove(folder: str | None) -> None:
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
