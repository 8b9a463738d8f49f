"""Features engine: saved feature sets, and point-in-time feature matrices over catalog bars.

Orchestration only: the math lives in :mod:`nautilus.features`; bars come from the Parquet catalog
through the MarketData query; results are cached per (feature-set digest, symbol, timeframe,
range) and kept in step with the catalog (see :mod:`.cache`): unchanged data is served from the
cache, appended bars are computed incrementally, anything else is recomputed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from nautilus.config import Settings
from nautilus.core.admission import admit
from nautilus.core.bars import Bars, concat_bars
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.talib_loader import preload_talib
from nautilus.core.timeframe import timeframe_ns
from nautilus.engines.base import StorageEngine
from nautilus.engines.features.cache import (
    CacheKey,
    Entry,
    FeatureCache,
    changed_since,
    same_rows,
    series_version,
)
from nautilus.engines.features.messages import (
    ComputeReply,
    ComputeRequest,
    FeatureSetInfo,
    FeatureSetList,
    FeatureSetName,
    SaveFeatureSetRequest,
)
from nautilus.engines.features.store import FeatureSetStore
from nautilus.engines.features.warm import read_warm
from nautilus.runtime.engine import handler
from nautilus.storage.bars import bars_extent, read_bars

if TYPE_CHECKING:  # nautilus.features loads its kernels (numba): imported by the first request, not at start
    from nautilus.features import FeatureSet

MAX_SYMBOLS = 5_000
CACHE_BYTES = 512 * 2**20
WORKERS = 2  # threads computing symbols of one request


def _info(fs: FeatureSet, builtin: bool) -> FeatureSetInfo:
    return FeatureSetInfo(name=fs.name, description=fs.description, builtin=builtin, digest=fs.digest(),
                          lookback=fs.lookback, horizon=fs.horizon, feature_names=fs.feature_names,
                          target_names=fs.target_names, definition=fs.to_dict(), warmup=fs.warmup)


class FeaturesEngine(StorageEngine):
    name = "features"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        assert settings.data_dir is not None
        self.store = FeatureSetStore(settings.data_dir / "features")
        self.cache = FeatureCache(CACHE_BYTES)

    def start(self) -> None:
        super().start()
        preload_talib()  # before the host serves: TA-Lib without its pandas/polars wrappers (~5 MB, not ~120)

    # Feature sets -------------------------------------------------------------------------------
    @handler
    def list_feature_sets(self) -> FeatureSetList:
        from nautilus.features import builtin_feature_sets

        items: list[dict[str, Any]] = []
        for name in [*builtin_feature_sets(), *self.store.names()]:
            fs, builtin = self.store.get(name)
            items.append({"name": fs.name, "description": fs.description, "builtin": builtin,
                          "features": len(fs.features), "targets": fs.target_names, "digest": fs.digest()})
        return FeatureSetList(items=items)

    @handler
    def get_feature_set(self, req: FeatureSetName) -> FeatureSetInfo:
        return _info(*self.store.get(req.name))

    @handler(idempotent=False)
    def save_feature_set(self, req: SaveFeatureSetRequest) -> FeatureSetInfo:
        fs = self.store.save(req.name, req.definition)
        self.bus.publish("features.set.saved", {"name": fs.name, "digest": fs.digest()})
        return _info(fs, False)

    @handler(idempotent=False)
    def delete_feature_set(self, req: FeatureSetName) -> FeatureSetName:
        self.store.delete(req.name)
        return req

    # Compute ------------------------------------------------------------------------------------
    def _resolve(self, req: ComputeRequest) -> FeatureSet:
        if (req.name is None) == (req.definition is None):
            raise InvalidInput("give either name (a saved or built-in set) or definition", field="name")
        if req.name is not None:
            return self.store.get(req.name)[0]
        from nautilus.features.spec import inline_feature_set

        return inline_feature_set(req.definition)

    @handler
    def compute(self, req: ComputeRequest) -> ComputeReply:
        started = time.perf_counter()
        fs = self._resolve(req)
        timeframe_ns(req.timeframe)
        if not req.symbols:
            raise InvalidInput("give at least one symbol", field="symbols")
        if len(req.symbols) > MAX_SYMBOLS:
            raise InvalidInput(f"at most {MAX_SYMBOLS} symbols per request", field="symbols")
        symbols = sorted({normalize_symbol(s) for s in req.symbols})
        self._admit(fs, symbols, req)
        others = {s: self._read_warm(normalize_symbol(s), req, fs.warmup)[0] for s in fs.cross_symbols}
        digest = fs.digest()

        def one(symbol: str) -> tuple[Entry, str]:
            key: CacheKey = (digest, symbol, req.timeframe, req.start_ns, req.end_ns, req.limit)
            return self._entry(fs, key, req, others)

        if len(symbols) > 1:  # catalog reads and the kernels release the GIL
            with ThreadPoolExecutor(WORKERS) as pool:
                results = list(pool.map(one, symbols))
        else:
            results = [one(symbols[0])]
        blocks = [(entry.bars.slice(entry.skip, len(entry.bars)), entry.X[entry.skip:], entry.y[entry.skip:])
                  for entry, _ in results]
        modes = {symbol: mode for symbol, (_, mode) in zip(symbols, results, strict=True)}
        counts = [len(bars) for bars, _, _ in blocks]
        return ComputeReply(
            feature_set=fs.name, digest=digest, timeframe=req.timeframe, symbols=symbols, counts=counts,
            ts=np.concatenate([bars.ts for bars, _, _ in blocks]).astype(np.int64, copy=False),
            X=np.concatenate([X for _, X, _ in blocks]), feature_names=fs.feature_names,
            y=np.concatenate([y for _, _, y in blocks]), target_names=fs.target_names,
            horizon=fs.horizon, lookback=fs.lookback, cache=modes,
            elapsed_ms=(time.perf_counter() - started) * 1e3)

    def _admit(self, fs: FeatureSet, symbols: list[str], req: ComputeRequest) -> None:
        """Refuse a matrix of more than ``max_matrix_cells`` rows x columns before any bars are read."""
        columns = max(1, len(fs.feature_names) + len(fs.target_names))
        cap = self.settings.max_matrix_cells

        def rows(footers: bool) -> int:
            return sum(bars_extent(self.catalog, s, req.timeframe, req.start_ns, req.end_ns, req.limit,
                                   footers=footers)[0] for s in symbols)

        if rows(False) * columns > cap:  # the range alone does not bound it: ask the Parquet footers
            admit(rows(True) * columns, cap, "symbols", "max_matrix_cells", "bars x (features + targets)")

    def _read(self, symbol: str, req: ComputeRequest, start_ns: int | None = None) -> Bars:
        start = req.start_ns if start_ns is None else start_ns
        bars = read_bars(self.catalog, symbol, req.timeframe, start, req.end_ns,
                         req.limit if start_ns is None else None, max_bars=self.settings.max_bars_per_request)
        if len(bars) == 0 and start_ns is None:
            raise NotFound(f"no {req.timeframe} bars for {symbol!r} in the requested range", field="symbols")
        return bars

    def _read_warm(self, symbol: str, req: ComputeRequest, warmup: int | None) -> tuple[Bars, int]:
        """The requested bars preceded by the set's warm-up (see :mod:`.warm`)."""
        bars, skip = read_warm(self.catalog, symbol, req.timeframe, req.start_ns, req.end_ns, req.limit, warmup,
                               max_bars=self.settings.max_bars_per_request)
        if len(bars) == skip:
            raise NotFound(f"no {req.timeframe} bars for {symbol!r} in the requested range", field="symbols")
        return bars, skip

    def _entry(self, fs: FeatureSet, key: CacheKey, req: ComputeRequest,
               others: dict[str, Bars]) -> tuple[Entry, str]:
        symbol = key[1]
        versions = {s: series_version(self.catalog, s) for s in {symbol, *fs.cross_symbols}}
        entry = self.cache.get(key)
        if entry is not None and entry.versions == versions:
            return entry, "hit"
        if entry is not None and len(entry.bars) and self._appendable(fs, req):
            grown = self._extend(fs, entry, versions, req)
            if grown is not None:
                self.cache.put(key, grown)
                return grown, "incremental"
        from nautilus.features import compute_rows

        bars, skip = self._read_warm(symbol, req, fs.warmup)
        X, y = compute_rows(fs, bars, {**others, symbol: bars})
        entry = Entry(versions=versions, bars=bars, X=X, y=y, skip=skip)
        self.cache.put(key, entry)
        return entry, "miss"

    @staticmethod
    def _appendable(fs: FeatureSet, req: ComputeRequest) -> bool:
        """Only open-ended ranges without cross-asset inputs grow by appending."""
        return not (fs.cross_symbols or req.end_ns is not None or req.limit is not None)

    def _extend(self, fs: FeatureSet, entry: Entry, versions: dict[str, Any], req: ComputeRequest) -> Entry | None:
        """The entry with the bars appended since, or None when stored rows it holds changed."""
        from nautilus.features import compute_rows

        old = entry.bars
        last_ts = int(old.ts[-1])
        unbounded = int(np.iinfo(np.int64).min)
        since = changed_since(entry.versions[old.symbol], versions[old.symbol])
        recent_start = max(unbounded if since is None else since, req.start_ns or unbounded)
        recent = self._read(old.symbol, req, start_ns=None if recent_start == unbounded else recent_start)
        split = int(np.searchsorted(recent.ts, last_ts, side="right"))
        lo = int(np.searchsorted(old.ts, recent_start))
        if not same_rows(recent.slice(0, split), old.slice(lo, len(old))):
            return None
        bars = concat_bars([old, recent.slice(split, len(recent))], old.symbol, old.timeframe)
        from_row = max(0, len(old) - fs.horizon)
        X_tail, y_tail = compute_rows(fs, bars, {old.symbol: bars}, from_row=from_row)
        return Entry(versions=versions, bars=bars, X=np.concatenate([entry.X[:from_row], X_tail]),
                     y=np.concatenate([entry.y[:from_row], y_tail]), skip=entry.skip)
