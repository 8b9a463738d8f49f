"""Every candlestick kernel, gathered from the family modules.

``PATTERNS`` lists ``(TA name, kernel, lookback, state size, default param)`` for all 61 of TA-Lib's
patterns in TA-Lib's alphabetical order. The kernels live in the family modules (``single``, ``doji``,
``two_bar``, ``three_bar``, ``stars``, ``gaps``, ``multi_bar``), several built from :mod:`.templates`,
and follow the contract described in :mod:`.scalars`.
"""

from __future__ import annotations

from nautilus.strategy.candles import doji, gaps, multi_bar, single, stars, three_bar, two_bar

FAMILIES = (single, doji, two_bar, three_bar, stars, gaps, multi_bar)

PATTERNS = tuple(sorted((p for fam in FAMILIES for p in fam.PATTERNS), key=lambda p: p[0]))
