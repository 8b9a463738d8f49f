"""backtest_signals: 1,000,000 bars x 8 SMA-cross parameter columns from signals, with fees.

Rows:
1. warm: ``nautilus.strategy.backtest.run_signals`` vs vectorbt's ``Portfolio.from_signals`` on the
   same signals (vectorbt fills at the next open when given ``price=open`` and signals shifted by one
   bar); checks: identical trade counts per column and final equity equal to the cent.
2. cold: the first call in a fresh Python process (import + numba cache load + run) vs vectorbt's
   first call in a fresh process; ours also reports its peak RSS.
3. backtesting.py: one parameter set over 100,000 bars vs ours on the same bars.
vectorbt and backtesting.py come from the bench extra (``scripts/venv.sh bench``); rows whose
reference library is missing are reported as skipped instead of failing the bench.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np

from nautilus.bench.cases.candle_patterns import tick_grid_ohlc
from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.stats import median, sample

PAIRS = [(5, 20), (10, 30), (10, 50), (20, 50), (20, 100), (30, 100), (50, 150), (50, 200)]
# No fixed fee: over 1M random-walk bars some columns lose nearly everything, and vectorbt then refuses
# exits whose fixed fee exceeds the proceeds (fixed fees are checked against the reference event loop).
FEES_BPS, FIXED_FEE, INIT_CASH = 2.0, 0.0, 1_000_000.0

def sma_cross_signals(c: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Entries where SMA(fast) crosses above SMA(slow), exits where it crosses below; [n, k] each."""
    import talib

    n = c.shape[0]
    entries = np.zeros((n, len(pairs)), dtype=bool)
    exits = np.zeros((n, len(pairs)), dtype=bool)
    for j, (f, s) in enumerate(pairs):
        fast, slow = talib.SMA(c, f), talib.SMA(c, s)
        above = fast > slow
        entries[1:, j] = above[1:] & ~above[:-1] & ~np.isnan(slow[:-1])
        exits[1:, j] = ~above[1:] & above[:-1]
    return entries, exits


def _prices(n: int):
    o, h, l, c = tick_grid_ohlc(n, seed=5)
    return o, h, l, c


def ours(o, h, l, c, entries, exits):
    from nautilus.strategy.backtest import BacktestConfig, run_signals

    cfg = BacktestConfig(init_cash=INIT_CASH, fees_bps=FEES_BPS, fixed_fee=FIXED_FEE)
    return run_signals(o, h, l, c, entries, exits, cfg)


def vectorbt_run(o, c, entries, exits):
    import pandas as pd
    import vectorbt as vbt

    shift = lambda a: np.vstack([np.zeros((1, a.shape[1]), bool), a[:-1]])  # noqa: E731
    return vbt.Portfolio.from_signals(
        close=pd.Series(c), price=pd.Series(o), entries=pd.DataFrame(shift(entries)),
        exits=pd.DataFrame(shift(exits)), size=1.0, size_type="percent", fees=FEES_BPS / 1e4,
        fixed_fees=FIXED_FEE, init_cash=INIT_CASH, direction="longonly", accumulate=False, freq="1D")


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _fresh_process(script: str) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=True)
    wall = time.perf_counter() - t0
    info = json.loads(out.stdout.strip().splitlines()[-1])
    info["wall_s"] = wall
    return info


COLD_OURS = textwrap.dedent("""
import json, time
from nautilus.bench.procs import peak_rss_mb
t0 = time.perf_counter()
from nautilus.bench.cases.backtest_signals import PAIRS, _prices, ours, sma_cross_signals
o, h, l, c = _prices({n})
entries, exits = sma_cross_signals(c, PAIRS)
t1 = time.perf_counter()
res = ours(o, h, l, c, entries, exits)
t2 = time.perf_counter()
print(json.dumps({{"first_call_s": t2 - t1, "import_s": t1 - t0,
                  "peak_rss_mb": peak_rss_mb()}}))
""")

COLD_VBT = textwrap.dedent("""
import json, time
from nautilus.bench.cases.backtest_signals import PAIRS, _prices, sma_cross_signals, vectorbt_run
o, h, l, c = _prices({n})
entries, exits = sma_cross_signals(c, PAIRS)
t1 = time.perf_counter()
pf = vectorbt_run(o, c, entries, exits)
pf.final_value()
print(json.dumps({{"first_call_s": time.perf_counter() - t1}}))
""")


