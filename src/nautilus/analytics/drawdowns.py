"""Drawdown tables of one return series: the top N drawdowns by depth.

A drawdown starts at a peak of the value path (the row before the first loss below it), reaches its valley
(the lowest value before the peak is regained) and recovers on the first row whose value is back at or above
the peak (None while it is not). ``depth`` is ``valley / peak - 1`` (negative); ``duration`` counts periods
from peak to recovery (to the last row when not recovered). Row numbers index the returns; the value path
starts at 1 before row 0, whose peak is reported as row -1 (time ``None`` unless ``ts`` has a row for it).
No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nautilus.analytics.stats import cum_returns, drawdown_periods_1d_nb


def drawdown_table(returns: Any, top: int = 5, ts: Any = None) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdowns, deepest first, as dicts with ``peak``, ``valley``, ``recovery`` (row
    numbers), ``depth``, ``duration`` and, with ``ts`` (one per return row), ``peak_ts``/``valley_ts``/
    ``recovery_ts``."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError("drawdown_table takes one series")
    valid = ~np.isnan(r)
    first = int(valid.argmax()) if valid.any() else r.shape[0]
    wealth = np.concatenate(([1.0], cum_returns(r[first:], starting_value=1.0)))
    rows = drawdown_periods_1d_nb(wealth)
    order = np.argsort(rows[:, 3], kind="stable")[:max(top, 0)]
    last = len(wealth) - 1
    times = None if ts is None else np.asarray(ts)
    out = []
    for peak, valley, rec, depth in rows[order]:
        p, v, c = int(peak) - 1 + first, int(valley) - 1 + first, (int(rec) - 1 + first) if rec >= 0 else None
        item: dict[str, Any] = {"peak": p, "valley": v, "recovery": c, "depth": float(depth),
                                "duration": int((rec if rec >= 0 else last) - peak)}
        if times is not None:
            item["peak_ts"] = _at(times, p)
            item["valley_ts"] = _at(times, v)
            item["recovery_ts"] = None if c is None else _at(times, c)
        out.append(item)
    return out


def _at(ts: np.ndarray, i: int) -> Any:
    if i < 0 or i >= len(ts):
        return None
    value = ts[i]
    return value.item() if isinstance(value, np.generic) else value
