"""Domain bounds shared by every input: timestamps, prices, quantities, amounts, names, free-form JSON.

One place states what a sane value is; request structs use the ``Annotated`` types below (msgspec checks
them wherever a request is decoded: the gateway, the engine runtime's frames, the client), and the
``check_*`` functions serve code that receives values another way (files, bar arrays, free-form objects,
in-process calls). Every refusal is an :class:`InvalidInput` naming the field (HTTP 422, CLI exit 2).

The bounds (chosen so that no valid request is ever near them, and no accepted value can overflow a
database column, an int64 nanosecond clock or a float sum):

=================  ===========================================================================
timestamps         ``TS_MIN_NS`` 1900-01-01 .. ``TS_MAX_NS`` 2200-01-01 UTC (ns since the epoch)
prices             finite, > 0 and <= ``PRICE_MAX`` (1e9)
quantities         finite, > 0 and <= ``QUANTITY_MAX`` (1e12 units)
sizes, volumes     >= 0 (``inf`` means unlimited; JSON cannot carry it)
amounts            finite, ``|x| <= AMOUNT_MAX`` (1e12): a deposit, a withdrawal, a fee
cash balances      finite, 0 <= cash <= ``CASH_MAX`` (1e15): deposits beyond it are refused
names              1..64 characters (client order ids 128), no control (C0, DEL, C1) or
                   bidirectional-control characters (U+200E/F, U+202A-202E, U+2066-2069)
free-form JSON     nesting depth <= ``JSON_DEPTH_MAX`` (32); integers in int64; floats finite;
                   strings without NUL or bidirectional controls
=================  ===========================================================================
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from msgspec import Meta

from nautilus.core.errors import InvalidInput

TS_MIN_NS = -2_208_988_800 * 1_000_000_000  # 1900-01-01T00:00:00Z
TS_MAX_NS = 7_258_118_400 * 1_000_000_000  # 2200-01-01T00:00:00Z
TS_RANGE_TEXT = "1900-01-01..2200-01-01 UTC"
PRICE_MAX = 1e9
QUANTITY_MAX = 1e12
AMOUNT_MAX = 1e12
CASH_MAX = 1e15
NAME_MAX = 64
CLIENT_ID_MAX = 128
JSON_DEPTH_MAX = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

_BIDI = r"\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: a safe name: no control or bidirectional-control character anywhere. Not ``$`` at the end: in Python (msgspec)
#: it also matches before a final newline; ``(?![\s\S])`` means the end of the text in Python and JSON Schema alike.
SAFE_NAME_PATTERN = f"^[^{_CONTROL}{_BIDI}]*(?![\\s\\S])"
#: the same for FastAPI path parameters: pydantic's (Rust) regex has no lookahead, and its ``$`` is the text's end
SAFE_PATH_PATTERN = f"^[^{_CONTROL}{_BIDI}]*$"
_UNSAFE_NAME = re.compile(f"[{_CONTROL}{_BIDI}]")
_UNSAFE_TEXT = re.compile(rf"[\x00{_BIDI}]")  # free text may hold tabs and newlines, never NUL or bidi controls

Timestamp = Annotated[int, Meta(ge=TS_MIN_NS, le=TS_MAX_NS, description=f"ns since the epoch, {TS_RANGE_TEXT}")]
Price = Annotated[float, Meta(gt=0, le=PRICE_MAX, description="a price: > 0 and <= 1e9")]
Quantity = Annotated[float, Meta(gt=0, le=QUANTITY_MAX, description="units: > 0 and <= 1e12")]
Size = Annotated[float, Meta(ge=0, description="units available, >= 0")]
Amount = Annotated[float, Meta(ge=-AMOUNT_MAX, le=AMOUNT_MAX, description="an amount: |x| <= 1e12")]
Cash = Annotated[float, Meta(ge=0, le=AMOUNT_MAX, description="a cash amount: 0..1e12")]
Fraction = Annotated[float, Meta(ge=-1e6, le=1e6)]
Name = Annotated[str, Meta(min_length=1, max_length=NAME_MAX, pattern=SAFE_NAME_PATTERN,
                           description="1-64 characters, no control or bidi-control characters")]
ClientId = Annotated[str, Meta(min_length=1, max_length=CLIENT_ID_MAX, pattern=SAFE_NAME_PATTERN)]
Label = Annotated[str, Meta(max_length=128, pattern=SAFE_NAME_PATTERN)]  # may be empty (a strategy tag)


SYMBOL_MAX = 32


def normalize_symbol(symbol: str, field: str = "symbol") -> str:
    """The catalog's name of ``symbol`` (upper case, trimmed); a 422 naming ``field`` when it is not one."""
    text = (symbol or "").strip().upper() if isinstance(symbol, str) else ""
    if not text or len(text) > SYMBOL_MAX or not all(ch.isalnum() or ch in "._-^=" for ch in text):
        raise InvalidInput(f"symbol {symbol!r} is not valid (1-{SYMBOL_MAX} letters, digits or ._-^=)", field=field)
    return text


