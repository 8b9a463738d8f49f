"""Support and resistance levels: clusters of confirmed swing-pivot prices.

Confirmed pivot prices are sorted and grouped greedily from the lowest: a price joins the current
cluster while it is within the tolerance of the cluster's lowest price (so every pair of touches in
a level is within the tolerance). The tolerance is ``tol_pct * price`` (relative) or
``tol_atr * ATR`` at the last bar, the larger when both are given. A cluster with at least
``min_touches`` pivots is a level. Work is O(k log k) in the number of pivots k.

``strength`` in [0, 1] is ``count_score * (0.5 + 0.5 * tightness)`` where
``count_score = 1 - 0.5 ** (touches - 1)`` (2 touches 0.5, 3 0.75, 4 0.875, ...) and
``tightness = 1 - std(touch prices) / tolerance`` clipped to [0, 1].
"""

from __future__ import annotations

import msgspec
import numpy as np

from nautilus.core.errors import InvalidInput

from .pivots import Pivots, _atr_kernel, as_price_arrays, check_threshold, real, zigzag

__all__ = ["Level", "support_resistance"]


class Level(msgspec.Struct, frozen=True):
    """A horizontal price level touched by several swing pivots."""

    price: float  # mean of the touch prices
    lower: float  # lowest touch price
    upper: float  # highest touch price
    touches: int
    first_touch: int  # bar index of the earliest touching pivot
    last_touch: int  # bar index of the latest touching pivot
    touch_indices: list[int]  # bar indices of the touching pivots, in time order
    high_touches: int  # touches by swing highs (price turned down there)
    low_touches: int  # touches by swing lows (price turned up there)
    kind: str  # "support" (at or below the last close) or "resistance" (above it)
    strength: float


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    v = real(value)
    if v is None or v <= 0.0:
        raise InvalidInput(f"{name} must be a positive number", field=name)
    return v


def support_resistance(
    high,
    low,
    close=None,
    *,
    pivots: Pivots | None = None,
    pct: float | None = None,
    atr_mult: float | None = None,
    atr_period: int = 14,
    tol_pct: float | None = 0.01,
    tol_atr: float | None = None,
    min_touches: int = 2,
) -> list[Level]:
    """Support/resistance levels from clustered confirmed pivots, strongest first.

    ``pivots`` (from :func:`~nautilus.strategy.chart.zigzag`) is computed with ``pct``/``atr_mult``
    when not given. Only confirmed pivots count as touches. Ties in strength sort by price.
    """
    h, l, c = as_price_arrays(high, low, close)
    check_threshold(pct, atr_mult, atr_period)
    tp = _positive("tol_pct", tol_pct)
    ta = _positive("tol_atr", tol_atr)
    if tp is None and ta is None:
        raise InvalidInput("tol_pct or tol_atr is required", field="tol_pct")
    if tp is not None and tp >= 1.0:
        raise InvalidInput("tol_pct must be a fraction in (0, 1)", field="tol_pct")
    if not isinstance(min_touches, int | np.integer) or isinstance(min_touches, bool) or min_touches < 1:
        raise InvalidInput("min_touches must be an integer >= 1", field="min_touches")
    n = h.size
    if n == 0:
        return []
    if pivots is None:
        pivots = zigzag(h, l, c, pct=pct, atr_mult=atr_mult, atr_period=atr_period)
    piv = pivots.only_confirmed()
    if len(piv) < min_touches:
        return []
    atr_tol = 0.0
    if ta is not None:
        a = _atr_kernel(h, l, c if c is not None else np.empty(0), int(atr_period))
        finite = a[np.isfinite(a)]
        atr_tol = ta * float(finite[-1]) if finite.size else 0.0
    if c is not None and np.isfinite(c).any():
        last = float(c[np.isfinite(c)][-1])
    else:
        mid = 0.5 * (h + l)
        last = float(mid[np.isfinite(mid)][-1]) if np.isfinite(mid).any() else float("nan")

    order = np.argsort(piv.prices, kind="stable")
    prices = piv.prices[order]
    levels: list[Level] = []
    start = 0
    k = prices.size
    while start < k:
        base = float(prices[start])
        tol = max(tp * abs(base) if tp is not None else 0.0, atr_tol)
        stop = start + 1
        while stop < k and prices[stop] - base <= tol:
            stop += 1
        if stop - start >= min_touches:
            levels.append(_make_level(piv, order[start:stop], tol, last))
        start = stop
    levels.sort(key=lambda lv: (-lv.strength, lv.price))
    return levels


def _make_level(piv: Pivots, members: np.ndarray, tol: float, last: float) -> Level:
    members = np.sort(members)
    p = piv.prices[members]
    touches = int(members.size)
    mean = float(p.mean())
    tightness = 1.0 - float(p.std()) / tol if tol > 0 else 1.0
    tightness = min(1.0, max(0.0, tightness))
    strength = (1.0 - 0.5 ** (touches - 1)) * (0.5 + 0.5 * tightness)
    kinds = piv.kinds[members]
    idx = [int(i) for i in piv.indices[members]]
    return Level(
        price=mean,
        lower=float(p.min()),
        upper=float(p.max()),
        touches=touches,
        first_touch=idx[0],
        last_touch=idx[-1],
        touch_indices=idx,
        high_touches=int((kinds > 0).sum()),
        low_touches=int((kinds < 0).sum()),
        kind="support" if not (mean > last) else "resistance",
        strength=float(strength),
    )
