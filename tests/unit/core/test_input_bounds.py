"""Domain bounds (nautilus.core.bounds): property tests of the shared validators and typed constraints."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus.core.bounds import (
    AMOUNT_MAX,
    INT_MAX,
    INT_MIN,
    JSON_DEPTH_MAX,
    PRICE_MAX,
    TS_MAX_NS,
    TS_MIN_NS,
    Amount,
    Name,
    Price,
    Timestamp,
    check_bar,
    check_json,
    check_name,
    check_number,
    check_timestamp,
)
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import iso_ns
from nautilus.factor.expression import parse_expression

UNSAFE = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F),
                           *range(0x2066, 0x206A))]


def _accepts(kind: object, value: object) -> bool:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError:
        return False
    return True


@given(st.integers())
def test_timestamps_inside_the_range_pass_and_outside_fail_for_the_helper_and_the_type(ns: int) -> None:
    inside = TS_MIN_NS <= ns <= TS_MAX_NS
    assert _accepts(Timestamp, ns) == inside
    if inside:
        assert check_timestamp(ns, "ts") == ns
    else:
        with pytest.raises(InvalidInput) as exc:
            check_timestamp(ns, "ts")
        assert exc.value.field == "ts"


def test_the_range_ends_are_1900_and_2200_and_iso_dates_outside_are_422() -> None:
    assert iso_ns("1900-01-01", "start") == TS_MIN_NS
    assert iso_ns("2200-01-01", "end") == TS_MAX_NS
    for text in ("0001-01-01", "1899-12-31T23:59:59", "2200-01-01T00:00:01", "9999-12-31"):
        with pytest.raises(InvalidInput) as exc:
            iso_ns(text, "start")
        assert exc.value.field == "start"
    assert not _accepts(Timestamp, 2**63 - 1)


@given(st.one_of(st.floats(), st.integers(min_value=-(10**400), max_value=10**400)))
def test_numbers_are_finite_and_bounded(x: float) -> None:
    ok = (isinstance(x, int) or math.isfinite(x)) and -AMOUNT_MAX <= x <= AMOUNT_MAX
    if ok:
        assert check_number(x, "amount") == float(x)
    else:
        with pytest.raises(InvalidInput) as exc:
            check_number(x, "amount")
        assert exc.value.field == "amount"
    if isinstance(x, float):
        assert _accepts(Amount, x) == ok
        assert _accepts(Price, x) == (math.isfinite(x) and 0 < x <= PRICE_MAX)


def test_amount_of_the_issue_is_refused() -> None:
    assert not _accepts(Amount, 1.7e308)
    with pytest.raises(InvalidInput):
        check_number(1.7e308, "amount")


@given(st.text(max_size=80))
def test_names_are_bounded_and_free_of_control_and_bidi_characters(text: str) -> None:
    ok = 1 <= len(text) <= 64 and not any(c in UNSAFE for c in text)
    assert _accepts(Name, text) == ok
    if ok:
        assert check_name(text, "name") == text
    else:
        with pytest.raises(InvalidInput) as exc:
            check_name(text, "name")
        assert exc.value.field == "name"


@pytest.mark.parametrize("bad", UNSAFE)
def test_every_unsafe_character_is_refused_in_a_name(bad: str) -> None:
    assert not _accepts(Name, f"acct{bad}x")
    with pytest.raises(InvalidInput):
        check_name(f"acct{bad}x", "account")


_TEXT_OK = st.characters(blacklist_characters="\x00\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                                                "\u2069")  # what free text may hold: anything but NUL and bidi controls
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=INT_MIN, max_value=INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(alphabet=_TEXT_OK),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet=_TEXT_OK, max_size=5), inner,
                                                                 max_size=3),
    max_leaves=20)


@given(_json)
def test_ordinary_json_passes(value: object) -> None:
    check_json(value)


@given(st.integers(min_value=INT_MAX + 1) | st.integers(max_value=INT_MIN - 1), st.text(min_size=1, max_size=8))
def test_an_integer_outside_int64_is_refused_naming_its_path(big: int, key: str) -> None:
    key = key.replace("\x00", "k")
    with pytest.raises(InvalidInput) as exc:
        check_json({"params": {key: [1, big]}})
    assert exc.value.field == f"params.{key}.1"


@given(st.integers(min_value=0, max_value=80))
def test_nesting_is_capped(depth: int) -> None:
    value: object = 1
    for _ in range(depth):
        value = [value]
    if depth <= JSON_DEPTH_MAX:
        check_json(value)
    else:
        with pytest.raises(InvalidInput):
            check_json(value)


@pytest.mark.parametrize("value", ["a\x00b", "x\u202ey", {"k\x00": 1}, float("inf"), float("nan")])
def test_nul_bidi_and_non_finite_values_are_refused_in_free_form_json(value: object) -> None:
    with pytest.raises(InvalidInput):
        check_json({"options": value})


@given(st.floats(min_value=1e-3, max_value=PRICE_MAX), st.integers(TS_MIN_NS, TS_MAX_NS))
def test_a_bar_inside_the_bounds_passes(price: float, ts: int) -> None:
    check_bar(ts, price, price, price, price, 0.0, "bars.0")


@pytest.mark.parametrize(("bar", "field"), [
    ((2**63 - 1, 1, 1, 1, 1, 1), "bars.0.ts"), ((0, 1, 1e300, 1, 1, 1), "bars.0.high"),
    ((0, -1, 1, -1, 1, 1), "bars.0.open"), ((0, 1, 1, 1, 1, -1), "bars.0.volume"),
    ((0, 1, 1, 2, 1, 1), "bars.0")])
def test_a_bar_outside_the_bounds_is_refused_naming_the_field(bar: tuple, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_bar(*bar, "bars.0")
    assert exc.value.field == field


@pytest.mark.parametrize("expr", ["close * 1" + "0" * 400, "close + 1e999", "close - 1e13", "momentum(10" + "0" * 30 + ")"])
def test_a_huge_constant_in_a_factor_expression_is_refused(expr: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_expression(expr)
    assert exc.value.field == "expr"
    parse_expression("close * 2.5 - 1e6")


def test_normalize_symbol_names_the_field() -> None:
    from nautilus.core.bounds import SYMBOL_MAX, normalize_symbol

    assert normalize_symbol(" brk.b ") == "BRK.B"
    assert normalize_symbol("^gspc") == "^GSPC"
    assert normalize_symbol("A" * SYMBOL_MAX) == "A" * SYMBOL_MAX
    for bad in ("", "   ", "A" * (SYMBOL_MAX + 1), "BTC/USD", "a b", None, 7):
        with pytest.raises(InvalidInput) as info:
            normalize_symbol(bad, field="legs[2].underlying")  # type: ignore[arg-type]
        assert info.value.field == "legs[2].underlying"
