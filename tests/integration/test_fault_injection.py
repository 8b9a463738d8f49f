"""Fault injection on the paper book, on SQLite and on the real PostgreSQL.

Concurrent keyed order flow (two clients, each retrying a failed submission with the same idempotency key)
and a bar stream run against a Portfolio engine process that is killed with SIGKILL at random points,
at least 20 times per database, and that also kills itself between a commit and its reply
(``NAUTILUS_FAULTS``). A keeper restarts it, as the supervisor does. Callers use the gateway's kind of
client: no in-process stand-in for a stateful engine, a bounded wait for its restart.

Oracle, every run: no fill twice, no acknowledged order or fill lost, one order per idempotency key, the
stored positions and cash reconcile exactly with the fills, and every failure a caller saw was a 503 with
its cause (never a 500, never a timeout re-run). A frozen writer that is replaced cannot commit.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from sqlalchemy import URL
from tests.support.keeper import Keeper

from nautilus.bench.procs import engine_answers
from nautilus.core.errors import NautilusError
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import GenerateRequest
from nautilus.engines.portfolio.messages import (
    AccountRef,
    BarIn,
    BarsPush,
    FillsQuery,
    OrderRequest,
    OrdersQuery,
)
from nautilus.runtime.client import EngineClient

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY
CYCLES = int(os.environ.get("NAUTILUS_TEST_CRASH_CYCLES", "20"))
SYMBOL = "FLT"
RETRYABLE = {"engine_restarting", "engine_unavailable", "fenced_out", "unavailable"}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_env(request: pytest.FixtureRequest, settings: Any, stack_env: dict[str, str]) -> dict[str, str]:
    env = dict(stack_env, NAUTILUS_WRITER_WAIT_S="15",
               NAUTILUS_FAULTS="portfolio.order.committed=0.01,portfolio.bar.committed=0.01")
    if request.param == "postgresql":
        url: URL = request.getfixturevalue("pg_url")
        settings.database_url = url.render_as_string(hide_password=False)
        env["NAUTILUS_DATABASE_URL"] = settings.database_url
    settings.writer_wait_s = 15.0
    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    md.generate(GenerateRequest(symbol=SYMBOL, n=20))  # the instrument (its bars here come from the test)
    md.close()
    return env


def test_sigkill_at_random_points_under_keyed_order_flow_and_bars(settings, engine_env) -> None:
    keeper = Keeper(settings, engine_env)
    keeper.wait_up()
    lock = threading.Lock()
    acked_orders: dict[str, int] = {}  # idempotency key -> order id
    acked_fills: set[tuple[int, int]] = set()
    failures: dict[str, int] = {}
    bar_step = {"i": 0}
    stop = threading.Event()

    def attempt(client: EngineClient, method: str, request: Any) -> Any:
        """Call until it succeeds, counting each failure by code; anything but a 503 with a cause fails."""
        while not stop.is_set():
            try:
                return client.call(method, request, timeout=20.0)
            except NautilusError as exc:
                with lock:
                    failures[exc.code] = failures.get(exc.code, 0) + 1
                assert exc.code in RETRYABLE and exc.status == 503 and exc.message, (exc.code, exc.message)
                time.sleep(0.01)
        return None

    def orders(worker: int) -> None:
        client = EngineClient("portfolio", settings, probe=False)  # the gateway's kind: unix, tcp, no in-process
        assert "inproc" not in client.transports
        i = 0
        while not stop.is_set():
            key = f"w{worker}-{i}"
            reply = attempt(client, "submit_order", OrderRequest(symbol=SYMBOL, side="buy" if i % 3 else "sell",
                                                                 quantity=1 + i % 4, client_order_id=key))
            if reply is None:
                break
            assert reply.order.status != "rejected", reply.order
            with lock:
                assert acked_orders.setdefault(key, reply.order.id) == reply.order.id
            i += 1
        client.close()

    def bars() -> None:
        client = EngineClient("portfolio", settings, probe=False)
        while not stop.is_set():
            i = bar_step["i"]
            px = 100.0 + (i % 7)
            reply = attempt(client, "on_bars", BarsPush(symbol=SYMBOL, bars=[BarIn(
                ts=T0 + i * DAY, open=px, high=px + 1, low=px - 1, close=px + 0.5, volume=1e6)]))
            if reply is None:
                break
            with lock:
                acked_fills.update((f.order_id, f.ts) for f in reply.fills)
            bar_step["i"] = i + 1
            time.sleep(0.005)
        client.close()

    errors: list[BaseException] = []

    def guarded(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            raise

    workers = [threading.Thread(target=guarded, args=(orders, w), daemon=True) for w in range(2)]
    workers.append(threading.Thread(target=guarded, args=(bars,), daemon=True))
    for w in workers:
        w.start()
    rng = random.Random(os.getpid())
    try:
        for _ in range(CYCLES):
            start, placed, deadline = bar_step["i"], len(acked_orders), time.time() + 90
            while bar_step["i"] < start + 3 or len(acked_orders) < placed + 2:  # orders and bars since the crash
                assert not errors and time.time() < deadline, errors or "the flow stopped"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.03))  # land somewhere inside a submit, a bar, or between them
            keeper.kill()
            time.sleep(0.05)
            keeper.wait_up()
        stop.set()
        for w in workers:
            w.join(60)
        assert not errors, errors
        keeper.wait_up()
        client = EngineClient("portfolio", settings, probe=False)
        stored = client.call("orders", OrdersQuery(limit=10_000)).items
        assert len(stored) < 10_000  # all of them in one page
        keys = [o.client_order_id for o in stored]
        assert len(keys) == len(set(keys)), "an idempotency key made two orders"
        by_key = {o.client_order_id: o.id for o in stored}
        lost = {k for k, order_id in acked_orders.items() if by_key.get(k) != order_id}
        assert not lost, f"acknowledged orders lost: {sorted(lost)[:5]}"
        fills = [(f["order_id"], f["ts"]) for f in client.call("fills", FillsQuery(limit=10_000)).items]
        assert len(fills) == len(set(fills)), "a fill was recorded twice"
        assert acked_fills <= set(fills), "an acknowledged fill was lost"
        check = client.call("reconcile", AccountRef()).account
        assert check["ok"], check["differences"]
        assert check["fills"] == len(fills) > 0, (stored[:3], bar_step, failures)
        client.close()
    finally:
        stop.set()
        keeper.stop()
    assert keeper.deaths >= CYCLES
    print(f"\n{settings.database_url.split(':')[0]}: {keeper.deaths} crashes, {len(acked_orders)} orders, "
          f"{len(fills)} fills, failures seen by callers: {failures}")


def test_a_frozen_writer_that_was_replaced_cannot_commit(settings, engine_env) -> None:
    env = dict(engine_env, NAUTILUS_FAULTS="", NAUTILUS_WRITER_LEASE_TTL_S="1")
    first = subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", "portfolio"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = None
    stale = EngineClient("portfolio", settings, transports=("unix",), probe=False)
    try:
        deadline = time.time() + 60
        while not engine_answers(settings, "portfolio")():
            assert time.time() < deadline
            time.sleep(0.05)
        assert stale.call("submit_order", OrderRequest(symbol=SYMBOL, side="buy", quantity=1,
                                                       client_order_id="before")).created
        stale_conn = stale.transports["unix"]  # keeps its connection to the first process
        os.kill(first.pid, signal.SIGSTOP)  # frozen: alive, silent (a long GC pause, a hung VM)
        with socket.socket() as probe:  # the frozen process still holds its TCP port: the new one takes another
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1] - settings.port_offset
        second = subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", "portfolio"],
                                  env=dict(env, NAUTILUS_ENGINE_PORTS=f'{{"portfolio": {port}}}'),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fresh = EngineClient("portfolio", settings, transports=("unix",), probe=False)
        deadline = time.time() + 60
        while True:  # the new writer takes the lease once the frozen one's TTL ran out
            try:
                if fresh.call("account", AccountRef()).account and second.poll() is None:
                    break
            except NautilusError:
                pass
            assert time.time() < deadline, "the second writer never took over"
            time.sleep(0.1)
        assert fresh.call("submit_order", OrderRequest(symbol=SYMBOL, side="buy", quantity=2,
                                                       client_order_id="new")).created
        os.kill(first.pid, signal.SIGCONT)  # the stale writer wakes up and tries to write
        try:
            stale_conn.call("submit_order", OrderRequest(symbol=SYMBOL, side="buy", quantity=3,
                                                         client_order_id="stale"), None, 10.0)
        except NautilusError as exc:  # the fence refused the commit
            assert exc.status == 503, exc
        except Exception:  # or the stale writer had already seen it lost the lease and closed its connections
            pass
        else:
            pytest.fail("the replaced writer acknowledged a write")
        first.wait(15)  # and it stops
        keys = {o.client_order_id for o in fresh.call("orders", OrdersQuery(limit=100)).items}
        assert keys == {"before", "new"}
        assert fresh.call("reconcile", AccountRef()).account["ok"]
        fresh.close()
    finally:
        stale.close()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                proc.wait(10)
