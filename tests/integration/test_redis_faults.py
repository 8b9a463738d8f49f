"""Redis dropped from under the Portfolio engine, again and again, under keyed order flow and bars.

The Portfolio engine runs as its own process (kept by the fault-injection suite's :class:`Keeper`) with the
Redis bus (``NAUTILUS_REDIS_URL`` on the test Redis at 127.0.0.1:6379) and publishes every order event on
``portfolio.orders.<account>``. The same two keyed order workers and bar stream as the SIGKILL suite drive it.

Simulated restart: the Redis server is shared (other tests, the CI job, other engineers' runs), so the test
never shuts it down. What a restart does to its clients is that every connection is dropped at once and
later commands and subscriptions need a new one: each cycle does exactly that with ``CLIENT KILL TYPE normal``
and ``CLIENT KILL TYPE pubsub``, narrowed with ``ID`` to the connections of this test's own clients (they
carry a ``client_name`` unique to the run), so that nobody else's connections are dropped. Once, a
``CLIENT PAUSE 500 WRITE`` stands for a server that is slow to come back (it blocks ``PUBLISH``). The
engine uses Redis for pub/sub only (no keys), so no database number is needed; the account's name is
unique to the run, which makes its channel unique too (pub/sub ignores the database number); the channel also
carries the stack's prefix (``<prefix>:portfolio.orders.<account>``, see ``nautilus.runtime.bus.Codec``), and
the oracle reads the message out of the bus's envelope.

Oracle, every cycle: the engine's Redis connection was dropped, and it reconnects (a new client id); orders
and bars keep flowing; order events published after it reconnected reach a plain redis-py subscriber (never
dropped) and a :class:`ResilientRedisBus` subscription in this process (its pubsub connection dropped every
cycle). At the end: every order event published while Redis was connected arrived, no fill twice, no
acknowledged order or fill lost, one order per idempotency key, ``reconcile`` exact, the engine process
never died, and every failure a caller saw was a NautilusError with a message and status 503 or 4xx,
never a 500 or a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import pytest
from tests.integration.test_fault_injection import DAY, SYMBOL, T0, Keeper
from tests.support.services import REDIS_URL, redis_bus

from nautilus.core.errors import NautilusError
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import GenerateRequest
from nautilus.engines.portfolio.messages import (
    AccountCreate,
    AccountRef,
    BarIn,
    BarsPush,
    FillsQuery,
    OrderRequest,
    OrdersQuery,
)
from nautilus.runtime.bus import InMemoryBus, ResilientRedisBus, bus_prefix
from nautilus.runtime.client import EngineClient

pytestmark = pytest.mark.integration
CYCLES = int(os.environ.get("NAUTILUS_TEST_REDIS_CYCLES", "12"))
BUS_SETTLE_S = 2.5  # past the engine bus's retry delay (1 s) after a failed publish, with room to spare
WAIT_S = 30.0  # the longest any one step of a cycle may take (the engine retries Redis every second)


def _named(url: str, name: str) -> str:
    """``url`` with ``client_name=name``: redis-py names every connection of the client (``CLIENT SETNAME``)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "client_name"] + [("client_name", name)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class LoggedKeeper(Keeper):
    """The fault-injection suite's keeper, with the engine's log kept (shown when the test fails)."""

    def __init__(self, settings: Any, env: dict[str, str], log_path: Any) -> None:
        self.log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        super().__init__(settings, env)

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", "portfolio"], env=self.env,
                                stdout=self.log, stderr=self.log)

    def stop(self) -> None:
        super().stop()
        self.log.close()


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {role: f"nautilus-redisfault-{tag}-{role}" for role in ("engine", "bus", "oracle", "admin")} | {
        "account": f"rf{tag}"}


