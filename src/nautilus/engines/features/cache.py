"""Cached feature matrices, keyed by (feature-set digest, symbol, timeframe, range), with the
catalog version they were computed from.

A series' version is the (name, inode, mtime, size) of every Parquet year file stored for the
symbol (the catalog rewrites a year by renaming a new file into place, so any write changes it).
An entry whose version still matches is served as is; one whose only changes are in its last
year or later, with the rows it holds unchanged, is extended by computing just the new tail.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nautilus.core.bars import COLUMNS, Bars

FileVersion = tuple[int, int, int]  # inode, mtime ns, size
Version = dict[str, FileVersion]  # "timeframe/YYYY.parquet" -> FileVersion

CacheKey = tuple[str, str, str, int | None, int | None, int | None]


def series_version(bars_dir: Path, symbol: str) -> Version:
    """Year files stored for ``symbol`` under every timeframe (resampled reads use finer ones)."""
    out: Version = {}
    try:
        timeframes = list(os.scandir(bars_dir / symbol))
    except FileNotFoundError:
        return out
    for tf in timeframes:
        if not tf.is_dir():
            continue
        for entry in os.scandir(tf.path):
            if entry.name.endswith(".parquet") and not entry.name.startswith("."):
                st = entry.stat()
                out[f"{tf.name}/{entry.name}"] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def year_of(ts: int) -> int:
    return int(np.datetime64(int(ts), "ns").astype("datetime64[Y]").astype(np.int64)) + 1970


def year_start_ns(year: int) -> int:
    return int(np.datetime64(f"{year:04d}-01-01", "ns").astype(np.int64))


def only_recent_changed(old: Version, new: Version, last_year: int) -> bool:
    """True when every file of a year before ``last_year`` is unchanged and none disappeared."""
    for name, version in old.items():
        if name not in new:
            return False
        if int(name.rsplit("/", 1)[1][:4]) < last_year and new[name] != version:
            return False
    return all(int(name.rsplit("/", 1)[1][:4]) >= last_year for name in new.keys() - old.keys())


def same_rows(a: Bars, b: Bars) -> bool:
    return len(a) == len(b) and np.array_equal(a.ts, b.ts) and all(
        np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True) for c in COLUMNS)


def concat_bars(head: Bars, tail: Bars) -> Bars:
    return Bars(symbol=head.symbol, timeframe=head.timeframe, ts=np.concatenate([head.ts, tail.ts]),
                **{c: np.concatenate([getattr(head, c), getattr(tail, c)]) for c in COLUMNS})


@dataclass
class Entry:
    versions: dict[str, Version]  # symbol -> version, for the symbol and its cross-asset symbols
    bars: Bars
    X: np.ndarray
    y: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.X.nbytes + self.y.nbytes + self.bars.ts.nbytes * (1 + len(COLUMNS)))


class FeatureCache:
    """A byte-bounded LRU of :class:`Entry` (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
            return entry

    def put(self, key: CacheKey, entry: Entry) -> None:
        nbytes = entry.nbytes
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old.nbytes
            if nbytes > self.max_bytes:
                return
            self._items[key] = entry
            self.size += nbytes
            while self.size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self.size -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._items)
