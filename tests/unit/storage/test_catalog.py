"""The Parquet bar catalog against hand-built expectations and a pandas reference."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.engines.features.cache import changed_since, series_version
from nautilus.storage import catalog as catalog_module
from nautilus.storage.catalog import BarCatalog, SeriesStats, whole_series

HOUR = 3_600_000_000_000
DAY = 24 * HOUR


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def make_bars(ts: list[int] | np.ndarray, tag: float = 0.0, symbol: str = "SPY", timeframe: str = "1h") -> Bars:
    """Bars whose values encode ``tag`` (which write they came from) and the hour of ``ts``."""
    ts = np.asarray(ts, dtype=np.int64)
    hours = (ts // HOUR).astype(np.float64)
    return Bars(symbol=symbol, timeframe=timeframe, ts=ts, open=tag + hours, high=tag + hours + 0.5,
                low=tag + hours - 0.5, close=tag + hours + 0.25, volume=np.full(ts.shape, 100.0 + tag))


def assert_bars_equal(got: Bars, expected: Bars) -> None:
    assert (got.symbol, got.timeframe) == (expected.symbol, expected.timeframe)
    assert got.ts.dtype == np.int64
    assert_array_equal(got.ts, expected.ts)
    for column in COLUMNS:
        assert_array_equal(getattr(got, column), getattr(expected, column), err_msg=column)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def catalog(tmp_path: Path) -> BarCatalog:
    return BarCatalog(tmp_path / "catalog", row_group_size=4)


# Round trip and layout ----------------------------------------------------------------------------
def test_round_trip_is_exact_and_split_by_utc_year(catalog: BarCatalog) -> None:
    ts = [ns("2019-12-31T22:00"), ns("2019-12-31T23:00"), ns("2020-01-01T00:00"), ns("2020-01-01T01:00")]
    bars = Bars(symbol="SPY", timeframe="1h", ts=np.array(ts, dtype=np.int64),
                open=np.array([1.5, -0.0, np.nan, 1e-300]), high=np.array([2.0, np.inf, 3.0, 1e300]),
                low=np.array([0.1, -np.inf, 0.2, 0.3]), close=np.array([1.0, 2.0, 3.0, 4.0]),
                volume=np.array([0.0, 10.0, 20.0, 30.0]))

    stats = catalog.write(bars)

    assert stats == SeriesStats(first_ts=ts[0], last_ts=ts[-1], rows=4)
    series_dir = catalog.root / "bars" / "SPY" / "1h"
    assert sorted(path.name for path in series_dir.iterdir()) == ["2019.parquet", "2020.parquet"]
    assert pq.read_metadata(series_dir / "2019.parquet").num_rows == 2
    assert_bars_equal(catalog.read("SPY", "1h"), bars)


def test_files_have_fixed_row_groups_with_ts_statistics(catalog: BarCatalog) -> None:
    ts = [ns("2021-03-01") + i * HOUR for i in range(10)]
    catalog.write(make_bars(ts))

    metadata = pq.read_metadata(catalog.root / "bars" / "SPY" / "1h" / "2021.parquet")
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    assert [group.num_rows for group in groups] == [4, 4, 2]
    bounds = [(g.column(0).statistics.min_raw, g.column(0).statistics.max_raw) for g in groups]
    assert bounds == [(ts[0], ts[3]), (ts[4], ts[7]), (ts[8], ts[9])]


# Range queries ------------------------------------------------------------------------------------
@pytest.fixture
def hourly_across_new_year(catalog: BarCatalog) -> Bars:
    bars = make_bars([ns("2019-12-31T21:00") + i * HOUR for i in range(6)])  # 21:00 .. 02:00
    catalog.write(bars)
    return bars


@pytest.mark.parametrize(
    ("start", "end", "expected_hours"),
    [
        ("2020-01-01T00:00", "2020-01-01T01:00", ["2020-01-01T00:00"]),
        ("2019-12-31T23:00", "2020-01-01T00:00", ["2019-12-31T23:00"]),
        ("2019-12-31T23:00", "2020-01-01T01:00", ["2019-12-31T23:00", "2020-01-01T00:00"]),
        ("2019-12-31T22:30", "2019-12-31T23:30", ["2019-12-31T23:00"]),
        ("2019-12-31T21:00", "2020-01-01T02:00", [f"2019-12-31T{h}:00" for h in (21, 22, 23)]
         + ["2020-01-01T00:00", "2020-01-01T01:00"]),
        ("2020-01-01T02:00", "2020-01-01T02:00", []),
        ("2020-01-01T03:00", "2020-01-01T02:00", []),
        ("2018-01-01T00:00", "2019-01-01T00:00", []),
        ("2020-01-01T02:01", "2030-01-01T00:00", []),
    ],
)
def test_range_is_start_inclusive_end_exclusive_across_years(
    catalog: BarCatalog, hourly_across_new_year: Bars, start: str, end: str, expected_hours: list[str]
) -> None:
    got = catalog.read("SPY", "1h", ns(start), ns(end))

    assert got.ts.tolist() == [ns(hour) for hour in expected_hours]
    assert got.close.tolist() == [h // HOUR + 0.25 for h in got.ts.tolist()]


def test_open_ended_ranges(catalog: BarCatalog, hourly_across_new_year: Bars) -> None:
    ts = hourly_across_new_year.ts
    assert_array_equal(catalog.read("SPY", "1h", start_ns=ns("2020-01-01T01:00")).ts, ts[4:])
    assert_array_equal(catalog.read("SPY", "1h", end_ns=ns("2019-12-31T23:00")).ts, ts[:2])
    assert_array_equal(catalog.read("SPY", "1h", end_ns=ns("2020-01-01T00:00")).ts, ts[:3])
    assert len(catalog.read("SPY", "1h", end_ns=ns("2019-01-01"))) == 0


def test_read_of_unknown_series_names_it(catalog: BarCatalog, hourly_across_new_year: Bars) -> None:
    with pytest.raises(NotFound, match="'QQQ'") as symbol_error:
        catalog.read("QQQ", "1h")
    with pytest.raises(NotFound, match="1d bars for 'SPY'") as timeframe_error:
        catalog.read("SPY", "1d")

    assert symbol_error.value.field == "symbol"
    assert timeframe_error.value.field == "timeframe"


def test_read_opens_only_year_files_in_range_and_overlapping_row_groups(
    catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.row_group_size = 24  # one row group per day of hourly bars
    start = ns("2019-01-01")
    catalog.write(make_bars(np.arange(start, ns("2023-01-01"), HOUR, dtype=np.int64)))
    opened: list[str] = []
    groups_read: list[list[int]] = []

    class SpyParquetFile(pq.ParquetFile):
        def __init__(self, source: Path, **kwargs: object) -> None:
            opened.append(Path(source).name)
            super().__init__(source, **kwargs)

        def read_row_groups(self, row_groups: list[int], **kwargs: object):  # type: ignore[no-untyped-def]
            groups_read.append(list(row_groups))
            return super().read_row_groups(row_groups, **kwargs)

    def no_listing(path: object) -> None:
        raise AssertionError(f"a bounded read listed {path}")

    monkeypatch.setattr(pq, "ParquetFile", SpyParquetFile)
    monkeypatch.setattr(catalog_module.os, "scandir", no_listing)

    inside = catalog.read("SPY", "1h", ns("2020-03-01T12:00"), ns("2020-03-02T12:00"))
    assert (opened, groups_read) == (["2020.parquet"], [[60, 61]])  # 2020-03-01 is day 60 (leap year)
    assert_array_equal(inside.ts, np.arange(ns("2020-03-01T12:00"), ns("2020-03-02T12:00"), HOUR))

    opened.clear()
    groups_read.clear()
    across = catalog.read("SPY", "1h", ns("2020-12-31T23:00"), ns("2021-01-01T01:00"))
    assert (opened, groups_read) == (["2020.parquet", "2021.parquet"], [[365], [0]])
    assert across.ts.tolist() == [ns("2020-12-31T23:00"), ns("2021-01-01T00:00")]


# Merge and replace --------------------------------------------------------------------------------
def test_merge_unions_and_new_rows_win(catalog: BarCatalog) -> None:
    t = [ns("2020-06-01") + i * HOUR for i in range(7)]
    catalog.write(make_bars(t[0:5], tag=1000.0))

    stats = catalog.write(make_bars(t[3:7], tag=2000.0), mode="merge")

    got = catalog.read("SPY", "1h")
    assert got.ts.tolist() == t
    hours = [x // HOUR for x in t]
    assert got.open.tolist() == [1000.0 + h for h in hours[:3]] + [2000.0 + h for h in hours[3:]]
    assert got.volume.tolist() == [1100.0] * 3 + [2100.0] * 4
    assert stats == SeriesStats(first_ts=t[0], last_ts=t[6], rows=7)


def test_replace_drops_stored_rows_inside_the_new_range(catalog: BarCatalog) -> None:
    t = [ns("2020-06-01") + i * HOUR for i in range(10)]
    catalog.write(make_bars(t, tag=1000.0))

    stats = catalog.write(make_bars([t[3], t[5]], tag=2000.0), mode="replace")

    got = catalog.read("SPY", "1h")
    assert got.ts.tolist() == t[:4] + t[5:]  # t[4] was inside [t[3], t[5]] and is gone
    assert got.volume.tolist() == [1100.0] * 3 + [2100.0] * 2 + [1100.0] * 4
    assert stats == SeriesStats(first_ts=t[0], last_ts=t[9], rows=9)


def test_replace_deletes_a_year_left_empty(catalog: BarCatalog) -> None:
    catalog.write(make_bars([ns("2019-06-01"), ns("2020-06-01"), ns("2021-06-01")], tag=1000.0))

    stats = catalog.write(make_bars([ns("2019-07-01"), ns("2021-05-01")], tag=2000.0), mode="replace")

    series_dir = catalog.root / "bars" / "SPY" / "1h"
    assert sorted(path.name for path in series_dir.iterdir()) == ["2019.parquet", "2021.parquet"]
    got = catalog.read("SPY", "1h")
    assert got.ts.tolist() == [ns("2019-06-01"), ns("2019-07-01"), ns("2021-05-01"), ns("2021-06-01")]
    assert got.volume.tolist() == [1100.0, 2100.0, 2100.0, 1100.0]
    assert stats == SeriesStats(first_ts=ns("2019-06-01"), last_ts=ns("2021-06-01"), rows=4)


def test_concurrent_writers_of_one_series_lose_nothing(tmp_path: Path) -> None:
    t0 = ns("2020-01-01")
    batches = [make_bars(t0 + np.arange(k, 400, 8, dtype=np.int64) * HOUR, tag=float(k)) for k in range(8)]
    threads = [threading.Thread(target=BarCatalog(tmp_path).write, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    got = BarCatalog(tmp_path).read("SPY", "1h")
    assert_array_equal(got.ts, t0 + np.arange(400, dtype=np.int64) * HOUR)
    assert_array_equal(got.volume, 100.0 + np.arange(400) % 8)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.tuples(st.sets(st.integers(-60, 60), min_size=1, max_size=40), st.sampled_from(["merge", "replace"])),
        min_size=1, max_size=6,
    ),
    window=st.tuples(st.integers(-70, 70), st.integers(-70, 70)),
)
def test_random_batches_read_back_as_the_pandas_union(
    batches: list[tuple[set[int], str]], window: tuple[int, int]
) -> None:
    new_year = ns("2020-01-01")
    reference = pd.DataFrame(columns=list(COLUMNS), dtype=np.float64, index=pd.Index([], dtype=np.int64))
    with tempfile.TemporaryDirectory() as tmp:
        catalog = BarCatalog(Path(tmp), row_group_size=3)
        for tag, (offsets, mode) in enumerate(batches):
            bars = make_bars(new_year + np.array(sorted(offsets), dtype=np.int64) * HOUR, tag=1000.0 * tag)
            frame = pd.DataFrame({c: getattr(bars, c) for c in COLUMNS}, index=pd.Index(bars.ts))
            if mode == "replace":
                reference = reference[(reference.index < bars.ts[0]) | (reference.index > bars.ts[-1])]
            reference = pd.concat([reference, frame])
            reference = reference[~reference.index.duplicated(keep="last")].sort_index()
            stats = catalog.write(bars, mode=mode)  # type: ignore[arg-type]

        assert stats == SeriesStats(int(reference.index[0]), int(reference.index[-1]), len(reference))
        start, end = (new_year + offset * HOUR for offset in window)
        for got, expected in ((catalog.read("SPY", "1h"), reference),
                              (catalog.read("SPY", "1h", start, end),
                               reference[(reference.index >= start) & (reference.index < end)])):
            assert_array_equal(got.ts, expected.index.to_numpy())
            for column in COLUMNS:
                assert_array_equal(getattr(got, column), expected[column].to_numpy())


# Atomicity --------------------------------------------------------------------------------------
def _fail_on_call(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, call: int) -> None:
    original = getattr(owner, name)
    calls = 0

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == call:
            raise OSError(f"injected failure in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.parametrize(
    ("owner", "name", "call"),
    [(pq, "write_table", 2), (os, "link", 2), (os, "replace", 1), (os, "replace", 2), (Path, "unlink", 1)],
    ids=["second-year-write", "second-backup", "first-rename", "second-rename", "emptied-year-delete"],
)
def test_failed_write_leaves_catalog_byte_identical(
    catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch, owner: object, name: str, call: int
) -> None:
    catalog.write(make_bars([ns("2019-12-31T23:00"), ns("2020-01-01T00:00")], tag=1000.0))
    before = snapshot(catalog.root)
    _fail_on_call(monkeypatch, owner, name, call)

    # Rewrites 2019, empties 2020 and creates 2021.
    new = make_bars([ns("2019-12-31T22:00"), ns("2021-01-01T00:00")], tag=2000.0)

    with pytest.raises(OSError, match="injected"):
        catalog.write(new, mode="replace")

    assert snapshot(catalog.root) == before  # no partial year, temp or backup file left behind


def test_failed_first_write_of_a_series_leaves_no_directory(
    catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.write(make_bars([ns("2020-01-01")], symbol="AAPL"))
    _fail_on_call(monkeypatch, pq, "write_table", 1)

    with pytest.raises(OSError, match="injected"):
        catalog.write(make_bars([ns("2020-01-01")], symbol="MSFT"))

    assert catalog.symbols() == ["AAPL"]


# Catalog queries ----------------------------------------------------------------------------------
def test_stats_come_from_footers_only(catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    ts = [ns("2018-05-05"), ns("2019-01-01"), ns("2019-12-31T23:00"), ns("2021-02-03T04:00")]
    catalog.write(make_bars(ts))

    def no_data_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("stats read data pages")

    monkeypatch.setattr(pq, "read_table", no_data_reads)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", no_data_reads)

    assert catalog.stats("SPY", "1h") == SeriesStats(first_ts=ts[0], last_ts=ts[-1], rows=4)


def test_symbols_timeframes_and_delete(catalog: BarCatalog) -> None:
    assert catalog.symbols() == []
    for symbol, timeframe in (("SPY", "1m"), ("SPY", "1d"), ("AAPL", "1d")):
        catalog.write(make_bars([ns("2020-01-01")], symbol=symbol, timeframe=timeframe))
    assert catalog.symbols() == ["AAPL", "SPY"]
    assert catalog.timeframes("SPY") == ["1d", "1m"]

    catalog.delete("SPY", "1m")
    assert catalog.timeframes("SPY") == ["1d"]
    with pytest.raises(NotFound, match="1m bars for 'SPY'"):
        catalog.read("SPY", "1m")

    catalog.delete("AAPL")
    catalog.delete("SPY", "1d")
    assert catalog.symbols() == []
    assert list((catalog.root / "bars").iterdir()) == []
    with pytest.raises(NotFound, match="'AAPL'"):
        catalog.delete("AAPL")
    with pytest.raises(NotFound, match="'AAPL'"):
        catalog.timeframes("AAPL")


# Bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bars", "mode", "field"),
    [
        (make_bars([ns("2020-01-02"), ns("2020-01-01")]), "merge", "ts"),
        (make_bars([ns("2020-01-01"), ns("2020-01-01")]), "merge", "ts"),
        (make_bars([], symbol="SPY"), "merge", "bars"),
        (make_bars([ns("2020-01-01")], symbol="../etc"), "merge", "symbol"),
        (make_bars([ns("2020-01-01")], timeframe="1 minute"), "merge", "timeframe"),
        (make_bars([ns("2020-01-01")]), "append", "mode"),
    ],
)
def test_bad_writes_are_rejected_naming_the_field(catalog: BarCatalog, bars: Bars, mode: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        catalog.write(bars, mode=mode)  # type: ignore[arg-type]

    assert error.value.field == field
    assert not (catalog.root / "bars").exists()


def test_cached_reads_equal_uncached_and_never_serve_a_rewritten_year(tmp_path: Path) -> None:
    cached = BarCatalog(tmp_path / "catalog", row_group_size=100, cache_bytes=1 << 20)
    plain = BarCatalog(tmp_path / "catalog", row_group_size=100)
    ts = np.arange(ns("2023-12-31"), ns("2024-01-02"), 3_600_000_000_000, dtype=np.int64)
    cached.write(make_bars(ts, tag=1.0))
    start, end = int(ts[5]), int(ts[40])
    first = cached.read("SPY", "1h", start, end)
    assert_bars_equal(first, plain.read("SPY", "1h", start, end))
    assert cached.cache.size > 0
    assert_bars_equal(cached.read("SPY", "1h", start, end), first)  # served from the cache
    plain.write(make_bars(ts[10:20], tag=9.0))  # another writer rewrites both years
    after = cached.read("SPY", "1h", start, end)
    assert_bars_equal(after, plain.read("SPY", "1h", start, end))
    assert after.close[10 - 5] != first.close[10 - 5]


@pytest.mark.parametrize("timeframe", ["1h", "1d"])
def test_a_caller_changing_what_it_read_leaves_the_cache_as_stored(tmp_path: Path, timeframe: str) -> None:
    cached = BarCatalog(tmp_path / "catalog", row_group_size=50, cache_bytes=1 << 20)
    step = HOUR if timeframe == "1h" else DAY
    ts = np.arange(ns("2020-01-01"), ns("2020-01-01") + 200 * step, step, dtype=np.int64)
    cached.write(make_bars(ts, tag=1.0, timeframe=timeframe))
    for start, end in ((None, None), (int(ts[10]), int(ts[20])), (int(ts[45]), int(ts[120]))):
        got = cached.read("SPY", timeframe, start, end)
        for name in ("ts", *COLUMNS):
            getattr(got, name)[:] = -1
        assert_bars_equal(cached.read("SPY", timeframe, start, end),
                          BarCatalog(tmp_path / "catalog").read("SPY", timeframe, start, end))


def test_row_group_cache_stays_within_its_byte_budget() -> None:
    cache = catalog_module.RowGroupCache(capacity=1000)
    for key in range(50):
        cache.put(key, object(), 300)
        assert cache.size <= 1000
    assert cache.get(49) is not None and cache.get(0) is None
    cache.put("huge", object(), 5000)  # larger than the budget: not kept
    assert cache.get("huge") is None


# Partition layout by timeframe --------------------------------------------------------------------
def frame_of(bars: Bars) -> pd.DataFrame:
    return pd.DataFrame({c: getattr(bars, c) for c in COLUMNS}, index=pd.Index(bars.ts))


def assert_bars_match_frame(got: Bars, expected: pd.DataFrame) -> None:
    assert_array_equal(got.ts, expected.index.to_numpy())
    for column in COLUMNS:
        assert_array_equal(getattr(got, column), expected[column].to_numpy(), err_msg=column)


def daily(first: str, last: str, tag: float = 0.0, symbol: str = "SPY", timeframe: str = "1d") -> Bars:
    return make_bars(np.arange(ns(first), ns(last) + 1, DAY, dtype=np.int64), tag=tag, symbol=symbol,
                     timeframe=timeframe)


def write_legacy_years(root: Path, bars: Bars) -> None:
    """Lay ``bars`` out the way the catalog did before series files: one file per UTC year."""
    series_dir = root / "bars" / bars.symbol / bars.timeframe
    series_dir.mkdir(parents=True)
    table = bars.to_arrow()
    years = pd.DatetimeIndex(pd.to_datetime(bars.ts, unit="ns")).year.to_numpy()
    for year in np.unique(years):
        rows = np.flatnonzero(years == year)
        pq.write_table(table.slice(int(rows[0]), len(rows)), series_dir / f"{year:04d}.parquet",
                       row_group_size=4, write_statistics=["ts"], use_dictionary=False)


def listing(catalog: BarCatalog, symbol: str, timeframe: str) -> list[str]:
    return sorted(path.name for path in (catalog.root / "bars" / symbol / timeframe).iterdir())


@pytest.mark.parametrize(("timeframe", "files"), [
    ("1h", ["2019.parquet", "2020.parquet", "2021.parquet"]),
    ("23h", ["2019.parquet", "2020.parquet", "2021.parquet"]),
    ("1d", ["series.parquet"]),
    ("1w", ["series.parquet"]),
])
def test_daily_and_longer_series_are_one_file_intraday_one_per_year(
    catalog: BarCatalog, timeframe: str, files: list[str]
) -> None:
    bars = daily("2019-12-30", "2021-01-02", timeframe=timeframe)

    stats = catalog.write(bars)

    assert listing(catalog, "SPY", timeframe) == files
    assert whole_series(timeframe) is (files == ["series.parquet"])
    assert stats == SeriesStats(first_ts=int(bars.ts[0]), last_ts=int(bars.ts[-1]), rows=len(bars))
    assert_bars_equal(catalog.read("SPY", timeframe), bars)
    if files == ["series.parquet"]:
        metadata = pq.read_metadata(catalog.root / "bars" / "SPY" / timeframe / "series.parquet")
        n = len(bars)
        assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [4] * (n // 4) + [n % 4]


@pytest.mark.parametrize("layout", ["series", "legacy"])
@settings(max_examples=40, deadline=None)
@given(window=st.tuples(st.integers(-800, 800), st.integers(-800, 800)))
def test_daily_range_reads_across_year_edges_match_pandas(layout: str, window: tuple[int, int]) -> None:
    bars = daily("2018-12-25", "2021-01-05", tag=3.0)
    start, end = (ns("2020-01-01") + offset * DAY + offset % 3 * HOUR for offset in window)
    reference = frame_of(bars)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = BarCatalog(Path(tmp), row_group_size=5)
        if layout == "series":
            catalog.write(bars)
        else:
            write_legacy_years(Path(tmp), bars)

        got = catalog.read("SPY", "1d", start, end)

    assert_bars_match_frame(got, reference[(reference.index >= start) & (reference.index < end)])


def test_bounded_daily_read_opens_only_the_series_file(
    catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.write(daily("2000-01-01", "2023-12-31"))

    def no_listing(path: object) -> None:
        raise AssertionError(f"a bounded read listed {path}")

    monkeypatch.setattr(catalog_module.os, "scandir", no_listing)
    got = catalog.read("SPY", "1d", ns("2010-12-30"), ns("2011-01-03"))

    assert got.ts.tolist() == [ns("2010-12-30"), ns("2010-12-31"), ns("2011-01-01"), ns("2011-01-02")]


# Legacy year files for daily series ---------------------------------------------------------------
@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_legacy_daily_years_are_read_then_migrated_by_a_write(tmp_path: Path, mode: str) -> None:
    old = daily("2017-12-20", "2020-01-10", tag=1000.0)
    write_legacy_years(tmp_path, old)
    catalog = BarCatalog(tmp_path, row_group_size=4)
    assert listing(catalog, "SPY", "1d") == ["2017.parquet", "2018.parquet", "2019.parquet", "2020.parquet"]
    assert_bars_equal(catalog.read("SPY", "1d"), old)
    assert catalog.stats("SPY", "1d") == SeriesStats(int(old.ts[0]), int(old.ts[-1]), len(old))
    assert [part.name for part in catalog.version("SPY", "1d")] == listing(catalog, "SPY", "1d")

    new = make_bars(np.array([ns("2018-06-01T12:00"), ns("2019-03-03"), ns("2020-02-01")]), tag=2000.0,
                    timeframe="1d")
    stats = catalog.write(new, mode=mode)

    reference = frame_of(old)
    if mode == "replace":
        reference = reference[(reference.index < new.ts[0]) | (reference.index > new.ts[-1])]
    reference = pd.concat([reference, frame_of(new)])
    reference = reference[~reference.index.duplicated(keep="last")].sort_index()
    assert listing(catalog, "SPY", "1d") == ["series.parquet"]
    assert_bars_match_frame(catalog.read("SPY", "1d"), reference)
    assert stats == SeriesStats(int(reference.index[0]), int(reference.index[-1]), len(reference))
    assert len(catalog.read("SPY", "1d", ns("2019-01-01"), ns("2019-04-01"))) == len(
        reference[(reference.index >= ns("2019-01-01")) & (reference.index < ns("2019-04-01"))])


@pytest.mark.parametrize(
    ("owner", "name", "call"),
    [(pq, "write_table", 1), (os, "link", 3), (os, "replace", 1), (Path, "unlink", 1), (Path, "unlink", 3)],
    ids=["stage", "third-backup", "series-rename", "first-year-delete", "third-year-delete"],
)
def test_failed_migration_leaves_the_legacy_years_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: object, name: str, call: int
) -> None:
    old = daily("2017-12-20", "2020-01-10", tag=1000.0)
    write_legacy_years(tmp_path, old)
    catalog = BarCatalog(tmp_path, row_group_size=4)
    before = snapshot(tmp_path / "bars")
    _fail_on_call(monkeypatch, owner, name, call)

    with pytest.raises(OSError, match="injected"):
        catalog.write(daily("2019-06-01", "2019-06-03", tag=2000.0))

    assert snapshot(tmp_path / "bars") == before  # no series, temp or backup file left behind
    monkeypatch.undo()
    assert_bars_equal(catalog.read("SPY", "1d"), old)


@pytest.mark.parametrize(("owner", "name", "call"), [(pq, "write_table", 1), (os, "link", 1), (os, "replace", 1)],
                         ids=["stage", "backup", "rename"])
def test_failed_series_file_rewrite_leaves_it_byte_identical(
    catalog: BarCatalog, monkeypatch: pytest.MonkeyPatch, owner: object, name: str, call: int
) -> None:
    catalog.write(daily("2019-01-01", "2021-12-31", tag=1000.0))
    before = snapshot(catalog.root)
    version = catalog.version("SPY", "1d")
    _fail_on_call(monkeypatch, owner, name, call)

    with pytest.raises(OSError, match="injected"):
        catalog.write(daily("2020-06-01", "2022-06-01", tag=2000.0), mode="replace")

    assert snapshot(catalog.root) == before
    assert catalog.version("SPY", "1d") == version


def test_a_read_racing_a_migration_reads_the_migrated_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = daily("2017-12-20", "2020-01-10", tag=1000.0)
    write_legacy_years(tmp_path, old)
    reader, writer = BarCatalog(tmp_path), BarCatalog(tmp_path)
    new = daily("2019-12-30", "2020-01-20", tag=2000.0)
    read_file = BarCatalog._read_file
    migrated: list[bool] = []

    def migrate_after_the_first_year(self: BarCatalog, path: Path, *args: object) -> object:
        table = read_file(self, path, *args)
        if path.name == "2017.parquet" and not migrated:
            migrated.append(True)
            writer.write(new)  # the later year files vanish before this read reaches them
        return table

    monkeypatch.setattr(BarCatalog, "_read_file", migrate_after_the_first_year)
    got = reader.read("SPY", "1d")

    reference = pd.concat([frame_of(old), frame_of(new)])
    assert migrated and listing(writer, "SPY", "1d") == ["series.parquet"]
    assert_bars_match_frame(got, reference[~reference.index.duplicated(keep="last")].sort_index())


# Versions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("timeframe", ["1h", "1d"])
def test_version_changes_on_every_write_and_only_for_rewritten_partitions(
    catalog: BarCatalog, timeframe: str
) -> None:
    assert catalog.version("SPY", timeframe) == ()
    ts = np.array([ns("2019-06-01"), ns("2020-06-01")], dtype=np.int64)
    catalog.write(make_bars(ts, timeframe=timeframe))
    seen = [catalog.version("SPY", timeframe)]
    for tag in range(1, 25):  # same size, same names, in a tight loop: inodes and mtime ticks may repeat
        catalog.write(make_bars(ts[1:], tag=float(tag), timeframe=timeframe))
        seen.append(catalog.version("SPY", timeframe))

    assert len(set(seen)) == len(seen)
    names = [part.name for part in seen[-1]]
    files = catalog.root / "bars" / "SPY" / timeframe
    assert names == sorted(path.name for path in files.iterdir())
    for part in seen[-1]:
        st_ = os.stat(files / part.name)
        assert (part.inode, part.mtime_ns, part.size) == (st_.st_ino, st_.st_mtime_ns, st_.st_size)
    if timeframe == "1h":  # the 2019 year file was never rewritten
        assert {version[0] for version in seen} == {seen[0][0]}
        assert [part.start_ns for part in seen[-1]] == [ns("2019-01-01"), ns("2020-01-01")]
    else:
        assert [part.start_ns for part in seen[-1]] == [np.iinfo(np.int64).min]
    catalog.delete("SPY", timeframe)
    assert catalog.version("SPY", timeframe) == ()


def test_feature_cache_finds_the_earliest_changed_partition(catalog: BarCatalog) -> None:
    catalog.write(make_bars(np.array([ns("2019-06-01"), ns("2020-06-01")])))
    catalog.write(make_bars(np.array([ns("2019-06-01")]), timeframe="1d"))
    before = series_version(catalog, "SPY")
    catalog.write(make_bars(np.array([ns("2021-06-01")])))  # a new year file
    after_append = series_version(catalog, "SPY")
    catalog.write(make_bars(np.array([ns("2020-07-01")])))  # rewrites 2020
    after_edit = series_version(catalog, "SPY")
    catalog.write(make_bars(np.array([ns("2019-07-01")]), timeframe="1d"))  # the daily series file

    assert set(before) == {"1d", "1h"} and series_version(catalog, "QQQ") == {}
    assert changed_since(before, after_append) == ns("2021-01-01")
    assert changed_since(before, after_edit) == ns("2020-01-01")
    assert changed_since(after_edit, series_version(catalog, "SPY")) is None


@pytest.mark.parametrize("timeframe", ["1h", "1d"])
def test_reads_return_writeable_contiguous_arrays(catalog: BarCatalog, timeframe: str) -> None:
    """Arrow's zero-copy views are read-only; numba would compile every kernel again for those."""
    n = 300
    ts = (np.arange(n, dtype=np.int64) + 19_000 * (24 if timeframe == "1h" else 1)) * (
        3_600 if timeframe == "1h" else 86_400) * 10**9
    close = 100.0 + np.arange(n) * 0.1
    catalog.write(Bars(symbol="RO", timeframe=timeframe, ts=ts, open=close, high=close + 1, low=close - 1,
                       close=close, volume=np.ones(n)))
    for bars in (catalog.read("RO", timeframe), catalog.read("RO", timeframe, int(ts[10]), int(ts[200]))):
        for name in ("ts", *COLUMNS):
            arr = getattr(bars, name)
            assert arr.flags.writeable and arr.flags.c_contiguous, name


def test_bars_json_is_the_columnar_document_in_epoch_ms_with_nan_as_null() -> None:
    bars = make_bars([ns("2024-01-02T09:30"), ns("2024-01-02T10:30")], tag=1.5)
    bars.volume[1] = np.nan
    doc = json.loads(bars.to_json())
    assert doc == {
        "symbol": "SPY", "timeframe": "1h", "count": 2,
        "t": [int(pd.Timestamp("2024-01-02T09:30Z").timestamp() * 1000),
              int(pd.Timestamp("2024-01-02T10:30Z").timestamp() * 1000)],
        **{c: [float(v) for v in getattr(bars, c)] for c in ("open", "high", "low", "close")},
        "volume": [float(bars.volume[0]), None],
    }
    assert json.loads(Bars.empty("X", "1d").to_json())["count"] == 0
