"""The backtest simulator: k parameter columns over one OHLC series, and the rules every column follows.

This module holds the Python entry points (:func:`simulate_signals`, :func:`simulate_targets`: input
layout, allocation, overflow re-runs, record assembly); the numba kernels are in :mod:`.signal_mode` and
:mod:`.target_mode` (``prange`` over columns), over the per-column accounting of :mod:`.accounting`, with
the array layout and codes of :mod:`.layout`.

Semantics (the reference event loop in ``reference.py`` implements the same rules independently)
--------------------------------------------------------------------------------------------------
Bar ``t`` is processed as:

1. ``next_open``: the order decided at the close of ``t-1`` fills at ``open[t]``.
2. Stops, only for a position whose last entry fill was on an earlier bar (never on the fill bar):
   levels are fractions of the average entry fill price; the trailing level follows the highest high
   (long) / lowest low (short) of the bars *after* the entry fill, starting from the entry price, and
   a bar's own extreme moves the trail only after that bar's check (we cannot know whether the high
   came before the low). Long: if ``open <= stop`` fill at the open, elif ``open >= take-profit``
   fill at the open, elif ``low <= stop`` fill at the stop level, elif ``high >= take-profit`` fill at
   the take-profit level; shorts mirror it. When both could hit inside one bar the stop-loss is
   assumed first (conservative). ``stop`` is the tighter of stop-loss and trailing stop (a tie is
   reported as stop-loss).
3. ``next_close``: the pending order fills at ``close[t]`` (after the bar's stop check).
4. Equity is marked to ``close[t]``: ``cash + units * close[t]``.
5. Signals at ``t`` (data up to the close of ``t``) decide the order for the next fill. Conflicts are
   ignored (entry and exit of the same side on one bar, or long and short entries on one bar). In a
   long position: a short entry reverses (exit order then entry order), else a long exit or a time
   exit (``max_hold`` closes held) exits, else a long entry adds only with ``accumulate``. Shorts
   mirror it. Flat: a long entry, else a short entry, opens. Exits while flat are ignored. A signal on
   the last bar has no bar to fill on and is dropped.

Every fill pays ``|notional| * fee_rate + fixed_fee`` and is slipped against the trader (buy
``p * (1 + s)``, sell ``p * (1 - s)``). Entry sizing (see ``config``) uses the equity at the fill
(cash plus the position marked at the un-slipped fill price); no entry is made when the computed
size is not positive and finite.

Target mode: ``targets[t, j]`` is the signed fraction of equity wanted after the next fill (NaN keeps
the position; weights of the wrong sign for ``direction`` are treated as 0). At the fill price ``p``:
``E = cash + units * p``; a zero target closes any position; otherwise nothing happens when
``E <= 0`` or ``|target - units * p / E| < rebalance_threshold``; else the wanted units are
``target * E / p``: growing adds, shrinking sells the difference, a sign change exits (one order)
and opens the new side (a second order) with the units computed before the exit. Stops, time exits
and sizing settings do not apply in target mode.

Trades
------
A trade is a position episode, from flat (or a reversal) to flat: ``entry_price`` and ``exit_price``
are size-weighted averages of its fills, ``size`` the units entered, ``fees`` all fees paid in it,
``pnl = dir * (exit_value - entry_value) - fees``, ``return = pnl / entry_value`` and ``notional`` the
traded notional of its fills. A position still open after the last bar is reported with
``exit_reason = OPEN``, ``exit_idx = n - 1`` and the remaining units valued at the last close (no
exit fee); it is not a closed trade for the trade statistics. Sum of all trade pnl = final equity -
initial cash.

Speed
-----
Kernels compile with ``error_model="numpy"`` (no zero-division branches; every division is guarded
explicitly) and the per-bar statistics live in registers. Two exact shortcuts skip the per-bar
decision logic: while flat with nothing pending, the bars before the next entry signal only add
zero returns (accounted in bulk, equity stays at cash); while in a position without stops, time
exit or pending order, bars without any signal are only marked to the close.

Trade records are written into per-column slots sized by the column's entry-signal count (an upper
bound on trades) capped by ``RECORD_BUDGET``; a column that overflows is re-run alone with its exact
count. ``keep_equity=False`` with ``record_trades=False`` is the stats-only mode used by sweeps.

Statistics (per column, streamed; ``stats.performance_stats`` computes the same from arrays)
-------------------------------------------------------------------------------------------------
Bar returns are ``r_0 = equity_0 / init_cash - 1`` and ``r_t = equity_t / equity_{t-1} - 1`` (0 when
the previous equity is not positive). See ``stats.py`` for the definitions of each statistic.
"""

