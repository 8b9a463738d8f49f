"""parse_bars: every validation rule, column mapping, time zones, epoch units, Parquet, round trips."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.core.bounds import TS_MIN_NS
from nautilus.core.errors import InvalidInput
from nautilus.engines.marketdata.ingest import parse_bars

HEADER = "Date,Open,High,Low,Close,Volume\n"
GOOD = "2024-03-04,100,101,99,100.5,1000\n"


def ns(text: str) -> int:
    return int(pd.Timestamp(text).value)


def parse(text: str, **kwargs):
    kwargs.setdefault("fmt", "csv")
    kwargs.setdefault("timeframe", "1d")
    return parse_bars(text.encode(), symbol="TEST", **kwargs)


def rejected(text: str, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse(text, **kwargs)
    return info.value


def to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- validation rules ---------------------------------------------------------------------------------


def test_valid_file_parses_to_exact_values():
    bars = parse(HEADER + GOOD + "2024-03-05,100.5,102.25,100,101.75,0\n")
    assert bars.symbol == "TEST" and bars.timeframe == "1d"
    assert bars.ts.tolist() == [ns("2024-03-04T00:00Z"), ns("2024-03-05T00:00Z")]
    assert bars.ts.dtype == np.int64
    assert bars.open.tolist() == [100.0, 100.5]
    assert bars.high.tolist() == [101.0, 102.25]
    assert bars.low.tolist() == [99.0, 100.0]
    assert bars.close.tolist() == [100.5, 101.75]
    assert bars.volume.tolist() == [1000.0, 0.0]


@pytest.mark.parametrize("text", ["", "  \n", HEADER])
def test_empty_file_rejected(text):
    error = rejected(text)
    assert error.message in ("file is empty", "file has no data rows")
    assert error.field == "data"


def test_high_below_max_open_close_names_row_timestamp_and_values():
    error = rejected(HEADER + GOOD + "2024-03-05,100,101.2,99,101.5,10\n")
    assert error.message == "row 2 (2024-03-05 00:00:00+00:00): high 101.2 is below max(open, close) 101.5"


def test_low_above_min_open_close():
    error = rejected(HEADER + GOOD + GOOD.replace("04", "05").replace(",99,", ",100.25,"))
    assert error.message == "row 2 (2024-03-05 00:00:00+00:00): low 100.25 is above min(open, close) 100.0"


def test_high_below_low_is_rejected():
    error = rejected(HEADER + "2024-03-04,100,99,101,100,10\n")
    assert error.message == "row 1 (2024-03-04 00:00:00+00:00): high 99.0 is below max(open, close) 100.0"


def test_negative_volume():
    error = rejected(HEADER + GOOD + "2024-03-05,100,101,99,100,-5\n")
    assert error.message == "row 2 (2024-03-05 00:00:00+00:00): volume -5.0 is negative"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-03-05,0,101,0,100,5", "open 0.0 is not positive"),
        ("2024-03-05,-2,-1,-3,-2,5", "open -2.0 is not positive"),
        ("2024-03-05,1,1,-1,1,5", "low -1.0 is not positive"),
    ],
)
def test_non_positive_prices(row, reason):
    assert rejected(HEADER + GOOD + row + "\n").message == f"row 2 (2024-03-05 00:00:00+00:00): {reason}"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("abc", "high 'abc' is not a number"),
        ("", "high is missing or NaN"),
        ("NaN", "high is missing or NaN"),
        ("inf", "high inf is not finite"),
    ],
)
def test_non_numeric_missing_and_infinite_prices(cell, reason):
    error = rejected(HEADER + GOOD + f"2024-03-05,100,{cell},99,100,5\n")
    assert error.message == f"row 2 (2024-03-05 00:00:00+00:00): {reason}"


def test_duplicate_timestamps_rejected_even_when_unsorted():
    text = HEADER + GOOD.replace("04", "06") + GOOD + GOOD.replace("04", "05") + GOOD.replace("04", "06")
    assert rejected(text).message == "row 4 (2024-03-06 00:00:00+00:00): duplicate timestamp, same as row 1"


def test_unparseable_timestamp_names_row_and_value():
    error = rejected(HEADER + GOOD + "not-a-date,100,101,99,100,5\n")
    assert error.message == "row 2: timestamp 'not-a-date' cannot be parsed (pass datetime_format)"
    assert rejected(HEADER + GOOD + ",100,101,99,100,5\n").message == "row 2: timestamp is missing"


def test_the_first_bad_row_in_file_order_is_reported():
    text = (
        HEADER
        + GOOD
        + "2024-03-05,100,101,99,100,-1\n"
        + "2024-03-06,100,100,99,101,5\n"
        + "2024-03-04,100,101,99,100,5\n"
    )
    assert rejected(text).message.startswith("row 2 (2024-03-05 00:00:00+00:00): volume -1.0")
    text = HEADER + GOOD + "2024-03-05,x,100,99,101,5\n" + "garbage,100,101,99,100,5\n"
    assert rejected(text).message == "row 2 (2024-03-05 00:00:00+00:00): open 'x' is not a number"


def test_unsorted_input_is_sorted_with_rows_intact():
    bars = parse(HEADER + "2024-03-06,3,3,3,3,3\n2024-03-04,1,1,1,1,1\n2024-03-05,2,2,2,2,2\n")
    assert bars.ts.tolist() == [ns("2024-03-04T00:00Z"), ns("2024-03-05T00:00Z"), ns("2024-03-06T00:00Z")]
    for column in ("open", "high", "low", "close", "volume"):
        assert getattr(bars, column).tolist() == [1.0, 2.0, 3.0]


# --- columns ------------------------------------------------------------------------------------------


def test_explicit_column_mapping():
    text = "when,first,top,bottom,last,qty,extra\n2024-03-04,1,4,0.5,2,7,x\n"
    mapping = {
        "ts": "when",
        "open": "first",
        "high": "top",
        "low": "bottom",
        "close": "last",
        "volume": "qty",
    }
    bars = parse(text, columns=mapping)
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]) == (1, 4, 0.5, 2, 7)


@pytest.mark.parametrize(
    "header",
    [
        "TIMESTAMP,O,H,L,C,V",
        "time,open,high,low,close,vol",
        " DateTime , Open , HIGH , low , Close , VOLUME ",
    ],
)
def test_aliases_detected_case_insensitively(header):
    bars = parse(header + "\n2024-03-04,1,4,0.5,2,7\n")
    assert bars.ts.tolist() == [ns("2024-03-04T00:00Z")]
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]) == (1, 4, 0.5, 2, 7)


def test_missing_volume_column_is_named_with_the_file_columns():
    error = rejected("Date,Open,High,Low,Close\n2024-03-04,1,1,1,1\n")
    assert error.field == "columns"
    assert "required column 'volume' is missing" in error.message
    assert "['Date', 'Open', 'High', 'Low', 'Close']" in error.message


def test_adj_close_is_not_an_alias_of_close():
    error = rejected("Date,Open,High,Low,Adj Close,Volume\n2024-03-04,1,1,1,1,1\n")
    assert "required column 'close' is missing" in error.message


def test_ambiguous_unknown_and_absent_columns_rejected():
    assert (
        "'ts' is ambiguous: ['Date', 'Time']"
        in rejected("Date,Time,Open,High,Low,Close,Volume\n2024-03-04,10:00,1,1,1,1,1\n").message
    )
    assert "unknown key(s) ['price']" in rejected(HEADER + GOOD, columns={"price": "Close"}).message
    error = rejected(HEADER + GOOD, columns={"close": "Last"})
    assert error.field == "columns" and "column 'Last' (mapped to close) is not in the file" in error.message


# --- time zones and timestamp formats -----------------------------------------------------------------


def test_naive_local_times_localised_across_a_dst_change():
    # New York moved from EST (UTC-5) to EDT (UTC-4) on 2024-03-10.
    text = HEADER + "".join(f"2024-03-{d} 09:30,1,1,1,1,1\n" for d in ("08", "11", "12"))
    bars = parse(text, tz="America/New_York", timeframe="1m")  # intraday bars: their UTC open instant
    assert bars.ts.tolist() == [ns("2024-03-08T14:30Z"), ns("2024-03-11T13:30Z"), ns("2024-03-12T13:30Z")]
    daily = parse(text, tz="America/New_York")  # daily bars: the session date, whatever the zone
    assert daily.ts.tolist() == [ns("2024-03-08"), ns("2024-03-11"), ns("2024-03-12")]


def test_nonexistent_local_time_rejected():
    error = rejected(HEADER + GOOD + "2024-03-10 02:30,1,1,1,1,1\n", tz="America/New_York", timeframe="1h")
    assert error.message == (
        "row 2: local time 2024-03-10 02:30:00 does not exist in America/New_York (skipped by a DST change)"
    )


def test_ambiguous_local_time_rejected():
    error = rejected(HEADER + "2024-10-27 01:30,1,1,1,1,1\n", tz="Europe/London", timeframe="1m")
    assert error.message == (
        "row 1: local time 2024-10-27 01:30:00 is ambiguous in Europe/London (repeated by a DST change)"
    )


def test_aware_times_with_different_offsets_converted_to_utc():
    text = HEADER + "2024-03-08T09:30:00-05:00,1,1,1,1,1\n2024-03-11T09:30:00-04:00,1,1,1,1,1\n"
    text += "2024-03-12T13:30:00Z,1,1,1,1,1\n"
    bars = parse(text, tz="Asia/Tokyo", timeframe="1m")  # tz applies to naive times only
    assert bars.ts.tolist() == [ns("2024-03-08T14:30Z"), ns("2024-03-11T13:30Z"), ns("2024-03-12T13:30Z")]
    daily = parse(text, tz="America/New_York")  # mixed offsets, brought to UTC: their dates in tz
    assert daily.ts.tolist() == [ns("2024-03-08"), ns("2024-03-11"), ns("2024-03-12")]


def test_mixed_naive_and_aware_times_rejected():
    error = rejected(HEADER + "2024-03-08T09:30:00+01:00,1,1,1,1,1\n2024-03-09T09:30:00,1,1,1,1,1\n")
    assert error.message.startswith("row 2: timestamp '2024-03-09T09:30:00' has no UTC offset but row 1")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_units_explicit_and_guessed(unit):
    expected = [ns("2024-03-04T00:00Z"), ns("2024-03-05T12:00:00.5Z")]
    factor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    if unit == "s":
        text = HEADER + "1709510400,1,1,1,1,1\n1709640000.5,1,1,1,1,1\n"
    else:
        text = HEADER + "".join(f"{t // factor},1,1,1,1,1\n" for t in expected)
    assert parse(text, timestamp_unit=unit, timeframe="1s").ts.tolist() == expected
    assert parse(text, timeframe="1s").ts.tolist() == expected
    assert parse(text).ts.tolist() == [ns("2024-03-04"), ns("2024-03-05")]  # daily: the UTC date
    assert parse(text, tz="Asia/Tokyo").ts.tolist() == [ns("2024-03-04"), ns("2024-03-05")]  # 09:00, 21:00 there


def test_epoch_text_that_is_not_a_number_rejected():
    error = rejected(HEADER + "1709510400,1,1,1,1,1\nsoon,1,1,1,1,1\n", timestamp_unit="s")
    assert error.message == "row 2: timestamp 'soon' is not an epoch number"


def test_yyyymmdd_integers_and_explicit_formats():
    assert parse(HEADER + "20240304,1,1,1,1,1\n").ts.tolist() == [ns("2024-03-04T00:00Z")]
    bars = parse(HEADER + "04/03/2024 16:00,1,1,1,1,1\n", datetime_format="%d/%m/%Y %H:%M", tz="Europe/Paris",
                 timeframe="1h")
    assert bars.ts.tolist() == [ns("2024-03-04T15:00Z")]


def test_out_of_range_timestamp_rejected():
    error = rejected(HEADER + "2300-01-01,1,1,1,1,1\n")
    assert error.message == "row 1: timestamp 2300-01-01 00:00:00 is outside the supported range 1677..2262"
    far = pa.table(
        {
            "ts": pa.array([10**17], pa.timestamp("ms")),
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [1.0],
        }
    )
    with pytest.raises(InvalidInput, match="row 1: timestamp .* is outside the supported range"):
        parse_bars(to_parquet(far), fmt="parquet", symbol="P", timeframe="1d", tz="America/New_York")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fmt": "xlsx"}, "fmt"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"timestamp_unit": "min"}, "timestamp_unit"),
    ],
)
def test_bad_options_rejected(kwargs, field):
    assert rejected(HEADER + GOOD, **kwargs).field == field
    with pytest.raises(InvalidInput) as info:
        parse_bars((HEADER + GOOD).encode(), fmt="csv", symbol="X", timeframe="7x")
    assert info.value.field == "timeframe"


def test_malformed_csv_rejected():
    error = rejected(HEADER + GOOD + "2024-03-05,1,1,1,1,1,1,1\n")
    assert error.message.startswith("file is not valid CSV: ")


# --- parquet ------------------------------------------------------------------------------------------


def test_parquet_with_aware_timestamps():
    table = pa.table(
        {
            "Timestamp": pa.array(
                [ns("2024-03-05T00:00Z"), ns("2024-03-04T00:00Z")], pa.timestamp("ns", "UTC")
            ),
            "open": [2.0, 1.0],
            "high": [2.5, 1.5],
            "low": [1.5, 0.5],
            "close": [2.0, 1.0],
            "volume": [20, 10],
        }
    )
    bars = parse_bars(to_parquet(table), fmt="parquet", symbol="P", timeframe="1d")
    assert bars.ts.tolist() == [ns("2024-03-04T00:00Z"), ns("2024-03-05T00:00Z")]
    assert bars.open.tolist() == [1.0, 2.0] and bars.volume.tolist() == [10.0, 20.0]


def test_parquet_with_naive_timestamps_and_epoch_ms():
    prices = {"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]}
    naive = pa.table({"date": pa.array([ns("2024-07-01T09:30") // 1000], pa.timestamp("us")), **prices})
    bars = parse_bars(to_parquet(naive), fmt="parquet", symbol="P", timeframe="1m", tz="America/New_York")
    assert bars.ts.tolist() == [ns("2024-07-01T13:30Z")]
    daily = parse_bars(to_parquet(naive), fmt="parquet", symbol="P", timeframe="1d", tz="America/New_York")
    assert daily.ts.tolist() == [ns("2024-07-01")]
    epoch = pa.table({"time": pa.array([1719840600000], pa.int64()), **prices})
    assert parse_bars(to_parquet(epoch), fmt="parquet", symbol="P", timeframe="1m").ts.tolist() == [
        ns("2024-07-01T13:30Z")
    ]


def test_parquet_rules_apply_with_row_numbers():
    table = pa.table(
        {
            "ts": pa.array([0, 86_400_000_000_000], pa.timestamp("ns", "UTC")),
            "open": [1.0, 1.0],
            "high": [1.0, 0.5],
            "low": [1.0, 0.5],
            "close": [1.0, 1.0],
            "volume": [1.0, 1.0],
        }
    )
    with pytest.raises(InvalidInput) as info:
        parse_bars(to_parquet(table), fmt="parquet", symbol="P", timeframe="1d")
    assert info.value.message == "row 2 (1970-01-02 00:00:00+00:00): high 0.5 is below max(open, close) 1.0"


def test_invalid_parquet_bytes_rejected():
    with pytest.raises(InvalidInput) as info:
        parse_bars(b"PAR1 definitely not parquet", fmt="parquet", symbol="P", timeframe="1d")
    assert info.value.message.startswith("file is not valid PARQUET: ")


# --- property: valid frames round-trip exactly --------------------------------------------------------

prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0.01, max_value=1.0)


@st.composite
def valid_frames(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=40))
    ts = draw(st.lists(st.integers(min_value=TS_MIN_NS, max_value=2**62), min_size=n, max_size=n, unique=True))
    open_ = np.array(draw(st.lists(prices, min_size=n, max_size=n)))
    close = np.array(draw(st.lists(prices, min_size=n, max_size=n)))
    up = np.array(draw(st.lists(st.floats(min_value=1.0, max_value=2.0), min_size=n, max_size=n)))
    down = np.array(draw(st.lists(fractions, min_size=n, max_size=n)))
    volume = draw(st.lists(st.floats(min_value=0.0, max_value=1e15), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "ts": np.array(ts, dtype=np.int64),
            "open": open_,
            "high": np.maximum(open_, close) * up,
            "low": np.minimum(open_, close) * down,
            "close": close,
            "volume": volume,
        }
    )


def expected_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def assert_bars_equal(bars, frame: pd.DataFrame) -> None:
    expected = expected_sorted(frame)
    assert np.array_equal(bars.ts, expected["ts"].to_numpy())
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(bars, column), expected[column].to_numpy()), column


@settings(max_examples=60, deadline=None)
@given(valid_frames(), st.sampled_from(["iso", "epoch_ns"]))
def test_valid_csv_round_trips_exactly(frame, ts_style):
    written = frame.copy()
    if ts_style == "iso":
        written["ts"] = pd.to_datetime(frame["ts"], unit="ns", utc=True)
    data = written.to_csv(index=False).encode()
    unit = "ns" if ts_style == "epoch_ns" else None
    bars = parse_bars(data, fmt="csv", symbol="H", timeframe="1m", timestamp_unit=unit)
    assert_bars_equal(bars, frame)


@settings(max_examples=30, deadline=None)
@given(valid_frames())
def test_valid_parquet_round_trips_exactly(frame):
    table = pa.Table.from_pandas(frame.assign(ts=pd.to_datetime(frame["ts"], unit="ns", utc=True)))
    bars = parse_bars(to_parquet(table), fmt="parquet", symbol="H", timeframe="1m")
    assert_bars_equal(bars, frame)
