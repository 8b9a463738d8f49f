"""The message bus: topic pub/sub, in-memory by default, Redis when ``NAUTILUS_REDIS_URL`` is set.

Topics are dot-separated (``marketdata.bars.AAPL.1d``); subscriptions take glob patterns
(``marketdata.bars.*``). Messages are JSON-able dicts, encoded with msgspec. The in-memory bus
reaches subscribers of the same process only; Redis reaches every process and machine. When Redis goes
away, :class:`ResilientRedisBus` falls back to the in-process bus with a warning and goes back to
Redis as soon as it answers again.

Fan-out to the WebSocket hub (engine ``websocket``, see ``nautilus.engines.websocket``): with Redis
the hub subscribes to every topic itself. Without Redis, :func:`make_bus` returns a
:class:`ForwardingBus`: it delivers locally exactly like :class:`InMemoryBus` and also hands each
publish to a per-process daemon thread (started on first publish) that sends batches to the hub's
``publish`` handler through an ``EngineClient``. The publisher never blocks and never sees an error:
a full queue (``ws_forward_queue``) or an unreachable hub counts drops (:data:`FORWARD_STATS`). When
the hub process is down the client falls back to an in-process hub in the publishing process:
degraded (only that process's /ws sees those messages), not broken. ``ws_forward=False`` turns
forwarding off; the hub engine's own bus ingests directly and never forwards to itself.
"""

from __future__ import annotations

import fnmatch
import logging
import queue
import threading
import time
from typing import Any, Protocol

import msgspec

from nautilus.config import Settings

log = logging.getLogger("nautilus.bus")
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
        self._deliver(topic, _decode(_encode(message)))  # same copy semantics as Redis: no shared state

    def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
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


FORWARD_STATS: dict[str, int] = {"forwarded": 0, "dropped": 0, "failed_batches": 0}
FORWARD_BATCH = 500
FORWARD_IDLE_S = 30.0
FORWARD_TIMEOUT_S = 2.0  # a publish waits this long for a restarting hub, then its batch counts as dropped


class _Forwarder:
    """One per process and settings object: a bounded queue drained by a daemon thread into the hub."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(settings.ws_forward_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client: Any = None
        self._pending = 0  # accepted, not yet handed to the hub (or dropped)
        self._pending_lock = threading.Lock()

    def put(self, topic: str, payload: dict[str, Any]) -> None:
        with self._pending_lock:
            self._pending += 1
        try:
            self.queue.put_nowait((topic, payload))
        except queue.Full:
            FORWARD_STATS["dropped"] += 1
            self._done(1)
            return
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True, name="bus-forwarder")
                    self._thread.start()

    def _done(self, n: int) -> None:
        with self._pending_lock:
            self._pending -= n

    def _run(self) -> None:
        from nautilus.engines.websocket.messages import BusMessage, PublishBatch
        from nautilus.runtime.client import EngineClient, no_stack_running

        while True:
            try:
                first = self.queue.get(timeout=FORWARD_IDLE_S)
            except queue.Empty:
                with self._lock:  # idle: end the thread (the next publish starts one)
                    if self.queue.empty():
                        self._thread = None
                        client, self._client = self._client, None
                        break
                continue
            batch = [first]
            while len(batch) < FORWARD_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                if self._client is None:
                    self._client = EngineClient("websocket", self.settings, probe=False,
                                                inproc_writer=no_stack_running(self.settings))
                self._client.call("publish", PublishBatch([BusMessage(t, d) for t, d in batch]),
                                  timeout=FORWARD_TIMEOUT_S)
                FORWARD_STATS["forwarded"] += len(batch)
            except Exception:  # never let the forwarder die; the hub may be restarting
                FORWARD_STATS["dropped"] += len(batch)
                FORWARD_STATS["failed_batches"] += 1
                time.sleep(0.05)
            finally:
                self._done(len(batch))

        if client is not None:
            client.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is empty (tests, shutdown); True when it emptied in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pending == 0:
                return True
            time.sleep(0.01)
        return False


_forwarders: dict[int, tuple[Settings, _Forwarder]] = {}
_forwarders_lock = threading.Lock()


def forwarder(settings: Settings) -> _Forwarder:
    """This process's forwarder for ``settings`` (one per settings object, made on first use)."""
    with _forwarders_lock:
        entry = _forwarders.get(id(settings))
        if entry is None or entry[0] is not settings:
            entry = _forwarders[id(settings)] = (settings, _Forwarder(settings))
        return entry[1]


