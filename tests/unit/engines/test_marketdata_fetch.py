"""Fetch jobs in the MarketData engine (in-process): plan → fetch → one write → record, incremental updates,
nothing written on failure, progress on the bus, corporate actions and the adjusted/raw series."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest
import respx
from tests.support.paths import FIXTURES

from nautilus.adapters.base import CorporateAction, Fetched, Source, SourceRequest, finish_bars
from nautilus.adapters.ratelimit import reset_limiters
from nautilus.core.errors import Conflict, InvalidInput, NotFound, SourceUnreachable
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.fetch import catalog_symbol, complete_until
from nautilus.engines.marketdata.messages import (
    FetchJobRequest,
    FetchListRequest,
    FetchRequest,
    StreamRequest,
    StreamStopRequest,
    UpdateRequest,
)
from nautilus.storage.fetches import FetchStore

CHART = FIXTURES / "yahoo" / "chart_AAPL_1d.json"
URL = "https://query2.finance.yahoo.com/v8/finance/chart/AAPL"
DAY = 86_400_000_000_000


def ns(date: str) -> int:
    return int(np.datetime64(date, "ns").astype(np.int64))


@pytest.fixture
def engine(settings):
    reset_limiters()
    settings.source_backoff_s = 0.0
    settings.source_retries = 1
    eng = MarketDataEngine(settings)
    eng.start()
    yield eng
    eng.close()


def wait(engine, job_id: int, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = engine.fetch_job(FetchJobRequest(job_id=job_id))
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {job.status}")


def yahoo_request(start="2020-08-01", end="2020-09-08", **kw) -> FetchRequest:
    return FetchRequest(source="yahoo", symbol="AAPL", timeframe="1d", start_ns=ns(start), end_ns=ns(end), **kw)


@respx.mock
def test_fetch_writes_adjusted_and_raw_series_and_records_it(engine):
    chart = json.loads(CHART.read_text())
    respx.get(URL).mock(return_value=httpx.Response(200, json=chart))
    sub = engine.bus.subscribe("marketdata.fetch.*")
    job = engine.fetch_start(yahoo_request())
    assert job.status in ("queued", "running") and job.symbol == "AAPL"
    done = wait(engine, job.id)
    assert done.status == "ok", done.error
    assert done.rows == 25 and done.requests == 1
    assert done.ranges == [[ns("2020-08-01"), ns("2020-09-08")]]
    adjusted = engine.catalog.read("AAPL", "1d")
    raw = engine.catalog.read("AAPL.RAW", "1d")
    np.testing.assert_allclose(adjusted.close, chart["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"],
                               rtol=1e-6)
    assert raw.close[0] == pytest.approx(435.75)
    store = FetchStore(engine.database)
    assert [(a.kind, a.value) for a in store.actions("AAPL")] == [("dividend", pytest.approx(0.82)), ("split", 4.0)]
    instruments = {i.symbol: i for i in engine.instruments().instruments}
    assert instruments["AAPL"].name == "Apple Inc." and instruments["AAPL"].currency == "USD"
    statuses = []
    while (msg := sub.get(timeout=0.5)) is not None:
        topic, payload = msg
        if topic == f"marketdata.fetch.{job.id}":
            statuses.append(payload["status"])
    assert statuses[0] == "queued" and statuses[-1] == "ok" and "running" in statuses
    listed = engine.fetches_list(FetchListRequest(limit=5)).fetches
    assert listed[0].id == job.id and listed[0].duration_s is not None


@respx.mock
def test_incremental_fetch_requests_only_missing_ranges(engine):
    chart = json.loads(CHART.read_text())
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=chart))
    assert wait(engine, engine.fetch_start(yahoo_request("2020-08-10", "2020-08-20")).id).status == "ok"
    assert route.call_count == 1
    again = wait(engine, engine.fetch_start(yahoo_request("2020-08-12", "2020-08-18")).id)
    assert again.status == "ok" and again.message == "already up to date" and route.call_count == 1
    wider = wait(engine, engine.fetch_start(yahoo_request("2020-08-03", "2020-09-01")).id)
    assert wider.status == "ok" and route.call_count == 3  # before and after the covered range, not inside it
    windows = sorted((int(c.request.url.params["period1"]), int(c.request.url.params["period2"]))
                     for c in route.calls[1:])
    assert windows[0][1] * 10**9 <= ns("2020-08-10") + DAY + 10**9  # first window ends at the coverage (+pad)
    assert windows[1][0] * 10**9 >= ns("2020-08-20") - DAY - 10**9
    assert len(engine.catalog.read("AAPL", "1d")) == len(engine.catalog.read("AAPL.RAW", "1d")) == 21
    forced = wait(engine, engine.fetch_start(yahoo_request("2020-08-12", "2020-08-18", force=True)).id)
    assert forced.status == "ok" and route.call_count == 4
    # continuing without a start picks up where coverage ends
    cont = engine.fetch_start(FetchRequest(source="yahoo", symbol="AAPL", end_ns=ns("2020-09-08")))
    assert cont.start_ns == ns("2020-09-01")
    wait(engine, cont.id)


@respx.mock
def test_failures_write_nothing_and_say_why(engine):
    respx.get("https://query2.finance.yahoo.com/v8/finance/chart/NOSUCH").mock(return_value=httpx.Response(
        404, json={"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found"}}}))
    job = wait(engine, engine.fetch_start(FetchRequest(source="yahoo", symbol="NOSUCH", start_ns=ns("2020-01-01"),
                                                       end_ns=ns("2020-02-01"))).id)
    assert job.status == "rejected" and job.error.startswith("yahoo: unknown symbol 'NOSUCH'")
    respx.get(URL).mock(side_effect=httpx.ConnectError("network is unreachable"))
    down = wait(engine, engine.fetch_start(yahoo_request()).id)
    assert down.status == "failed" and "yahoo: cannot reach" in down.error
    assert engine.catalog.symbols() == []
    assert engine.instruments().instruments == []
    assert FetchStore(engine.database).covered("yahoo", "AAPL", "1d") == []


class ScriptedSource(Source):
    """A source whose pages come from a list; a page may be an exception (partial failures)."""

    name = "yahoo"
    timeframes = ("1d",)
    live = True
    corporate_actions = True

    def __init__(self, pages):
        self.pages = list(pages)
        self.calls: list[tuple[int, int]] = []

    def fetch(self, req: SourceRequest, progress=None) -> Fetched:
        self.calls.append((req.start_ns, req.end_ns))
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        ts = np.arange(req.start_ns, req.end_ns, DAY, dtype=np.int64)
        close = np.full(len(ts), page, dtype=float)
        cols = {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": np.ones(len(ts))}
        return Fetched(bars=finish_bars("scripted", req.symbol, "1d", ts, cols, req.start_ns, req.end_ns), requests=1,
                       actions=[CorporateAction(ts=int(ts[len(ts) // 2]), kind="split", value=2.0)])

    def stream(self, req, emit, stop):
        for k in range(3):
            ts = np.array([ns("2024-01-01") + k * DAY])
            one = np.array([10.0 + k])
            emit(finish_bars("scripted", req.symbol, "1d", ts, {"open": one, "high": one, "low": one, "close": one,
                                                                   "volume": one}, 0, 2**62))
        stop.wait(5)


def test_a_failing_range_fails_the_whole_fetch(engine):
    # covered middle → two missing ranges; the second fails: nothing of the first is written
    store = FetchStore(engine.database)
    run = store.create(source="yahoo", symbol="AAPL", source_symbol="AAPL", timeframe="1d", start_ns=ns("2021-01-10"),
                       end_ns=ns("2021-01-20"), adjust="total", options={})
    store.update(run["id"], status="ok", ranges=[[ns("2021-01-10"), ns("2021-01-20")]])
    source = ScriptedSource([50.0, SourceUnreachable("yahoo: server error HTTP 502")])
    engine.jobs._sources["yahoo"] = source
    job = wait(engine, engine.fetch_start(yahoo_request("2021-01-01", "2021-02-01")).id)
    assert job.status == "failed" and job.error == "yahoo: server error HTTP 502"
    assert source.calls == [(ns("2021-01-01"), ns("2021-01-10")), (ns("2021-01-20"), ns("2021-02-01"))]
    assert engine.catalog.symbols() == []


def test_adjusted_series_is_rebuilt_from_all_raw_bars(engine):
    engine.jobs._sources["yahoo"] = ScriptedSource([40.0, 40.0])
    wait(engine, engine.fetch_start(yahoo_request("2021-01-01", "2021-01-05")).id)
    wait(engine, engine.fetch_start(yahoo_request("2021-01-05", "2021-01-09")).id)
    raw = engine.catalog.read("AAPL.RAW", "1d")
    adjusted = engine.catalog.read("AAPL", "1d")
    assert len(raw) == len(adjusted) == 8
    # splits of 2 at 2021-01-03 and 2021-01-07: bars before the first are divided by 4, between by 2
    np.testing.assert_allclose(adjusted.close, [10, 10, 20, 20, 20, 20, 40, 40])
    np.testing.assert_allclose(adjusted.volume, [4, 4, 2, 2, 2, 2, 1, 1])


def test_submit_rejects_bad_requests_at_once(engine):
    with pytest.raises(InvalidInput, match="unknown source 'nope'"):
        engine.fetch_start(FetchRequest(source="nope", symbol="AAPL", start_ns=0))
    with pytest.raises(InvalidInput, match="yahoo serves timeframes"):
        engine.fetch_start(FetchRequest(source="yahoo", symbol="AAPL", timeframe="4h", start_ns=0))
    with pytest.raises(InvalidInput, match="end must be after start"):
        engine.fetch_start(yahoo_request("2021-01-01", "2020-01-01"))
    with pytest.raises(InvalidInput, match="start is required"):
        engine.fetch_start(FetchRequest(source="yahoo", symbol="AAPL"))
    with pytest.raises(InvalidInput, match="does not understand option"):
        engine.fetch_start(yahoo_request(options={"exchange": "kraken"}))
    with pytest.raises(InvalidInput, match="symbol"):
        engine.fetch_start(FetchRequest(source="yahoo", symbol="A B", start_ns=0))
    with pytest.raises(NotFound):
        engine.fetch_job(FetchJobRequest(job_id=999))
    assert engine.fetches_list(FetchListRequest()).fetches == []


def test_one_running_fetch_per_series(engine):
    class Slow(ScriptedSource):
        def fetch(self, req, progress=None):
            time.sleep(0.5)
            return super().fetch(req, progress)

    engine.jobs._sources["yahoo"] = Slow([3.0])
    first = engine.fetch_start(yahoo_request("2021-01-01", "2021-01-05"))
    with pytest.raises(Conflict, match=f"already running \\(job {first.id}\\)"):
        engine.fetch_start(yahoo_request("2021-01-01", "2021-01-05"))
    assert wait(engine, first.id).status == "ok"


def test_update_continues_every_fetched_series(engine):
    engine.jobs._sources["yahoo"] = ScriptedSource([5.0, 6.0])
    wait(engine, engine.fetch_start(yahoo_request("2021-01-01", "2021-01-05")).id)
    jobs = engine.update(UpdateRequest()).fetches
    assert [(j.symbol, j.start_ns) for j in jobs] == [("AAPL", ns("2021-01-05"))]
    assert wait(engine, jobs[0].id).status == "ok"
    with pytest.raises(NotFound, match="never fetched"):
        engine.update(UpdateRequest(symbols=["MSFT"]))


def test_orphaned_runs_are_marked_failed_on_start(engine, settings):
    store = FetchStore(engine.database)
    run = store.create(source="yahoo", symbol="AAPL", source_symbol="AAPL", timeframe="1d", start_ns=0, end_ns=DAY,
                       adjust="total", options={})
    store.update(run["id"], status="running", owner="nohost-here:1")  # another host: left alone
    mine = store.create(source="yahoo", symbol="MSFT", source_symbol="MSFT", timeframe="1d", start_ns=0, end_ns=DAY,
                        adjust="total", options={})
    import socket

    store.update(mine["id"], status="running", owner=f"{socket.gethostname()}:999999999")
    assert store.interrupt_orphans() == 1
    assert store.get(mine["id"])["status"] == "failed" and store.get(run["id"])["status"] == "running"


def test_live_stream_stores_and_publishes_bars(engine):
    engine.streams._sources["ccxt"] = ScriptedSource([])
    sub = engine.bus.subscribe("bars.*")
    info = engine.stream_start(StreamRequest(source="ccxt", symbol="BTC/USDT", timeframe="1d"))
    assert info.symbol == "BTCUSDT" and info.status == "running"
    deadline = time.monotonic() + 5
    while engine.streams_list().streams[0].bars < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stopped = engine.stream_stop(StreamStopRequest(stream_id=info.id))
    assert stopped.status == "stopped" and stopped.bars == 3
    assert list(engine.catalog.read("BTCUSDT", "1d").close) == [10.0, 11.0, 12.0]
    topics = []
    while (msg := sub.get(timeout=0.2)) is not None:
        topics.append((msg[0], msg[1]["close"]))
    assert topics == [("bars.BTCUSDT", 10.0), ("bars.BTCUSDT", 11.0), ("bars.BTCUSDT", 12.0)]
    with pytest.raises(InvalidInput, match="no live bar stream"):
        engine.stream_start(StreamRequest(source="yahoo", symbol="AAPL", timeframe="1d"))


def test_names_and_completeness():
    assert catalog_symbol("BTC/USDT") == "BTCUSDT" and catalog_symbol("eurusd=x") == "EURUSD=X"
    assert catalog_symbol("BTC/USDT", "btc") == "BTC"
    assert complete_until("1d", ns("2024-03-05") + 5 * 3600 * 10**9) == ns("2024-03-05")
    assert complete_until("1mo", ns("2024-03-05")) == ns("2024-03-01")
    assert complete_until("1q", ns("2024-05-05")) == ns("2024-04-01")


def test_daily_quota_counts_requests_of_earlier_processes(engine):
    from nautilus.adapters.ratelimit import RateLimiter, limiter_for

    store = FetchStore(engine.database)
    earlier = store.create(source="yahoo", symbol="OLD", source_symbol="OLD", timeframe="1d", start_ns=0, end_ns=DAY,
                           adjust="total", options={})
    store.update(earlier["id"], status="ok", requests=5)
    limiter = limiter_for("yahoo", lambda: RateLimiter("yahoo", 100, daily=5))
    engine.jobs._sources["yahoo"] = ScriptedSource([1.0])
    wait(engine, engine.fetch_start(yahoo_request("2021-01-01", "2021-01-03")).id)
    with pytest.raises(Exception, match="daily quota of 5 requests"):
        limiter.acquire()


def test_next_daily_run():
    from datetime import UTC, datetime, timedelta, timezone

    from nautilus.engines.marketdata.fetch import next_daily_run

    assert next_daily_run("22:30", datetime(2026, 3, 1, 21, 0, tzinfo=UTC)) == datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert next_daily_run("22:30", datetime(2026, 3, 1, 22, 30, tzinfo=UTC)) == datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert next_daily_run("00:05", datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    local = datetime(2026, 3, 1, 23, 0, tzinfo=timezone(timedelta(hours=2)))  # 21:00 UTC
    assert next_daily_run("22:30", local) == datetime(2026, 3, 1, 22, 30, tzinfo=UTC)


def test_daily_update_runs_at_the_configured_time(settings, monkeypatch):
    """With update_time set the engine starts `update` when the clock reaches it (the wait is shortened here)."""
    from datetime import UTC, datetime

    import nautilus.engines.marketdata.engine as engine_module

    settings.update_time = "22:30"
    ran = []
    waits = []

    class Clock:
        @staticmethod
        def now(tz=None):
            return datetime(2026, 3, 1, 22, 29, 0, tzinfo=UTC)

    monkeypatch.setattr(engine_module, "datetime", Clock)
    eng = MarketDataEngine(settings)
    monkeypatch.setattr(eng, "update", lambda req: ran.append(req) or type("R", (), {"fetches": []})())
    real_wait = eng._scheduler_stop.wait
    monkeypatch.setattr(eng._scheduler_stop, "wait", lambda s: waits.append(s) or (len(waits) > 1 or real_wait(0)))
    eng.start()
    try:
        deadline = time.monotonic() + 5
        while len(waits) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        eng.close()
    assert waits[0] == 60.0 and len(ran) == 1
