"""universe_scan: 500 symbols x 2,000 bars x all 61 candlestick patterns + 10 indicators.

Full scan. Baseline: the serial loop a quant writes, per symbol the 61 ``talib.CDL*`` calls and 10
TA-Lib indicators. Ours: :class:`nautilus.strategy.scanner.UniverseScanner`, one numba kernel
parallel over symbols (exact pattern kernels, streaming indicators).

Incremental. One new bar for each of the 500 symbols: ours appends it and computes only the tail
from the kept kernel states; the baseline is the full recompute over the 2,001 bars. The check is
that both give the same scan rows.
"""

from __future__ import annotations

import copy

import numpy as np
import talib

from nautilus.bench.cases.candle_patterns import tick_grid_ohlc
from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.stats import median, sample
from nautilus.core.bars import Bars
from nautilus.strategy import candles
from nautilus.strategy.scanner import ScanSpec, UniverseScanner

DAY = 86_400 * 10**9
INDICATORS = ["sma(20)", "ema(20)", "rsi(14)", "atr(14)", "roc(10)", "mom(10)", "max(20)", "min(20)",
              "stddev(20)", "sma(20, input=volume)"]


def make_universe(n_symbols: int, n: int) -> dict[str, Bars]:
    out = {}
    for k in range(n_symbols):
        o, h, l, c = tick_grid_ohlc(n + 1, seed=1000 + k)
        vol = np.random.default_rng(k).integers(1_000, 100_000, n + 1).astype(float)
        ts = (np.arange(n + 1, dtype=np.int64) + 18_000) * DAY
        out[f"S{k:04d}"] = Bars(symbol=f"S{k:04d}", timeframe="1d", ts=ts, open=o, high=h, low=l, close=c,
                                volume=vol)
    return out


def serial_loop(universe: dict[str, Bars]) -> dict[str, list[np.ndarray]]:
    out = {}
    for s, b in universe.items():
        o, h, l, c, v = b.open, b.high, b.low, b.close, b.volume
        res = [getattr(talib, name)(o, h, l, c) for name in candles.PATTERN_NAMES]
        res += [talib.SMA(c, 20), talib.EMA(c, 20), talib.RSI(c, 14), talib.ATR(h, l, c, 14), talib.ROC(c, 10),
                talib.MOM(c, 10), talib.MAX(c, 20), talib.MIN(c, 20), talib.STDDEV(c, 20), talib.SMA(v, 20)]
        out[s] = res
    return out


def scan_spec() -> ScanSpec:
    conds = [{"indicator": ind, "op": ">", "value": 0.0} for ind in INDICATORS]
    return ScanSpec.build(patterns=list(candles.PATTERN_NAMES), conditions=conds, within=1, history=10**6)


def full_scan(universe: dict[str, Bars], spec: ScanSpec) -> UniverseScanner:
    scanner = UniverseScanner(spec, list(universe))
    scanner.load(universe)
    return scanner


@case("universe_scan", "scan 500 symbols x 2,000 bars x 61 patterns + 10 indicators; incremental new bar")
def universe_scan(ctx: BenchContext) -> list[Result]:
    n_symbols, n = (100, 2_000) if ctx.quick else (500, 2_000)
    ctx.step("building the universe")
    whole = make_universe(n_symbols, n)
    universe = {s: b.slice(0, n) for s, b in whole.items()}
    new_bar = {s: b.slice(n, n + 1) for s, b in whole.items()}
    spec = scan_spec()
    ctx.step("warming up")
    scanner = full_scan(universe, spec)
    ref = serial_loop(universe)
    last_values_ok = all(
        np.array_equal(scanner.recent[scanner.index[s], :, -1], np.array([r[-1] for r in ref[s][:61]]))
        for s in universe)
    runs = ctx.runs(5)
    ctx.step(f"full scan: {runs} runs each")
    times = sample({"serial": lambda: serial_loop(universe), "ours": lambda: full_scan(universe, spec)},
                   runs, warmup=0, rounds=runs)
    rows = [result("ms", ("serial loop: 61 talib.CDL* + 10 talib indicators per symbol",
                          median(times["serial"]) * 1e3),
                   ("UniverseScanner full scan (numba, parallel over symbols)", median(times["ours"]) * 1e3),
                   params={"symbols": n_symbols, "bars": n, "patterns": 61, "indicators": len(INDICATORS),
                           "runs": runs, "statistic": "median"},
                   checks={"last_bar_patterns_equal_talib": last_values_ok})]
    ctx.step("incremental: one new bar per symbol")
    reps = ctx.runs(20)
    copies = [copy.deepcopy(scanner) for _ in range(reps + 1)]
    symbols = list(new_bar)
    event = [np.array([getattr(new_bar[s], col)[0] for s in symbols])
             for col in ("ts", "open", "high", "low", "close", "volume")]
    copies[0].append_bar(symbols, *event)  # warm
    it = iter(copies[1:])
    inc = sample({"inc": lambda: next(it).append_bar(symbols, *event)}, reps, warmup=0, rounds=1)
    grown = {s: whole[s] for s in whole}
    full_times = sample({"full": lambda: full_scan(grown, spec)}, ctx.runs(3), warmup=0, rounds=1)
    same = copies[-1].rows() == full_scan(grown, spec).rows()
    rows.append(result("ms", ("full recompute over 2,001 bars", median(full_times["full"]) * 1e3),
                       ("UniverseScanner.append_bar (tail only)", median(inc["inc"]) * 1e3),
                       params={"symbols": n_symbols, "new_bars": 1, "runs": reps, "statistic": "median",
                               "target_ms": 5},
                       checks={"rows_equal_full_recompute": same}))
    return rows
