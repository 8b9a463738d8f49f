"""Bar timeframes: ``1m 5m 15m 30m 1h 4h 1d 1w`` and any ``<n><unit>`` with unit in s/m/h/d/w."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from nautilus.core.errors import InvalidInput

_UNIT_NS = {
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def timeframe_ns(timeframe: str) -> int:
    """Length of one bar in nanoseconds; raises InvalidInput naming ``timeframe``."""
    match = _PATTERN.match(timeframe or "")
    if not match:
        raise InvalidInput(
            f"timeframe {timeframe!r} is not valid: use <n><unit> with unit s, m, h, d or w (e.g. 1m, 1d)",
            field="timeframe",
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def validate_timeframe(timeframe: str) -> str:
    timeframe_ns(timeframe)
    return timeframe


def pandas_rule(timeframe: str) -> str:
    """The equivalent pandas offset alias (used by references and tests)."""
    timeframe_ns(timeframe)
    n, unit = int(timeframe[:-1]), timeframe[-1]
    if unit == "w":
        return f"{n * 7}D"
    return f"{n}{ {'s': 's', 'm': 'min', 'h': 'h', 'd': 'D'}[unit]}"


def iso_ns(text: str, field: str, label: str | None = None) -> int:
    """ISO 8601 date or datetime (naive means UTC) → int ns since the epoch; ``label`` names it in the error."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise InvalidInput(f"{label or field} {text!r} is not an ISO 8601 date or datetime", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
