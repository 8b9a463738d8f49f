"""Cached feature matrices, keyed by (feature-set digest, symbol, timeframe, range), with the
catalog version they were computed from.

A symbol's version is :meth:`BarCatalog.version` of each of its stored timeframes (resampled reads
use finer ones): every catalog write changes the entries of the partition files it rewrote. An
entry whose version still matches is served as is; otherwise only rows from the start of the
earliest changed partition on can differ (:func:`changed_since`), and an entry whose rows there
are unchanged is extended by computing just the new tail.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import NotFound

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog, PartitionVersion

Version = dict[str, tuple["PartitionVersion", ...]]  # timeframe -> BarCatalog.version(symbol, timeframe)

CacheKey = tuple[str, str, str, int | None, int | None, int | None]


def series_version(catalog: BarCatalog, symbol: str) -> Version:
    """The catalog version of every timeframe stored for ``symbol`` (empty when none is)."""
    try:
        timeframes = catalog.timeframes(symbol)
    except NotFound:
        return {}
    return {tf: catalog.version(symbol, tf) for tf in timeframes}


def changed_since(old: Version, new: Version) -> int | None:
    """Start of the earliest partition that differs between ``old`` and ``new`` (added, removed or
    rewritten); rows before it are unchanged. None when that partition has no lower bound (a
    whole-series file) or nothing differs: then any row may have changed."""
    starts = [part.start_ns for tf in old.keys() | new.keys()
              for part in set(old.get(tf, ())) ^ set(new.get(tf, ()))]
    since = min(starts, default=None)
    return None if since is None or since == np.iinfo(np.int64).min else since


def same_rows(a: Bars, b: Bars) -> bool:
    return len(a) == len(b) and np.array_equal(a.ts, b.ts) and all(
        np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True) for c in COLUMNS)


@dataclass
class Entry:
    versions: dict[str, Version]  # symbol -> version, for the symbol and its cross-asset symbols
    bars: Bars
    X: np.ndarray
    y: np.ndarray
    skip: int = 0  # leading rows of warm-up bars before the requested range (computed, never returned)

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
