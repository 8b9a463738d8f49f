"""Chart pattern detection on the zigzag pivot sequence.

Only *confirmed* pivots are used, so a pattern never rests on a swing that could still move; each
result carries ``detected_at`` (the bar its last key pivot was confirmed) for look-ahead-free use.
Every pattern is then followed for its breakout: for ``max(width, 5)`` bars after its last key point
(``width = end - start``) the closes are checked against the breakout line.

* confirmed: a close went through the breakout level (``confirmed_at`` is that bar);
* pending: the data ended inside the waiting window (``confirmed`` False, breakout level quoted at
  the last bar);
* dropped: the pattern was negated first (a close above a double top's higher peak or a head,
  below a bull flag's lower line; mirrored for the bearish shapes), or the window passed without a
  breakout (stale).

Kinds, directions and the geometry of each are documented on the detector functions in
``_reversals`` (double tops/bottoms, head and shoulders) and ``_trendlines`` (triangles, channels,
flags), including how ``confidence`` (a weighted mean of [0, 1] scores) is computed for each.
Tolerances are relative: ``peak_tol``/``shoulder_tol``/``head_margin``/``min_depth`` to the
pattern's price, ``flat_tol``/``parallel_tol``/``fit_tol``/``min_convergence`` to its height.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nautilus.core.errors import InvalidInput

from ._common import ChartPattern, View
from ._reversals import double_tops, head_and_shoulders
from ._trendlines import FLAG_MIN_PIVOTS, Fits, flags, triangles_and_channels
from .pivots import Pivots, as_price_arrays, check_threshold, real, zigzag

__all__ = ["CHART_PATTERN_KINDS", "ChartPattern", "detect_chart_patterns"]

CHART_PATTERN_KINDS: tuple[str, ...] = (
    "double_top",
    "double_bottom",
    "head_and_shoulders",
    "inverse_head_and_shoulders",
    "ascending_triangle",
    "descending_triangle",
    "symmetric_triangle",
    "channel_up",
    "channel_down",
    "channel_horizontal",
    "bull_flag",
    "bear_flag",
)

_LINE_KINDS = frozenset(CHART_PATTERN_KINDS[4:10])
DEFAULT_PCT = 0.03


def _check_fraction(name: str, value: float, upper: float = 1.0) -> float:
    v = real(value)
    if v is None or not 0.0 < v <= upper:
        raise InvalidInput(f"{name} must be a number in (0, {upper:g}]", field=name)
    return v


def _check_int(name: str, value: int, lo: int, hi: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}]", field=name)
    return int(value)


def _check_kinds(kinds: Iterable[str] | str | None) -> set[str]:
    if kinds is None:
        return set(CHART_PATTERN_KINDS)
    if isinstance(kinds, str):
        kinds = [kinds]
    try:
        wanted = list(kinds)
    except TypeError as exc:
        raise InvalidInput("kinds must be a list of pattern names", field="kinds") from exc
    unknown = [k for k in wanted if k not in CHART_PATTERN_KINDS]
    if unknown:
        raise InvalidInput(
            f"unknown chart pattern kind(s) {unknown!r}; expected some of {list(CHART_PATTERN_KINDS)}",
            field="kinds",
        )
    return set(wanted)


def detect_chart_patterns(
    high,
    low,
    close,
    kinds: Iterable[str] | str | None = None,
    pct: float | None = None,
    atr_mult: float | None = None,
    atr_period: int = 14,
    *,
    pivots: Pivots | None = None,
    peak_tol: float = 0.03,
    min_depth: float = 0.03,
    shoulder_tol: float = 0.05,
    head_margin: float = 0.02,
    flat_tol: float = 0.2,
    parallel_tol: float = 0.25,
    fit_tol: float = 0.15,
    min_convergence: float = 0.3,
    min_touches: int = 5,
    max_pivots: int = 10,
    flag_max_retrace: float = 0.5,
    flag_max_ratio: float = 3.0,
) -> list[ChartPattern]:
    """Detect chart patterns; returns them sorted by ``(end, start, kind)``.

    ``pct``/``atr_mult``/``atr_period`` drive the zigzag (default ``pct=0.03`` when neither is
    given); pass ``pivots`` to reuse a zigzag already computed on the same bars. ``kinds`` limits
    the search to some of :data:`CHART_PATTERN_KINDS`. Triangles and channels use windows of
    ``min_touches``..``max_pivots`` consecutive pivots (at least two on each line); flags have a pole
    plus 3..``max_pivots - 1`` flag pivots. Bad arguments raise
    :class:`~nautilus.core.errors.InvalidInput` with ``field`` naming the argument.
    """
    wanted = _check_kinds(kinds)
    h, l, c = as_price_arrays(high, low, close)
    if c is None:
        raise InvalidInput("close is required", field="close")
    if pivots is None and pct is None and atr_mult is None:
        pct = DEFAULT_PCT
    check_threshold(pct, atr_mult, atr_period)
    peak_tol = _check_fraction("peak_tol", peak_tol)
    min_depth = _check_fraction("min_depth", min_depth)
    shoulder_tol = _check_fraction("shoulder_tol", shoulder_tol)
    head_margin = _check_fraction("head_margin", head_margin)
    flat_tol = _check_fraction("flat_tol", flat_tol, 10.0)
    parallel_tol = _check_fraction("parallel_tol", parallel_tol, 10.0)
    fit_tol = _check_fraction("fit_tol", fit_tol, 10.0)
    min_convergence = _check_fraction("min_convergence", min_convergence, 1.0)
    flag_max_retrace = _check_fraction("flag_max_retrace", flag_max_retrace, 1.0)
    flag_max_ratio = _check_fraction("flag_max_ratio", flag_max_ratio, 1000.0)
    max_pivots = _check_int("max_pivots", max_pivots, FLAG_MIN_PIVOTS + 1, 64)
    min_touches = _check_int("min_touches", min_touches, 4, max_pivots)
    if pivots is None:
        pivots = zigzag(h, l, c, pct=pct, atr_mult=atr_mult, atr_period=atr_period)
    elif not isinstance(pivots, Pivots):
        raise InvalidInput("pivots must be a Pivots from zigzag()", field="pivots")
    piv = pivots.only_confirmed()
    if len(piv) < 3 or h.size == 0:
        return []
    if len(piv) and int(piv.indices[-1]) >= h.size:
        raise InvalidInput("pivots do not belong to these bars", field="pivots")

    out: list[ChartPattern] = []
    views = {sign: View.build(h, l, c, piv, sign) for sign in (1, -1)}
    for sign, view in views.items():
        if {"double_top", "double_bottom"} & wanted:
            out += [p for p in double_tops(view, peak_tol, min_depth, ("double_top", "double_bottom"))
                    if p.kind in wanted]
        if {"head_and_shoulders", "inverse_head_and_shoulders"} & wanted:
            names = ("head_and_shoulders", "inverse_head_and_shoulders")
            out += [p for p in head_and_shoulders(view, shoulder_tol, head_margin, names) if p.kind in wanted]
        want_flag = ("bull_flag" if sign > 0 else "bear_flag") in wanted
        want_lines = sign > 0 and bool(_LINE_KINDS & wanted)
        if (want_flag or want_lines) and len(piv) >= FLAG_MIN_PIVOTS:
            fits = Fits(view, max_pivots)
            if want_lines:
                out += triangles_and_channels(
                    view, fits, wanted & _LINE_KINDS, flat_tol=flat_tol, parallel_tol=parallel_tol,
                    fit_tol=fit_tol, min_convergence=min_convergence, min_touches=min_touches)
            if want_flag:
                out += flags(view, fits, flat_tol=flat_tol, parallel_tol=parallel_tol, fit_tol=fit_tol,
                             max_retrace=flag_max_retrace, max_ratio=flag_max_ratio,
                             names=("bull_flag", "bear_flag"))
    out.sort(key=lambda p: (p.end, p.start, p.kind))
    return out
