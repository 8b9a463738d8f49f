"""Signal mode (numba): entry and exit signals, stops, time exits and sizing, one column per ``prange`` step
(the rules are in :mod:`nautilus.strategy.backtest.kernel`); with the helpers the Python wrapper sizes its
inputs with (entry counts, the volatility of ``vol_target`` sizing)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from nautilus.core.numba_cache import kernels_of, key_to_sources
from nautilus.strategy.backtest.accounting import (
    acc_finish,
    bar_stats,
    bar_stats_init,
    execute,
    fill_exit,
    finish_open,
)
from nautilus.strategy.backtest.layout import (
    E_ENTRY_IDX,
    E_ENTRY_UNITS,
    E_ENTRY_VALUE,
    E_EXTREME,
    E_LAST_ENTRY,
    EXEC_OPEN,
    F_FEE,
    F_FIXED,
    F_INIT,
    F_MAXLEV,
    F_PPY,
    F_SLIP,
    I_ACCUM,
    I_CS,
    I_EXEC,
    I_KEEP_EQ,
    I_RS,
    I_SIZE_TYPE,
    I_USE_LE,
    I_USE_LX,
    I_USE_SE,
    I_USE_SX,
    KERNEL_SOURCES,
    N_ACC,
    N_EP,
    PENDING_ADD,
    PENDING_EXIT,
    PENDING_GO_LONG,
    PENDING_GO_SHORT,
    PENDING_NONE,
    REASON_SIGNAL,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TIME,
    REASON_TRAILING_STOP,
    SIZE_VOL,
)


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
    shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = bar_stats_init(init_cash)
    cash = init_cash
    pos = 0.0
    n_rec = 0
    pending = PENDING_NONE
    pending_reason = REASON_SIGNAL
    pending_bar = 0

    t = 0
    while t < n:
        # 1. fills at the open
        if at_open and pending != PENDING_NONE:
            cash, pos, n_rec = execute(j, pending, pending_reason, o[t], t, cash, pos, size_type, size,
                                        vol[pending_bar] if use_vol else 0.0, maxlev, fee, fixed, slip, ep, acc,
                                        rec_i, rec_f, rec_start, rec_cap, n_rec)
            pending = PENDING_NONE

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
                cash, n_rec = fill_exit(j, exit_p, t, reason, cash, pos, fee, fixed, slip, ep, acc,
                                         rec_i, rec_f, rec_start, rec_cap, n_rec)
                pos = 0.0

        # 3. fills at the close
        if not at_open and pending != PENDING_NONE:
            cash, pos, n_rec = execute(j, pending, pending_reason, c[t], t, cash, pos, size_type, size,
                                        vol[pending_bar] if use_vol else 0.0, maxlev, fee, fixed, slip, ep, acc,
                                        rec_i, rec_f, rec_start, rec_cap, n_rec)
            pending = PENDING_NONE

        # 4. mark to the close
        eq = cash + pos * c[t]
        if keep_eq:
            equity[eq_base + t] = eq
        shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = bar_stats(
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
                    pending = PENDING_GO_SHORT
                elif l_x or timed:
                    pending = PENDING_EXIT
                    pending_reason = REASON_SIGNAL if l_x else REASON_TIME
                elif l_e and accumulate:
                    pending = PENDING_ADD
            elif pos < 0.0:
                if l_e:
                    pending = PENDING_GO_LONG
                elif s_x or timed:
                    pending = PENDING_EXIT
                    pending_reason = REASON_SIGNAL if s_x else REASON_TIME
                elif s_e and accumulate:
                    pending = PENDING_ADD
            elif l_e:
                pending = PENDING_GO_LONG
            elif s_e:
                pending = PENDING_GO_SHORT
            pending_bar = t

        # 6. flat with nothing pending: bars up to the next entry signal change nothing but the
        #    statistics (equity stays at cash, returns are 0), so they are accounted in bulk
        if pos == 0.0 and pending == PENDING_NONE and t + 2 < n:
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
        if pos != 0.0 and pending == PENDING_NONE and not stops_on and max_hold <= 0:
            v = t + 1
            while v < n - 1:
                k_idx = v * rs + base
                if ((use_le and le[k_idx]) or (use_lx and lx[k_idx]) or (use_se and se[k_idx])
                        or (use_sx and sx[k_idx])):
                    break
                eq = cash + pos * c[v]
                if keep_eq:
                    equity[eq_base + v] = eq
                shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = bar_stats(
                    v, False, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)
                prev = eq
                v += 1
            t = v
            continue
        t += 1

    n_rec = finish_open(j, n, c[n - 1] if n > 0 else 0.0, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec)
    acc_finish(acc, stats_row, n, init_cash, fp[F_PPY], 1.0 if pos != 0.0 else 0.0, eq, shift, s1, s2, down,
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


key_to_sources(kernels_of(globals()), KERNEL_SOURCES)
