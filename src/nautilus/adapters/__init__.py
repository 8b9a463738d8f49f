"""Market data sources behind one interface (:class:`nautilus.adapters.base.Source`).

``SOURCES`` names each source and where it lives; a source module is imported only when used, so the
gateway and CLI stay light and a missing optional client library fails only its own source.
"""

from __future__ import annotations

import importlib

from nautilus.adapters.base import Source
from nautilus.config import Settings
from nautilus.core.errors import InvalidInput

SOURCES: dict[str, str] = {
    "yahoo": "nautilus.adapters.yahoo:YahooSource",
    "fred": "nautilus.adapters.fred:FredSource",
    "alphavantage": "nautilus.adapters.alphavantage:AlphaVantageSource",
    "ib": "nautilus.adapters.ib:IBSource",
    "ccxt": "nautilus.adapters.crypto:CcxtSource",
}


def source_class(name: str) -> type[Source]:
    if name not in SOURCES:
        raise InvalidInput(f"unknown source {name!r}: use one of {', '.join(SOURCES)}", field="source")
    module, attr = SOURCES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def make_source(name: str, settings: Settings) -> Source:
    return source_class(name)(settings)