class ForwardingBus(InMemoryBus):
    """:class:`InMemoryBus` that also forwards every publish to the WebSocket hub (see the module docstring)."""

    def __init__(self, settings: Settings, maxsize: int = 10_000) -> None:
        super().__init__(maxsize)
        self.forwarder = forwarder(settings)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        payload = _decode(_encode(message))
        self._deliver(topic, payload)
        self.forwarder.put(topic, _decode(_encode(message)) if self._subs else payload)


class ResilientRedisBus:
    """Redis pub/sub that survives Redis going away: publishes then go to the process's local bus (the
    in-memory bus that also forwards to the WebSocket hub, so /ws keeps working) with one warning per outage,
    and Redis is tried again every ``retry_s`` until it answers; subscribers read both."""

    def __init__(self, settings: Settings, retry_s: float = 2.0, local: Bus | None = None) -> None:
        self.url = settings.redis_url
        self.retry_s = retry_s
        self.local: Bus = local or (ForwardingBus(settings) if settings.ws_forward else InMemoryBus())
        self.redis: RedisBus | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()
        self._connect()

    @property
    def degraded(self) -> bool:
        return self.redis is None

    def _connect(self) -> RedisBus | None:
        """The Redis bus, (re)connecting when it is down and the retry delay has passed."""
        with self._lock:
            if self.redis is None and time.monotonic() >= self._next_try:
                try:
                    self.redis = RedisBus(self.url or "")
                    log.warning("Redis bus at %s is up", self.url)
                except Exception as exc:  # redis.ConnectionError, TimeoutError, ...
                    self._next_try = time.monotonic() + self.retry_s
                    log.warning("Redis bus at %s unreachable (%s): using the in-process bus", self.url, exc)
            return self.redis

    def _lost(self, exc: Exception) -> None:
        with self._lock:
            if self.redis is not None:
                log.warning("Redis bus at %s lost (%s): using the in-process bus until it is back", self.url, exc)
                self.redis.close()
                self.redis = None
                self._next_try = time.monotonic() + self.retry_s

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        redis_bus = self._connect()
        if redis_bus is not None:
            try:
                redis_bus.publish(topic, message)
                return
            except Exception as exc:
                self._lost(exc)
        self.local.publish(topic, message)

    def subscribe(self, pattern: str) -> Subscription:
        return _ResilientSubscription(self, pattern)

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
        self.local.close()


class _ResilientSubscription:
    """Reads the local bus (messages published here during an outage) and Redis (resubscribing after one)."""

    def __init__(self, bus: ResilientRedisBus, pattern: str) -> None:
        self.bus = bus
        self.pattern = pattern
        self.local = bus.local.subscribe(pattern)
        self.remote: _RedisSubscription | None = None
        self._attach()

    def _attach(self) -> None:
        redis_bus = self.bus._connect()
        if self.remote is None and redis_bus is not None:
            try:
                self.remote = redis_bus.subscribe(self.pattern)
            except Exception as exc:
                self.bus._lost(exc)

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            item = self.local.get(timeout=0)
            if item is not None:
                return item
            if self.remote is None:
                self._attach()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            step = min(remaining, 0.05 if self.remote is not None else 0.1)
            if self.remote is None:
                item = self.local.get(timeout=step)
            else:
                try:
                    item = self.remote.get(timeout=step)
                except Exception as exc:
                    self.remote = None
                    self.bus._lost(exc)
                    continue
            if item is not None:
                return item

    def close(self) -> None:
        self.local.close()
        if self.remote is not None:
            try:
                self.remote.close()
            except Exception:
                pass


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        return ResilientRedisBus(settings)
    return ForwardingBus(settings) if settings.ws_forward else InMemoryBus()
