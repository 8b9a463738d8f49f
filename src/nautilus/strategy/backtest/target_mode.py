"""Target-position mode (numba): each bar's signed target fraction of equity, rebalanced at the next fill
(the rules are in :mod:`nautilus.strategy.backtest.kernel`), one column per ``prange`` step."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nautilus.core.numba_cache import kernels_of, key_to_sources
from nautilus.strategy.backtest.accounting import (
    acc_finish,
    bar_stats,
    bar_stats_init,
    fill_entry,
    fill_exit,
    fill_reduce,
    finish_open,
)
from nautilus.strategy.backtest.layout import (
    DIR_LONG,
    DIR_SHORT,
    EXEC_OPEN,
    F_FEE,
    F_FIXED,
    F_INIT,
    F_PPY,
    F_REBAL,
    F_SLIP,
    I_CS,
    I_DIR,
    I_EXEC,
    I_KEEP_EQ,
    I_RS,
    KERNEL_SOURCES,
    N_ACC,
    N_EP,
    REASON_SIGNAL,
)


@njit(cache=True, nogil=True, error_model="numpy")
def _rebalance(j, w, p, t, cash, pos, fee, fixed, slip, thr, ep, acc, rec_i, rec_f, rec_start, rec_cap, n_rec):
    if w == 0.0:
        if pos != 0.0:
            cash, n_rec = fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
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
        cash, n_rec = fill_exit(j, p, t, REASON_SIGNAL, cash, pos, fee, fixed, slip, ep, acc,
                                 rec_i, rec_f, rec_start, rec_cap, n_rec)
        pos = 0.0
    if pos == 0.0:
        d = 1.0 if want > 0.0 else -1.0
        cash, pos = fill_entry(d, abs(want), p, t, cash, pos, fee, fixed, slip, ep, acc)
    elif abs(want) > abs(pos):
        d = 1.0 if pos > 0.0 else -1.0
        cash, pos = fill_entry(d, abs(want) - abs(pos), p, t, cash, pos, fee, fixed, slip, ep, acc)
    elif abs(want) < abs(pos):
        cash, pos = fill_reduce(abs(pos) - abs(want), p, cash, pos, fee, fixed, slip, ep, acc)
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
    shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = bar_stats_init(init_cash)
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
        shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum = bar_stats(
            t, t == 0, eq, pos, prev, shift, s1, s2, down, peak, peak_idx, mdd, mdd_dur, expo, eqsum)
        prev = eq
    n_rec = finish_open(j, n, c[n - 1] if n > 0 else 0.0, pos, ep, rec_i, rec_f, rec_start, rec_cap, n_rec)
    acc_finish(acc, stats_row, n, init_cash, fp[F_PPY], 1.0 if pos != 0.0 else 0.0, eq, shift, s1, s2, down,
                mdd, mdd_dur, expo, eqsum)
    return n_rec


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_targets_nb(o, c, tg, fp, ip, cols, equity, rec_i, rec_f, rec_start, rec_cap, rec_count, stats):
    for i in prange(cols.shape[0]):
        j = cols[i]
        rec_count[i] = _sim_targets_col(j, o, c, tg, fp, ip, equity, rec_i, rec_f, rec_start[i], rec_cap[i],
                                        stats[j])


key_to_sources(kernels_of(globals()), KERNEL_SOURCES)
