"""candle_patterns: all 61 TA-Lib candlestick patterns over 1,000,000 bars.

Baseline: the 61 ``talib.CDL*`` functions called one after another (TA-Lib is the reference
backend). Ours: ``nautilus.strategy.candles.detect`` with the numba backend, which runs the 61
exact kernels fused and in parallel. Prices sit on a cent grid so ties occur as in real data; the
check is that every one of the 61 outputs is identical.
"""

from __future__ import annotations

import numpy as np
import talib

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.stats import median, sample
from nautilus.strategy import candles


def tick_grid_ohlc(n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random walk on a cent grid with realistic bodies, shadows and occasional gaps."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    gap = np.where(rng.random(n) < 0.05, rng.normal(0, 0.01, n), 0.0)
    open_ = np.round(np.concatenate([[close[0]], close[:-1]]) * (1 + gap), 2)
    spread = np.abs(close - open_)
    high = np.round(np.maximum(open_, close) + rng.exponential(0.4, n) * (0.2 + spread), 2)
    low = np.round(np.minimum(open_, close) - rng.exponential(0.4, n) * (0.2 + spread), 2)
    return open_, high, low, close


def talib_all(o, h, l, c) -> dict[str, np.ndarray]:
    return {name: getattr(talib, name)(o, h, l, c) for name in candles.PATTERN_NAMES}


@case("candle_patterns", "61 candlestick patterns x 1M bars: fused numba kernels vs the 61 TA-Lib calls")
def candle_patterns(ctx: BenchContext) -> Result:
    n = 200_000 if ctx.quick else 1_000_000
    o, h, l, c = tick_grid_ohlc(n)
    ctx.step("warming up (numba cache)")
    ours_out = candles.detect(o, h, l, c, backend="numba")
    runs = ctx.runs(7)
    ctx.step(f"timing {runs} runs of each, interleaved")
    times = sample({"talib": lambda: talib_all(o, h, l, c), "ours": lambda: candles.detect(o, h, l, c)},
                   runs, warmup=1, rounds=runs)
    ref = talib_all(o, h, l, c)
    identical = sum(np.array_equal(ref[name], ours_out[name]) for name in candles.PATTERN_NAMES)
    fired = sum(bool(np.count_nonzero(ref[name])) for name in candles.PATTERN_NAMES)
    hits = int(sum(np.count_nonzero(v) for v in ref.values()))
    return result("ms", ("61 talib.CDL* calls", median(times["talib"]) * 1e3),
                  ("candles.detect numba (fused, parallel)", median(times["ours"]) * 1e3),
                  params={"bars": n, "patterns": len(candles.PATTERN_NAMES), "runs": runs, "statistic": "median"},
                  checks={"identical_patterns": f"{identical}/{len(candles.PATTERN_NAMES)}",
                          "patterns_that_fired": fired, "total_hits": hits})
