"""Range reads of one bar series, ours and the naive one, and a memory probe for them.

``python -m nautilus.bench.rangeprobe METHOD ROOT SYMBOL TIMEFRAME START_NS END_NS`` runs one read in
a fresh process and prints JSON: the rows read, Arrow's allocations (peak since start and still held
after the read) and the growth of the process's peak RSS, so that a read's memory can be compared
between catalogs of different sizes without the noise of the bench process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.dataset as ds

from nautilus.core.bars import ARROW_SCHEMA, Bars
from nautilus.storage.catalog import BarCatalog

_TS_TYPE = ARROW_SCHEMA.field("ts").type


def read_ours(root: Path, symbol: str, timeframe: str, start_ns: int, end_ns: int) -> Bars:
    return BarCatalog(root).read(symbol, timeframe, start_ns, end_ns)


def read_naive(root: Path, symbol: str, timeframe: str, start_ns: int, end_ns: int) -> pa.Table:
    """What one writes without the catalog: a pyarrow dataset over the series' files, filtered on ts."""
    dataset = ds.dataset(root / "bars" / symbol / timeframe, format="parquet")
    ts = ds.field("ts")
    return dataset.to_table(filter=(ts >= pa.scalar(start_ns, _TS_TYPE)) & (ts < pa.scalar(end_ns, _TS_TYPE)))


READERS: dict[str, Callable[[Path, str, str, int, int], Bars | pa.Table]] = {
    "ours": read_ours, "naive": read_naive,
}


def _peak_rss() -> int:
    """The process's RSS high-water mark (Linux ``VmHWM``), in bytes."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def probe(method: str, root: Path, symbol: str, timeframe: str, start_ns: int, end_ns: int) -> dict[str, int]:
    rss_before = psutil.Process().memory_info().rss
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the high-water mark to the current RSS (Linux)
    arrow_before = pa.total_allocated_bytes()
    out = READERS[method](root, symbol, timeframe, start_ns, end_ns)
    return {
        "rows": len(out),
        "arrow_peak_bytes": pa.default_memory_pool().max_memory() - arrow_before,
        "arrow_after_bytes": pa.total_allocated_bytes() - arrow_before,
        "rss_peak_growth_bytes": _peak_rss() - rss_before,
    }


if __name__ == "__main__":
    method, root, symbol, timeframe, start, end = sys.argv[1:7]
    print(json.dumps(probe(method, Path(root), symbol, timeframe, int(start), int(end))))
