"""bars_range_query: one day of 1-minute bars from the middle of a 10-year catalog.

The catalog holds 10 calendar years of synthetic 1m bars for one symbol (~5.26M rows, GBM with exact
OHLC invariants from :func:`nautilus.marketdata.synthetic.gbm_bars`), written with
``BarCatalog.write``. Ours is ``BarCatalog.read`` (opens the one year file, reads the row groups whose
ts statistics overlap the day); the baseline is what a quant writes without it: a
``pyarrow.dataset`` over the series directory, ``to_table`` with a ts filter. Memory of our read is
probed in fresh processes (median of 3) on a 1-year and on the 10-year catalog, and of the baseline on
the 10-year one, to show it does not grow with the catalog. The files are in the page cache (just
written). Quick mode builds 2 years instead of 10.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import python_module, temp_home
from nautilus.bench.rangeprobe import read_naive, read_ours
from nautilus.bench.stats import median, sample, sig
from nautilus.core.bars import Bars
from nautilus.marketdata.synthetic import DAY_NS, gbm_bars
from nautilus.storage.catalog import BarCatalog

SYMBOL = "BENCH"
TIMEFRAME = "1m"
MINUTE_NS = 60_000_000_000
END_YEAR = 2025  # the catalog ends on 1 January of this year
TARGET_MS = 20.0
MB = 2**20


def year_slice(bars: Bars, day_ns: int) -> Bars:
    """The bars of the calendar year that contains ``day_ns``."""
    year = int(np.datetime64(day_ns, "ns").astype("datetime64[Y]").astype(np.int64)) + 1970
    lo, hi = np.searchsorted(bars.ts, [_new_year_ns(year), _new_year_ns(year + 1)])
    return bars.slice(int(lo), int(hi))


def memory(method: str, root: Path, start: int, end: int, repeats: int = 3) -> dict[str, float]:
    """Median over ``repeats`` fresh processes of each figure :mod:`~nautilus.bench.rangeprobe` reports."""
    args = python_module("nautilus.bench.rangeprobe", method, str(root), SYMBOL, TIMEFRAME, str(start), str(end))
    probes = [json.loads(subprocess.run(args, capture_output=True, text=True, check=True, timeout=300).stdout)
              for _ in range(repeats)]
    return {key: median([probe[key] for probe in probes]) for key in probes[0]}


@case("bars_range_query", "1 day of 1m bars from a 10-year catalog: BarCatalog.read vs a pyarrow dataset filter")
def bars_range_query(ctx: BenchContext) -> Result:
    years = 2 if ctx.quick else 10
    runs = ctx.runs(25)
    start_ns, end_ns = (_new_year_ns(END_YEAR - years), _new_year_ns(END_YEAR))
    n = (end_ns - start_ns) // MINUTE_NS
    day = _new_year_ns(END_YEAR - years // 2) - 183 * DAY_NS  # mid-year, in the middle of the catalog
    with temp_home("bars") as home:
        full, one_year = home / f"catalog-{years}y", home / "catalog-1y"
        ctx.step(f"generating and writing {n:,} 1m bars ({years} years)")
        bars = gbm_bars(SYMBOL, TIMEFRAME, start_ns, n, seed=11)
        BarCatalog(full).write(bars)
        BarCatalog(one_year).write(year_slice(bars, day))
        del bars
        ours_bars = read_ours(full, SYMBOL, TIMEFRAME, day, day + DAY_NS)
        naive_table = read_naive(full, SYMBOL, TIMEFRAME, day, day + DAY_NS)
        ctx.step(f"{runs} interleaved reads of one day")
        timings = sample({
            "naive": lambda: read_naive(full, SYMBOL, TIMEFRAME, day, day + DAY_NS),
            "ours": lambda: read_ours(full, SYMBOL, TIMEFRAME, day, day + DAY_NS),
        }, runs, warmup=2, rounds=runs)
        ctx.step("memory probes in fresh processes")
        mem_1y = memory("ours", one_year, day, day + DAY_NS)
        mem_full = memory("ours", full, day, day + DAY_NS)
        mem_naive = memory("naive", full, day, day + DAY_NS)
    naive_close = naive_table.column("close").to_numpy()
    ours_ms = median(timings["ours"]) * 1e3
    checks = {
        "rows": len(ours_bars),
        "rows_equal": len(ours_bars) == naive_table.num_rows,
        "max_abs_diff": float(np.max(np.abs(ours_bars.close - naive_close))),
        "target_ms": TARGET_MS,
        "meets_target": ours_ms < TARGET_MS,
    }
    for label, mem in (("ours_1y", mem_1y), (f"ours_{years}y", mem_full), (f"naive_{years}y", mem_naive)):
        checks[f"{label}_arrow_peak_mb"] = sig(mem["arrow_peak_bytes"] / MB)
        checks[f"{label}_arrow_after_mb"] = sig(mem["arrow_after_bytes"] / MB)
        checks[f"{label}_rss_peak_growth_mb"] = sig(mem["rss_peak_growth_bytes"] / MB)
    return result(
        "ms",
        ("pyarrow.dataset(series dir).to_table(filter=ts range)", median(timings["naive"]) * 1e3),
        ("BarCatalog.read", ours_ms),
        params={"years": years, "catalog_rows": n, "query": "1 day (1440 bars), mid-year in the middle of the catalog",
                "query_start": str(np.datetime64(day, "ns").astype("datetime64[m]")), "runs": runs,
                "statistic": "median", "page_cache": "warm", "mode": "quick: 2 years" if ctx.quick else "full"},
        checks=checks,
    )


def _new_year_ns(year: int) -> int:
    return int(np.datetime64(f"{year:04d}-01-01", "ns").astype(np.int64))
