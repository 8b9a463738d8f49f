"""How many bars before ``t`` an indicator reads for its value at ``t``: the warm-up every consumer loads.

A value at time ``t`` must not depend on the range a caller asked for (docs/conventions.md, "Values
independent of the requested range"). Consumers therefore load :func:`warmup` bars before the first
requested bar, compute over the whole block and return only the requested rows. Three families:

* **window** (SMA, BBANDS with an SMA, ROC, Donchian, Ichimoku, ...): the value at ``t`` is a function of
  the last ``lookback + 1`` bars, so ``warmup = lookback`` (TA-Lib's own lookback, :func:`lookback`)
  gives the full-history value (up to float rounding).
* **recursive** (EMA, RSI, ATR, ADX, MACD, KAMA, T3, the Hilbert-transform family, any MA type other
  than SMA/WMA/TRIMA, ...): an exponential memory seeded at the series' start. The seed's influence after
  ``k`` bars is at most ``(1 - 1/P)^k`` (``P`` the slowest period; Wilder's ``1/P`` is the slowest
  smoothing any of them uses). ``warmup = lookback + depth * ceil(ln(TOLERANCE) / ln(1 - 1/P))``, with
  ``depth`` the number of cascaded smoothers (2 by default, 3 for TEMA/TRIX, 6 for T3), so the residual of
  the seed is below ``TOLERANCE`` (1e-12) of its size: values agree with the full-history ones to
  :data:`RTOL` (1e-9) relative to the output's scale.
* **full** (OBV, AD, cumulative sums, SAR, Supertrend, anchored VWAP, MAXINDEX...): the value depends on
  every bar since the first (a running total, a ratchet, an absolute index); ``warmup`` is ``None``:
  consumers load the whole stored history before the range, which makes them exact.

The session VWAP resets at each session start: its warm-up is the most bars one session can hold
(``session length / bar length - 1``), known only with the bar length (``bar_ns``); without it, ``None``.
"""

from __future__ import annotations

import math
from typing import Any

TOLERANCE = 1e-12  # residual of a recursive filter's seed after its warm-up, relative to the seed's size
RTOL = 1e-9  # what consumers guarantee: |value - full-history value| <= RTOL * the output's scale
MAX_WARMUP = 1_000_000  # beyond this a recursive warm-up is treated as "the whole history"
MIN_MEMORY = 20  # the slowest period assumed for a recursive filter without a period parameter
_HT_MEMORY = 50  # Hilbert-transform family: period estimates smoothed over ~50 bars
DAY_NS = 86_400_000_000_000

# The value depends on every earlier bar (running totals, ratchets, absolute indices): load all history.
FULL = frozenset({
    "ad", "obv", "cumsum", "nvi", "pvi", "pvt", "wad", "ta_vwap", "anchored_vwap", "maxindex", "minindex",
    "minmaxindex", "sar", "sarext", "supertrend", "ta_supertrend",
})
# Exponential memory although TA-Lib does not flag them unstable (they build on EMAs or recursions).
RECURSIVE = frozenset({
    "adosc", "adxr", "apo", "cvi", "dema", "efi", "eri", "ha", "kc", "kdj", "keltner", "macd", "macdext",
    "macdfix", "massi", "ppo", "pvo", "rvi", "smi", "stochrsi", "t3", "tema", "trix", "tsi", "zlema", "rma",
})
_DEPTH = {"tema": 3, "trix": 3, "t3": 6}
# TA-Lib MA types with memory: EMA 1, DEMA 3, TEMA 4, KAMA 6, MAMA 7, T3 8 (SMA 0, WMA 2, TRIMA 5 are windows)
_RECURSIVE_MA = {1: 2, 3: 2, 4: 3, 6: 2, 7: 2, 8: 6}  # type -> depth
_SESSION_NS = {"D": DAY_NS, "W": 7 * DAY_NS, "M": 31 * DAY_NS}


def convergence_bars(period: float, depth: int = 1, tolerance: float = TOLERANCE) -> int:
    """Bars after which ``depth`` cascaded smoothers of slowest period ``period`` (weight ``1/period``
    per bar) keep less than ``tolerance`` of their seed."""
    p = max(float(period), 1.0)
    if p <= 1.0:
        return 0
    return depth * math.ceil(math.log(tolerance) / math.log1p(-1.0 / p))


def _memory(name: str, params: dict[str, Any]) -> float:
    periods = [v for k, v in params.items()
               if isinstance(v, int) and not isinstance(v, bool) and "matype" not in k and k != "anchor"]
    memory = float(max(periods, default=0))
    if name.startswith("ht_") or name == "mama" or params.get("matype") == 7 or any(
            params.get(k) == 7 for k in params if "matype" in k):
        memory = max(memory, _HT_MEMORY)
    for limit in ("slowlimit",):
        if isinstance(params.get(limit), float) and params[limit] > 0:
            memory = max(memory, 1.0 / params[limit])
    if name == "kama":
        memory = max(memory, 31.0)  # its slowest constant is 2 / 31
    return max(memory, MIN_MEMORY)


def classify(name: str, unstable: bool, params: dict[str, Any]) -> tuple[str, int]:
    """``(family, depth)``: family "window", "recursive" or "full" (see the module docstring)."""
    if name in FULL or (name == "vwap" and params.get("session") == "none"):
        return "full", 0
    depth = 0
    if unstable or name in RECURSIVE or name.startswith("ht_"):
        depth = _DEPTH.get(name, 2)
    for key, value in params.items():
        if "matype" in key and isinstance(value, int) and value in _RECURSIVE_MA:
            depth = max(depth, _RECURSIVE_MA[value])
    return ("recursive", depth) if depth else ("window", 0)


def warmup_bars(name: str, unstable: bool, params: dict[str, Any], lookback: int,
                bar_ns: int | None = None) -> int | None:
    """Bars before ``t`` to load so the value at ``t`` equals the full-history one (``None``: all of them)."""
    family, depth = classify(name, unstable, params)
    if family == "full":
        return None
    if name == "vwap":
        if bar_ns is None or bar_ns <= 0:
            return None
        return max(0, -(-_SESSION_NS[params["session"]] // int(bar_ns)) - 1)
    if family == "window":
        return int(lookback)
    total = int(lookback) + convergence_bars(_memory(name, params), depth)
    return None if total > MAX_WARMUP else total


def combine(warmups: list[int | None]) -> int | None:
    """The warm-up of several consumers at once: the largest, ``None`` (all history) if any needs it."""
    if any(w is None for w in warmups):
        return None
    return max((int(w) for w in warmups if w is not None), default=0)
