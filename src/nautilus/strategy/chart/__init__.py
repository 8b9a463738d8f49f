"""Chart pattern recognition: swing pivots, support/resistance levels and classic chart patterns.

* :func:`zigzag` -> :class:`Pivots`: causal swing pivots (percent and/or ATR reversal threshold), each
  with the bar it was confirmed at; the last, still-moving leg end is flagged (``confirmed_at == -1``).
* :func:`support_resistance` -> list of :class:`Level`: clustered pivot prices with touch counts.
* :func:`detect_chart_patterns` -> list of :class:`ChartPattern` (kinds in :data:`CHART_PATTERN_KINDS`):
  double tops/bottoms, head and shoulders (and inverse), ascending/descending/symmetric triangles,
  up/down/horizontal channels, bull/bear flags, each with key points, drawable lines, confidence,
  breakout and target prices and breakout confirmation.

Results are ``msgspec`` structs of plain ints, floats and lists (``msgspec.json.encode`` or
``msgspec.to_builtins`` for the HTTP API); ``Pivots`` has ``to_list()`` for the same purpose.
"""

from ._common import ChartPattern
from .levels import Level, support_resistance
from .patterns import CHART_PATTERN_KINDS, detect_chart_patterns
from .pivots import Pivot, Pivots, atr, zigzag

__all__ = [
    "CHART_PATTERN_KINDS",
    "ChartPattern",
    "Level",
    "Pivot",
    "Pivots",
    "atr",
    "detect_chart_patterns",
    "support_resistance",
    "zigzag",
]
