"""Fault injection on the other stateful engines: MarketData, the WebSocket hub and ML.

Each engine runs as its own host process that a keeper restarts (as the supervisor does) and that the test
kills with SIGKILL at random points while callers (the gateway's kind of client: no in-process stand-in, a
bounded wait for the restart) keep working. Every failure a caller sees must be a 503 with its cause.

- MarketData (SQLite and PostgreSQL): concurrent writers generate and ingest distinct symbols and append to one
  symbol; it also kills itself between the catalog commit and its SQL mirror and between that and the reply
  (``NAUTILUS_FAULTS``). Afterwards every acknowledged write is fully present (bars equal to an independent
  oracle), nothing partial, and ``catalog_series`` (``instruments``) equals what the catalog files hold.
- WebSocket hub: publishers and a poller; after each restart publish and poll work again. The hub keeps its
  rings in memory: a crash loses the buffered messages; ids keep rising across restarts (each life starts at
  its start time in microseconds), so a poller from before a crash gets every new message with ``gap`` set.
- ML: training jobs killed mid-run end ``failed`` with the code ``interrupted`` after the restart (never
  ``running`` forever, never a 404), finished jobs keep their result, and the registry is intact.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import numpy as np
import pytest
from sqlalchemy import URL
from tests.support.keeper import Keeper

from nautilus.core.errors import NautilusError
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import BarsRequest, GenerateRequest, IngestRequest
from nautilus.engines.ml.messages import JobId, ModelsRequest, TrainRequest
from nautilus.engines.websocket.messages import BusMessage, PollRequest, PublishBatch
from nautilus.runtime.client import EngineClient

pytestmark = pytest.mark.integration
CYCLES = int(os.environ.get("NAUTILUS_TEST_ENGINE_CRASH_CYCLES", "10"))
RETRYABLE = {"engine_restarting", "engine_unavailable", "fenced_out", "unavailable"}
DAY = 86_400 * 10**9
T_APPEND = 1_704_153_600 * 10**9  # 2024-01-02: the appended symbol's first day


class Flow:
    """Shared bookkeeping of one run: callers' failures by code, errors raised in worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def attempt(self, client: EngineClient, method: str, request: Any, *, until: float | None = None,
                timeout: float = 30.0) -> Any:
        """Call until it succeeds (after ``stop`` only until ``until``), counting each failure by code; anything
        but a 503 with a cause fails the test."""
        while True:
            try:
                return client.call(method, request, timeout=timeout)
            except NautilusError as exc:
                with self.lock:
                    self.failures[exc.code] = self.failures.get(exc.code, 0) + 1
                assert exc.code in RETRYABLE and exc.status == 503 and exc.message, (method, exc.code, exc.message)
            if until is None and self.stop.is_set():
                return None
            assert until is None or time.time() < until, f"{method} never succeeded again"
            time.sleep(0.01)

    def run(self, target: Any, *args: Any) -> threading.Thread:
        def guarded() -> None:
            try:
                target(*args)
            except BaseException as exc:  # reported by the main thread
                self.errors.append(exc)
                raise

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread


def _kill_cycles(keeper: Keeper, flow: Flow, progress: Any, min_progress: int, seed: int,
                 window_s: float = 0.05) -> None:
    """``CYCLES`` times: wait for ``min_progress`` acknowledged calls since the last restart, then SIGKILL the
    engine somewhere inside the next calls and wait for its successor."""
    rng = random.Random(seed)
    for _ in range(CYCLES):
        start, deadline = progress(), time.time() + 120
        while progress() < start + min_progress:
            assert not flow.errors and time.time() < deadline, flow.errors or "the flow stopped"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, window_s))
        keeper.kill()
        time.sleep(0.05)
        keeper.wait_up()


# MarketData ------------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def md_env(request: pytest.FixtureRequest, settings: Any, stack_env: dict[str, str]) -> dict[str, str]:
    env = dict(stack_env, NAUTILUS_WRITER_WAIT_S="20",
               NAUTILUS_FAULTS="marketdata.catalog.written=0.02,marketdata.series.recorded=0.02")
    if request.param == "postgresql":
        url: URL = request.getfixturevalue("pg_url")
        settings.database_url = url.render_as_string(hide_password=False)
        env["NAUTILUS_DATABASE_URL"] = settings.database_url
    settings.writer_wait_s = 20.0
    settings.ensure_dirs()
    return env