from __future__ import annotations

import numpy as np

from nautilus.strategy.backtest.layout import (
    DIR_BOTH,
    N_RF,
    N_RI,
    N_STATS,
    RF_ENTRY_PRICE,
    RF_EXIT_PRICE,
    RF_FEES,
    RF_NOTIONAL,
    RF_PNL,
    RF_RET,
    RF_SIZE,
    RI_DIR,
    RI_ENTRY,
    RI_EXIT,
    RI_REASON,
    SIZE_VOL,
    TRADE_DTYPE,
)
from nautilus.strategy.backtest.signal_mode import (
    count_entries_nb,
    simulate_signals_nb,
)
from nautilus.strategy.backtest.target_mode import (
    simulate_targets_nb,
)

RECORD_BUDGET = 1 << 20  # trade-record slots allocated up front across all columns (rerun on overflow)
_DUMMY_B = np.zeros(1, dtype=np.bool_)
_DUMMY_F = np.zeros(1, dtype=np.float64)


def kernel_array(a, dtype=None) -> np.ndarray:
    """``a`` as a writeable-flagged array (a view when possible, never written to).

    Numba types read-only arrays (pandas copy-on-write views, Arrow buffers) differently, which would
    compile and cache a second copy of every kernel; a writeable view keeps one signature."""
    a = np.asarray(a, dtype=dtype)
    if not a.flags.writeable:
        v = a.view()
        try:
            v.flags.writeable = True
            a = v
        except ValueError:
            a = a.copy()
    return a


def contiguous_1d(a, dtype=np.float64) -> np.ndarray:
    return kernel_array(np.ascontiguousarray(np.asarray(a, dtype=dtype).reshape(-1)))


def flat_view(a: np.ndarray, n: int, k: int) -> tuple[np.ndarray, int, int]:
    """A 1-D view of a contiguous ``[n, k]`` array plus its (row, column) element strides."""
    if a.shape != (n, k):
        raise ValueError(f"expected shape {(n, k)}, got {a.shape}")
    a = kernel_array(a)
    if a.flags.c_contiguous:
        return a.reshape(-1), k, 1
    if a.flags.f_contiguous:
        return a.T.reshape(-1), 1, n
    a = np.ascontiguousarray(a)
    return a.reshape(-1), k, 1


def _assemble(rec_i, rec_f, starts, counts, cols) -> np.ndarray:
    total = int(counts.sum())
    out = np.empty(total, dtype=TRADE_DTYPE)
    if total == 0:
        return out
    idx = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)])
    out["col"] = np.repeat(np.asarray(cols, dtype=np.int64), counts)
    ri = rec_i[idx]
    rf = rec_f[idx]
    out["direction"] = ri[:, RI_DIR]
    out["entry_idx"] = ri[:, RI_ENTRY]
    out["exit_idx"] = ri[:, RI_EXIT]
    out["exit_reason"] = ri[:, RI_REASON]
    out["entry_price"] = rf[:, RF_ENTRY_PRICE]
    out["exit_price"] = rf[:, RF_EXIT_PRICE]
    out["size"] = rf[:, RF_SIZE]
    out["fees"] = rf[:, RF_FEES]
    out["pnl"] = rf[:, RF_PNL]
    out["return"] = rf[:, RF_RET]
    out["notional"] = rf[:, RF_NOTIONAL]
    return out