def _backtesting_py(o, h, l, c, entries, exits) -> tuple[float, int]:
    import pandas as pd
    from backtesting import Backtest, Strategy

    class Signals(Strategy):
        def init(self):
            self.i = 0

        def next(self):
            i = len(self.data) - 1
            if entries[i] and not self.position:
                self.buy(size=0.9999)
            elif exits[i] and self.position:
                self.position.close()

    index = pd.date_range("2000-01-01", periods=len(c), freq="min")
    data = pd.DataFrame({"Open": o, "High": h, "Low": l, "Close": c, "Volume": 1.0}, index=index)
    t0 = time.perf_counter()
    stats = Backtest(data, Signals, cash=INIT_CASH, commission=FEES_BPS / 1e4, finalize_trades=True).run()
    return time.perf_counter() - t0, int(stats["# Trades"])


@case("backtest_signals", "1M bars x 8 SMA-cross columns with fees vs vectorbt; cold start; vs backtesting.py")
def backtest_signals(ctx: BenchContext) -> list[Result]:
    n = 200_000 if ctx.quick else 1_000_000
    o, h, l, c = _prices(n)
    entries, exits = sma_cross_signals(c, PAIRS)
    ctx.step("warming up ours")
    mine = ours(o, h, l, c, entries, exits)
    runs = ctx.runs(7)
    rows: list[Result] = []
    params = {"bars": n, "columns": len(PAIRS), "fees_bps": FEES_BPS, "fixed_fee": FIXED_FEE, "runs": runs,
              "statistic": "median"}
    if _available("vectorbt"):
        ctx.step("warming up vectorbt (JIT)")
        pf = vectorbt_run(o, c, entries, exits)
        ctx.step(f"timing {runs} runs each")
        times = sample({"vbt": lambda: vectorbt_run(o, c, entries, exits).final_value(),
                        "ours": lambda: ours(o, h, l, c, entries, exits)}, runs, warmup=0, rounds=runs)
        vbt_final = np.asarray(pf.final_value(), dtype=float)
        vbt_trades = np.asarray(pf.trades.count(), dtype=int)
        our_trades = np.bincount(mine.trades["col"], minlength=len(PAIRS))
        rows.append(result("ms", ("vectorbt Portfolio.from_signals (warm)", median(times["vbt"]) * 1e3),
                           ("run_signals (numba, warm)", median(times["ours"]) * 1e3), params=params,
                           checks={"trade_counts_equal": bool(np.array_equal(vbt_trades, our_trades)),
                                   "max_final_equity_diff": float(np.max(np.abs(vbt_final - mine.stats["final_equity"]))),
                                   "max_final_equity_rel_diff": float(np.max(np.abs(vbt_final / mine.stats["final_equity"] - 1)))}))
    else:
        rows.append(result("ms", ("vectorbt not installed (scripts/venv.sh bench)", 0.0),
                           ("run_signals (numba, warm)", median(sample({"o": lambda: ours(o, h, l, c, entries, exits)},
                                                                       runs, warmup=0)["o"]) * 1e3), params=params))
    ctx.step("cold start in fresh processes")
    cold = _fresh_process(COLD_OURS.format(n=n))
    vbt_cold = _fresh_process(COLD_VBT.format(n=n))["first_call_s"] if _available("vectorbt") else 0.0
    rows.append(result("s", ("vectorbt first call in a fresh process", vbt_cold),
                       ("run_signals first call in a fresh process", cold["first_call_s"]),
                       params={**params, "target_s": 2.0, "ours_import_s": round(cold["import_s"], 3)},
                       checks={"peak_rss_mb": round(cold["peak_rss_mb"], 1), "rss_target_mb": 500}))
    if _available("backtesting"):
        m = 100_000
        ctx.step("backtesting.py on 100k bars, one parameter set")
        e1, x1 = entries[:m, 3], exits[:m, 3]
        bt_s, bt_trades = _backtesting_py(o[:m], h[:m], l[:m], c[:m], e1, x1)
        small = sample({"ours": lambda: ours(o[:m], h[:m], l[:m], c[:m], e1, x1)}, ctx.runs(20), warmup=1)
        rows.append(result("ms", ("backtesting.py Backtest.run (100k bars, 1 set)", bt_s * 1e3),
                           ("run_signals (100k bars, 1 set)", median(small["ours"]) * 1e3),
                           params={"bars": m, "columns": 1, "target_ratio": 300},
                           checks={"backtesting_py_trades": bt_trades,
                                   "our_trades": int(len(ours(o[:m], h[:m], l[:m], c[:m], e1, x1).trades))}))
    return rows
