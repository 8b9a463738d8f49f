"""Compatibility view: the second half of TA-Lib's candlestick patterns (CDLIDENTICAL3CROWS ..).

The kernels live in the family modules; :mod:`.catalog` lists them all.
"""

from __future__ import annotations

from nautilus.strategy.candles.catalog import PATTERNS as _ALL
from nautilus.strategy.candles.scalars import HAS_FMA

PATTERNS = _ALL[31:]

__all__ = ["HAS_FMA", "PATTERNS"]
