"""Trade statistics from a trade list (the Strategy engine's trade records or any dicts alike).

Each trade needs ``pnl``; ``return`` (per-trade return), ``entry_idx``/``exit_idx`` (bar numbers) and
``exit_reason`` are used when present. Trades still open (``exit_reason == "open"`` or ``exit_idx < 0``) are
left out. A win has ``pnl > 0``, a loss ``pnl < 0`` (a zero trade is neither, and breaks both streaks).
``profit_factor`` = gross profit / gross loss (NaN without losses), ``expectancy`` = mean pnl,
``payoff_ratio`` = average win / |average loss|. No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TRADE_STAT_NAMES = ("n_trades", "win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss", "payoff_ratio",
                    "best_trade", "worst_trade", "best_return", "worst_return", "avg_return", "avg_holding_bars",
                    "max_win_streak", "max_loss_streak", "gross_profit", "gross_loss", "total_pnl")


def closed_trades(trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in trades:
        if t.get("exit_reason") == "open":
            continue
        exit_idx = t.get("exit_idx")
        if exit_idx is not None and exit_idx < 0:
            continue
        out.append(t)
    return out


def _streak(flags: np.ndarray) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def trade_stats(trades: list[dict[str, Any]]) -> dict[str, float]:
    """Statistics of the closed trades (see the module docstring); NaN where undefined."""
    closed = closed_trades(trades)
    nan = float("nan")
    pnl = np.array([float(t["pnl"]) for t in closed], dtype=np.float64)
    ret = np.array([float(t.get("return", nan)) for t in closed], dtype=np.float64)
    held = np.array([float(t["exit_idx"] - t["entry_idx"]) for t in closed
                     if t.get("exit_idx") is not None and t.get("entry_idx") is not None], dtype=np.float64)
    n = len(pnl)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gp, gl = float(wins.sum()), float(-losses.sum())
    avg_win = float(wins.mean()) if len(wins) else nan
    avg_loss = float(losses.mean()) if len(losses) else nan
    return {
        "n_trades": float(n),
        "win_rate": len(wins) / n if n else nan,
        "profit_factor": gp / gl if gl > 0 else nan,
        "expectancy": float(pnl.mean()) if n else nan,
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "payoff_ratio": avg_win / abs(avg_loss) if len(wins) and len(losses) else nan,
        "best_trade": float(pnl.max()) if n else nan,
        "worst_trade": float(pnl.min()) if n else nan,
        "best_return": float(np.nanmax(ret)) if n and not np.isnan(ret).all() else nan,
        "worst_return": float(np.nanmin(ret)) if n and not np.isnan(ret).all() else nan,
        "avg_return": float(np.nanmean(ret)) if n and not np.isnan(ret).all() else nan,
        "avg_holding_bars": float(held.mean()) if len(held) else nan,
        "max_win_streak": float(_streak(pnl > 0)),
        "max_loss_streak": float(_streak(pnl < 0)),
        "gross_profit": gp,
        "gross_loss": gl,
        "total_pnl": float(pnl.sum()),
    }
