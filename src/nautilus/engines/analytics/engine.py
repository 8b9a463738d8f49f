"""Analytics engine handlers (no math here: it lives in ``nautilus.analytics``)."""

from __future__ import annotations

from nautilus.engines.base import StorageEngine


class AnalyticsEngine(StorageEngine):
    name = "analytics"