def check_timestamp(ns: int | None, field: str) -> int | None:
    """``ns`` (ns since the epoch) inside ``TS_MIN_NS..TS_MAX_NS``; None passes."""
    if ns is None:
        return None
    if isinstance(ns, bool) or not isinstance(ns, int) or not TS_MIN_NS <= ns <= TS_MAX_NS:
        raise InvalidInput(f"{field} must be a time in {TS_RANGE_TEXT}, got {ns!r}", field=field)
    return ns


def check_number(value: float | None, field: str, *, lo: float = -AMOUNT_MAX, hi: float = AMOUNT_MAX,
                 lo_open: bool = False) -> float | None:
    """A finite real number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); None passes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} must be a number, got {value!r}", field=field)
    x = float(value) if abs(value) < 1e308 else math.inf
    if not math.isfinite(x) or x > hi or x < lo or (lo_open and x == lo):
        low = "(" if lo_open else "["
        raise InvalidInput(f"{field} must be a finite number in {low}{lo:g}, {hi:g}], got {value!r}", field=field)
    return x


def check_name(value: str | None, field: str, max_length: int = NAME_MAX, *, allow_empty: bool = False) -> str | None:
    """A name (account, symbol, strategy, set, model, client order id): bounded length, no control or
    bidi-control characters; None passes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if not value and not allow_empty:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    bad = _UNSAFE_NAME.search(value)
    if bad is not None:
        raise InvalidInput(f"{field} contains the control character U+{ord(bad.group()):04X}", field=field)
    return value


def check_json(value: Any, field: str = "", depth: int = 0, max_depth: int = JSON_DEPTH_MAX) -> None:
    """A decoded JSON value (or a free-form object of a request: ``params``, ``options``, a definition):
    nesting at most ``max_depth``, integers in int64, floats finite, strings (and keys) without NUL or
    bidi controls. The error names the path, e.g. ``params.fast`` or ``bars.3.0``."""
    if isinstance(value, str):
        if _UNSAFE_TEXT.search(value) is not None:
            raise InvalidInput(f"{field or 'body'} contains a NUL or bidi-control character", field=field or "body")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidInput(f"{field or 'body'} is an integer outside the 64-bit range", field=field or "body")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field or 'body'} must be a finite number", field=field or "body")
    elif isinstance(value, (dict, list, tuple)):
        if depth >= max_depth:
            raise InvalidInput(f"{field or 'body'} is nested deeper than {max_depth} levels", field=field or "body")
        prefix = f"{field}." if field else ""
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _UNSAFE_TEXT.search(key) is not None:
                    raise InvalidInput(f"a key of {field or 'the body'} contains a NUL or bidi-control character",
                                       field=field or "body")
                check_json(item, f"{prefix}{key}", depth + 1, max_depth)
        else:
            for i, item in enumerate(value):
                check_json(item, f"{prefix}{i}", depth + 1, max_depth)


def check_bar(ts: int, open_: float, high: float, low: float, close: float, volume: float, field: str) -> None:
    """One OHLCV bar inside the bounds: ``ts`` in range, prices in ``(0, PRICE_MAX]`` with low <= open,close <=
    high, volume >= 0 (``inf``: unlimited). A bar out of range must never reach a book: its clock is shared."""
    check_timestamp(ts, f"{field}.ts" if field else "ts")
    for name, price in (("open", open_), ("high", high), ("low", low), ("close", close)):
        check_number(price, f"{field}.{name}" if field else name, lo=0.0, hi=PRICE_MAX, lo_open=True)
    if low > min(open_, close) or high < max(open_, close):
        raise InvalidInput(f"{field or 'bar'} needs low <= open, close <= high", field=field or "bar")
    if not volume >= 0:
        raise InvalidInput(f"{field or 'bar'}.volume must be >= 0", field=f"{field}.volume" if field else "volume")