@pytest.fixture
def redis_env(settings: Any, stack_env: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    redis_bus().close()  # reachable: fails in CI, skips elsewhere, when it is not
    env = dict(stack_env, NAUTILUS_WRITER_WAIT_S="15", NAUTILUS_FAULTS="",
               NAUTILUS_REDIS_URL=_named(REDIS_URL, names["engine"]))
    settings.writer_wait_s = 15.0
    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    md.generate(GenerateRequest(symbol=SYMBOL, n=20))  # the instrument (its bars here come from the test)
    md.close()
    return env


def _wait(condition: Callable[[], Any], what: str, errors: list[BaseException], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert not errors, errors
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_redis_connections_dropped_under_keyed_order_flow_and_bars(settings, redis_env, names, tmp_path) -> None:
    import redis

    account = names["account"]
    channel = f"portfolio.orders.{account}"
    admin = redis.Redis.from_url(_named(REDIS_URL, names["admin"]), socket_connect_timeout=2.0, socket_timeout=10.0)

    def connections(role: str, kind: str) -> list[int]:
        return [int(c["id"]) for c in admin.client_list(_type=kind) if c.get("name") == names[role]]

    def drop(role: str, kind: str) -> list[int]:
        """``CLIENT KILL TYPE kind`` for the connections of one of our clients; the ids it dropped."""
        return [cid for cid in connections(role, kind)
                if admin.execute_command("CLIENT", "KILL", "TYPE", kind, "ID", cid)]

    # The independent oracle: a plain redis-py subscriber that is never dropped.
    oracle = redis.Redis.from_url(_named(REDIS_URL, names["oracle"]), socket_connect_timeout=2.0).pubsub()
    oracle.subscribe(f"{bus_prefix(settings)}:{channel}")  # the stack's channel (nautilus.runtime.bus.Codec)
    assert oracle.get_message(timeout=5.0)["type"] == "subscribe"
    # The platform's own subscriber: its connections are dropped every cycle and it must come back.
    bus = ResilientRedisBus(settings.model_copy(update={"redis_url": _named(REDIS_URL, names["bus"])}),
                            retry_s=0.2, local=InMemoryBus())
    assert not bus.degraded
    bus_sub = bus.subscribe(channel)
    heard: dict[str, dict[str, float]] = {"oracle": {}, "bus": {}}  # client_order_id -> first receive time
    lock = threading.Lock()
    stop = threading.Event()  # the order and bar workers
    deaf = threading.Event()  # the subscribers
    errors: list[BaseException] = []

    def listen(name: str, receive: Callable[[], dict[str, Any] | None]) -> None:
        try:
            while not deaf.is_set():
                event = receive()
                if event is not None and event.get("kind") == "order" and event.get("client_order_id"):
                    with lock:
                        heard[name].setdefault(event["client_order_id"], time.monotonic())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            raise

    def from_oracle() -> dict[str, Any] | None:
        message = oracle.get_message(timeout=0.1)
        return msgspec.json.decode(message["data"])["data"] if message and message["type"] == "message" else None

    def from_bus() -> dict[str, Any] | None:
        item = bus_sub.get(timeout=0.1)
        return item[1] if item is not None else None

    acked_orders: dict[str, int] = {}  # idempotency key -> order id
    started: dict[str, float] = {}  # idempotency key -> when its first submission began
    acked_at: dict[str, float] = {}  # idempotency key -> when it was acknowledged
    acked_fills: set[tuple[int, int]] = set()
    failures: dict[str, int] = {}
    bar_step = {"i": 0}

    def attempt(client: EngineClient, method: str, request: Any) -> Any:
        """Call until it succeeds; every failure must be a NautilusError with a cause and a 503 or a 4xx."""
        while not stop.is_set():
            try:
                return client.call(method, request, timeout=20.0)
            except NautilusError as exc:
                with lock:
                    failures[f"{exc.status} {exc.code}"] = failures.get(f"{exc.status} {exc.code}", 0) + 1
                assert exc.message and (exc.status == 503 or 400 <= exc.status < 500), (
                    exc.status, exc.code, exc.message)
                time.sleep(0.01)
        return None

    def orders(worker: int) -> None:
        client = EngineClient("portfolio", settings, probe=False)  # the gateway's kind: unix, tcp, no in-process
        i = 0
        while not stop.is_set():
            key = f"{account}-w{worker}-{i}"
            with lock:
                started[key] = time.monotonic()
            reply = attempt(client, "submit_order", OrderRequest(
                account=account, symbol=SYMBOL, side="buy" if i % 3 else "sell", quantity=1 + i % 4,
                client_order_id=key))
            if reply is None:
                break
            assert reply.order.status != "rejected", reply.order
            with lock:
                assert acked_orders.setdefault(key, reply.order.id) == reply.order.id
                acked_at[key] = time.monotonic()
            i += 1
            time.sleep(0.01)  # at most 100 orders a second each: the whole run stays in one page of orders
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

    def guarded(target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            raise

    threads = [threading.Thread(target=listen, args=("oracle", from_oracle), daemon=True),
               threading.Thread(target=listen, args=("bus", from_bus), daemon=True)]
    threads += [threading.Thread(target=guarded, args=(orders, w), daemon=True) for w in range(2)]
    threads.append(threading.Thread(target=guarded, args=(bars,), daemon=True))

    def progress() -> None:
        """Orders and bars since the last look (of four orders, two were submitted after it)."""
        start, placed = bar_step["i"], len(acked_orders)
        _wait(lambda: bar_step["i"] >= start + 3 and len(acked_orders) >= placed + 4, "orders and bars", errors)

    def heard_since(name: str, since: float) -> float | None:
        """When a subscriber first received the event of an order whose first submission began after ``since``."""
        with lock:
            return min((at for key, at in heard[name].items() if started.get(key, 0.0) > since), default=None)

    # (from, to): the engine's bus was publishing on Redis (an event sent after ``from`` arrived) until the
    # connections were dropped at ``to``. A publish in flight when its connection drops fails, and the bus then
    # uses the in-process bus until its next retry (1 s): those events reach that process's hub, not Redis
    # (the documented degradation), so the windows start once that is over.
    connected: list[tuple[float, float]] = []
    dropped = {"engine": 0, "bus": 0}
    back_s: list[float] = []  # per cycle: from the drop to the first event on Redis again
    keeper = LoggedKeeper(settings, redis_env, tmp_path / "portfolio.log")
    setup = EngineClient("portfolio", settings, probe=False)
    try:
        keeper.wait_up()
        setup.call("create_account", AccountCreate(name=account, cash=10_000_000.0))
        for t in threads:
            t.start()
        progress()
        _wait(lambda: heard_since("oracle", 0.0), "the first order event on Redis", errors)
        up = heard_since("oracle", 0.0) or 0.0
        for cycle in range(CYCLES):
            progress()
            _wait(lambda: connections("engine", "normal") and connections("bus", "pubsub"),
                  "the engine's and the bus subscription's Redis connections", errors)
            down = time.monotonic()
            connected.append((up, down))
            engine_ids = drop("engine", "normal") + drop("engine", "pubsub")
            bus_ids = drop("bus", "pubsub") + drop("bus", "normal")
            killed = time.monotonic()
            assert engine_ids and bus_ids, (engine_ids, bus_ids)  # both had connections, both lost them
            dropped["engine"] += len(engine_ids)
            dropped["bus"] += len(bus_ids)
            if cycle == CYCLES // 2:
                admin.execute_command("CLIENT", "PAUSE", 500, "WRITE")  # PUBLISH blocks for 0.5 s
            # Order events published after the drop reach Redis again: the engine reconnected (at once, or
            # after its retry delay) and so did this process's subscription.
            _wait(lambda since=killed: heard_since("oracle", since), f"cycle {cycle}: order events on Redis again",
                  errors)
            back_s.append((heard_since("oracle", killed) or 0.0) - killed)
            _wait(lambda since=killed: heard_since("bus", since), f"cycle {cycle}: the bus subscription to resume",
                  errors)
            # Publishes in flight when the connections dropped have failed by now and the bus's retry delay
            # has passed: from the first event sent after that, every order event goes to Redis.
            settled = killed + BUS_SETTLE_S
            _wait(lambda since=settled: heard_since("oracle", since), f"cycle {cycle}: the bus on Redis", errors)
            up = heard_since("oracle", settled) or 0.0
            assert keeper.deaths == 0, "the engine process died when Redis dropped it"
        progress()
        stop.set()
        for t in threads[2:]:
            t.join(60)
        assert not errors, errors
        connected.append((up, time.monotonic()))
        # Every order submitted and acknowledged while the engine was on Redis had its event delivered there.
        expected = {key for key in acked_orders if any(a < started[key] and acked_at[key] < b for a, b in connected)}
        assert len(expected) > CYCLES
        deadline = time.monotonic() + 5.0  # the last events may still be on their way
        while True:
            with lock:
                missing = expected - heard["oracle"].keys()
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not missing, f"{len(missing)} order events published on Redis never arrived: {sorted(missing)[:5]}"

        stored = setup.call("orders", OrdersQuery(account=account, limit=10_000)).items
        assert len(stored) < 10_000  # all of them in one page
        keys = [o.client_order_id for o in stored]
        assert len(keys) == len(set(keys)), "an idempotency key made two orders"
        by_key = {o.client_order_id: o.id for o in stored}
        lost = {k for k, order_id in acked_orders.items() if by_key.get(k) != order_id}
        assert not lost, f"acknowledged orders lost: {sorted(lost)[:5]}"
        fills = [(f["order_id"], f["ts"])
                 for f in setup.call("fills", FillsQuery(account=account, limit=10_000)).items]
        assert len(fills) == len(set(fills)), "a fill was recorded twice"
        assert acked_fills <= set(fills), "an acknowledged fill was lost"
        check = setup.call("reconcile", AccountRef(account=account)).account
        assert check["ok"], check["differences"]
        assert check["fills"] == len(fills) > 0, (stored[:3], bar_step, failures)
        assert keeper.deaths == 0, "the engine process died when Redis dropped it"
    except BaseException:
        print("the engine's log, last lines:\n" + "\n".join(
            (tmp_path / "portfolio.log").read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        stop.set()
        deaf.set()
        setup.close()
        keeper.stop()
        bus_sub.close()
        bus.close()
        oracle.close()
        admin.close()
    print(f"\nredis: {CYCLES} cycles, dropped {dropped} connections, back on Redis after "
          f"{min(back_s):.2f}-{max(back_s):.2f} s, {len(acked_orders)} orders ({len(expected)} while on Redis, "
          f"all delivered; {len(heard['oracle'])} heard), {len(fills)} fills, {bar_step['i']} bars, "
          f"failures seen by callers: {failures}")


def test_a_dropped_connection_does_not_move_publishes_in_process(settings, names, caplog) -> None:
    """``CLIENT KILL`` of the bus's connections (what a Redis restart does): the next publish goes to Redis on a
    new connection at once (an outside subscriber gets it), the bus never falls back, and
    its subscription is back as soon as it reads again."""
    import redis

    redis_bus().close()  # reachable: fails in CI, skips elsewhere, when it is not
    admin = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2.0, socket_timeout=5.0)
    bus = ResilientRedisBus(settings.model_copy(update={"redis_url": _named(REDIS_URL, names["bus"])}),
                            local=InMemoryBus())
    topic = f"portfolio.orders.{names['account']}"
    outside = admin.pubsub()
    outside.subscribe(bus.codec.channel(topic))
    assert outside.get_message(timeout=5.0)["type"] == "subscribe"
    sub = bus.subscribe(topic)
    try:
        with caplog.at_level("WARNING", logger="nautilus.bus"):
            for i in range(5):
                killed = [c["id"] for c in admin.client_list() if c.get("name") == names["bus"]]
                assert killed  # the publishing connection and the subscription's
                for cid in killed:
                    admin.execute_command("CLIENT", "KILL", "ID", cid)
                bus.publish(topic, {"i": i})  # on a new connection at once, not in-process
                assert not bus.degraded
                got = outside.get_message(timeout=5.0)
                assert got is not None and msgspec.json.decode(got["data"])["data"] == {"i": i}
                # The subscription's own connection was dropped before that publish: Redis delivered it to nobody
                # there (pub/sub keeps nothing). Reading notices the drop and subscribes again at once.
                assert sub.get(0.5) is None
                bus.publish(topic, {"i": i, "again": True})  # the subscription is on Redis again
                assert sub.get(5.0) == (topic, {"i": i, "again": True})
                got = outside.get_message(timeout=5.0)
                assert got is not None and msgspec.json.decode(got["data"])["data"] == {"i": i, "again": True}
            assert sub.get(0.3) is None
        assert "lost" not in caplog.text and "unreachable" not in caplog.text
    finally:
        sub.close()
        bus.close()
        outside.close()
        admin.close()


def test_a_hung_redis_stalls_a_publish_at_most_the_publish_timeout(settings, tmp_path) -> None:
    """A private redis-server stopped with SIGSTOP (accepts connections, never answers): each publish returns
    within about ``bus_publish_timeout_s`` (to the in-process bus), and once it runs again the bus is back."""
    import signal
    import socket

    from tests.integration.test_bus import _redis_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _redis_server(port)
    timeout_s = 0.3
    bus = ResilientRedisBus(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0",
                                                        "bus_publish_timeout_s": timeout_s}),
                            retry_s=0.2, local=InMemoryBus())
    sub = bus.subscribe("t.*")
    stopped = False
    try:
        bus.publish("t.a", {"n": 0})
        assert sub.get(2.0) == ("t.a", {"n": 0}) and not bus.degraded
        server.send_signal(signal.SIGSTOP)
        stopped = True
        stalls = []
        for n in range(1, 8):
            t0 = time.monotonic()
            bus.publish("t.a", {"n": n})
            stalls.append(time.monotonic() - t0)
            assert sub.get(3.0 * timeout_s + 1.0) == ("t.a", {"n": n})
            time.sleep(0.1)  # past a retry delay now and then: reconnect attempts are bounded too
        assert bus.degraded
        assert max(stalls) < 3 * timeout_s + 0.5, stalls  # was ~5 s (redis-py's socket timeout) per publish
        server.send_signal(signal.SIGCONT)
        stopped = False
        deadline = time.monotonic() + 10.0
        while bus.degraded and time.monotonic() < deadline:
            bus.publish("t.b", {"n": -1})
            assert sub.get(2.0) == ("t.b", {"n": -1})
            time.sleep(0.05)
        assert not bus.degraded
    finally:
        if stopped:
            server.send_signal(signal.SIGCONT)
        sub.close()
        bus.close()
        server.kill()
        server.wait(5)
