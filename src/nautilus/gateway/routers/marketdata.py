"""/api/v1/marketdata: ingest files, fetch from sources, stream live bars, query bars, list instruments,
generate synthetic series."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import msgspec
from fastapi import File, Form, Path, Request, UploadFile
from fastapi.responses import Response
from msgspec import Meta
from pydantic import BaseModel, Field

from nautilus.core.errors import InvalidInput
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import (
    BarsRequest,
    FetchJobRequest,
    FetchListRequest,
    FetchRequest,
    GenerateRequest,
    IngestRequest,
    StreamRequest,
    StreamStopRequest,
    UpdateRequest,
)
from nautilus.gateway.routers import ID_MAX, EngineRouter, decode_query, parse_time, query_doc
from nautilus.runtime.client import EngineClient

router = EngineRouter("marketdata")
TIMEFRAME = r"^[1-9][0-9]*(mo|[smhdwqy])$"
MAX_UPLOAD_BYTES = 256 * 1024 * 1024


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["marketdata"]


def _json(obj: object, status: int = 200) -> Response:
    return Response(msgspec.json.encode(obj), status_code=status, media_type="application/json")


class BarsParams(msgspec.Struct, frozen=True):
    symbol: Annotated[str, Meta(min_length=1, max_length=32)]
    timeframe: Annotated[str, Meta(pattern=TIMEFRAME)] = "1d"
    start: Annotated[str | None, Meta(description="ISO 8601, inclusive")] = None
    end: Annotated[str | None, Meta(description="ISO 8601, exclusive")] = None
    limit: Annotated[int, Meta(ge=1, le=5_000_000)] | None = None


@router.get("/bars", summary="Bars of one symbol in a time range", **query_doc(BarsParams))
async def get_bars(request: Request) -> Response:
    query = decode_query(request, BarsParams)
    req = BarsRequest(symbol=query.symbol, timeframe=query.timeframe, start_ns=parse_time(query.start, "start"),
                      end_ns=parse_time(query.end, "end"), limit=query.limit)
    return Response(await _client(request).acall(MarketDataEngine.bars_json, req), media_type="application/json")


@router.get("/instruments", summary="Instruments with their stored series")
async def get_instruments(request: Request) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.instruments))


@router.post("/ingest", status_code=201, summary="Import a CSV or Parquet file of bars")
async def post_ingest(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV or Parquet file")],
    symbol: Annotated[str, Form(min_length=1, max_length=32)],
    timeframe: Annotated[str, Form(pattern=TIMEFRAME)] = "1d",
    fmt: Annotated[Literal["csv", "parquet"] | None, Form()] = None,
    tz: Annotated[str, Form()] = "UTC",
    columns: Annotated[str | None, Form(description='JSON object, e.g. {"ts": "Date"}')] = None,
    timestamp_unit: Annotated[Literal["s", "ms", "us", "ns"] | None, Form()] = None,
    datetime_format: Annotated[str | None, Form()] = None,
    mode: Annotated[Literal["merge", "replace"], Form()] = "merge",
) -> Response:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"file is larger than {MAX_UPLOAD_BYTES // 2**20} MB", field="file")
    filename = file.filename or "upload"
    mapping = _columns(columns)
    req = IngestRequest(
        symbol=symbol, timeframe=timeframe, data=data,
        fmt=fmt or ("parquet" if filename.lower().endswith((".parquet", ".pq")) else "csv"),
        columns=mapping, tz=tz, timestamp_unit=timestamp_unit, datetime_format=datetime_format,
        mode=mode, filename=filename, source="upload",
    )
    return _json(await _client(request).acall(MarketDataEngine.ingest, req), status=201)


def _columns(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("columns must be a JSON object of canonical → file column names",
                           field="columns") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput("columns must map strings to strings", field="columns")
    return value


class GenerateBody(BaseModel):
    symbol: str = Field(min_length=1, max_length=32)
    timeframe: str = Field("1d", pattern=TIMEFRAME)
    model: Literal["gbm", "garch"] = "gbm"
    n: int = Field(1000, ge=1, le=5_000_000)
    start: str = "2020-01-01"
    seed: int = Field(1, ge=0, lt=2**63)
    s0: float = Field(100.0, gt=0)
    mu: float = 0.05
    sigma: float = Field(0.2, gt=0, le=5)
    calendar: str | None = Field(None, max_length=32, description="Trading calendar the bars follow: an exchange "
                                 "code (XNYS, XLON, ...), 24/7 or 24/5; default: the instrument's own")


@router.post("/generate", status_code=201, summary="Generate a synthetic series into the catalog")
async def post_generate(request: Request, body: GenerateBody) -> Response:
    if body.calendar is not None:
        from nautilus.core.calendars import check_calendar

        check_calendar(body.calendar)  # 422 naming `calendar`, this body's field
    req = GenerateRequest(symbol=body.symbol, timeframe=body.timeframe, model=body.model, n=body.n,
                          start_ns=parse_time(body.start, "start") or 0, seed=body.seed, s0=body.s0,
                          mu=body.mu, sigma=body.sigma, sessions=body.calendar)
    return _json(await _client(request).acall(MarketDataEngine.generate, req), status=201)



# External sources --------------------------------------------------------------------------------------
@router.get("/sources", summary="Market data sources, their timeframes and whether they are configured")
async def get_sources(request: Request) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.sources))


class FetchBody(BaseModel):
    source: str = Field(min_length=1, max_length=32, description="yahoo, fred, alphavantage, ib or ccxt")
    symbol: str = Field(min_length=1, max_length=64, description="The source's spelling: AAPL, DGS10, BTC/USDT")
    timeframe: str = Field("1d", pattern=TIMEFRAME)
    start: str | None = Field(None, description="ISO 8601, inclusive; omit to continue a series fetched before")
    end: str | None = Field(None, description="ISO 8601, exclusive; default now")
    as_symbol: str | None = Field(None, max_length=32, description="Catalog name (default: symbol without / and :)")
    adjust: Literal["total", "splits", "none"] = "total"
    options: dict[str, str] = Field(default_factory=dict, description='Source options, e.g. {"exchange": "kraken"}')
    force: bool = Field(False, description="Fetch the whole range even where earlier fetches covered it")


@router.post("/fetch", status_code=202, summary="Start a background fetch from a source into the catalog")
async def post_fetch(request: Request, body: FetchBody) -> Response:
    """Progress and the end state are published on the WebSocket channel ``marketdata.fetch.<id>``."""
    req = FetchRequest(source=body.source, symbol=body.symbol, timeframe=body.timeframe,
                       start_ns=parse_time(body.start, "start"), end_ns=parse_time(body.end, "end"),
                       as_symbol=body.as_symbol, adjust=body.adjust, options=body.options, force=body.force)
    return _json(await _client(request).acall(MarketDataEngine.fetch_start, req), status=202)


@router.get("/fetch/{job_id}", summary="One fetch job: status, progress, rows, error")
async def get_fetch(request: Request, job_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.fetch_job, FetchJobRequest(job_id=job_id)))


class FetchesParams(msgspec.Struct, frozen=True):
    limit: Annotated[int, Meta(ge=1, le=1000)] = 50
    symbol: Annotated[str, Meta(max_length=32)] | None = None


@router.get("/fetches", summary="Recent fetch jobs, newest first", **query_doc(FetchesParams))
async def get_fetches(request: Request) -> Response:
    query = decode_query(request, FetchesParams)
    req = FetchListRequest(limit=query.limit, symbol=query.symbol.upper() if query.symbol else None)
    return _json(await _client(request).acall(MarketDataEngine.fetches_list, req))


class UpdateBody(BaseModel):
    symbols: list[str] | None = Field(None, description="Catalog symbols; omit for every fetched series")


@router.post("/update", status_code=202, summary="Fetch every fetched series (or some) up to now")
async def post_update(request: Request, body: UpdateBody) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.update, UpdateRequest(symbols=body.symbols)), status=202)


class StreamBody(BaseModel):
    source: str = Field(min_length=1, max_length=32, description="ib or ccxt")
    symbol: str = Field(min_length=1, max_length=64)
    timeframe: str = Field(pattern=TIMEFRAME, description="5s for IB real-time bars; the bar size for ccxt")
    as_symbol: str | None = Field(None, max_length=32)
    options: dict[str, str] = Field(default_factory=dict)


@router.post("/streams", status_code=201, summary="Follow live bars: stored and published on bars.<SYMBOL>")
async def post_stream(request: Request, body: StreamBody) -> Response:
    req = StreamRequest(source=body.source, symbol=body.symbol, timeframe=body.timeframe, as_symbol=body.as_symbol,
                        options=body.options)
    return _json(await _client(request).acall(MarketDataEngine.stream_start, req), status=201)


@router.get("/streams", summary="Live streams and their state")
async def get_streams(request: Request) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.streams_list))


@router.delete("/streams/{stream_id}", summary="Stop a live stream")
async def delete_stream(request: Request, stream_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return _json(await _client(request).acall(MarketDataEngine.stream_stop, StreamStopRequest(stream_id=stream_id)))