def _generated(symbol: str, n: int, seed: int) -> Any:
    """The bars ``generate`` must have stored (the engine's own defaults, computed here)."""
    from nautilus.core.calendars import calendar_for
    from nautilus.marketdata import synthetic

    req = GenerateRequest(symbol=symbol, n=n, seed=seed)
    return synthetic.gbm_bars(symbol, req.timeframe, req.start_ns, n, s0=req.s0, mu=req.mu, sigma=req.sigma,
                              seed=seed, sessions=req.sessions or calendar_for(symbol))


def _csv(first_day: int, rows: int, base: float) -> bytes:
    lines = ["date,open,high,low,close,volume"]
    for k in range(rows):
        day = time.strftime("%Y-%m-%d", time.gmtime((T_APPEND + (first_day + k) * DAY) // 10**9))
        px = base + k * 0.25
        lines.append(f"{day},{px},{px + 1},{px - 1},{px + 0.5},{1000 + k}")
    return ("\n".join(lines) + "\n").encode()


def test_marketdata_sigkill_under_concurrent_writers(settings, md_env) -> None:
    keeper = Keeper(settings, md_env, "marketdata")
    keeper.wait_up()
    flow = Flow()
    acked: dict[str, Any] = {}  # symbol -> the oracle of its stored bars (arrays by column)
    appended = {"chunks": 0}  # chunks of 3 daily bars acknowledged on APP
    done = {"n": 0}

    def ack(symbol: str, oracle: dict[str, np.ndarray]) -> None:
        with flow.lock:
            acked[symbol] = oracle
            done["n"] += 1

    def generator(worker: int) -> None:
        client = EngineClient("marketdata", settings, probe=False)
        assert "inproc" not in client.transports
        i = 0
        while not flow.stop.is_set():
            symbol, n, seed = f"G{worker}X{i}", 40 + 7 * i, 100 * worker + i
            # retried with the same request until acknowledged (replace: the same bars again), even after stop
            reply = flow.attempt(client, "generate", GenerateRequest(symbol=symbol, n=n, seed=seed),
                                 until=time.time() + 120)
            assert (reply.symbol, reply.total_rows) == (symbol, n), reply
            bars = _generated(symbol, n, seed)
            ack(symbol, {c: getattr(bars, c) for c in ("ts", "open", "high", "low", "close", "volume")})
            i += 1
        client.close()

    def ingester() -> None:
        client = EngineClient("marketdata", settings, probe=False)
        i = 0
        while not flow.stop.is_set():
            if i % 2:  # a distinct symbol, replaced whole
                symbol, data, mode = f"I{i}", _csv(0, 5, 10.0 + i), "replace"
            else:  # the next 3 days of APP, merged (the same rows again on a retry)
                k = appended["chunks"]
                symbol, data, mode = "APP", _csv(3 * k, 3, 50.0 + 3 * k), "merge"
            reply = flow.attempt(client, "ingest", IngestRequest(symbol=symbol, timeframe="1d", data=data, mode=mode,
                                                                 filename=f"{symbol}.csv"), until=time.time() + 120)
            assert reply.symbol == symbol and reply.rows_written in (3, 5), reply
            if symbol == "APP":
                appended["chunks"] += 1
                with flow.lock:
                    done["n"] += 1
            else:
                ack(symbol, _oracle_csv(5, 10.0 + i, 0))
            i += 1
        client.close()

    workers = [flow.run(generator, w) for w in range(2)] + [flow.run(ingester)]
    try:
        _kill_cycles(keeper, flow, lambda: done["n"], 3, os.getpid())
        flow.stop.set()
        for w in workers:
            w.join(180)
        assert not flow.errors, flow.errors
        keeper.wait_up()
        client = EngineClient("marketdata", settings, probe=False)
        if appended["chunks"]:
            acked["APP"] = _oracle_csv(3 * appended["chunks"], 50.0, 0, appended_chunks=True)
        # every acknowledged write fully present, equal to its oracle
        for symbol, oracle in acked.items():
            bars = flow.attempt(client, "bars", BarsRequest(symbol=symbol, timeframe="1d"), until=time.time() + 60)
            for column, want in oracle.items():
                np.testing.assert_array_equal(np.array(getattr(bars, column)), want, err_msg=f"{symbol}.{column}")
        # SQL's catalog_series mirrors the catalog files exactly: no series missing, stale or partial
        from nautilus.storage.catalog import BarCatalog

        catalog = BarCatalog(settings.catalog_dir)
        on_disk = {}
        for symbol in catalog.symbols():
            for timeframe in catalog.timeframes(symbol):
                stats = catalog.stats(symbol, timeframe)
                on_disk[(symbol, timeframe)] = (stats.first_ts, stats.last_ts, stats.rows)
        listed = flow.attempt(client, "instruments", None, until=time.time() + 60).instruments
        in_sql = {(i.symbol, s.timeframe): (s.first_ts, s.last_ts, s.rows) for i in listed for s in i.series}
        assert in_sql == on_disk
        # the catalog holds exactly the acknowledged series (every write was retried until acknowledged)
        assert {symbol for symbol, _ in on_disk} == set(acked)
        for (symbol, _), (first, last, rows) in on_disk.items():
            bars = client.call("bars", BarsRequest(symbol=symbol, timeframe="1d"))
            assert (len(bars), int(bars.ts[0]), int(bars.ts[-1])) == (rows, first, last), symbol
        client.close()
    finally:
        flow.stop.set()
        keeper.stop()
    assert keeper.deaths >= CYCLES
    print(f"\nmarketdata {settings.database_url.split(':')[0]}: {keeper.deaths} crashes, {len(acked)} series, "
          f"{appended['chunks']} appends, failures seen by callers: {flow.failures}")


def test_marketdata_crash_between_catalog_commit_and_sql_is_repaired_on_start(settings, md_env) -> None:
    """The engine dies right after the catalog files changed, before ``catalog_series`` did: the next writer sets
    the row from the catalog before it takes calls (a longer series, and a new one)."""
    clean = dict(md_env, NAUTILUS_FAULTS="")
    keeper = Keeper(settings, clean, "marketdata")
    client = EngineClient("marketdata", settings, probe=False)
    try:
        keeper.wait_up()
        client.call("generate", GenerateRequest(symbol="OLD", n=50))
        keeper.stop()
        keeper = Keeper(settings, dict(md_env, NAUTILUS_FAULTS="marketdata.catalog.written=1"), "marketdata")
        keeper.wait_up()
        for symbol, n in (("OLD", 80), ("NEW", 30)):  # each write kills the engine (the keeper restarts it)
            with pytest.raises(NautilusError) as failed:
                client.call("generate", GenerateRequest(symbol=symbol, n=n))
            assert failed.value.status == 503 and failed.value.message, failed.value
            keeper.wait_up()
        keeper.stop()
        keeper = Keeper(settings, clean, "marketdata")
        keeper.wait_up()
        listed = client.call("instruments", None).instruments
        assert {(i.symbol, s.rows) for i in listed for s in i.series} == {("OLD", 80), ("NEW", 30)}
        for symbol, n in (("OLD", 80), ("NEW", 30)):
            assert len(client.call("bars", BarsRequest(symbol=symbol))) == n
    finally:
        client.close()
        keeper.stop()


def _oracle_csv(rows: int, base: float, first_day: int, appended_chunks: bool = False) -> dict[str, np.ndarray]:
    """The columns :func:`_csv` (or, with ``appended_chunks``, its 3-row chunks one after another) stores."""
    if appended_chunks:
        parts = [_oracle_csv(3, base + 3 * k, 3 * k) for k in range(rows // 3)]
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    k = np.arange(rows)
    px = base + k * 0.25
    return {"ts": T_APPEND + (first_day + k) * DAY, "open": px, "high": px + 1, "low": px - 1, "close": px + 0.5,
            "volume": (1000 + k).astype(np.float64)}


# WebSocket hub ---------------------------------------------------------------------------------------------
@pytest.fixture
def ws_env(settings: Any, stack_env: dict[str, str]) -> dict[str, str]:
    settings.writer_wait_s = 20.0
    settings.ensure_dirs()
    return dict(stack_env, NAUTILUS_WRITER_WAIT_S="20")


def test_websocket_hub_sigkill_under_publishers_and_a_poller(settings, ws_env) -> None:
    keeper = Keeper(settings, ws_env, "websocket")
    keeper.wait_up()
    flow = Flow()
    published = {"n": 0}
    seen = {"messages": 0, "restarts": 0, "max_id": 0}

    def publisher(worker: int) -> None:
        client = EngineClient("websocket", settings, probe=False)
        assert "inproc" not in client.transports
        i = 0
        while not flow.stop.is_set():
            batch = PublishBatch([BusMessage(f"test.p{worker}", {"w": worker, "i": i + j}) for j in range(3)])
            reply = flow.attempt(client, "publish", batch)
            if reply is None:
                break
            assert reply.count == 3 and reply.last_id >= 3, reply
            with flow.lock:
                published["n"] += 1
            i += 3
            time.sleep(0.002)
        client.close()

    def poller() -> None:
        client = EngineClient("websocket", settings, probe=False)
        after = flow.attempt(client, "poll", PollRequest(after_id=None)).last_id
        while not flow.stop.is_set():
            reply = flow.attempt(client, "poll", PollRequest(after_id=after, timeout_s=0.2))
            if reply is None:
                break
            if reply.messages:
                ids = [m.id for m in reply.messages]
                assert ids == list(range(ids[0], ids[0] + len(ids))) and ids[0] > after, (after, ids[:5])
                after = seen["max_id"] = ids[-1]
                seen["messages"] += len(ids)
                seen["restarts"] += reply.gap  # the hub restarted: told, never a silent skip
            elif reply.last_id < after:  # a clock stepped back across a restart (the gateway's rule too)
                seen["restarts"] += 1
                after = reply.last_id
        client.close()

    workers = [flow.run(publisher, w) for w in range(2)] + [flow.run(poller)]
    try:
        _kill_cycles(keeper, flow, lambda: published["n"], 5, os.getpid())
        flow.stop.set()
        for w in workers:
            w.join(60)
        assert not flow.errors, flow.errors
        # after the last restart: the hub is empty, ids go on rising from the new life's start, publish and poll work
        keeper.kill()
        time.sleep(0.05)
        keeper.wait_up()
        client = EngineClient("websocket", settings, probe=False)
        before = flow.attempt(client, "channels", None, until=time.time() + 60)
        assert (before.ingested, before.items) == (0, []), "the hub's rings are in memory"
        assert before.last_id > seen["max_id"], "ids rise across restarts"
        reply = flow.attempt(client, "publish", PublishBatch([BusMessage("test.after", {"k": 1})]),
                             until=time.time() + 60)
        assert (reply.count, reply.last_id) == (1, before.last_id + 1)
        polled = client.call("poll", PollRequest(after_id=0))
        assert polled.gap
        assert [(m.id, m.seq, m.channel, m.data) for m in polled.messages] == [(reply.last_id, 1, "test.after",
                                                                                {"k": 1})]
        client.close()
    finally:
        flow.stop.set()
        keeper.stop()
    assert keeper.deaths >= CYCLES + 1
    assert seen["messages"] > 0
    print(f"\nwebsocket: {keeper.deaths} crashes, {published['n']} batches acknowledged, {seen['messages']} polled, "
          f"{seen['restarts']} restarts noticed by the poller, failures seen by callers: {flow.failures}")


def test_websocket_poller_far_behind_learns_of_a_hub_restart(settings, ws_env) -> None:
    keeper = Keeper(settings, ws_env, "websocket")
    client = EngineClient("websocket", settings, probe=False)
    try:
        keeper.wait_up()
        client.call("publish", PublishBatch([BusMessage("test.a", {"i": i}) for i in range(5)]))
        after = client.call("poll", PollRequest(after_id=0)).messages[-1].id  # 5
        keeper.kill()
        time.sleep(0.05)
        keeper.wait_up()
        client.call("publish", PublishBatch([BusMessage("test.b", {"i": i}) for i in range(8)]), timeout=30)
        reply = client.call("poll", PollRequest(after_id=after))
        # the new hub's ids start above the old one's: the poller gets every new message and is told of the gap
        assert reply.gap and len(reply.messages) == 8 and reply.messages[0].id > after, reply
    finally:
        client.close()
        keeper.stop()


# ML --------------------------------------------------------------------------------------------------------
ML_SYMBOLS = ["AAA", "BBB"]
SMALL = {"kind": "lightgbm", "params": {"num_boost_round": 20, "num_leaves": 7}}
LONG = {"kind": "mlp", "params": {"epochs": 500}, "early_stopping_rounds": 0}


@pytest.fixture
def ml_env(settings: Any, stack_env: dict[str, str]) -> dict[str, str]:
    settings.writer_wait_s = 30.0
    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    for k, symbol in enumerate(ML_SYMBOLS):
        md.generate(GenerateRequest(symbol=symbol, n=900, seed=60 + k))
    md.close()
    return dict(stack_env, NAUTILUS_WRITER_WAIT_S="30")


def _train(flow: Flow, client: EngineClient, model: dict[str, Any], n_folds: int, wait: bool = False) -> Any:
    import msgspec

    from nautilus.engines.ml.messages import ModelBody

    req = TrainRequest(task="direction", symbols=ML_SYMBOLS, model=msgspec.convert(model, ModelBody),
                       n_folds=n_folds, wait=wait)
    return flow.attempt(client, "train", req, until=time.time() + 120, timeout=120.0)


def test_ml_training_jobs_killed_mid_run_end_interrupted(settings, ml_env) -> None:
    keeper = Keeper(settings, ml_env, "ml")
    keeper.wait_up()
    flow = Flow()
    client = EngineClient("ml", settings, probe=False)
    assert "inproc" not in client.transports
    rng = random.Random(os.getpid())
    killed: list[str] = []
    try:
        finished = _train(flow, client, SMALL, 3, wait=True)  # a job that ends before any kill
        assert finished.status == "done" and finished.model["version"] == 1, finished
        for _ in range(CYCLES):
            job = _train(flow, client, LONG, 10)
            assert job.status in ("queued", "running"), job
            deadline = time.time() + 60
            while flow.attempt(client, "job", JobId(id=job.id), until=deadline).status != "running":
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.5))  # somewhere inside the features or the training
            keeper.kill()
            killed.append(job.id)
            time.sleep(0.05)
            keeper.wait_up()
            after = flow.attempt(client, "job", JobId(id=job.id), until=time.time() + 60)
            assert after.status == "failed" and after.error["code"] == "interrupted" and after.finished, after
        jobs = {j.id: j for j in flow.attempt(client, "list_jobs", None, until=time.time() + 60).items}
        assert set(killed) | {finished.id} <= set(jobs)
        assert all(jobs[i].status == "failed" and jobs[i].error["code"] == "interrupted" for i in killed)
        assert (jobs[finished.id].status, jobs[finished.id].model) == ("done", finished.model)
        assert not [j for j in jobs.values() if j.status in ("queued", "running")], "a job shows running forever"
        models = flow.attempt(client, "models", ModelsRequest(name="direction"), until=time.time() + 60).items
        assert [m["version"] for m in models] == [1], models  # no half-registered model of a killed job
        # and training works again on the new writer
        again = _train(flow, client, SMALL, 3, wait=True)
        assert again.status == "done" and again.model["version"] == 2, again
    finally:
        client.close()
        keeper.stop()
    assert keeper.deaths >= CYCLES
    print(f"\nml: {keeper.deaths} crashes, {len(killed)} jobs killed mid-run, failures seen: {flow.failures}")
