"""Fetch jobs: external sources → the catalog, in the background, recorded in SQL, progress on the bus.

A job is one ``FetchRequest``. It is checked when submitted (unknown source, symbol, timeframe, range →
4xx at once), recorded ``queued``, and run by a small worker pool:

1. plan: the parts of ``[start, end)`` no earlier ``ok`` fetch of the series covered (all of it with
   ``force``); nothing missing → ``ok`` with 0 rows;
2. fetch every missing range from the source (each adapter paces, pages and retries by itself);
3. write once, only after every range arrived: a source with splits/dividends gets its as-traded bars
   merged into ``<SYMBOL>.RAW``, its actions stored, and ``<SYMBOL>`` rewritten back-adjusted from the whole
   raw series; other sources merge into ``<SYMBOL>``. Any failure before this step writes nothing;
4. record ``ok`` (rows, requests, the ranges now covered, capped at the last complete bar) or
   ``failed``/``rejected`` with the source's message.

Every change of a job is published on ``marketdata.fetch.<id>`` (the job as JSON; progress at most every
0.2 s). Live streams (``StreamManager``) store each bar a source streams and publish it on ``bars.<SYMBOL>``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np

from nautilus.adapters import make_source, source_class
from nautilus.adapters.adjust import back_adjust
from nautilus.adapters.base import Fetched, Source, SourceRequest, now_ns
from nautilus.adapters.ranges import align_down, merge_ranges, missing_ranges
from nautilus.adapters.ratelimit import seed_daily_usage
from nautilus.core.bars import COLUMNS, Bars, concat_bars
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import Conflict, InvalidInput, NautilusError, NotFound
from nautilus.core.timeframe import calendar_floor, calendar_months, timeframe_ns
from nautilus.engines.marketdata.messages import FetchJob, FetchRequest, StreamInfo, StreamRequest
from nautilus.storage.fetches import FetchStore

log = logging.getLogger("nautilus.marketdata.fetch")
RAW_SUFFIX = ".RAW"
PROGRESS_EVERY_S = 0.2
PROGRESS_KEPT = 1000  # jobs whose live progress and last message stay in memory
Store = Callable[[Bars, str], Any]  # (bars, mode) → summary: the engine's catalog write


def catalog_symbol(source_symbol: str, as_symbol: str | None = None) -> str:
    """The catalog name of a source's symbol: ``as_symbol`` or the symbol without ``/`` and ``:``."""
    if as_symbol:
        return normalize_symbol(as_symbol)
    return normalize_symbol(source_symbol.replace("/", "").replace(":", ""))


def check_options(cls: type[Source], options: dict[str, str]) -> None:
    unknown = sorted(set(options) - set(cls.option_names))
    if unknown:
        allowed = ", ".join(cls.option_names) or "none"
        raise InvalidInput(f"{cls.name} does not understand option(s) {', '.join(unknown)} (it takes: {allowed})",
                           field="options")


def complete_until(timeframe: str, now: int) -> int:
    """Open times below this are bars that have closed at ``now`` (on the epoch-aligned grid)."""
    months = calendar_months(timeframe)
    if months is not None:
        return int(calendar_floor(np.array([now], dtype=np.int64), months)[0])
    return align_down(now, timeframe_ns(timeframe))


