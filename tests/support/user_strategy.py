"""A user's strategy written against the backtester's interface (for tests of ``package.module:attr`` loading).

Momentum: long when the close is above its close ``lookback`` bars earlier, flat otherwise.
"""

from __future__ import annotations

import numpy as np

from nautilus.strategy.backtest.strategies import Param, SignalSet


class Momentum:
    name = "user_momentum"
    description = "long while close[t] > close[t - lookback]"
    params = (Param("lookback", int, 10, low=1, high=500, doc="bars back"),)
    check = None
    needs_predictions = False

    def build(self, o, h, l, c, param_list, predictions=None) -> SignalSet:
        n, k = c.shape[0], len(param_list)
        up = np.zeros((n, k), dtype=np.bool_, order="F")
        for j, p in enumerate(param_list):
            lb = p["lookback"]
            up[lb:, j] = c[lb:] > c[:-lb]
        prev = np.zeros_like(up)
        prev[1:] = up[:-1]
        return SignalSet(entries=up & ~prev, exits=~up & prev, short_entries=None, short_exits=None)