def _run(sim, k: int, caps: np.ndarray | None, record: bool):
    """Run ``sim(cols, rec_i, rec_f, rec_start, rec_cap, rec_count)`` for all columns, re-running the
    columns whose trades overflowed the first allocation with their exact counts."""
    all_cols = np.arange(k, dtype=np.int64)
    if not record:
        z = np.zeros(k, dtype=np.int64)
        sim(all_cols, np.empty((0, N_RI), np.int64), np.empty((0, N_RF)), z, z.copy(), np.zeros(k, np.int64))
        return np.empty(0, dtype=TRADE_DTYPE)
    caps = np.asarray(caps, dtype=np.int64)
    starts = np.zeros(k, dtype=np.int64)
    np.cumsum(caps[:-1], out=starts[1:])
    total = int(caps.sum())
    rec_i = np.empty((total, N_RI), np.int64)
    rec_f = np.empty((total, N_RF))
    counts = np.zeros(k, dtype=np.int64)
    sim(all_cols, rec_i, rec_f, starts, caps, counts)
    over = np.nonzero(counts > caps)[0]
    if over.size == 0:
        return _assemble(rec_i, rec_f, starts, counts, all_cols)
    parts_ok = np.nonzero(counts <= caps)[0]
    good = _assemble(rec_i, rec_f, starts[parts_ok], counts[parts_ok], parts_ok)
    del rec_i, rec_f
    caps2 = counts[over]
    starts2 = np.zeros(over.size, dtype=np.int64)
    np.cumsum(caps2[:-1], out=starts2[1:])
    rec_i = np.empty((int(caps2.sum()), N_RI), np.int64)
    rec_f = np.empty((int(caps2.sum()), N_RF))
    counts2 = np.zeros(over.size, dtype=np.int64)
    sim(over.astype(np.int64), rec_i, rec_f, starts2, caps2, counts2)
    redo = _assemble(rec_i, rec_f, starts2, counts2, over)
    merged = np.concatenate([good, redo])
    return merged[np.argsort(merged["col"], kind="stable")]


