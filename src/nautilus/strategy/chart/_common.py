"""Shared pieces of the pattern detectors: the result type, the mirrored price view and breakout search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import numpy as np

from .pivots import Pivots

Point = tuple[int, float]
Line = tuple[Point, Point]

# a pattern waits at least this many bars (or its own width, if larger) for its breakout
MIN_WAIT = 5


class ChartPattern(msgspec.Struct, frozen=True, kw_only=True):
    """One detected chart pattern; plain ints/floats/lists, so ``msgspec.json.encode`` works as is.

    ``start``/``end`` are the bar indices of the first and last key point; ``points`` are the key
    pivots ``(bar, price)`` in time order; ``lines`` are segments to draw (neckline, trend lines).
    ``detected_at`` is the bar at which every key pivot was confirmed (the pattern is knowable from
    then on). ``confirmed`` says whether a close went through the breakout level after ``end``;
    ``confirmed_at`` is that bar (it can precede ``detected_at`` when the breakout move is what
    confirmed the last pivot). ``breakout_price`` is the breakout line's value at ``confirmed_at``
    (at the last bar while unconfirmed); ``target_price`` the measured-move objective from it.
    """

    kind: str
    direction: int  # +1 bullish, -1 bearish, 0 neutral (undecided symmetric triangle / flat channel)
    start: int
    end: int
    points: list[Point]
    lines: list[Line] = []
    confidence: float
    breakout_price: float
    target_price: float
    height: float  # the pattern's measured height (neckline to head, line gap, pole length)
    confirmed: bool
    confirmed_at: int | None = None
    detected_at: int


@dataclass(frozen=True, slots=True)
class View:
    """Prices and confirmed pivots, negated when ``sign == -1`` so bottoms are found as tops."""

    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    idx: np.ndarray
    price: np.ndarray
    kind: np.ndarray
    conf: np.ndarray
    sign: int

    @property
    def n(self) -> int:
        return int(self.close.size)

    @staticmethod
    def build(high: np.ndarray, low: np.ndarray, close: np.ndarray, piv: Pivots, sign: int) -> View:
        if sign > 0:
            return View(high, low, close, piv.indices, piv.prices, piv.kinds.astype(np.int64),
                        piv.confirmed_at, 1)
        return View(-low, -high, -close, piv.indices, -piv.prices, -piv.kinds.astype(np.int64),
                    piv.confirmed_at, -1)

    def p(self, price: float) -> float:
        """A view price back in real prices."""
        return float(self.sign * price)

    def pt(self, k: int) -> Point:
        return int(self.idx[k]), self.p(self.price[k])

    def prior_low(self, k: int) -> float:
        """Lowest price leading into pivot ``k`` (the previous pivot, or the lowest low before it)."""
        if k >= 1:
            return float(self.price[k - 1])
        i = int(self.idx[k])
        if i <= 0:
            return float("nan")
        seg = self.low[:i]
        seg = seg[np.isfinite(seg)]
        return float(seg.min()) if seg.size else float("nan")


CONFIRMED, PENDING, INVALID, EXPIRED = range(4)


def wait_bars(start: int, end: int) -> int:
    return max(end - start, MIN_WAIT)


def resolve_down(view: View, end: int, window: int, level: Callable[[np.ndarray], np.ndarray],
                 invalid_above: float) -> tuple[int, int]:
    """First close below ``level(bar)`` within ``window`` bars after ``end`` (view orientation).

    Returns ``(status, bar)``: CONFIRMED at that bar; INVALID when a close above ``invalid_above``
    came first; EXPIRED when the whole window passed without either; PENDING when data ends first.
    """
    n = view.n
    j0 = end + 1
    j1 = min(n, end + 1 + window)
    if j0 < j1:
        x = np.arange(j0, j1)
        c = view.close[j0:j1]
        brk = np.flatnonzero(c < level(x))
        inv = np.flatnonzero(c > invalid_above)
        b = int(brk[0]) if brk.size else -1
        v = int(inv[0]) if inv.size else -1
        if v >= 0 and (b < 0 or v < b):
            return INVALID, j0 + v
        if b >= 0:
            return CONFIRMED, j0 + b
    return (EXPIRED if end + 1 + window <= n else PENDING), -1


def resolve_exit(view: View, end: int, window: int, upper: Callable[[np.ndarray], np.ndarray],
                 lower: Callable[[np.ndarray], np.ndarray]) -> tuple[int, int, int]:
    """First close outside the two lines within ``window`` bars after ``end``.

    Returns ``(status, bar, side)`` with side +1 (above ``upper``) or -1 (below ``lower``).
    """
    n = view.n
    j0 = end + 1
    j1 = min(n, end + 1 + window)
    if j0 < j1:
        x = np.arange(j0, j1)
        c = view.close[j0:j1]
        out = np.flatnonzero((c > upper(x)) | (c < lower(x)))
        if out.size:
            j = j0 + int(out[0])
            return CONFIRMED, j, (1 if view.close[j] > upper(np.array([j]))[0] else -1)
    return (EXPIRED if end + 1 + window <= n else PENDING), -1, 0


def clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))
