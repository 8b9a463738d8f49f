"""The canonical bar container: columnar numpy arrays, UTC nanosecond timestamps.

``Bars`` is what kernels take and return, what travels between engines (its arrays go inline or by
shared-memory handle) and what the catalog stores. Timestamps are bar *open* times, int64 ns since
the Unix epoch in UTC, strictly increasing.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS = ("open", "high", "low", "close", "volume")


@cache
def arrow_schema() -> pa.Schema:
    """The catalog's Arrow schema (pyarrow, ~40 MB, loads with the first process that touches the catalog)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
            *(pa.field(c, pa.float64(), nullable=False) for c in COLUMNS),
        ]
    )


def __getattr__(name: str) -> Any:  # ``ARROW_SCHEMA`` stays importable without loading pyarrow at import
    if name == "ARROW_SCHEMA":
        return arrow_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Bars(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str
    ts: np.ndarray  # int64 ns UTC, bar open time
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def to_json(self) -> bytes:
        """The API's columnar JSON document: ``t`` is the bar open time in epoch milliseconds (UTC), then one
        array per column; NaN is null."""
        return msgspec.json.encode({
            "symbol": self.symbol, "timeframe": self.timeframe, "count": len(self), "t": (self.ts // 1_000_000).tolist(),
            **{c: getattr(self, c).tolist() for c in COLUMNS},
        })

    @property
    def nbytes(self) -> int:
        return self.ts.nbytes + sum(getattr(self, c).nbytes for c in COLUMNS)

    @classmethod
    def empty(cls, symbol: str, timeframe: str) -> Bars:
        f = np.empty(0, dtype=np.float64)
        return cls(symbol=symbol, timeframe=timeframe, ts=np.empty(0, dtype=np.int64),
                   open=f, high=f.copy(), low=f.copy(), close=f.copy(), volume=f.copy())

    @classmethod
    def from_arrow(cls, table: pa.Table, symbol: str, timeframe: str) -> Bars:
        cols = {c: _owned(_column_numpy(table, c), np.float64) for c in COLUMNS}
        return cls(symbol=symbol, timeframe=timeframe, ts=_owned(_arrow_ts_ns(table), np.int64), **cols)

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        schema = arrow_schema()
        arrays = [pa.array(self.ts.astype(np.int64, copy=False), type=pa.int64()).cast(schema.field("ts").type)]
        arrays += [pa.array(getattr(self, c), type=pa.float64()) for c in COLUMNS]
        return pa.Table.from_arrays(arrays, schema=schema)

    def to_pandas(self):  # -> pandas.DataFrame indexed by UTC timestamp
        import pandas as pd

        index = pd.to_datetime(self.ts, unit="ns", utc=True)
        return pd.DataFrame({c: getattr(self, c) for c in COLUMNS}, index=pd.Index(index, name="ts"))

    @classmethod
    def from_pandas(cls, frame, symbol: str, timeframe: str) -> Bars:
        import pandas as pd

        index = pd.DatetimeIndex(frame.index)
        if index.tz is None:
            index = index.tz_localize("UTC")
        ts = index.tz_convert("UTC").as_unit("ns").asi8
        cols = {c: np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64)) for c in COLUMNS}
        return cls(symbol=symbol, timeframe=timeframe, ts=np.ascontiguousarray(ts, dtype=np.int64), **cols)

    def copy(self) -> Bars:
        return Bars(symbol=self.symbol, timeframe=self.timeframe, ts=self.ts.copy(),
                    **{c: getattr(self, c).copy() for c in COLUMNS})

    def slice(self, start: int, stop: int) -> Bars:
        return Bars(symbol=self.symbol, timeframe=self.timeframe, ts=self.ts[start:stop],
                    **{c: getattr(self, c)[start:stop] for c in COLUMNS})


def _arrow_ts_ns(table: pa.Table) -> np.ndarray:
    """An Arrow table's ``ts`` column (timestamp or int64) as int64 ns since the epoch, a zero-copy view of a
    single chunk (read-only)."""
    column = table.column("ts")
    if column.num_chunks == 0:
        return np.empty(0, np.int64)
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy(zero_copy_only=False).view(np.int64)
    import pyarrow as pa

    return column.cast(pa.int64()).to_numpy()


def _column_numpy(table: pa.Table, name: str) -> np.ndarray:
    """A column as numpy (zero-copy for a single chunk: per-call overhead matters for small tables)."""
    column = table.column(name)
    return column.chunk(0).to_numpy(zero_copy_only=False) if column.num_chunks == 1 else column.to_numpy()


def _owned(array: np.ndarray, dtype: type) -> np.ndarray:
    """A contiguous, writeable array of ``dtype``: Arrow's zero-copy views are read-only, and a read-only
    array is a different type to numba, which would compile every kernel a second time for it."""
    out = np.ascontiguousarray(array, dtype=dtype)
    return out if out.flags.writeable else out.copy()


def concat_bars(parts: list[Bars], symbol: str, timeframe: str) -> Bars:
    """One ``Bars`` of ``parts`` that follow each other in time (no sorting, no checks); empty when there are none."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Bars.empty(symbol, timeframe)
    return Bars(symbol=symbol, timeframe=timeframe, ts=np.concatenate([p.ts for p in parts]),
                **{c: np.concatenate([getattr(p, c) for p in parts]) for c in COLUMNS})
