"""MarketData engine: the bar catalog's front door (import, fetch, stream, generate, resample, query).

Orchestration only: parsing and validation live in ``ingest``, generators in ``synthetic``,
aggregation in ``resample``, external sources in :mod:`nautilus.adapters` (jobs and streams in
``fetch``), storage in :mod:`nautilus.storage`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
from prometheus_client import Gauge

from nautilus.adapters import SOURCES, make_source
from nautilus.config import Settings
from nautilus.core.admission import admit
from nautilus.core.bars import Bars
from nautilus.core.bounds import check_name, check_timestamp, normalize_symbol
from nautilus.core.calendars import calendar_for
from nautilus.core.errors import InvalidInput, NautilusError, NotFound
from nautilus.core.timeframe import is_session_timeframe, time_convention, timeframe_ns, validate_timeframe
from nautilus.engines.base import StorageEngine
from nautilus.engines.marketdata.fetch import FetchJobs, StreamManager, next_daily_run
from nautilus.engines.marketdata.messages import (
    BarsRequest,
    FetchJob,
    FetchJobRequest,
    FetchList,
    FetchListRequest,
    FetchRequest,
    GenerateRequest,
    IngestRequest,
    InstrumentInfo,
    InstrumentList,
    ResampleRequest,
    SampleReply,
    SampleRequest,
    SeriesInfo,
    SeriesSummary,
    SourceInfo,
    SourceList,
    StreamInfo,
    StreamList,
    StreamRequest,
    StreamStopRequest,
    UpdateRequest,
)
from nautilus.runtime import faults
from nautilus.runtime.engine import handler
from nautilus.storage.bars import MAX_LIMIT, read_bars
from nautilus.storage.fetches import FetchStore

log = logging.getLogger("nautilus.marketdata")

LAST_BAR = Gauge("nautilus_data_last_bar_timestamp_seconds", "Open time of the newest stored bar (data freshness)",
                 ["symbol", "timeframe"])
OPEN_AGE = Gauge("nautilus_data_open_age_seconds", "Open-market time since the newest stored bar closed, by the "
                 "instrument's calendar (series a source keeps up to date only)", ["symbol", "timeframe", "calendar"])


class MarketDataEngine(StorageEngine):
    name = "marketdata"
    stateful = True  # one writer: see nautilus.runtime.engine.Engine.stateful

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._write_lock = threading.Lock()
        self.fetches: FetchJobs | None = None
        self.streams = StreamManager(settings, self._store, self._publish)
        self._scheduler_stop = threading.Event()
        assert settings.data_dir is not None
        # One empty file per series write in flight: made before the catalog commit, removed once SQL mirrors
        # it. A file left behind (a crash, a database outage between the two) names a series whose
        # ``catalog_series`` row may be stale: the next start sets it from the catalog again.
        self._pending_dir = Path(settings.data_dir) / "marketdata-pending"

    def start(self) -> None:
        super().start()  # the writer lease first: then nobody else writes the catalog or its SQL mirror
        repaired = self._repair_pending()
        if repaired:
            log.warning("catalog_series set again from the catalog for %d series written when a process stopped",
                        repaired)
        self._migrate_bar_time()
        store = FetchStore(self.database)
        interrupted = store.interrupt_orphans()
        if interrupted:
            log.warning("%d fetch job(s) of a stopped process marked failed", interrupted)
        self.fetches = FetchJobs(self.settings, store, self._store, self._read_series,
                                 self.database.upsert_instrument, self._publish)
        if self.settings.update_time:
            threading.Thread(target=self._daily_updates, daemon=True, name="marketdata-updates").start()

    def _migrate_bar_time(self) -> None:
        """Once per catalog: daily and longer series stamped off the bar time model are restamped
        (:mod:`nautilus.storage.bar_time`)."""
        bars_dir = Path(self.settings.catalog_dir) / "bars"
        if not bars_dir.is_dir() or not any(entry.is_dir() for entry in os.scandir(bars_dir)):
            return  # a new catalog holds nothing off the model (and the engine starts without pyarrow or numba)
        from nautilus.storage.bar_time import migrate_catalog

        rows = {r["symbol"]: r for r in self.database.list_instruments()}

        def resample(bars: Bars, timeframe: str) -> Bars:  # numba: loaded only when a weekly series is rebuilt
            from nautilus.marketdata.resample import resample as resample_bars

            return resample_bars(bars, timeframe, calendar=calendar_of(bars.symbol))

        def calendar_of(symbol: str) -> str:
            row = rows.get(symbol, {})
            return calendar_for(symbol, row.get("asset_class"), row.get("exchange"))

        moved = migrate_catalog(self.catalog, self.catalog.root, calendar_of,
                                write=lambda bars: self._store(bars, "series"),
                                resample=resample)
        if moved:
            log.warning("bar time model: %d series restamped to session dates", len(moved))

    def close(self) -> None:
        self._scheduler_stop.set()
        self.streams.close()
        if self.fetches is not None:
            self.fetches.close()
        super().close()

    def _read_series(self, symbol: str, timeframe: str) -> Bars:
        return self.catalog.read(symbol, timeframe)  # the catalog (pyarrow) opens on first use

    def _publish(self, topic: str, message: dict) -> None:
        self.bus.publish(topic, message)

    @property
    def jobs(self) -> FetchJobs:
        assert self.fetches is not None, "engine not started"
        return self.fetches

    def _daily_updates(self) -> None:
        """Run ``update`` for every fetched series each day at ``settings.update_time`` (UTC)."""
        while True:
            now = datetime.now(UTC)
            due = next_daily_run(str(self.settings.update_time), now)
            if self._scheduler_stop.wait((due - now).total_seconds()):
                return
            try:
                jobs = self.update(UpdateRequest()).fetches
                log.info("daily update started %d fetch job(s)", len(jobs))
            except Exception:
                log.exception("daily update failed to start")

    # Writes -------------------------------------------------------------------------------------
    def _repair_pending(self) -> int:
        """Set the ``catalog_series`` row of every series with a pending marker from the catalog (or drop it
        when the catalog has no such series); returns how many were set."""
        try:
            markers = sorted(os.listdir(self._pending_dir))
        except FileNotFoundError:
            return 0
        for name in markers:
            symbol, _, timeframe = bytes.fromhex(name).decode().rpartition("@")
            try:
                stats = self.catalog.stats(symbol, timeframe)
            except NotFound:
                self.database.delete_series(symbol, timeframe)
            except InvalidInput:  # not a series name the catalog takes: it wrote nothing under it
                pass
            else:
                self.database.upsert_instrument(symbol)
                self.database.record_series(symbol, timeframe, stats.first_ts, stats.last_ts, stats.rows)
            os.unlink(self._pending_dir / name)
        return len(markers)

    def _store(self, bars: Bars, mode: str, run_id: int | None = None) -> SeriesSummary:
        check_name(bars.symbol, "symbol")
        if is_session_timeframe(bars.timeframe):  # every write (files, sources, streams) keeps the time model
            from nautilus.storage.bar_time import normalize_bars, off_model

            if off_model(bars):
                bars, dropped = normalize_bars(bars, calendar_for(bars.symbol))
                if dropped:
                    raise InvalidInput(f"{dropped} {bars.timeframe} bar(s) of {bars.symbol} fall on the session date "
                                       "of another bar", field="ts")
        if len(bars):  # every write (files, fetches, streams, synthetic series) stays inside the time bounds
            check_timestamp(int(np.min(bars.ts)), "ts")
            check_timestamp(int(np.max(bars.ts)), "ts")
        with self._write_lock:
            self._pending_dir.mkdir(parents=True, exist_ok=True)
            marker = self._pending_dir / f"{bars.symbol}@{bars.timeframe}".encode().hex()
            marker.touch()
            try:
                if self.lease is not None:  # the catalog is files: a replaced (stale) writer must not touch them
                    self.lease.verify()
                summary = self.catalog.write(bars, mode=mode)
            except BaseException:  # every partition file changes or none does: here none did
                marker.unlink()
                raise
            faults.point("marketdata.catalog.written")  # crash tests: files committed, SQL not yet
            self.database.upsert_instrument(bars.symbol)
            self.database.record_series(bars.symbol, bars.timeframe, summary.first_ts, summary.last_ts,
                                        summary.rows)
            marker.unlink()  # kept when anything above failed: the next start sets the row from the catalog
            faults.point("marketdata.series.recorded")  # crash tests: committed, not yet acknowledged
        result = SeriesSummary(symbol=bars.symbol, timeframe=bars.timeframe, rows_written=len(bars),
                               first_ts=summary.first_ts, last_ts=summary.last_ts, total_rows=summary.rows,
                               run_id=run_id, time_convention=time_convention(bars.timeframe),
                               calendar=calendar_for(bars.symbol))
        self.bus.publish(f"marketdata.bars.{bars.symbol}.{bars.timeframe}", msgspec.structs.asdict(result))
        return result

    def update_metrics(self) -> None:
        from nautilus.engines.marketdata.freshness import open_ages

        instruments = self.database.list_instruments()
        for instrument in instruments:
            for series in instrument["series"]:
                LAST_BAR.labels(instrument["symbol"], series["timeframe"]).set(series["last_ts"] / 1e9)
        ages = open_ages(instruments, self.jobs.store.update_targets() if self.fetches else [], time.time_ns())
        OPEN_AGE.clear()  # a series deleted or no longer fetched leaves the gauge
        for symbol, timeframe, calendar, age in ages:
            OPEN_AGE.labels(symbol, timeframe, calendar).set(age)

    @handler(idempotent=False)
    def ingest(self, req: IngestRequest) -> SeriesSummary:
        symbol = normalize_symbol(req.symbol)
        timeframe_ns(req.timeframe)
        db = self.database
        run_id = db.start_ingest_run(symbol, req.timeframe, req.source or req.fmt, req.filename)
        from nautilus.engines.marketdata.ingest import parse_bars  # pandas: loaded on the first import

        try:
            bars = parse_bars(
                req.data, fmt=req.fmt, symbol=symbol, timeframe=req.timeframe, columns=req.columns,
                tz=req.tz, timestamp_unit=req.timestamp_unit, datetime_format=req.datetime_format,
            )
            summary = self._store(bars, req.mode, run_id)
        except NautilusError as exc:
            db.finish_ingest_run(run_id, "rejected", 0, exc.message)
            raise
        except Exception as exc:
            db.finish_ingest_run(run_id, "failed", 0, f"{type(exc).__name__}: {exc}")
            raise
        db.finish_ingest_run(run_id, "ok", len(bars))
        db.audit("marketdata", "ingest", f"{symbol}/{req.timeframe}",
                 {"rows": len(bars), "file": req.filename, "mode": req.mode})
        return summary

    @handler(idempotent=False)
    def generate(self, req: GenerateRequest) -> SeriesSummary:
        symbol = normalize_symbol(req.symbol)
        if req.n < 1:
            raise InvalidInput("n must be at least 1", field="n")
        admit(req.n, min(MAX_LIMIT, self.settings.max_bars_per_request), "n", "max_bars_per_request", "n bars")
        if not 0 <= req.seed < 2**63:
            raise InvalidInput("seed must be a non-negative integer below 2**63", field="seed")
        from nautilus.marketdata import synthetic  # numba kernels: loaded on first use

        sessions = req.sessions or self._calendar_of(symbol)
        common = dict(s0=req.s0, mu=req.mu, sigma=req.sigma, seed=req.seed, sessions=sessions)
        make = synthetic.gbm_bars if req.model == "gbm" else synthetic.garch_bars
        bars = make(symbol, req.timeframe, req.start_ns, req.n, **common)
        return self._store(bars, "replace")

    def _calendar_of(self, symbol: str) -> str:
        """The instrument's trading calendar (its asset class and exchange in the instruments table)."""
        for row in self.database.list_instruments():
            if row["symbol"] == symbol:
                return calendar_for(symbol, row.get("asset_class"), row.get("exchange"))
        return calendar_for(symbol)

    @handler(idempotent=False)
    def resample(self, req: ResampleRequest) -> SeriesSummary:
        from nautilus.marketdata.resample import resample as resample_bars

        symbol = normalize_symbol(req.symbol)
        rows = self.catalog.stats(symbol, req.source_timeframe).rows  # Parquet footers: nothing decoded yet
        admit(rows, self.settings.max_bars_per_request, "source_timeframe", "max_bars_per_request",
              f"stored {req.source_timeframe} bars of {symbol}")
        source = self.catalog.read(symbol, req.source_timeframe)
        return self._store(resample_bars(source, req.timeframe, calendar=self._calendar_of(symbol)), "replace")

    @handler(idempotent=False)
    def load_sample(self, req: SampleRequest) -> SampleReply:
        from nautilus.marketdata import synthetic

        symbols = req.symbols or list(self.settings.sample_symbols)
        universe = synthetic.sample_universe(symbols, seed=req.seed)
        return SampleReply([self._store(bars, "replace") for bars in universe.values()])

    # External sources ----------------------------------------------------------------------------
    @handler
    def sources(self) -> SourceList:
        out = []
        for name in SOURCES:
            try:
                source = make_source(name, self.settings)
            except ImportError as exc:  # a client library missing from this install
                out.append(SourceInfo(name=name, title=name, timeframes=[], live=False, needs_key=False,
                                      configured=False, note=f"not installed: {exc}"))
                continue
            setup = source.missing_setup()
            options = list(source.option_names) + (["adjust"] if source.corporate_actions else [])
            out.append(SourceInfo(name=name, title=source.title or name, timeframes=list(source.timeframes),
                                  live=source.live, needs_key=name in ("alphavantage", "fred"),
                                  configured=setup is None, options=options, note=setup))
            source.close()
        return SourceList(out)

    @handler(idempotent=False)
    def fetch_start(self, req: FetchRequest) -> FetchJob:
        return self.jobs.submit(req)

    @handler
    def fetch_job(self, req: FetchJobRequest) -> FetchJob:
        return self.jobs.job(req.job_id)

    @handler
    def fetches_list(self, req: FetchListRequest) -> FetchList:
        return FetchList(self.jobs.jobs(req.limit, req.symbol))

    @handler(idempotent=False)
    def update(self, req: UpdateRequest) -> FetchList:
        """Start a fetch up to now for every series fetched before (or those of ``req.symbols``)."""
        targets = self.jobs.store.update_targets()
        if req.symbols is not None:
            wanted = {normalize_symbol(s) for s in req.symbols}
            missing = wanted - {t["symbol"] for t in targets}
            if missing:
                raise NotFound(f"never fetched from a source: {', '.join(sorted(missing))}", field="symbols")
            targets = [t for t in targets if t["symbol"] in wanted]
        jobs = []
        for t in targets:
            try:
                jobs.append(self.jobs.submit(FetchRequest(
                    source=t["source"], symbol=t["source_symbol"], timeframe=t["timeframe"], as_symbol=t["symbol"],
                    adjust=t["adjust"], options=t["options"] or {})))
            except NautilusError as exc:  # already running, or up to date within the last bar
                log.info("update of %s %s skipped: %s", t["symbol"], t["timeframe"], exc.message)
        return FetchList(jobs)

    @handler(idempotent=False)
    def stream_start(self, req: StreamRequest) -> StreamInfo:
        return self.streams.start(req)

    @handler(idempotent=False)
    def stream_stop(self, req: StreamStopRequest) -> StreamInfo:
        return self.streams.stop(req.stream_id)

    @handler
    def streams_list(self) -> StreamList:
        return StreamList(self.streams.list())

    # Reads --------------------------------------------------------------------------------------
    @handler
    def bars(self, req: BarsRequest) -> Bars:
        return read_bars(self.catalog, normalize_symbol(req.symbol), validate_timeframe(req.timeframe),
                         req.start_ns, req.end_ns, req.limit, max_bars=self.settings.max_bars_per_request)

    @handler
    def bars_json(self, req: BarsRequest) -> bytes:
        """:meth:`bars` as the API's JSON document, encoded here: the gateway passes it through (decoding the
        arrays and encoding JSON there was a fifth of the gateway's CPU per bars request). It names the bars'
        time convention (``session_date`` or ``utc_open``) and the instrument's calendar."""
        bars = self.bars(req)
        head = msgspec.json.encode({"time_convention": time_convention(bars.timeframe),
                                    "calendar": calendar_for(bars.symbol)})
        return head[:-1] + b"," + bars.to_json()[1:]

    @handler
    def instruments(self) -> InstrumentList:
        out = []
        for row in self.database.list_instruments():
            series = [SeriesInfo(timeframe=s["timeframe"], first_ts=s["first_ts"], last_ts=s["last_ts"],
                                 rows=s["rows"]) for s in row.get("series", [])]
            out.append(InstrumentInfo(symbol=row["symbol"], name=row.get("name"),
                                      asset_class=row.get("asset_class"), currency=row.get("currency"),
                                      exchange=row.get("exchange"), series=series))
        return InstrumentList(out)

