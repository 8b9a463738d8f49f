"""Calendar tables of one or more return series: monthly and annual compounded returns (UTC).

``ts`` are epoch nanoseconds (int64) or anything ``pandas.to_datetime`` reads; NaN returns count as 0, as in
empyrical's ``aggregate_returns``. No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _frame(returns: Any, ts: Any) -> pd.DataFrame:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    idx = pd.to_datetime(np.asarray(ts), utc=True) if np.asarray(ts).dtype.kind in "iuM" else pd.to_datetime(
        list(ts), utc=True)
    if len(idx) != r.shape[0]:
        raise ValueError(f"ts has {len(idx)} values, returns have {r.shape[0]}")
    return pd.DataFrame(np.nan_to_num(r, nan=0.0), index=idx)


def monthly_returns(returns: Any, ts: Any) -> dict[str, Any]:
    """``{"years": [...], "table": [years][12] }`` compounded monthly returns of one series (NaN for months
    without rows)."""
    frame = _frame(returns, ts).iloc[:, :1]
    growth = (1.0 + frame).groupby([frame.index.year, frame.index.month]).prod() - 1.0
    years = sorted({y for y, _ in growth.index})
    table = np.full((len(years), 12), np.nan)
    for (y, m), value in zip(growth.index, growth.iloc[:, 0].to_numpy(), strict=True):
        table[years.index(y), m - 1] = value
    return {"years": [int(y) for y in years], "table": table}


def annual_returns(returns: Any, ts: Any) -> dict[str, Any]:
    """``{"years": [...], "returns": [years] or [years, k]}`` compounded calendar-year returns."""
    r = np.asarray(returns)
    frame = _frame(returns, ts)
    growth = (1.0 + frame).groupby(frame.index.year).prod() - 1.0
    values = growth.to_numpy()
    return {"years": [int(y) for y in growth.index], "returns": values[:, 0] if r.ndim == 1 else values}
