"""The bus: in-memory and Redis (127.0.0.1:6379) behave the same."""

from __future__ import annotations

import os
import uuid

import pytest

from nautilus.config import Settings
from nautilus.runtime.bus import InMemoryBus, RedisBus, make_bus

pytestmark = pytest.mark.integration
REDIS_URL = os.environ.get("NAUTILUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_bus() -> RedisBus:
    try:
        return RedisBus(REDIS_URL)
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")


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
    assert isinstance(bus, RedisBus)
    bus.close()
