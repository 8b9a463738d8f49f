"""The second half of TA-Lib's candlestick patterns (CDLIDENTICAL3CROWS .. CDLXSIDEGAP3METHODS).

``PATTERNS`` lists ``(TA name, kernel, lookback, state size, default param)`` in TA-Lib's
alphabetical order; the kernels live in :mod:`.patterns_2a` and :mod:`.patterns_2b` and follow the
shared resumable contract described there.
"""

from __future__ import annotations

from nautilus.strategy.candles.patterns_2a import HAS_FMA, PATTERNS_A
from nautilus.strategy.candles.patterns_2b import PATTERNS_B

PATTERNS = PATTERNS_A + PATTERNS_B

__all__ = ["HAS_FMA", "PATTERNS"]
