"""The simulation kernels' array layout and codes (see :mod:`nautilus.strategy.backtest.kernel` for the rules).

Signal and target inputs are logically ``[n, k]`` but the kernels take them *flattened* with a row and
a column stride (element ``[t, j]`` is ``flat[t * rs + j * cs]``), so C- and Fortran-ordered inputs
both pass without a copy and one compiled signature serves both. Equity is written column-major
(``equity[j * n + t]``; exposed to Python as an ``[n, k]`` Fortran-ordered view) so threads never
share a cache line. Scalars travel in two small arrays (``fp`` floats, ``ip`` ints, slots ``F_*`` and
``I_*``) and the settings a sweep may vary (size, stop-loss, take-profit, trailing stop, max hold) as
per-column arrays, which keeps the number of compiled signatures at one per kernel. Trade records are
two arrays, ``rec_i`` (columns ``RI_*``) and ``rec_f`` (``RF_*``), assembled into :data:`TRADE_DTYPE`;
statistics are ``[k, N_STATS]`` in the order of :data:`STAT_NAMES`.

Numba freezes these module-level constants into the machine code of every kernel that reads them, and
keys a cache entry to the file that defines the kernel only: :data:`KERNEL_SOURCES` is the digest of
all the simulation kernel modules, to which each of them keys its cache (editing any one recompiles all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nautilus.core.numba_cache import source_digest

# size types
SIZE_PERCENT, SIZE_FIXED, SIZE_VALUE, SIZE_VOL = 0, 1, 2, 3
# execution
EXEC_OPEN, EXEC_CLOSE = 0, 1
# direction restriction (target mode)
DIR_LONG, DIR_SHORT, DIR_BOTH = 0, 1, 2
# exit reasons
REASON_SIGNAL, REASON_STOP_LOSS, REASON_TAKE_PROFIT, REASON_TRAILING_STOP, REASON_TIME, REASON_OPEN = range(6)
REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "time", "open")
# pending orders
PENDING_NONE, PENDING_EXIT, PENDING_GO_LONG, PENDING_GO_SHORT, PENDING_ADD = 0, 1, 2, 3, 4

# fp: float parameters
F_INIT, F_FEE, F_FIXED, F_SLIP, F_MAXLEV, F_PPY, F_REBAL = range(7)
N_FP = 7
# ip: int parameters
I_SIZE_TYPE, I_EXEC, I_ACCUM, I_USE_LE, I_USE_LX, I_USE_SE, I_USE_SX, I_KEEP_EQ, I_RS, I_CS, I_DIR = range(11)
N_IP = 11

# trade record columns
RI_DIR, RI_ENTRY, RI_EXIT, RI_REASON = range(4)
N_RI = 4
RF_ENTRY_PRICE, RF_EXIT_PRICE, RF_SIZE, RF_FEES, RF_PNL, RF_RET, RF_NOTIONAL = range(7)
N_RF = 7

TRADE_DTYPE = np.dtype([
    ("col", np.int64), ("direction", np.int8), ("entry_idx", np.int64), ("exit_idx", np.int64),
    ("entry_price", np.float64), ("exit_price", np.float64), ("size", np.float64), ("fees", np.float64),
    ("pnl", np.float64), ("return", np.float64), ("exit_reason", np.int8), ("notional", np.float64),
])

STAT_NAMES = (
    "total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_duration", "calmar", "win_rate", "profit_factor", "n_trades", "avg_trade_return",
    "exposure", "turnover", "final_equity", "open_trades",
)
N_STATS = len(STAT_NAMES)
(S_TOTAL, S_CAGR, S_VOL, S_SHARPE, S_SORTINO, S_MDD, S_MDD_DUR, S_CALMAR, S_WIN, S_PF, S_NTRADES, S_AVG_RET,
 S_EXPOSURE, S_TURNOVER, S_FINAL, S_OPEN) = range(N_STATS)
ZERO_STD = 1e-12  # a per-bar std at or below this is treated as zero (ratio undefined -> NaN)

# trade-level accumulator slots (the per-bar ones are local scalars in the column loops)
A_NOTIONAL, A_NCLOSED, A_NWINS, A_GPROFIT, A_GLOSS, A_SUMRET = range(6)
N_ACC = 6
# episode slots
E_DIR, E_ENTRY_IDX, E_ENTRY_VALUE, E_ENTRY_UNITS, E_EXIT_VALUE, E_FEES, E_NOTIONAL, E_LAST_ENTRY, E_EXTREME = range(9)
N_EP = 9



KERNEL_SOURCES = source_digest(Path(__file__).with_name(f"{stem}.py")
                               for stem in ("layout", "accounting", "signal_mode", "target_mode"))
