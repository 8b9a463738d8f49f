"""Portfolio engine handlers."""

from __future__ import annotations

from nautilus.engines.base import StorageEngine


class PortfolioEngine(StorageEngine):
    name = "portfolio"
