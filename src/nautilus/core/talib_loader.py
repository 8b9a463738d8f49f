"""TA-Lib without its pandas/polars wrappers.

``import talib`` imports pandas and polars (~120 MB) to wrap every function for Series inputs; Nautilus
passes numpy arrays only. :func:`preload_talib` imports it with both hidden, so it costs ~5 MB, and later
``import talib`` statements get that module. It must run before other threads may import pandas (an engine's
``start``): while it runs, ``import pandas`` elsewhere would fail. Pandas and polars themselves still import
normally afterwards.
"""

from __future__ import annotations

import sys

_WRAPPED = ("pandas", "polars")


def preload_talib() -> None:
    if "talib" in sys.modules:
        return
    hidden = [name for name in _WRAPPED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes "import name" raise ModuleNotFoundError
    try:
        import talib  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]
