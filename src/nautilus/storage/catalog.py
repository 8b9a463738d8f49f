"""The Parquet bar catalog: ``{root}/bars/{SYMBOL}/{timeframe}/{YYYY}.parquet``.

One file per UTC calendar year per series; rows sorted by unique ``ts`` and written in fixed-size
row groups with statistics. A range read opens only the year files the range covers and reads only
the row groups whose ``ts`` min/max overlap it, so its cost does not grow with the catalog.
A write rewrites the affected years into temporary files and renames them into place only once all
of them are written; writers of one series are serialised within a process.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nautilus.core.bars import ARROW_SCHEMA, COLUMNS, Bars
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.timeframe import validate_timeframe

WriteMode = Literal["merge", "replace"]

ROW_GROUP_SIZE: Final = 65_536
_SYMBOL: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-=^]{0,63}$")
_YEAR_FILE: Final = re.compile(r"^([0-9]{4})\.parquet$")
_TS_COLUMN: Final = ARROW_SCHEMA.get_field_index("ts")

_locks_guard = threading.Lock()
_locks: dict[tuple[Path, str, str], threading.Lock] = {}


class SeriesStats(msgspec.Struct, frozen=True):
    """Extent of one series: first and last bar open time (int64 ns UTC) and the row count."""

    first_ts: int
    last_ts: int
    rows: int


def _year_of(ts: int) -> int:
    return int(np.datetime64(ts, "ns").astype("datetime64[Y]").astype(np.int64)) + 1970


def _year_start(year: int) -> int:
    return int(np.datetime64(f"{year:04d}-01-01", "ns").astype(np.int64))


def _validate_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise InvalidInput(
            f"symbol {symbol!r} is not valid: use 1-64 letters, digits or . _ - = ^", field="symbol"
        )
    return symbol


def _validate_bars(bars: Bars) -> None:
    _validate_symbol(bars.symbol)
    validate_timeframe(bars.timeframe)
    if len(bars) == 0:
        raise InvalidInput("bars is empty: nothing to write", field="bars")
    if bars.ts.dtype != np.int64:
        raise InvalidInput(f"ts must be int64 nanoseconds, got {bars.ts.dtype}", field="ts")
    for column in COLUMNS:
        if getattr(bars, column).shape != bars.ts.shape:
            raise InvalidInput(f"{column} has {getattr(bars, column).shape} values, ts has {bars.ts.shape}",
                               field=column)
    if np.any(np.diff(bars.ts) <= 0):
        raise InvalidInput("ts must be strictly increasing", field="ts")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _row_group_bounds(metadata: pq.FileMetaData, group: int) -> tuple[int, int]:
    stats = metadata.row_group(group).column(_TS_COLUMN).statistics
    return stats.min_raw, stats.max_raw


class BarCatalog:
    """Bars partitioned by symbol, timeframe and UTC year under ``root / "bars"``."""

    def __init__(self, root: Path, row_group_size: int = ROW_GROUP_SIZE, cache_bytes: int = 0) -> None:
        self.root = Path(root)
        self.bars_dir = self.root / "bars"
        self.row_group_size = row_group_size
        self.cache = RowGroupCache(cache_bytes)

    # Paths and locks --------------------------------------------------------------------------------
    def _series_dir(self, symbol: str, timeframe: str) -> Path:
        return self.bars_dir / _validate_symbol(symbol) / validate_timeframe(timeframe)

    def _existing_series_dir(self, symbol: str, timeframe: str) -> Path:
        path = self._series_dir(symbol, timeframe)
        if not path.parent.is_dir():
            raise NotFound(f"symbol {symbol!r} is not in the catalog", field="symbol")
        if not path.is_dir():
            raise NotFound(f"no {timeframe} bars for {symbol!r} in the catalog", field="timeframe")
        return path

    def _years(self, series_dir: Path) -> list[int]:
        matches = (_YEAR_FILE.match(entry.name) for entry in os.scandir(series_dir))
        return sorted(int(match.group(1)) for match in matches if match)

    @contextmanager
    def _lock(self, symbol: str, timeframe: str) -> Iterator[None]:
        """Serialise writers of one series: a thread lock in this process, flock across processes."""
        key = (self.root.resolve(), symbol, timeframe)
        with _locks_guard:
            thread_lock = _locks.setdefault(key, threading.Lock())
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with thread_lock, open(lock_dir / f"{symbol}.{timeframe}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    # Write ------------------------------------------------------------------------------------------
    def write(self, bars: Bars, mode: WriteMode = "merge") -> SeriesStats:
        """Store ``bars``; returns the extent of the whole series afterwards.

        ``merge`` unions with the stored rows (the new row wins on an equal ``ts``); ``replace``
        drops the stored rows inside ``[bars.ts[0], bars.ts[-1]]`` first. Either every affected
        year file changes or, on any error, none does.
        """
        if mode not in ("merge", "replace"):
            raise InvalidInput(f"mode {mode!r} is not one of merge, replace", field="mode")
        _validate_bars(bars)
        series_dir = self._series_dir(bars.symbol, bars.timeframe)
        with self._lock(bars.symbol, bars.timeframe):
            tables = self._updated_years(series_dir, bars, mode)
            series_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._commit(series_dir, tables)
            finally:
                self._remove_if_empty(series_dir)
            return self._stats(series_dir)

    def _updated_years(self, series_dir: Path, bars: Bars, mode: WriteMode) -> dict[int, pa.Table]:
        """The new content of every year file the write changes (an empty table deletes the year)."""
        first, last = int(bars.ts[0]), int(bars.ts[-1])
        incoming = bars.to_arrow()
        tables: dict[int, pa.Table] = {}
        for year in range(_year_of(first), _year_of(last) + 1):
            lo, hi = np.searchsorted(bars.ts, [_year_start(year), _year_start(year + 1)])
            new = incoming.slice(lo, hi - lo)
            path = series_dir / f"{year:04d}.parquet"
            if not path.exists():
                if len(new):
                    tables[year] = new
                continue
            if mode == "merge" and not len(new):
                continue
            stored = pq.read_table(path, schema=ARROW_SCHEMA)
            kept = stored.filter(_outside(stored, new, first, last, mode))
            if len(new) or len(kept) != len(stored):
                tables[year] = pa.concat_tables([kept, new]).sort_by("ts")
        return tables

    def _commit(self, series_dir: Path, tables: dict[int, pa.Table]) -> None:
        """Stage every year in a temp file, then swap them all in; roll back on any error.

        Each replaced file is hard-linked to a backup first, so a failure part-way through the
        renames restores the previous files and readers never see a year file missing.
        """
        staged = self._stage(series_dir, tables)
        existed = {target for target in staged if target.exists()}
        backups: dict[Path, Path] = {}
        try:
            for target in existed:
                backup = _sibling(target, "bak")
                os.link(target, backup)
                backups[target] = backup
            for target, temp in staged.items():
                if temp is None:
                    target.unlink()
                else:
                    os.replace(temp, target)
        except BaseException:
            _roll_back(staged, existed, backups)
            raise
        finally:
            for backup in backups.values():
                backup.unlink(missing_ok=True)

    def _stage(self, series_dir: Path, tables: dict[int, pa.Table]) -> dict[Path, Path | None]:
        """Write each non-empty table to a temp file; map year file -> temp (None: delete it)."""
        staged: dict[Path, Path | None] = {}
        try:
            for year, table in tables.items():
                target = series_dir / f"{year:04d}.parquet"
                staged[target] = _sibling(target, "tmp") if len(table) else None
                if len(table):
                    self._write_file(table, staged[target])
        except BaseException:
            _remove_temps(staged)
            raise
        return staged

    def _write_file(self, table: pa.Table, path: Path) -> None:
        pq.write_table(
            table.combine_chunks(),
            path,
            row_group_size=self.row_group_size,
            write_statistics=["ts"],
            use_dictionary=False,
            sorting_columns=[pq.SortingColumn(_TS_COLUMN)],
        )
        _fsync(path)

    # Read -------------------------------------------------------------------------------------------
    def read(self, symbol: str, timeframe: str, start_ns: int | None = None,
             end_ns: int | None = None) -> Bars:
        """Bars with ``start_ns <= ts < end_ns`` (either bound may be None for open-ended)."""
        series_dir = self._existing_series_dir(symbol, timeframe)
        start = np.iinfo(np.int64).min if start_ns is None else int(start_ns)
        end = np.iinfo(np.int64).max if end_ns is None else int(end_ns)
        if start >= end:
            return Bars.empty(symbol, timeframe)
        tables = [
            table
            for year in self._years_in_range(series_dir, start_ns, end_ns)
            if (table := self._read_year(series_dir / f"{year:04d}.parquet", start, end)) is not None
        ]
        if not tables:
            return Bars.empty(symbol, timeframe)
        bars = Bars.from_arrow(pa.concat_tables(tables), symbol, timeframe)
        lo, hi = (int(i) for i in np.searchsorted(bars.ts, [start, end]))
        result = bars.slice(lo, hi)
        if 2 * (hi - lo) < len(bars):  # own the rows: don't pin whole row groups for a small range
            result = result.copy()
        return result

    def _years_in_range(self, series_dir: Path, start_ns: int | None, end_ns: int | None) -> list[int]:
        """Years a range covers; only an open-ended range needs the directory listing."""
        if start_ns is not None and end_ns is not None:
            return list(range(_year_of(int(start_ns)), _year_of(int(end_ns) - 1) + 1))
        first = -1 if start_ns is None else _year_of(int(start_ns))
        last = 10_000 if end_ns is None else _year_of(int(end_ns) - 1)
        return [year for year in self._years(series_dir) if first <= year <= last]

    def _read_year(self, path: Path, start: int, end: int) -> pa.Table | None:
        """Overlapping row groups of one year file, through the cache when it is on.

        Cache keys carry the file's inode and mtime, so a rewritten year (a new file renamed into
        place) is never served stale.
        """
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        version = (str(path), st.st_ino, st.st_mtime_ns)
        cache = self.cache
        metadata = cache.get((version, "meta")) if cache.capacity else None
        parquet: pq.ParquetFile | None = None
        try:
            if metadata is None:
                parquet = pq.ParquetFile(path)
                metadata = parquet.metadata
                if cache.capacity:
                    cache.put((version, "meta"), metadata, 4096)
            groups = [g for g in range(metadata.num_row_groups)
                      if _overlaps(_row_group_bounds(metadata, g), start, end)]
            if not groups:
                return None
            if not cache.capacity:
                assert parquet is not None
                return parquet.read_row_groups(groups, use_threads=False)
            tables = []
            for group in groups:
                table = cache.get((version, group))
                if table is None:
                    if parquet is None:
                        parquet = pq.ParquetFile(path)
                    table = parquet.read_row_group(group, use_threads=False)
                    cache.put((version, group), table, table.nbytes)
                tables.append(table)
            return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        finally:
            if parquet is not None:
                parquet.close()

    # Catalog queries --------------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        if not self.bars_dir.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(self.bars_dir) if entry.is_dir()
                      and not entry.name.startswith("."))

    def timeframes(self, symbol: str) -> list[str]:
        symbol_dir = self.bars_dir / _validate_symbol(symbol)
        if not symbol_dir.is_dir():
            raise NotFound(f"symbol {symbol!r} is not in the catalog", field="symbol")
        return sorted(entry.name for entry in os.scandir(symbol_dir) if entry.is_dir())

    def stats(self, symbol: str, timeframe: str) -> SeriesStats:
        """Extent of a series from Parquet footers only (no data pages are read)."""
        return self._stats(self._existing_series_dir(symbol, timeframe))

    def _stats(self, series_dir: Path) -> SeriesStats:
        years = self._years(series_dir)
        if not years:
            raise NotFound(f"no bars stored under {series_dir}", field="timeframe")
        metadata = [pq.read_metadata(series_dir / f"{year:04d}.parquet") for year in years]
        first_ts, _ = _row_group_bounds(metadata[0], 0)
        _, last_ts = _row_group_bounds(metadata[-1], metadata[-1].num_row_groups - 1)
        return SeriesStats(first_ts=first_ts, last_ts=last_ts, rows=sum(m.num_rows for m in metadata))

    def delete(self, symbol: str, timeframe: str | None = None) -> None:
        """Remove one series, or every series of ``symbol`` when ``timeframe`` is None."""
        if timeframe is None:
            timeframes = self.timeframes(symbol)
        else:
            self._existing_series_dir(symbol, timeframe)
            timeframes = [timeframe]
        with ExitStack() as locks:
            for name in timeframes:
                locks.enter_context(self._lock(symbol, name))
            for name in timeframes:
                shutil.rmtree(self._series_dir(symbol, name))
            self._remove_if_empty(self.bars_dir / symbol)

    def _remove_if_empty(self, directory: Path) -> None:
        """Remove ``directory``, then its parent, while they are empty (``bars`` itself stays)."""
        for path in (directory, directory.parent):
            if path == self.bars_dir or not path.is_dir() or any(path.iterdir()):
                return
            path.rmdir()


def _sibling(target: Path, kind: str) -> Path:
    """A hidden, unique file next to ``target`` (ignored by readers and listings)."""
    return target.with_name(f".{target.stem}.{uuid.uuid4().hex}.{kind}")


def _remove_temps(staged: dict[Path, Path | None]) -> None:
    for temp in staged.values():
        if temp is not None:
            temp.unlink(missing_ok=True)


def _roll_back(staged: dict[Path, Path | None], existed: set[Path], backups: dict[Path, Path]) -> None:
    """Remove temp files and restore every year file as it was (removing years that were new)."""
    _remove_temps(staged)
    for target in staged:
        if target in backups:
            os.replace(backups[target], target)
        elif target not in existed:
            target.unlink(missing_ok=True)


def _outside(stored: pa.Table, new: pa.Table, first: int, last: int, mode: WriteMode) -> pa.Array:
    """Mask of the stored rows a write keeps: merge drops equal ts, replace drops [first, last]."""
    if mode == "merge":
        return pc.invert(pc.is_in(stored["ts"], value_set=new["ts"].combine_chunks()))
    ts = stored["ts"].cast(pa.int64())
    return pc.or_(pc.less(ts, first), pc.greater(ts, last))


def _overlaps(bounds: tuple[int, int], start: int, end: int) -> bool:
    low, high = bounds
    return high >= start and low < end


class RowGroupCache:
    """A byte-bounded LRU of decoded row groups and footers (capacity 0 turns it off)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._items: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: object, value: object, nbytes: int) -> None:
        if nbytes > self.capacity:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._items[key] = (value, nbytes)
            self.size += nbytes
            while self.size > self.capacity:
                _, (_, evicted) = self._items.popitem(last=False)
                self.size -= evicted
