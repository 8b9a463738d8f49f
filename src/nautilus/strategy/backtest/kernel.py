"""Numba simulation kernels: k parameter columns over one OHLC series, ``prange`` over columns.

Layout
------
Signal and target inputs are logically ``[n, k]`` but the kernels take them *flattened* with a row and
a column stride (element ``[t, j]`` is ``flat[t * rs + j * cs]``), so C- and Fortran-ordered inputs
both pass without a copy and one compiled signature serves both. Equity is written column-major
(``equity[j * n + t]``; exposed to Python as an ``[n, k]`` Fortran-ordered view) so threads never
share a cache line. Scalars travel in two small arrays (``fp`` floats, ``ip`` ints) and the settings
a sweep may vary (size, stop-loss, take-profit, trailing stop, max hold) as per-column arrays, which
keeps the number of compiled signatures at one per kernel.

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

import math

import numpy as np
from numba import njit, prange

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
_NONE, _EXIT, _GO_LONG, _GO_SHORT, _ADD = 0, 1, 2, 3, 4

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


# --------------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _acc_finish(acc, out, n, init_cash, ppy, open_trades, final, shift, s1, s2, down, mdd, mdd_dur, expo, eqsum):
    """Per-column statistics from the streamed sums. Returns are summed shifted by the first return
    (``x = r - r_0``) so the variance keeps its precision when returns are nearly constant."""
    out[S_FINAL] = final
    out[S_TOTAL] = final / init_cash - 1.0
    if n > 0:
        out[S_CAGR] = (final / init_cash) ** (ppy / n) - 1.0 if final > 0.0 else -1.0
    else:
        out[S_CAGR] = np.nan
    cnt = float(n)
    sq = math.sqrt(ppy)
    mean = shift + s1 / cnt if n > 0 else np.nan
    if n >= 2:
        var = (s2 - s1 * s1 / cnt) / (cnt - 1.0)
        std = math.sqrt(var) if var > 0.0 else 0.0
        out[S_VOL] = std * sq
        out[S_SHARPE] = mean / std * sq if std > ZERO_STD else np.nan
    else:
        out[S_VOL] = np.nan
        out[S_SHARPE] = np.nan
    if n >= 1:
        dd = math.sqrt(down / cnt)
        out[S_SORTINO] = mean / dd * sq if dd > ZERO_STD else np.nan
    else:
        out[S_SORTINO] = np.nan
    out[S_MDD] = mdd
    out[S_MDD_DUR] = mdd_dur
    out[S_CALMAR] = out[S_CAGR] / -mdd if mdd < 0.0 else np.nan
    nc = acc[A_NCLOSED]
    out[S_NTRADES] = nc
    if nc > 0.0:
        out[S_WIN] = acc[A_NWINS] / nc
        out[S_AVG_RET] = acc[A_SUMRET] / nc
        if acc[A_GLOSS] > 0.0:
            out[S_PF] = acc[A_GPROFIT] / acc[A_GLOSS]
        elif acc[A_GPROFIT] > 0.0:
            out[S_PF] = np.inf
        else:
            out[S_PF] = np.nan
    else:
        out[S_WIN] = np.nan
        out[S_AVG_RET] = np.nan
        out[S_PF] = np.nan
    out[S_EXPOSURE] = expo / cnt if n > 0 else np.nan
    mean_eq = eqsum / cnt if n > 0 else 0.0
    out[S_TURNOVER] = acc[A_NOTIONAL] / mean_eq * ppy / cnt if mean_eq > 0.0 else np.nan
    out[S_OPEN] = open_trades


@njit(inline="always", nogil=True, error_model="numpy")
def _bar_stats_init(init_cash):
    """Starting ``(shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)`` for ``_bar_stats``."""
    return 0.0, 0.0, 0.0, 0.0, init_cash, -1, 0.0, 0, 0, 0.0


@njit(inline="always", nogil=True, error_model="numpy")
def _bar_stats(t, first, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum):
    """Add bar ``t`` (equity ``eq``, previous ``prev``, position ``pos``) to the streamed per-bar
    statistics that ``_acc_finish`` turns into the column's stats; ``first`` (bar 0) sets the return
    shift. Returns the updated ``(shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)``.

    Inlined at the Numba IR level so the accumulators stay in registers in the column loops. It takes
    scalars only: an array argument would add a reference-count incref/decref pair per bar. Pass a
    constant ``first=False`` where ``t > 0`` is known, so ``shift`` stays loop-invariant."""
    r = eq / prev - 1.0 if prev > 0.0 else 0.0
    if first:
        shift = r
    x = r - shift
    s1 += x
    s2 += x * x
    neg = min(r, 0.0)
    down += neg * neg
    if eq >= peak:
        peak = eq
        peak_idx = t
    else:
        if eq < peak * (1.0 + mdd):  # cheap pre-check; the division decides
            dd = eq / peak - 1.0
            if dd < mdd:
                mdd = dd
        if t - peak_idx > mdd_dur:
            mdd_dur = t - peak_idx
    if pos != 0.0:
        expo += 1
    eqsum += eq
    return shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc):
    """Buy (d=+1) or sell short (d=-1) ``units`` at base price ``p``; returns (cash, pos)."""
    fill = p * (1.0 + slip) if d > 0 else p * (1.0 - slip)
    notional = units * fill
    f = notional * fee + fixed
    cash = cash - d * notional - f
    pos = pos + d * units
    if ep[E_DIR] == 0.0:
        ep[E_DIR] = d
        ep[E_ENTRY_IDX] = t
        ep[E_ENTRY_VALUE] = 0.0
        ep[E_ENTRY_UNITS] = 0.0
        ep[E_EXIT_VALUE] = 0.0
        ep[E_FEES] = 0.0
        ep[E_NOTIONAL] = 0.0
        ep[E_EXTREME] = fill
    elif d > 0:
        ep[E_EXTREME] = max(ep[E_EXTREME], fill)
    else:
        ep[E_EXTREME] = min(ep[E_EXTREME], fill)
    ep[E_ENTRY_VALUE] += notional
    ep[E_ENTRY_UNITS] += units
    ep[E_FEES] += f
    ep[E_NOTIONAL] += notional
    ep[E_LAST_ENTRY] = t
    acc[A_NOTIONAL] += notional
    return cash, pos


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_reduce(units, p, cash, pos, fee, fixed, slip, ep, acc):
    """Partly close ``units`` of the position at base price ``p`` (target mode); returns (cash, pos)."""
    d = 1.0 if pos > 0.0 else -1.0
    fill = p * (1.0 - slip) if d > 0 else p * (1.0 + slip)
    notional = units * fill
    f = notional * fee + fixed
    cash = cash + d * notional - f
    pos = pos - d * units
    ep[E_EXIT_VALUE] += notional
    ep[E_FEES] += f
    ep[E_NOTIONAL] += notional
    acc[A_NOTIONAL] += notional
    return cash, pos


@njit(cache=True, nogil=True, error_model="numpy")
def _write_trade(j, ep, exit_idx, exit_value, reason, rec_i, rec_f, slot, fees):
    d = ep[E_DIR]
    entry_value = ep[E_ENTRY_VALUE]
    units = ep[E_ENTRY_UNITS]
    pnl = d * (exit_value - entry_value) - fees
    if slot >= 0:
        rec_i[slot, RI_DIR] = int(d)
        rec_i[slot, RI_ENTRY] = int(ep[E_ENTRY_IDX])
        rec_i[slot, RI_EXIT] = exit_idx
        rec_i[slot, RI_REASON] = reason
        rec_f[slot, RF_ENTRY_PRICE] = entry_value / units
        rec_f[slot, RF_EXIT_PRICE] = exit_value / units
        rec_f[slot, RF_SIZE] = units
        rec_f[slot, RF_FEES] = fees
        rec_f[slot, RF_PNL] = pnl
        rec_f[slot, RF_RET] = pnl / entry_value
        rec_f[slot, RF_NOTIONAL] = ep[E_NOTIONAL]
    return pnl


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_exit(j, p, t, reason, cash, pos, fee, fixed, slip, ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
    """Close the whole position at base price ``p`` and record the trade; returns (cash, n_rec)."""
    d = 1.0 if pos > 0.0 else -1.0
    fill = p * (1.0 - slip) if d > 0 else p * (1.0 + slip)
    units = abs(pos)
    notional = units * fill
    f = notional * fee + fixed
    cash = cash + d * notional - f
    ep[E_EXIT_VALUE] += notional
    ep[E_FEES] += f
    ep[E_NOTIONAL] += notional
    acc[A_NOTIONAL] += notional
    slot = rec_start + n_rec if n_rec < rec_cap else -1
    pnl = _write_trade(j, ep, t, ep[E_EXIT_VALUE], reason, rec_i, rec_f, slot, ep[E_FEES])
    acc[A_NCLOSED] += 1.0
    if pnl > 0.0:
        acc[A_NWINS] += 1.0
        acc[A_GPROFIT] += pnl
    else:
        acc[A_GLOSS] -= pnl
    acc[A_SUMRET] += pnl / ep[E_ENTRY_VALUE]
    ep[E_DIR] = 0.0
    return cash, n_rec + 1


@njit(cache=True, nogil=True, error_model="numpy")
def _finish_open(j, n, c_last, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec):
    if pos == 0.0:
        return n_rec
    slot = rec_start + n_rec if n_rec < rec_cap else -1
    _write_trade(j, ep, n - 1, ep[E_EXIT_VALUE] + abs(pos) * c_last, REASON_OPEN, rec_i, rec_f, slot, ep[E_FEES])
    return n_rec + 1


@njit(cache=True, nogil=True, error_model="numpy")
def _entry_units(size_type, size, equity, fill, fee, fixed, vol_value, maxlev):
    if size_type == SIZE_FIXED:
        return size
    if size_type == SIZE_VALUE:
        return size / fill
    frac = size
    if size_type == SIZE_VOL:
        if not (vol_value >= 0.0):  # NaN: not enough history
            return 0.0
        frac = maxlev if vol_value == 0.0 else min(size / vol_value, maxlev)
    notional = (frac * equity - fixed) / (1.0 + fee)
    return notional / fill


@njit(cache=True, nogil=True, error_model="numpy")
def _execute(j, pending, pending_reason, p, t, cash, pos, size_type, size, vol_value, maxlev, fee, fixed, slip,
             ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
    """Fill the order decided at the previous close at base price ``p``; returns (cash, pos, n_rec)."""
    if pending == _EXIT:
        if pos != 0.0:
            cash, n_rec = _fill_exit(j, p, t, pending_reason, cash, pos, fee, fixed, slip, ep, acc,
                                     rec_i, rec_f, rec_start, rec_cap, n_rec)
            pos = 0.0
        return cash, pos, n_rec
    if pending == _ADD:
        if pos != 0.0:
            d = 1.0 if pos > 0.0 else -1.0
            fill = p * (1.0 + slip) if d > 0 else p * (1.0 - slip)
            units = _entry_units(size_type, size, cash + pos * p, fill, fee, fixed, vol_value, maxlev)
            if units > 0.0 and units < np.inf:
                cash, pos = _fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc)
        return cash, pos, n_rec
    d = 1.0 if pending == _GO_LONG else -1.0
    if pos != 0.0 and (pos > 0.0) != (d > 0.0):
        cash, n_rec = _fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
                                 rec_i, rec_f, rec_start, rec_cap, n_rec)
        pos = 0.0
    if pos == 0.0:
        fill = p * (1.0 + slip) if d > 0 else p * (1.0 - slip)
        units = _entry_units(size_type, size, cash, fill, fee, fixed, vol_value, maxlev)
        if units > 0.0 and units < np.inf:
            cash, pos = _fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc)
    return cash, pos, n_rec


# --------------------------------------------------------------------------------------------------
# signal mode
# --------------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _sim_signals_col(j, sj, o, h, l, c, vol, le, lx, se, sx, fp, ip, size, sl, tp, tsl, hold,
                     equity, rec_i, rec_f, rec_start, rec_cap, stats_row):
    n = c.shape[0]
    init_cash = fp[F_INIT]
    fee = fp[F_FEE]
    fixed = fp[F_FIXED]
    slip = fp[F_SLIP]
    maxlev = fp[F_MAXLEV]
    size_type = ip[I_SIZE_TYPE]
    use_vol = size_type == SIZE_VOL
    at_open = ip[I_EXEC] == EXEC_OPEN
    accumulate = ip[I_ACCUM] != 0
    use_le = ip[I_USE_LE] != 0
    use_lx = ip[I_USE_LX] != 0
    use_se = ip[I_USE_SE] != 0
    use_sx = ip[I_USE_SX] != 0
    keep_eq = ip[I_KEEP_EQ] != 0
    rs = ip[I_RS]
    base = sj * ip[I_CS]  # signal column sj (several columns may share one)
    eq_base = j * n
    sl_on = sl > 0.0
    tp_on = tp > 0.0
    tsl_on = tsl > 0.0
    stops_on = sl_on or tp_on or tsl_on
    max_hold = hold

    ep = np.zeros(N_EP)
    acc = np.zeros(N_ACC)
    # per-bar statistics, kept in registers
    eq = init_cash
    prev = init_cash
    shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = _bar_stats_init(init_cash)
    cash = init_cash
    pos = 0.0
    n_rec = 0
    pending = _NONE
    pending_reason = REASON_SIGNAL
    pending_bar = 0

    t = 0
    while t < n:
        # 1. fills at the open
        if at_open and pending != _NONE:
            cash, pos, n_rec = _execute(j, pending, pending_reason, o[t], t, cash, pos, size_type, size,
                                        vol[pending_bar] if use_vol else 0.0, maxlev, fee, fixed, slip, ep, acc,
                                        rec_i, rec_f, rec_start, rec_cap, n_rec)
            pending = _NONE

        # 2. stops
        if stops_on and pos != 0.0 and t > ep[E_LAST_ENTRY]:
            avg = ep[E_ENTRY_VALUE] / ep[E_ENTRY_UNITS]
            exit_p = 0.0
            reason = -1
            if pos > 0.0:
                stop = -np.inf
                stop_reason = REASON_STOP_LOSS
                if sl_on:
                    stop = avg * (1.0 - sl)
                if tsl_on:
                    trail = ep[E_EXTREME] * (1.0 - tsl)
                    if trail > stop:
                        stop = trail
                        stop_reason = REASON_TRAILING_STOP
                target = avg * (1.0 + tp) if tp_on else np.inf
                if o[t] <= stop:
                    exit_p = o[t]
                    reason = stop_reason
                elif o[t] >= target:
                    exit_p = o[t]
                    reason = REASON_TAKE_PROFIT
                elif l[t] <= stop:
                    exit_p = stop
                    reason = stop_reason
                elif h[t] >= target:
                    exit_p = target
                    reason = REASON_TAKE_PROFIT
                elif h[t] > ep[E_EXTREME]:
                    ep[E_EXTREME] = h[t]
            else:
                stop = np.inf
                stop_reason = REASON_STOP_LOSS
                if sl_on:
                    stop = avg * (1.0 + sl)
                if tsl_on:
                    trail = ep[E_EXTREME] * (1.0 + tsl)
                    if trail < stop:
                        stop = trail
                        stop_reason = REASON_TRAILING_STOP
                target = avg * (1.0 - tp) if tp_on else -np.inf
                if o[t] >= stop:
                    exit_p = o[t]
                    reason = stop_reason
                elif o[t] <= target:
                    exit_p = o[t]
                    reason = REASON_TAKE_PROFIT
                elif h[t] >= stop:
                    exit_p = stop
                    reason = stop_reason
                elif l[t] <= target:
                    exit_p = target
                    reason = REASON_TAKE_PROFIT
                elif l[t] < ep[E_EXTREME]:
                    ep[E_EXTREME] = l[t]
            if reason >= 0:
                cash, n_rec = _fill_exit(j, exit_p, t, reason, cash, pos, fee, fixed, slip, ep, acc,
                                         rec_i, rec_f, rec_start, rec_cap, n_rec)
                pos = 0.0

        # 3. fills at the close
        if not at_open and pending != _NONE:
            cash, pos, n_rec = _execute(j, pending, pending_reason, c[t], t, cash, pos, size_type, size,
                                        vol[pending_bar] if use_vol else 0.0, maxlev, fee, fixed, slip, ep, acc,
                                        rec_i, rec_f, rec_start, rec_cap, n_rec)
            pending = _NONE

        # 4. mark to the close
        eq = cash + pos * c[t]
        if keep_eq:
            equity[eq_base + t] = eq
        shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = _bar_stats(
            t, t == 0, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)
        prev = eq

        # 5. signals at the close decide the next fill
        if t + 1 < n:
            k_idx = t * rs + base
            l_e = use_le and le[k_idx]
            l_x = use_lx and lx[k_idx]
            s_e = use_se and se[k_idx]
            s_x = use_sx and sx[k_idx]
            if l_e and l_x:
                l_e = False
                l_x = False
            if s_e and s_x:
                s_e = False
                s_x = False
            if l_e and s_e:
                l_e = False
                s_e = False
            timed = pos != 0.0 and max_hold > 0 and t - ep[E_ENTRY_IDX] + 1 >= max_hold
            if pos > 0.0:
                if s_e:
                    pending = _GO_SHORT
                elif l_x or timed:
                    pending = _EXIT
                    pending_reason = REASON_SIGNAL if l_x else REASON_TIME
                elif l_e and accumulate:
                    pending = _ADD
            elif pos < 0.0:
                if l_e:
                    pending = _GO_LONG
                elif s_x or timed:
                    pending = _EXIT
                    pending_reason = REASON_SIGNAL if s_x else REASON_TIME
                elif s_e and accumulate:
                    pending = _ADD
            elif l_e:
                pending = _GO_LONG
            elif s_e:
                pending = _GO_SHORT
            pending_bar = t

        # 6. flat with nothing pending: bars up to the next entry signal change nothing but the
        #    statistics (equity stays at cash, returns are 0), so they are accounted in bulk
        if pos == 0.0 and pending == _NONE and t + 2 < n:
            u = t + 1
            while u < n - 1:
                k_idx = u * rs + base
                if (use_le and le[k_idx]) or (use_se and se[k_idx]):
                    break
                u += 1
            m = u - 1 - t
            if m > 0:
                x = -shift
                s1 += m * x
                s2 += m * (x * x)
                if cash >= peak:
                    peak = cash
                    peak_idx = u - 1
                else:
                    dd = cash / peak - 1.0
                    if dd < mdd:
                        mdd = dd
                    if u - 1 - peak_idx > mdd_dur:
                        mdd_dur = u - 1 - peak_idx
                eqsum += m * cash
                prev = cash
                if keep_eq:
                    equity[eq_base + t + 1:eq_base + u] = cash
                t = u
                continue
        # 7. in a position with no stops, time exit or pending order: mark bars until one has a signal
        if pos != 0.0 and pending == _NONE and not stops_on and max_hold <= 0:
            v = t + 1
            while v < n - 1:
                k_idx = v * rs + base
                if ((use_le and le[k_idx]) or (use_lx and lx[k_idx]) or (use_se and se[k_idx])
                        or (use_sx and sx[k_idx])):
                    break
                eq = cash + pos * c[v]
                if keep_eq:
                    equity[eq_base + v] = eq
                shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = _bar_stats(
                    v, False, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)
                prev = eq
                v += 1
            t = v
            continue
        t += 1

    n_rec = _finish_open(j, n, c[n - 1] if n > 0 else 0.0, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec)
    _acc_finish(acc, stats_row, n, init_cash, fp[F_PPY], 1.0 if pos != 0.0 else 0.0, eq, shift, s1, s2, down,
                mdd, mdd_dur, expo, eqsum)
    return n_rec


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_signals_nb(o, h, l, c, vol, le, lx, se, sx, fp, ip, size, sl, tp, tsl, hold, sig_col, cols,
                        equity, rec_i, rec_f, rec_start, rec_cap, rec_count, stats):
    """Simulate the columns listed in ``cols`` (column ``j`` reads signal column ``sig_col[j]``);
    ``rec_*`` and ``rec_count`` are indexed like ``cols``."""
    for i in prange(cols.shape[0]):
        j = cols[i]
        rec_count[i] = _sim_signals_col(j, sig_col[j], o, h, l, c, vol, le, lx, se, sx, fp, ip, size[j], sl[j],
                                        tp[j], tsl[j], hold[j], equity, rec_i, rec_f, rec_start[i], rec_cap[i],
                                        stats[j])


# --------------------------------------------------------------------------------------------------
# target-position mode
# --------------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _rebalance(j, w, p, t, cash, pos, fee, fixed, slip, thr, ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
    if w == 0.0:
        if pos != 0.0:
            cash, n_rec = _fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
                                     rec_i, rec_f, rec_start, rec_cap, n_rec)
            pos = 0.0
        return cash, pos, n_rec
    e = cash + pos * p
    if e <= 0.0:
        return cash, pos, n_rec
    if abs(w - pos * p / e) < thr:
        return cash, pos, n_rec
    want = w * e / p
    if pos != 0.0 and (pos > 0.0) != (want > 0.0):
        cash, n_rec = _fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
                                 rec_i, rec_f, rec_start, rec_cap, n_rec)
        pos = 0.0
    if pos == 0.0:
        d = 1.0 if want > 0.0 else -1.0
        cash, pos = _fill_entry(d, abs(want), p, t, cash, pos, fee, fixed, slip, ep, acc)
    elif abs(want) > abs(pos):
        d = 1.0 if pos > 0.0 else -1.0
        cash, pos = _fill_entry(d, abs(want) - abs(pos), p, t, cash, pos, fee, fixed, slip, ep, acc)
    elif abs(want) < abs(pos):
        cash, pos = _fill_reduce(abs(pos) - abs(want), p, cash, pos, fee, fixed, slip, ep, acc)
    return cash, pos, n_rec


@njit(cache=True, nogil=True, error_model="numpy")
def _sim_targets_col(j, o, c, tg, fp, ip, equity, rec_i, rec_f, rec_start, rec_cap, stats_row):
    n = c.shape[0]
    init_cash = fp[F_INIT]
    fee = fp[F_FEE]
    fixed = fp[F_FIXED]
    slip = fp[F_SLIP]
    thr = fp[F_REBAL]
    at_open = ip[I_EXEC] == EXEC_OPEN
    keep_eq = ip[I_KEEP_EQ] != 0
    direction = ip[I_DIR]
    rs = ip[I_RS]
    base = j * ip[I_CS]
    eq_base = j * n
    ep = np.zeros(N_EP)
    acc = np.zeros(N_ACC)
    # per-bar statistics, kept in registers
    eq = init_cash
    prev = init_cash
    shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = _bar_stats_init(init_cash)
    cash = init_cash
    pos = 0.0
    n_rec = 0
    for t in range(n):
        if t > 0:
            w = tg[(t - 1) * rs + base]
            if w == w:  # not NaN
                if (direction == DIR_LONG and w < 0.0) or (direction == DIR_SHORT and w > 0.0):
                    w = 0.0
                p = o[t] if at_open else c[t]
                cash, pos, n_rec = _rebalance(j, w, p, t, cash, pos, fee, fixed, slip, thr, ep, acc,
                                              rec_i, rec_f, rec_start, rec_cap, n_rec)
        eq = cash + pos * c[t]
        if keep_eq:
            equity[eq_base + t] = eq
        shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = _bar_stats(
            t, t == 0, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)
        prev = eq
    n_rec = _finish_open(j, n, c[n - 1] if n > 0 else 0.0, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec)
    _acc_finish(acc, stats_row, n, init_cash, fp[F_PPY], 1.0 if pos != 0.0 else 0.0, eq, shift, s1, s2, down,
                mdd, mdd_dur, expo, eqsum)
    return n_rec


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_targets_nb(o, c, tg, fp, ip, cols, equity, rec_i, rec_f, rec_start, rec_cap, rec_count, stats):
    for i in prange(cols.shape[0]):
        j = cols[i]
        rec_count[i] = _sim_targets_col(j, o, c, tg, fp, ip, equity, rec_i, rec_f, rec_start[i], rec_cap[i],
                                        stats[j])


# --------------------------------------------------------------------------------------------------
# helpers for the Python wrappers
# --------------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def count_entries_nb(a, b, use_a, use_b, rs, cs, n, k, out):
    """Per column: bars where ``a`` (if used) or ``b`` (if used) is set: an upper bound on trades."""
    for j in prange(k):
        total = 0
        base = j * cs
        for t in range(n):
            idx = t * rs + base
            if (use_a and a[idx]) or (use_b and b[idx]):
                total += 1
        out[j] = total


@njit(cache=True, nogil=True, error_model="numpy")
def rolling_vol_nb(close, lookback, ppy):
    """Annualised sample std (ddof=1) of the last ``lookback`` log returns ending at each bar (NaN before)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= lookback:
        return out
    r = np.empty(n)
    r[0] = np.nan
    for t in range(1, n):
        r[t] = math.log(close[t] / close[t - 1])
    sq = math.sqrt(ppy)
    for t in range(lookback, n):
        s = 0.0
        for i in range(t - lookback + 1, t + 1):
            s += r[i]
        m = s / lookback
        v = 0.0
        for i in range(t - lookback + 1, t + 1):
            dv = r[i] - m
            v += dv * dv
        out[t] = math.sqrt(v / (lookback - 1)) * sq
    return out


# --------------------------------------------------------------------------------------------------
# Python wrappers: allocation, overflow re-runs, record assembly
# --------------------------------------------------------------------------------------------------

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
