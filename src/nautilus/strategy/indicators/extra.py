"""Indicators TA-Lib lacks or that we define our own way: VWAP, anchored VWAP, Supertrend, Ichimoku,
Keltner and Donchian channels.

Every function here is causal: the value at index ``t`` uses bars ``<= t`` only, so a backtest that
reads ``out[t]`` at the close of bar ``t`` never sees the future. Inputs are float64 arrays of one
length (finite, as ingest guarantees); outputs are float64 with NaN through the warm-up. Everything
is O(n): rolling extremes use a monotonic deque, the recursions are single numba loops.

Definitions and the choices made where conventions differ:

* ``vwap``: typical price ``(h + l + c) / 3`` weighted by volume, cumulated within a session and
  reset at each session start. Sessions are UTC calendar periods of the bar *open* time: ``"D"``
  (day, the default), ``"W"`` (ISO week starting Monday 00:00 UTC), ``"M"`` (calendar month) or
  ``"none"`` (one session: cumulative from the first bar). A session whose volume so far is zero
  gives NaN.
* ``anchored_vwap``: the same, cumulated from the first bar whose open time is ``>= anchor``
  (epoch ns UTC); NaN before it.
* ``supertrend``: ATR with Wilder's smoothing (TA-Lib's ``ATR``), basic bands ``hl2 +- m * ATR``
  and the usual ratchet: the upper band only moves down unless the previous close broke above it,
  the lower band only moves up unless the previous close broke below it. The trend flips up when the
  close crosses above the upper band and down when it crosses below the lower band. On the first bar
  with an ATR the trend starts up (line = lower band), as TA-Lib's ``SUPERTREND`` and pandas-ta do.
  Outputs: the line (lower band in an uptrend, upper band in a downtrend) and the direction
  (+1 up, -1 down).
* ``ichimoku``: tenkan / kijun / senkou B are midpoints ``(highest high + lowest low) / 2`` over
  their windows (current bar included), senkou A is ``(tenkan + kijun) / 2``. The senkou spans are
  returned at the bar where they are *known* (computed at ``t``, stored at ``t``); a chart plots
  them ``displacement`` bars to the right, and "the cloud under today's bar" is the value stored
  ``displacement`` bars ago. The lagging span (chikou) is conventionally today's close plotted
  ``displacement`` bars back, which aligned to the past would leak the future. Here ``chikou[t]`` is
  ``close[t - displacement]``: the price the lagging span is compared with at ``t``, so "chikou
  above price" is ``close[t] > chikou[t]``.
* ``keltner``: middle ``EMA(close, timeperiod)``, bands ``middle +- multiplier * ATR(atrperiod)``
  (TA-Lib's EMA and Wilder ATR).
* ``donchian``: upper = highest high, lower = lowest low over ``timeperiod`` bars, middle their
  mean. By default the window ends at the current bar (``close`` can never exceed ``upper``); with
  ``exclude_current`` it is the *previous* ``timeperiod`` bars, which is the channel a breakout
  rule compares the close with (``close > upper`` = a new ``timeperiod``-bar high).
"""

from __future__ import annotations

import numpy as np
import talib

DAY_NS = 86_400_000_000_000
SESSIONS = ("D", "W", "M", "none")


# Helpers ---------------------------------------------------------------------------------------
def rolling_max(x: np.ndarray, period: int) -> np.ndarray:
    from nautilus.strategy.indicators.extra_kernels import rolling_extreme_nb

    return rolling_extreme_nb(x, period, True)


def rolling_min(x: np.ndarray, period: int) -> np.ndarray:
    from nautilus.strategy.indicators.extra_kernels import rolling_extreme_nb

    return rolling_extreme_nb(x, period, False)


def midpoint(high: np.ndarray, low: np.ndarray, period: int) -> np.ndarray:
    return (rolling_max(high, period) + rolling_min(low, period)) / 2.0


def shift(x: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = x[t - k]`` (``k >= 0``), NaN where ``t < k``."""
    out = np.full(x.shape[0], np.nan)
    if k == 0:
        out[:] = x
    elif k < x.shape[0]:
        out[k:] = x[:-k]
    return out


def session_ids(ts: np.ndarray, session: str) -> np.ndarray:
    """An int64 label per bar, equal for bars of the same UTC session (``SESSIONS``)."""
    ts = np.asarray(ts, dtype=np.int64)
    if session == "none":
        return np.zeros(ts.shape[0], dtype=np.int64)
    days = np.floor_divide(ts, DAY_NS)
    if session == "D":
        return days
    if session == "W":
        return np.floor_divide(days + 3, 7)  # 1970-01-01 was a Thursday: weeks start on Monday
    if session == "M":
        return ts.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    raise ValueError(f"unknown session {session!r}")


# Indicators ------------------------------------------------------------------------------------
def vwap(ts, high, low, close, volume, *, session: str = "D") -> np.ndarray:
    from nautilus.strategy.indicators.extra_kernels import session_vwap_nb

    return session_vwap_nb(high, low, close, volume, session_ids(ts, session), 0)


def anchored_vwap(ts, high, low, close, volume, *, anchor: int) -> np.ndarray:
    from nautilus.strategy.indicators.extra_kernels import session_vwap_nb

    start = int(np.searchsorted(np.asarray(ts, dtype=np.int64), anchor, side="left"))
    return session_vwap_nb(high, low, close, volume, np.zeros(close.shape[0], dtype=np.int64), start)


def supertrend(high, low, close, *, timeperiod: int = 10, multiplier: float = 3.0):
    from nautilus.strategy.indicators.extra_kernels import supertrend_nb

    atr = talib.ATR(high, low, close, timeperiod=timeperiod)
    return supertrend_nb(high, low, close, atr, float(multiplier))


def ichimoku(high, low, close, *, tenkan: int = 9, kijun: int = 26, senkou_b: int = 52,
             displacement: int = 26):
    tenkan_line = midpoint(high, low, tenkan)
    kijun_line = midpoint(high, low, kijun)
    span_a = (tenkan_line + kijun_line) / 2.0
    span_b = midpoint(high, low, senkou_b)
    return tenkan_line, kijun_line, span_a, span_b, shift(close, displacement)


def keltner(high, low, close, *, timeperiod: int = 20, multiplier: float = 2.0, atrperiod: int = 10):
    middle = talib.EMA(close, timeperiod=timeperiod)
    width = multiplier * talib.ATR(high, low, close, timeperiod=atrperiod)
    return middle + width, middle, middle - width


def donchian(high, low, *, timeperiod: int = 20, exclude_current: bool = False):
    upper = rolling_max(high, timeperiod)
    lower = rolling_min(low, timeperiod)
    if exclude_current:
        upper, lower = shift(upper, 1), shift(lower, 1)
    return upper, (upper + lower) / 2.0, lower


# Warm-up (leading NaN bars on gap-free data) ---------------------------------------------------
def lookback(name: str, params: dict) -> int:
    if name in ("vwap", "anchored_vwap"):
        return 0  # anchored_vwap is also NaN before its anchor, which depends on the timestamps
    if name == "supertrend":
        return int(params["timeperiod"])
    if name == "ichimoku":
        windows = max(params["tenkan"], params["kijun"], params["senkou_b"]) - 1
        return int(max(windows, params["displacement"]))
    if name == "keltner":
        return int(max(params["timeperiod"] - 1, params["atrperiod"]))
    if name == "donchian":
        return int(params["timeperiod"] - 1 + bool(params["exclude_current"]))
    raise KeyError(name)
