"""Request and reply types of the MarketData engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from typing import Literal

import msgspec

from nautilus.core.bounds import Name, Timestamp


class IngestRequest(msgspec.Struct, kw_only=True):
    symbol: Name
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
    time_convention: str | None = None  # session_date (daily and longer bars) or utc_open (intraday)
    calendar: str | None = None  # the instrument's trading calendar (nautilus.core.calendars)


class BarsRequest(msgspec.Struct, kw_only=True):
    symbol: Name
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None  # exclusive
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
    symbol: Name
    timeframe: str = "1d"
    model: Literal["gbm", "garch"] = "gbm"
    n: int = 1000
    start_ns: Timestamp = 1_577_836_800_000_000_000  # 2020-01-01
    seed: int = 1
    s0: float = 100.0
    mu: float = 0.05
    sigma: float = 0.2
    # "24x7", "weekdays" (the rules of old) or a calendar name (XNYS, XLON, 24/7, 24/5, ...); None: the
    # instrument's calendar (nautilus.core.calendars.calendar_for)
    sessions: str | None = None


class ResampleRequest(msgspec.Struct, kw_only=True):
    symbol: Name
    source_timeframe: str
    timeframe: str


class SampleRequest(msgspec.Struct, kw_only=True):
    seed: int = 7
    symbols: list[Name] | None = None


class SampleReply(msgspec.Struct):
    series: list[SeriesSummary]


# External sources (nautilus.adapters) -----------------------------------------------------------------
Adjust = Literal["total", "splits", "none"]
FetchStatus = Literal["queued", "running", "ok", "failed", "rejected"]


class FetchRequest(msgspec.Struct, kw_only=True):
    """Fetch bars of ``symbol`` (the source's spelling) into the catalog as ``as_symbol``.

    ``start_ns`` may be omitted when the series was fetched before (the update starts where the coverage
    ends); ``end_ns`` defaults to now. Only ranges no earlier successful fetch covered are requested unless
    ``force``. ``adjust`` picks how the catalog series is back-adjusted when the source reports splits and
    dividends (the as-traded series is kept as ``<SYMBOL>.RAW``).
    """

    source: str
    symbol: Name
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    as_symbol: str | None = None
    adjust: Adjust = "total"
    options: dict[str, str] = {}
    force: bool = False


class FetchJob(msgspec.Struct, kw_only=True):
    id: int
    source: str
    symbol: str
    source_symbol: str
    timeframe: str
    start_ns: int
    end_ns: int
    adjust: str
    options: dict[str, str] = {}
    status: FetchStatus
    done: int = 0
    total: int | None = None
    message: str = ""
    ranges: list[list[int]] = []
    rows: int = 0
    requests: int = 0
    error: str | None = None
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None


class FetchJobRequest(msgspec.Struct, kw_only=True):
    job_id: int


class FetchListRequest(msgspec.Struct, kw_only=True):
    limit: int = 50
    symbol: str | None = None


class FetchList(msgspec.Struct):
    fetches: list[FetchJob]


class UpdateRequest(msgspec.Struct, kw_only=True):
    """Refresh series fetched before up to now: all of them, or those of ``symbols`` (catalog names)."""

    symbols: list[Name] | None = None


class SourceInfo(msgspec.Struct, kw_only=True):
    name: str
    title: str
    timeframes: list[str]
    live: bool
    needs_key: bool
    configured: bool
    options: list[str] = []
    note: str | None = None


class SourceList(msgspec.Struct):
    sources: list[SourceInfo]


class StreamRequest(msgspec.Struct, kw_only=True):
    """Follow live bars of ``symbol`` from ``source``: each complete bar is stored and published on
    ``bars.<AS_SYMBOL>``."""

    source: str
    symbol: Name
    timeframe: str
    as_symbol: str | None = None
    options: dict[str, str] = {}


class StreamInfo(msgspec.Struct, kw_only=True):
    id: int
    source: str
    symbol: str
    source_symbol: str
    timeframe: str
    status: Literal["running", "stopped", "failed"]
    bars: int = 0
    last_ts: int | None = None
    error: str | None = None
    started_at: str


class StreamStopRequest(msgspec.Struct, kw_only=True):
    stream_id: int


class StreamList(msgspec.Struct):
    streams: list[StreamInfo]
