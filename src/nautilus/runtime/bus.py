"""The message bus: topic pub/sub, in-memory by default, Redis when ``NAUTILUS_REDIS_URL`` is set.

Topics are dot-separated (``marketdata.bars.AAPL.1d``); subscriptions take glob patterns
(``marketdata.bars.*``). Messages are JSON-able dicts, encoded with msgspec. The in-memory bus
reaches subscribers of the same process only; Redis reaches every process and machine.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
import time
from typing import Any, Protocol

import msgspec

from nautilus.config import Settings

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class Subscription(Protocol):
    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None: ...

    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, pattern: str) -> Subscription: ...

    def close(self) -> None: ...


class _QueueSubscription:
    def __init__(self, bus: InMemoryBus, pattern: str, maxsize: int) -> None:
        self.bus = bus
        self.pattern = pattern
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(maxsize)
        self.dropped = 0

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.bus._remove(self)


class InMemoryBus:
    """Process-local pub/sub; a slow subscriber loses its oldest messages, never blocks publishers."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._subs: list[_QueueSubscription] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        payload = _decode(_encode(message))  # same copy semantics as Redis: no shared mutable state
        with self._lock:
            subs = [s for s in self._subs if fnmatch.fnmatchcase(topic, s.pattern)]
        for sub in subs:
            while True:
                try:
                    sub.queue.put_nowait((topic, payload))
                    break
                except queue.Full:
                    try:
                        sub.queue.get_nowait()
                        sub.dropped += 1
                    except queue.Empty:
                        pass

    def subscribe(self, pattern: str) -> _QueueSubscription:
        sub = _QueueSubscription(self, pattern, self.maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def _remove(self, sub: _QueueSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def close(self) -> None:
        with self._lock:
            self._subs.clear()


class _RedisSubscription:
    def __init__(self, client: Any, pattern: str) -> None:
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe(pattern)
        # Wait for the server's confirmation so that nothing published after subscribe() is missed.
        confirmed = self.pubsub.get_message(timeout=5.0)
        if confirmed is None or confirmed.get("type") != "psubscribe":
            raise ConnectionError(f"Redis did not confirm the subscription to {pattern!r}")

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            message = self.pubsub.get_message(timeout=remaining)
            if message is not None and message.get("type") == "pmessage":
                channel = message["channel"]
                topic = channel.decode() if isinstance(channel, bytes) else channel
                return topic, _decode(message["data"])

    def close(self) -> None:
        self.pubsub.close()


class RedisBus:
    """Pub/sub over Redis channels (one channel per topic, patterns via PSUBSCRIBE)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=2.0)
        self.client.ping()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.client.publish(topic, _encode(message))

    def subscribe(self, pattern: str) -> _RedisSubscription:
        return _RedisSubscription(self.client, pattern)

    def close(self) -> None:
        self.client.close()


def make_bus(settings: Settings) -> Bus:
    return RedisBus(settings.redis_url) if settings.redis_url else InMemoryBus()
