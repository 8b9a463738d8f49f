"""Time arguments as people type them (``2024-01-31``, ``2024-01-31T09:30``) → int ns since the epoch.

Shared by the HTTP gateway's query and body fields and the ``nautilus`` CLI's ``--start``/``--end`` options, so
both accept and reject the same text with the same message.
"""

from __future__ import annotations

from nautilus.core.timeframe import iso_ns

__all__ = ["parse_time"]


def parse_time(value: str | None, field: str) -> int | None:
    """ISO 8601 date or datetime (naive means UTC) → int ns since the epoch; empty → None."""
    return None if value is None or value == "" else iso_ns(value, field)