def _initial_caps(bound: np.ndarray, n: int, k: int) -> np.ndarray:
    per_col = max(1024, RECORD_BUDGET // max(k, 1))
    return np.minimum(np.minimum(bound, n) + 1, per_col).astype(np.int64)


def _col_array(value, k: int, dtype) -> np.ndarray:
    a = np.asarray(value, dtype=dtype)
    if a.ndim == 0:
        return np.full(k, a, dtype=dtype)
    if a.shape != (k,):
        raise ValueError(f"per-column array must have shape {(k,)}, got {a.shape}")
    return np.ascontiguousarray(a)


def simulate_signals(o, h, l, c, le, lx, se, sx, *, init_cash: float, fee_rate: float, fixed_fee: float,
                     slippage: float, size_type: int, size, stop_loss, take_profit, trailing_stop, max_hold,
                     execution: int, accumulate: bool, periods_per_year: float, vol=None,
                     max_leverage: float = 1.0, keep_equity: bool = True, record_trades: bool = True,
                     sig_col=None):
    """Low-level entry: signal arrays are ``[n, ks]`` bool (any of ``le/lx/se/sx`` may be None).

    Simulated column ``j`` reads signal column ``sig_col[j]`` (default: ``j``; ``k = len(sig_col)``),
    so a sweep over stops or sizes shares one signal column. Per-column settings (``size``,
    ``stop_loss``, ``take_profit``, ``trailing_stop``: NaN or None = off, ``max_hold``: 0 or None =
    off) are scalars or ``[k]`` arrays. Returns ``(trades, equity [n, k] or None, stats [k, N_STATS])``.
    """
    n = int(c.shape[0])
    arrays = [a for a in (le, lx, se, sx) if a is not None]
    if not arrays:
        raise ValueError("no signal arrays given")
    ks = int(arrays[0].shape[1])
    sig_col = np.arange(ks, dtype=np.int64) if sig_col is None else np.ascontiguousarray(sig_col, dtype=np.int64)
    if sig_col.size and (sig_col.min() < 0 or sig_col.max() >= ks):
        raise ValueError("sig_col refers to a missing signal column")
    k = int(sig_col.shape[0])
    flat = []
    strides = None
    for a in (le, lx, se, sx):
        if a is None:
            flat.append(_DUMMY_B)
            continue
        if a.dtype != np.bool_:
            a = a.astype(np.bool_)
        f, rs, cs = flat_view(a, n, ks)
        if strides is None:
            strides = (rs, cs)
        elif strides != (rs, cs):  # mixed layouts: bring this one to the first one's layout
            f, rs, cs = flat_view(np.asfortranarray(a) if strides[0] == 1 else np.ascontiguousarray(a), n, ks)
        flat.append(f)
    rs, cs = strides
    fp = np.array([init_cash, fee_rate, fixed_fee, slippage, max_leverage, periods_per_year, 0.0])
    ip = np.array([size_type, execution, int(bool(accumulate)), le is not None, lx is not None, se is not None,
                   sx is not None, int(bool(keep_equity)), rs, cs, DIR_BOTH], dtype=np.int64)
    sizes = _col_array(size, k, np.float64)
    sls = _col_array(np.nan if stop_loss is None else stop_loss, k, np.float64)
    tps = _col_array(np.nan if take_profit is None else take_profit, k, np.float64)
    tsls = _col_array(np.nan if trailing_stop is None else trailing_stop, k, np.float64)
    holds = _col_array(0 if max_hold is None else max_hold, k, np.int64)
    vol_a = _DUMMY_F if vol is None else contiguous_1d(vol)
    if size_type == SIZE_VOL and vol_a.shape[0] != n:
        raise ValueError("vol_target sizing needs a volatility array of length n")
    equity = np.empty(n * k if keep_equity else 1)
    stats = np.empty((k, N_STATS))
    o, h, l, c = (contiguous_1d(x) for x in (o, h, l, c))

    def sim(cols, rec_i, rec_f, starts, caps, counts):
        simulate_signals_nb(o, h, l, c, vol_a, flat[0], flat[1], flat[2], flat[3], fp, ip, sizes, sls, tps, tsls,
                            holds, sig_col, cols, equity, rec_i, rec_f, starts, caps, counts, stats)

    caps = None
    if record_trades:
        bound = np.empty(ks, dtype=np.int64)
        count_entries_nb(flat[0], flat[2], le is not None, se is not None, rs, cs, n, ks, bound)
        caps = _initial_caps(bound[sig_col], n, k)
    trades = _run(sim, k, caps, record_trades)
    eq = equity.reshape(k, n).T if keep_equity else None
    return trades, eq, stats


def simulate_targets(o, c, targets, *, init_cash: float, fee_rate: float, fixed_fee: float, slippage: float,
                     execution: int, direction: int, rebalance_threshold: float, periods_per_year: float,
                     keep_equity: bool = True, record_trades: bool = True):
    """Low-level entry for ``[n, k]`` float targets; returns ``(trades, equity or None, stats)``."""
    n, k = int(targets.shape[0]), int(targets.shape[1])
    tg = targets if targets.dtype == np.float64 else targets.astype(np.float64)
    flat, rs, cs = flat_view(tg, n, k)
    fp = np.array([init_cash, fee_rate, fixed_fee, slippage, 1.0, periods_per_year, rebalance_threshold])
    ip = np.array([0, execution, 0, 0, 0, 0, 0, int(bool(keep_equity)), rs, cs, direction], dtype=np.int64)
    equity = np.empty(n * k if keep_equity else 1)
    stats = np.empty((k, N_STATS))
    o, c = (contiguous_1d(x) for x in (o, c))

    def sim(cols, rec_i, rec_f, starts, caps, counts):
        simulate_targets_nb(o, c, flat, fp, ip, cols, equity, rec_i, rec_f, starts, caps, counts, stats)

    caps = np.full(k, min(n + 1, max(1024, RECORD_BUDGET // max(k, 1) // 4)), dtype=np.int64)
    trades = _run(sim, k, caps, record_trades)
    eq = equity.reshape(k, n).T if keep_equity else None
    return trades, eq, stats
