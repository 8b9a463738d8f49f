"""Performance statistics of one equity curve and its trades.

``performance_stats`` is the plain NumPy definition; the kernels stream the same quantities per column
(``accounting.bar_stats`` / ``accounting.acc_finish``) for the stats-only sweep mode, and the tests hold the
two to agree. Definitions, with ``E_t`` the equity at the close of bar ``t`` (``t = 0..n-1``), ``E_-1``
the initial cash (or ``E_0`` when no ``init_cash`` is given, leaving ``n - 1`` returns) and ``ppy``
the periods per year:

* returns ``r_t = E_t / E_{t-1} - 1`` (0 when ``E_{t-1} <= 0``); ``m`` = number of returns.
* ``total_return = E_end / E_-1 - 1``; ``annual_return`` (CAGR) ``= (E_end / E_-1) ** (ppy / m) - 1``
  (-1 when ``E_end <= 0``).
* ``annual_volatility = std(r, ddof=1) * sqrt(ppy)``; ``sharpe = mean(r) / std(r, ddof=1) * sqrt(ppy)``
  (risk-free 0); ``sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(ppy)`` (downside deviation
  over all periods, target 0). A std or downside deviation <= 1e-12 makes the ratio NaN
  (undefined), as does having fewer than 2 returns for the volatility and Sharpe.
* ``max_drawdown = min(E_t / max(E_-1..E_t) - 1)`` (a negative fraction, 0 if never under water);
  ``max_drawdown_duration`` = the longest stretch, in bars, from the last equity high (a bar whose
  equity is >= every earlier one, ``E_-1`` counting as bar -1) to a bar still below it.
* ``calmar = annual_return / -max_drawdown`` (NaN without a drawdown).
* trade statistics use closed trades only (an open position at the end is not a trade):
  ``n_trades``, ``win_rate`` (pnl > 0), ``profit_factor = gross profit / gross loss`` (inf with wins
  and no losses, NaN with neither), ``avg_trade_return`` (mean of the trades' ``return``).
* ``exposure`` = fraction of bars whose close finds a position open: from ``positions`` when given
  (non-zero entries), else from the trades (bars ``entry_idx .. exit_idx - 1``; an open trade to the
  end).
* ``turnover = traded notional / mean(E_0..E_{n-1}) * ppy / n``: the notional of every fill, entries
  and exits (the trades' ``notional`` field), per average equity, per year. One full-equity round
  trip a year is ~2.0.
* ``final_equity`` and ``open_trades`` (0 or 1 per column) complete the table.
"""

from __future__ import annotations

import math

import numpy as np

from nautilus.strategy.backtest.layout import REASON_OPEN, STAT_NAMES, ZERO_STD

__all__ = ["STAT_NAMES", "performance_stats"]


def _trade_field(trades, name: str) -> np.ndarray:
    if trades is None:
        return np.empty(0)
    if isinstance(trades, np.ndarray):
        return np.asarray(trades[name])
    return np.asarray([t[name] for t in trades])


def _is_open(trades) -> np.ndarray:
    reasons = _trade_field(trades, "exit_reason")
    if reasons.size and reasons.dtype.kind in "US O":
        return reasons == "open"
    return reasons == REASON_OPEN


def performance_stats(equity, trades=None, periods_per_year: float = 252.0, positions=None,
                      init_cash: float | None = None) -> dict[str, float]:
    """Statistics of one equity curve (see the module docstring for every definition).

    ``trades`` is a structured array (``layout.TRADE_DTYPE``) or a list of dicts with ``pnl``,
    ``return``, ``entry_idx``, ``exit_idx``, ``exit_reason`` and ``notional``.
    """
    eq = np.asarray(equity, dtype=np.float64).reshape(-1)
    n = eq.shape[0]
    ppy = float(periods_per_year)
    if init_cash is None:
        if n == 0:
            raise ValueError("empty equity curve")
        base = eq[0]
        full = eq
    else:
        base = float(init_cash)
        full = np.concatenate([[base], eq])
    prev, cur = full[:-1], full[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, cur / np.where(prev > 0, prev, 1.0) - 1.0, 0.0)
    m = r.shape[0]
    final = float(full[-1])
    out: dict[str, float] = {}
    out["total_return"] = final / base - 1.0
    if m > 0:
        out["annual_return"] = (final / base) ** (ppy / m) - 1.0 if final > 0 else -1.0
    else:
        out["annual_return"] = math.nan
    sq = math.sqrt(ppy)
    mean = float(r.mean()) if m else math.nan
    if m >= 2:
        std = float(r.std(ddof=1))
        out["annual_volatility"] = std * sq
        out["sharpe"] = mean / std * sq if std > ZERO_STD else math.nan
    else:
        out["annual_volatility"] = math.nan
        out["sharpe"] = math.nan
    if m >= 1:
        downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        out["sortino"] = mean / downside * sq if downside > ZERO_STD else math.nan
    else:
        out["sortino"] = math.nan

    peak = np.maximum.accumulate(full)
    dd = full / peak - 1.0
    out["max_drawdown"] = float(min(dd.min(), 0.0))
    idx = np.arange(-1 if init_cash is not None else 0, n, dtype=np.int64)
    last_high = np.maximum.accumulate(np.where(full >= peak, idx, idx[0]))
    out["max_drawdown_duration"] = float((idx - last_high).max()) if full.size else 0.0
    mdd = out["max_drawdown"]
    out["calmar"] = out["annual_return"] / -mdd if mdd < 0 else math.nan

    pnl = _trade_field(trades, "pnl").astype(np.float64)
    rets = _trade_field(trades, "return").astype(np.float64)
    open_mask = _is_open(trades) if pnl.size else np.zeros(0, dtype=bool)
    closed_pnl = pnl[~open_mask]
    nc = closed_pnl.size
    out["n_trades"] = float(nc)
    if nc:
        wins = closed_pnl[closed_pnl > 0]
        gross_loss = -float(closed_pnl[closed_pnl <= 0].sum())
        gross_profit = float(wins.sum())
        out["win_rate"] = wins.size / nc
        out["avg_trade_return"] = float(rets[~open_mask].mean())
        if gross_loss > 0:
            out["profit_factor"] = gross_profit / gross_loss
        else:
            out["profit_factor"] = math.inf if gross_profit > 0 else math.nan
    else:
        out["win_rate"] = math.nan
        out["avg_trade_return"] = math.nan
        out["profit_factor"] = math.nan

    if positions is not None:
        pos = np.asarray(positions).reshape(-1)
        out["exposure"] = float(np.count_nonzero(pos)) / n if n else math.nan
    else:
        held = 0
        entry = _trade_field(trades, "entry_idx").astype(np.int64)
        exit_ = _trade_field(trades, "exit_idx").astype(np.int64)
        for e, x, is_open in zip(entry, exit_, open_mask, strict=True):
            held += (n - e) if is_open else (x - e)
        out["exposure"] = held / n if n else math.nan
    notional = float(_trade_field(trades, "notional").astype(np.float64).sum())
    mean_eq = float(eq.mean()) if n else 0.0
    out["turnover"] = notional / mean_eq * ppy / n if mean_eq > 0 else math.nan
    out["final_equity"] = final
    out["open_trades"] = float(np.count_nonzero(open_mask))
    return {name: out[name] for name in STAT_NAMES}
