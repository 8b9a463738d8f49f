"""Compatibility view: TA-Lib's first 31 candlestick patterns (CDL2CROWS .. CDLHOMINGPIGEON).

The kernels live in the family modules; :mod:`.catalog` lists them all.
"""

from __future__ import annotations

from nautilus.strategy.candles.catalog import PATTERNS as _ALL

PATTERNS = _ALL[:31]
