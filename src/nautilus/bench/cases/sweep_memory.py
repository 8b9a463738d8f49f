"""sweep_memory: 10,000 SMA-cross parameter sets over 10 years of daily bars for 100 symbols.

Run in a fresh process with the stats-only sweep (``nautilus.strategy.sweep.evaluate``, chunks of
500 sets): the figure is its peak RSS. The baseline is the memory the naive approach needs just to
hold every equity curve (sets x bars x 8 bytes per symbol, all symbols kept) — computed, not run,
since it would not fit. Time and the number of backtests are reported beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from nautilus.bench.harness import BenchContext, Result, case, result

SCRIPT = textwrap.dedent("""
import json, time
from nautilus.bench.procs import peak_rss_mb
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.strategy import sweep
from nautilus.strategy.backtest.config import config_for
symbols, bars_per, fast, slow = {symbols}, {bars}, {fast}, {slow}
grid = {{"fast": list(range(2, 2 + fast)), "slow": list(range(110, 110 + 4 * slow, 4))}}
sets = sweep.param_sets("sma_cross", grid)
cfg = config_for({{"fees_bps": 5}}, "1d")
t0 = time.perf_counter()
best = []
for k in range(symbols):
    bars = gbm_bars(f"S{{k}}", "1d", 0, bars_per, seed=k)
    table, _ = sweep.evaluate(bars, "sma_cross", sets, cfg, chunk=500, executor="local")
    best.append(float(table["sharpe"].max()))
print(json.dumps({{"seconds": time.perf_counter() - t0, "sets": len(sets), "backtests": len(sets) * symbols,
                  "peak_rss_mb": peak_rss_mb(),
                  "best_sharpe_median": sorted(best)[len(best) // 2]}}))
""")


@case("sweep_memory", "10,000 parameter sets x 100 symbols x 10y daily: stats-only chunked sweep, peak memory")
def sweep_memory(ctx: BenchContext) -> Result:
    symbols, bars, fast, slow = (10, 2_520, 50, 20) if ctx.quick else (100, 2_520, 100, 100)
    ctx.step(f"sweeping {fast * slow} sets over {symbols} symbols in a fresh process")
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(symbols=symbols, bars=bars, fast=fast, slow=slow)],
                         capture_output=True, text=True, timeout=3_000, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    naive_mb = info["sets"] * bars * 8 * symbols / 2**20
    return result("MB", ("all equity curves held (computed, not run)", naive_mb),
                  ("chunked stats-only sweep, peak RSS", info["peak_rss_mb"]),
                  params={"symbols": symbols, "bars_per_symbol": bars, "sets": info["sets"],
                          "backtests": info["backtests"], "chunk": 500},
                  checks={"seconds": round(info["seconds"], 2),
                          "backtests_per_second": round(info["backtests"] / info["seconds"]),
                          "median_best_sharpe": round(info["best_sharpe_median"], 3)})
