"""Request and reply types of the MarketData engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from typing import Literal

import msgspec


class IngestRequest(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str
    data: bytes
    fmt: Literal["csv", "parquet"] = "csv"
    columns: dict[str, str] | None = None
    tz: str = "UTC"
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = None
    datetime_format: str | None = None
    mode: Literal["merge", "replace"] = "merge"
    filename: str | None = None
    source: str | None = None


class SeriesSummary(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str
    rows_written: int
    first_ts: int
    last_ts: int
    total_rows: int
    run_id: int | None = None


class BarsRequest(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str = "1d"
    start_ns: int | None = None
    end_ns: int | None = None  # exclusive
    limit: int | None = None  # the last `limit` bars of the range


class SeriesInfo(msgspec.Struct, kw_only=True):
    timeframe: str
    first_ts: int
    last_ts: int
    rows: int


class InstrumentInfo(msgspec.Struct, kw_only=True):
    symbol: str
    name: str | None = None
    asset_class: str | None = None
    currency: str | None = None
    exchange: str | None = None
    series: list[SeriesInfo] = []


class InstrumentList(msgspec.Struct):
    instruments: list[InstrumentInfo]


class GenerateRequest(msgspec.Struct, kw_only=True):
    symbol: str
    timeframe: str = "1d"
    model: Literal["gbm", "garch"] = "gbm"
    n: int = 1000
    start_ns: int = 1_577_836_800_000_000_000  # 2020-01-01
    seed: int = 1
    s0: float = 100.0
    mu: float = 0.05
    sigma: float = 0.2
    sessions: Literal["24x7", "weekdays"] = "24x7"


class ResampleRequest(msgspec.Struct, kw_only=True):
    symbol: str
    source_timeframe: str
    timeframe: str


class SampleRequest(msgspec.Struct, kw_only=True):
    seed: int = 7
    symbols: list[str] | None = None


class SampleReply(msgspec.Struct):
    series: list[SeriesSummary]
