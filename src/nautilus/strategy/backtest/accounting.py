"""Per-column accounting shared by both simulation modes (numba): fills with fees and slippage, entry sizing,
pending orders, trade episodes and their records, and the streamed statistics of the equity curve."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from nautilus.core.numba_cache import kernels_of, key_to_sources
from nautilus.strategy.backtest.layout import (
    A_GLOSS,
    A_GPROFIT,
    A_NCLOSED,
    A_NOTIONAL,
    A_NWINS,
    A_SUMRET,
    E_DIR,
    E_ENTRY_IDX,
    E_ENTRY_UNITS,
    E_ENTRY_VALUE,
    E_EXIT_VALUE,
    E_EXTREME,
    E_FEES,
    E_LAST_ENTRY,
    E_NOTIONAL,
    KERNEL_SOURCES,
    PENDING_ADD,
    PENDING_EXIT,
    PENDING_GO_LONG,
    REASON_OPEN,
    REASON_SIGNAL,
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
    S_AVG_RET,
    S_CAGR,
    S_CALMAR,
    S_EXPOSURE,
    S_FINAL,
    S_MDD,
    S_MDD_DUR,
    S_NTRADES,
    S_OPEN,
    S_PF,
    S_SHARPE,
    S_SORTINO,
    S_TOTAL,
    S_TURNOVER,
    S_VOL,
    S_WIN,
    SIZE_FIXED,
    SIZE_VALUE,
    SIZE_VOL,
    ZERO_STD,
)


@njit(cache=True, nogil=True, error_model="numpy")
def acc_finish(acc, out, n, init_cash, ppy, open_trades, final, shift, s1, s2, down, mdd, mdd_dur, expo, eqsum):
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
def bar_stats_init(init_cash):
    """Starting ``(shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)`` for ``bar_stats``."""
    return 0.0, 0.0, 0.0, 0.0, init_cash, -1, 0.0, 0, 0, 0.0


@njit(inline="always", nogil=True, error_model="numpy")
def bar_stats(t, first, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum):
    """Add bar ``t`` (equity ``eq``, previous ``prev``, position ``pos``) to the streamed per-bar
    statistics that ``acc_finish`` turns into the column's stats; ``first`` (bar 0) sets the return
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
def fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc):
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
def fill_reduce(units, p, cash, pos, fee, fixed, slip, ep, acc):
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
def write_trade(j, ep, exit_idx, exit_value, reason, rec_i, rec_f, slot, fees):
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
def fill_exit(j, p, t, reason, cash, pos, fee, fixed, slip, ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
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
    pnl = write_trade(j, ep, t, ep[E_EXIT_VALUE], reason, rec_i, rec_f, slot, ep[E_FEES])
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
def finish_open(j, n, c_last, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec):
    if pos == 0.0:
        return n_rec
    slot = rec_start + n_rec if n_rec < rec_cap else -1
    write_trade(j, ep, n - 1, ep[E_EXIT_VALUE] + abs(pos) * c_last, REASON_OPEN, rec_i, rec_f, slot, ep[E_FEES])
    return n_rec + 1


@njit(cache=True, nogil=True, error_model="numpy")
def entry_units(size_type, size, equity, fill, fee, fixed, vol_value, maxlev):
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
def execute(j, pending, pending_reason, p, t, cash, pos, size_type, size, vol_value, maxlev, fee, fixed, slip,
             ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
    """Fill the order decided at the previous close at base price ``p``; returns (cash, pos, n_rec)."""
    if pending == PENDING_EXIT:
        if pos != 0.0:
            cash, n_rec = fill_exit(j, p, t, pending_reason, cash, pos, fee, fixed, slip, ep, acc,
                                     rec_i, rec_f, rec_start, rec_cap, n_rec)
            pos = 0.0
        return cash, pos, n_rec
    if pending == PENDING_ADD:
        if pos != 0.0:
            d = 1.0 if pos > 0.0 else -1.0
            fill = p * (1.0 + slip) if d > 0 else p * (1.0 - slip)
            units = entry_units(size_type, size, cash + pos * p, fill, fee, fixed, vol_value, maxlev)
            if units > 0.0 and units < np.inf:
                cash, pos = fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc)
        return cash, pos, n_rec
    d = 1.0 if pending == PENDING_GO_LONG else -1.0
    if pos != 0.0 and (pos > 0.0) != (d > 0.0):
        cash, n_rec = fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
                                 rec_i, rec_f, rec_start, rec_cap, n_rec)
        pos = 0.0
    if pos == 0.0:
        fill = p * (1.0 + slip) if d > 0 else p * (1.0 - slip)
        units = entry_units(size_type, size, cash, fill, fee, fixed, vol_value, maxlev)
        if units > 0.0 and units < np.inf:
            cash, pos = fill_entry(d, units, p, t, cash, pos, fee, fixed, slip, ep, acc)
    return cash, pos, n_rec


key_to_sources(kernels_of(globals()), KERNEL_SOURCES)
