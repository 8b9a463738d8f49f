"""Aligning bar series into the returns matrix the risk kernels take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput


def aligned_returns(series: Sequence[Bars]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simple close-to-close returns on the timestamps every series shares.

    Returns ``(ts [T], returns [T, N], last_close [N])``: ``ts[t]`` is the bar whose close ends the
    return ``returns[t]``. Raises when fewer than two common bars exist.
    """
    if not series:
        raise InvalidInput("the portfolio has no positions", field="portfolio")
    common = series[0].ts
    for bars in series[1:]:
        common = np.intersect1d(common, bars.ts, assume_unique=True)
    if common.size < 3:
        names = ", ".join(b.symbol for b in series)
        raise InvalidInput(f"fewer than 3 common bars across {names}", field="portfolio")
    closes = np.column_stack([b.close[np.searchsorted(b.ts, common)] for b in series])
    returns = closes[1:] / closes[:-1] - 1.0
    return common[1:], returns, closes[-1]