def next_daily_run(hhmm: str, now: datetime) -> datetime:
    """The next moment after ``now`` (aware) whose UTC wall clock reads ``hhmm`` ("22:30")."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    due = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


class _Progress:
    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self.message = ""
        self.published = 0.0


class FetchJobs:
    def __init__(self, settings: Any, store: FetchStore, write: Store, read_raw: Callable[[str, str], Bars],
                 upsert_instrument: Callable[..., Any], publish: Callable[[str, dict[str, Any]], None],
                 workers: int = 2) -> None:
        self.settings = settings
        self.store = store
        self._write = write
        self._read_raw = read_raw
        self._upsert_instrument = upsert_instrument
        self._publish = publish
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str, str], int] = {}
        self._progress: dict[int, _Progress] = {}
        self._sources: dict[str, Source] = {}  # test hook: injected sources by name

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # Submitting ----------------------------------------------------------------------------------------
    def submit(self, req: FetchRequest) -> FetchJob:
        """Check ``req``, record it ``queued`` and start it; raises 4xx errors for bad requests."""
        cls = type(self._sources[req.source]) if req.source in self._sources else source_class(req.source)
        if not req.symbol.strip() or len(req.symbol) > 64:
            raise InvalidInput("symbol must be 1-64 characters", field="symbol")
        symbol = catalog_symbol(req.symbol, req.as_symbol)
        timeframe_ns(req.timeframe)
        if req.timeframe not in cls.timeframes:
            raise InvalidInput(f"{req.source} serves timeframes {', '.join(cls.timeframes)}, not {req.timeframe!r}",
                               field="timeframe")
        check_options(cls, req.options)
        now = now_ns()
        end = req.end_ns if req.end_ns is not None else now
        start = req.start_ns if req.start_ns is not None else self._resume_point(req.source, symbol, req.timeframe)
        if end <= start:
            raise InvalidInput("end must be after start", field="end")
        if start > now:
            raise InvalidInput("start is in the future", field="start")
        key = (req.source, symbol, req.timeframe)
        with self._lock:
            if key in self._active:
                raise Conflict(f"a fetch of {symbol} {req.timeframe} from {req.source} is already running "
                               f"(job {self._active[key]})", field="symbol")
            row = self.store.create(source=req.source, symbol=symbol, source_symbol=req.symbol.strip(),
                                    timeframe=req.timeframe, start_ns=start, end_ns=end, adjust=req.adjust,
                                    options=req.options)
            self._active[key] = row["id"]
            self._progress[row["id"]] = _Progress()
            for old_id in list(self._progress)[:-PROGRESS_KEPT]:  # finished long ago: SQL keeps their record
                if old_id not in self._active.values():
                    del self._progress[old_id]
        job = self.job(row["id"])
        self._announce(job)
        self._pool.submit(self._run, row["id"], req.force)
        return job

    def _resume_point(self, source: str, symbol: str, timeframe: str) -> int:
        covered = merge_ranges(self.store.covered(source, symbol, timeframe))
        if not covered:
            raise InvalidInput(f"start is required: {symbol} {timeframe} was never fetched from {source}",
                               field="start")
        return covered[-1][1]

    # Reading -------------------------------------------------------------------------------------------
    def job(self, job_id: int) -> FetchJob:
        if not 1 <= job_id < 2**31:  # ids are SQL integers
            raise NotFound(f"fetch {job_id} does not exist", field="job_id")
        return self._to_job(self.store.get(job_id))

    def jobs(self, limit: int, symbol: str | None) -> list[FetchJob]:
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000", field="limit")
        return [self._to_job(row) for row in self.store.list(limit, symbol)]

    def _to_job(self, row: dict[str, Any]) -> FetchJob:
        progress = self._progress.get(row["id"])
        return FetchJob(
            id=row["id"], source=row["source"], symbol=row["symbol"], source_symbol=row["source_symbol"],
            timeframe=row["timeframe"], start_ns=row["start_ns"], end_ns=row["end_ns"], adjust=row["adjust"],
            options=row["options"] or {}, status=row["status"], ranges=[list(r) for r in row["ranges"] or []],
            rows=row["rows"], requests=row["requests"], error=row["error"],
            done=progress.done if progress else 0, total=progress.total if progress else None,
            message=progress.message if progress else "", started_at=iso(row["created_at"]) or "",
            finished_at=iso(row["finished_at"]), duration_s=row["duration_s"])

    # Running -------------------------------------------------------------------------------------------
    def _run(self, job_id: int, force: bool) -> None:
        row = self.store.get(job_id)
        key = (row["source"], row["symbol"], row["timeframe"])
        started = time.monotonic()
        requests = 0
        source: Source | None = None
        try:
            self.store.update(job_id, status="running")
            self._announce(self.job(job_id))
            now = now_ns()
            covered = [] if force else self.store.covered(*key)
            missing = missing_ranges(row["start_ns"], row["end_ns"], covered)
            if not missing:
                self._finish(job_id, "ok", started, message="already up to date")
                return
            source = self._sources.get(row["source"]) or make_source(row["source"], self.settings)
            setup = source.missing_setup()
            if setup is not None:
                raise InvalidInput(f"{row['source']}: {setup}", field="source")
            seed_daily_usage(row["source"], self.store.requests_today(row["source"]))
            fetched: list[Fetched] = []
            for i, (lo, hi) in enumerate(missing):
                req = SourceRequest(symbol=row["source_symbol"], timeframe=row["timeframe"], start_ns=lo, end_ns=hi,
                                    options=row["options"] or {})
                fetched.append(source.fetch(req, self._progress_callback(job_id, i, len(missing))))
                requests += fetched[-1].requests
            rows = self._write_all(row, source, fetched)
            until = complete_until(row["timeframe"], now)
            ranges = [[lo, min(hi, until)] for lo, hi in missing if min(hi, until) > lo]
            self._finish(job_id, "ok", started, rows=rows, requests=requests, ranges=ranges,
                         message=f"{rows} bars written")
        except NautilusError as exc:
            status = "rejected" if 400 <= exc.status < 500 and exc.status != 429 else "failed"
            self._finish(job_id, status, started, requests=requests, error=exc.message)
        except Exception as exc:  # a bug: recorded, logged with its traceback, never a silent thread death
            log.exception("fetch job %s failed", job_id)
            self._finish(job_id, "failed", started, requests=requests, error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            if source is not None and row["source"] not in self._sources:
                source.close()
            with self._lock:  # when recording the end failed (the database is down), still free the series
                if self._active.get(key) == job_id:
                    del self._active[key]

    def _progress_callback(self, job_id: int, part: int, parts: int) -> Callable[[int, int | None, str], None]:
        def progress(done: int, total: int | None, message: str) -> None:
            state = self._progress[job_id]
            state.done, state.total, state.message = done, total, message
            if parts > 1:
                state.message = f"range {part + 1} of {parts}: {message}"
            now = time.monotonic()
            if now - state.published >= PROGRESS_EVERY_S or (total is not None and done >= total):
                state.published = now
                self._announce(self.job(job_id))

        return progress

    def _finish(self, job_id: int, status: str, started: float, *, rows: int = 0, requests: int = 0,
                ranges: list[list[int]] | None = None, error: str | None = None, message: str = "") -> None:
        with self._lock:  # before the end is visible: a caller who sees it may start the next fetch at once
            for key in [k for k, v in self._active.items() if v == job_id]:
                del self._active[key]
        self.store.update(job_id, status=status, rows=rows, requests=requests, ranges=ranges or [], error=error,
                          duration_s=round(time.monotonic() - started, 6))
        state = self._progress.get(job_id)
        if state is not None:
            state.message = error or message
        self._announce(self.job(job_id))
        if status != "ok":
            log.warning("fetch job %s %s: %s", job_id, status, error)

    def _announce(self, job: FetchJob) -> None:
        self._publish(f"marketdata.fetch.{job.id}", msgspec.structs.asdict(job))

    # Writing -------------------------------------------------------------------------------------------
    def _write_all(self, row: dict[str, Any], source: Source, fetched: list[Fetched]) -> int:
        symbol, timeframe = row["symbol"], row["timeframe"]
        bars = concat_bars([f.bars for f in fetched], symbol, timeframe)  # missing ranges are in order, disjoint
        meta = next((f.meta for f in reversed(fetched) if f.meta is not None), None)
        if meta is not None:
            fields = {k: v for k, v in msgspec.structs.asdict(meta).items() if v is not None}
            self._upsert_instrument(symbol, **fields)
        if len(bars) == 0:
            return 0
        if not source.corporate_actions:
            self._write(bars, "merge")
            return len(bars)
        raw_symbol = symbol + RAW_SUFFIX
        self._write(Bars(symbol=raw_symbol, timeframe=timeframe, ts=bars.ts,
                         **{c: getattr(bars, c) for c in COLUMNS}), "merge")
        self.store.save_actions(symbol, row["source"], [a for f in fetched for a in f.actions])
        raw = self._read_raw(raw_symbol, timeframe)
        try:
            adjusted = back_adjust(raw, self.store.actions(symbol), row["adjust"], symbol=symbol)
        except ValueError as exc:
            raise InvalidInput(f"{row['source']}: {symbol}: {exc}", field="symbol") from None
        self._write(adjusted, "replace")
        return len(bars)


class _Stream:
    def __init__(self, stream_id: int, req: StreamRequest, symbol: str) -> None:
        self.id = stream_id
        self.req = req
        self.symbol = symbol
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.status = "running"
        self.bars = 0
        self.last_ts: int | None = None
        self.error: str | None = None
        self.started_at = datetime.now(UTC).isoformat()

    def info(self) -> StreamInfo:
        return StreamInfo(id=self.id, source=self.req.source, symbol=self.symbol, source_symbol=self.req.symbol,
                          timeframe=self.req.timeframe, status=self.status, bars=self.bars, last_ts=self.last_ts,
                          error=self.error, started_at=self.started_at)


class StreamManager:
    """Live bar streams: each runs ``Source.stream`` in a thread; bars are stored and published."""

    def __init__(self, settings: Any, write: Store, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.settings = settings
        self._write = write
        self._publish = publish
        self._streams: dict[int, _Stream] = {}
        self._next = 1
        self._lock = threading.Lock()
        self._sources: dict[str, Source] = {}  # test hook

    def start(self, req: StreamRequest) -> StreamInfo:
        source = self._sources.get(req.source) or make_source(req.source, self.settings)
        if not source.live:
            raise InvalidInput(f"{req.source} has no live bar stream (live sources: ib, ccxt)", field="source")
        check_options(type(source), req.options)
        timeframe_ns(req.timeframe)
        symbol = catalog_symbol(req.symbol, req.as_symbol)
        # from the last complete bar on (sources that poll emit it at once, then each new one)
        start = complete_until(req.timeframe, now_ns()) - timeframe_ns(req.timeframe)
        source_req = SourceRequest(symbol=req.symbol, timeframe=req.timeframe, start_ns=start, end_ns=2**62,
                                   options=req.options)
        source.check(source_req)  # 4xx before anything starts
        with self._lock:
            if any(s.symbol == symbol and s.req.timeframe == req.timeframe and s.status == "running"
                   for s in self._streams.values()):
                raise Conflict(f"{symbol} {req.timeframe} is already streaming", field="symbol")
            stream = _Stream(self._next, req, symbol)
            self._next += 1
            self._streams[stream.id] = stream
        stream.thread = threading.Thread(target=self._run, args=(stream, source, source_req), daemon=True,
                                         name=f"stream-{stream.id}")
        stream.thread.start()
        return stream.info()

    def _run(self, stream: _Stream, source: Source, req: SourceRequest) -> None:
        def emit(bars: Bars) -> None:
            if len(bars) == 0:
                return
            named = Bars(symbol=stream.symbol, timeframe=bars.timeframe, ts=bars.ts,
                         **{c: getattr(bars, c) for c in COLUMNS})
            self._write(named, "merge")
            for i in range(len(named)):
                self._publish(f"bars.{stream.symbol}", {
                    "ts": int(named.ts[i]), **{c: float(getattr(named, c)[i]) for c in COLUMNS},
                    "symbol": stream.symbol, "timeframe": named.timeframe, "source": stream.req.source})
            stream.bars += len(named)
            stream.last_ts = int(named.ts[-1])

        try:
            source.stream(req, emit, stream.stop)
            stream.status = "stopped"
        except NautilusError as exc:
            stream.status, stream.error = "failed", exc.message
        except Exception as exc:
            log.exception("stream %s failed", stream.id)
            stream.status, stream.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if stream.req.source not in self._sources:
                source.close()

    def stop(self, stream_id: int) -> StreamInfo:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise NotFound(f"stream {stream_id} does not exist", field="stream_id")
        stream.stop.set()
        if stream.thread is not None:
            stream.thread.join(timeout=5.0)
        if stream.status == "running":
            stream.status = "stopped"
        return stream.info()

    def list(self) -> list[StreamInfo]:
        return [s.info() for s in self._streams.values()]

    def close(self) -> None:
        for stream in list(self._streams.values()):
            stream.stop.set()
