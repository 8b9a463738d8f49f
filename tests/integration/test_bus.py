"""The bus: in-memory and Redis (127.0.0.1:6379) behave the same."""

from __future__ import annotations

import uuid

import pytest
from tests.support.services import REDIS_URL, redis_bus, service_missing

from nautilus.config import Settings
from nautilus.runtime.bus import InMemoryBus, ResilientRedisBus, bus_prefix, make_bus

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "redis"])
def bus(request):
    b = InMemoryBus() if request.param == "memory" else redis_bus()
    yield b
    b.close()


def test_pattern_subscriptions_receive_matching_topics_in_order(bus):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    bars = bus.subscribe(f"{prefix}.bars.*")
    everything = bus.subscribe(f"{prefix}.*")
    bus.publish(f"{prefix}.bars.AAPL", {"rows": 1})
    bus.publish(f"{prefix}.orders.1", {"qty": 5})
    bus.publish(f"{prefix}.bars.MSFT", {"rows": 2, "nested": {"x": [1, 2]}})
    assert bars.get(2.0) == (f"{prefix}.bars.AAPL", {"rows": 1})
    assert bars.get(2.0) == (f"{prefix}.bars.MSFT", {"rows": 2, "nested": {"x": [1, 2]}})
    assert bars.get(0.2) is None
    topics = [everything.get(2.0)[0] for _ in range(3)]
    assert topics == [f"{prefix}.bars.AAPL", f"{prefix}.orders.1", f"{prefix}.bars.MSFT"]
    bars.close()
    everything.close()


def test_closed_subscription_gets_nothing_more(bus):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    sub = bus.subscribe(f"{prefix}.*")
    sub.close()
    bus.publish(f"{prefix}.x", {"a": 1})
    other = bus.subscribe(f"{prefix}.*")
    bus.publish(f"{prefix}.y", {"a": 2})
    assert other.get(2.0) == (f"{prefix}.y", {"a": 2})
    other.close()


def test_memory_bus_drops_oldest_for_a_slow_subscriber():
    bus = InMemoryBus(maxsize=3)
    sub = bus.subscribe("x.*")
    for i in range(5):
        bus.publish("x.n", {"i": i})
    assert [sub.get(0.1)[1]["i"] for _ in range(3)] == [2, 3, 4]
    assert sub.dropped == 2


def test_make_bus_follows_settings(tmp_path):
    assert isinstance(make_bus(Settings(home=tmp_path)), InMemoryBus)
    redis_bus().close()  # reachable (fails in CI otherwise)
    bus = make_bus(Settings(home=tmp_path, redis_url=REDIS_URL))
    assert isinstance(bus, ResilientRedisBus) and not bus.degraded  # Redis, falling back when it goes away
    bus.close()


def _redis_server(port: int):
    import shutil
    import subprocess

    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server is not installed")
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    for _ in range(100):
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return proc
        except redis.ConnectionError:
            import time

            time.sleep(0.05)
    raise AssertionError("redis-server did not start")


def test_redis_loss_falls_back_to_the_in_process_bus_and_recovers(caplog, tmp_path) -> None:
    """A private redis-server is killed mid-stream: publishes keep reaching local subscribers (with a warning),
    and once it is back, publishes go through Redis again (an outside subscriber sees them)."""
    import socket
    import time

    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _redis_server(port)
    settings = Settings(home=tmp_path, redis_url=f"redis://127.0.0.1:{port}/0", ws_forward=False)
    bus = ResilientRedisBus(settings, retry_s=0.2)
    sub = bus.subscribe("t.*")
    try:
        bus.publish("t.a", {"n": 1})
        assert sub.get(2.0) == ("t.a", {"n": 1}) and not bus.degraded
        server.kill()
        server.wait(5)
        with caplog.at_level("WARNING", logger="nautilus.bus"):
            bus.publish("t.b", {"n": 2})  # no exception: the in-process bus takes it
        assert bus.degraded and "using the in-process bus" in caplog.text
        assert sub.get(2.0) == ("t.b", {"n": 2})
        server = _redis_server(port)
        outside = redis.Redis(port=port).pubsub()
        outside.psubscribe(f"{bus.codec.head}t.*")  # the stack's channels: <prefix>:<topic>
        outside.get_message(timeout=2.0)
        time.sleep(0.3)  # past the retry delay
        assert sub.get(0.5) is None  # a polling subscriber re-attaches to Redis
        bus.publish("t.c", {"n": 3})
        assert not bus.degraded
        got = outside.get_message(timeout=2.0)
        assert got is not None and got["channel"] == f"{bus_prefix(settings)}:t.c".encode()
        assert sub.get(3.0) == ("t.c", {"n": 3})
        outside.close()
    finally:
        sub.close()
        bus.close()
        server.kill()
        server.wait(5)
