"""Back-adjustment of bars for splits and cash dividends (pure, no I/O).

The adjusted series equals the raw one from the last action on and is scaled before each action so that
returns across it are total returns (the CRSP / Yahoo "Adj Close" method):

- a split of ratio ``r`` (new shares per old share) at bar ``k``: prices before ``k`` are divided by ``r``
  and volumes multiplied by ``r``;
- a cash dividend ``D`` going ex at bar ``k``: prices before ``k`` are multiplied by ``1 - D / close[k-1]``
  (``close`` raw, in the same share basis as ``D``), volumes unchanged.

Factors compound backwards in time. An action dated before the first bar or after the last one changes
nothing (it is applied once bars on both sides of it exist).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from nautilus.adapters.base import CorporateAction
from nautilus.core.bars import Bars

Adjustment = Literal["total", "splits", "none"]


def adjustment_factors(ts: np.ndarray, close: np.ndarray, actions: Sequence[CorporateAction],
                       mode: Adjustment = "total") -> tuple[np.ndarray, np.ndarray]:
    """Per-bar price and volume multipliers that back-adjust bars at ``ts`` (raw ``close``) for ``actions``."""
    n = len(ts)
    price_step = np.ones(n)
    volume_step = np.ones(n)
    if mode == "none" or n == 0:
        return price_step, volume_step
    for action in actions:
        k = int(np.searchsorted(ts, action.ts, side="left"))
        if k == 0 or k == n:
            continue
        if action.kind == "split":
            if not action.value > 0:
                raise ValueError(f"split ratio must be positive, got {action.value}")
            price_step[k - 1] /= action.value
            volume_step[k - 1] *= action.value
        elif mode == "total":
            step = 1.0 - action.value / close[k - 1]
            if not 0.0 < step <= 1.0 + 1e-12 or action.value < 0:
                raise ValueError(f"dividend {action.value} at {np.datetime64(action.ts, 'ns')} is not between 0 "
                                 f"and the previous close {close[k - 1]}")
            price_step[k - 1] *= step
    price = np.cumprod(price_step[::-1])[::-1]
    volume = np.cumprod(volume_step[::-1])[::-1]
    return price, volume


def back_adjust(bars: Bars, actions: Sequence[CorporateAction], mode: Adjustment = "total",
                symbol: str | None = None) -> Bars:
    """``bars`` (raw) adjusted for ``actions``; ``symbol`` renames the result."""
    price, volume = adjustment_factors(bars.ts, bars.close, actions, mode)
    return Bars(symbol=symbol or bars.symbol, timeframe=bars.timeframe, ts=bars.ts.copy(),
                open=bars.open * price, high=bars.high * price, low=bars.low * price, close=bars.close * price,
                volume=bars.volume * volume)
