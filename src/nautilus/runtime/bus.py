"""The message bus: topic pub/sub, in-memory by default, Redis when ``NAUTILUS_REDIS_URL`` is set.

Topics are dot-separated (``marketdata.bars.AAPL.1d``); subscriptions take glob patterns
(``marketdata.bars.*``). Messages are JSON-able dicts, encoded with msgspec. The in-memory bus
reaches subscribers of the same process only; Redis reaches every process and machine. When Redis goes
away, :class:`ResilientRedisBus` falls back to the in-process bus with a warning and goes back to
Redis as soon as it answers again; a dropped connection alone is retried at once, and a Redis that hangs
stalls a publish at most ``bus_publish_timeout_s``.

Redis is shared (its pub/sub ignores the database number), so a stack keeps to its own channels and trusts
nothing it receives (:class:`BusCodec`):

- namespace: topic ``T`` travels on channel ``<prefix>:T``; the prefix (``bus_prefix``) defaults to a hash of
  the resolved home path (:func:`bus_prefix`), so two stacks on one Redis never see each other. Subscriptions
  (the hub's too) are ``PSUBSCRIBE <prefix>:<pattern>``; subscribers get the topic without the prefix.
- envelope: a message is ``{"v":1,"mac":"<hex>","data":<message>}``; with ``bus_sign`` (the default) ``mac``
  is HMAC-SHA256 under the stack secret (``bus_secret``, else the file ``HOME/bus.key``, made mode 600 on first
  use) of the channel, a newline and the bytes of ``data``: a publish by anyone without the secret is dropped
  even on the stack's own channels.
- validation: what is not one of the stack's messages (foreign channel, bad topic, larger than
  ``bus_max_message_bytes``, not the envelope, unsigned, bad signature, data that is not a JSON object the hub
  can send on) is dropped, counted in ``nautilus_bus_rejected_total{reason}`` and logged at most every 30 s;
  a subscription never stops for one.
- credentials: a Redis ACL user in the URL (``redis://user:pass@host``) or ``redis_username`` and
  ``redis_password_file``; logs show the URL with the password replaced by ``***`` (:func:`redact_url`).

Fan-out to the WebSocket hub (engine ``websocket``, see ``nautilus.engines.websocket``): with Redis
the hub subscribes to every topic itself. Without Redis, :func:`make_bus` returns a
:class:`ForwardingBus`: it delivers locally exactly like :class:`InMemoryBus` and also hands each
publish to a per-process daemon thread (started on first publish) that sends batches to the forwarding
sink injected through :mod:`nautilus.runtime.registry` (the engines install one that calls the hub's
``publish`` handler through an ``EngineClient``; the runtime imports no engine). The publisher never blocks and never sees an error:
a full queue (``ws_forward_queue``) or an unreachable hub counts drops (:data:`FORWARD_STATS`). When
the hub process is down the client falls back to an in-process hub in the publishing process:
degraded (only that process's /ws sees those messages), not broken. ``ws_forward=False`` turns
forwarding off; the hub engine's own bus ingests directly and never forwards to itself.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import logging
import os
import queue
import re
import secrets
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

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


# Redis wire format ------------------------------------------------------------------------------------
SEPARATOR = ":"  # channel = <prefix>:<topic>; a prefix has no ':' and no glob character
TOPIC_MAX = 512
_BAD_TOPIC = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
WIRE_VERSION = 1
REJECT_LOG_INTERVAL_S = 30.0


class Rejected(Exception):
    """A message received from Redis that the bus drops; ``reason`` labels ``nautilus_bus_rejected_total``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class _Envelope(msgspec.Struct):
    v: int
    data: msgspec.Raw
    mac: str | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_data_decoder = msgspec.json.Decoder(dict[str, Any])


def default_prefix(settings: Settings) -> str:
    """``nautilus-`` and 12 hex digits of SHA-256 of the resolved home path (see ``Settings.bus_prefix``)."""
    home = str(Path(settings.home).expanduser().resolve())
    return "nautilus-" + hashlib.sha256(home.encode()).hexdigest()[:12]


def bus_prefix(settings: Settings) -> str:
    """The stack's channel prefix: ``settings.bus_prefix`` or :func:`default_prefix`."""
    return settings.bus_prefix or default_prefix(settings)


def stack_secret(settings: Settings) -> bytes | None:
    """The key of the bus's HMAC (``None`` with ``bus_sign`` off): ``bus_secret`` or the secret file (default
    ``HOME/bus.key``), created with 32 random bytes (hex) and mode 600 by the first process that needs it."""
    if not settings.bus_sign:
        return None
    if settings.bus_secret is not None:
        secret = settings.bus_secret.get_secret_value().encode()
        if len(secret) < 16:
            raise ValueError("bus_secret must be at least 16 characters")
        return secret
    path = Path(settings.bus_secret_file or Path(settings.home).expanduser() / "bus.key")
    for _ in range(50):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            _create_secret(path)
            continue
        if len(text) >= 32:
            return text.encode()
        time.sleep(0.02)  # another process is writing it (a filesystem without hard links)
    raise ValueError(f"the bus secret file {path} holds fewer than 32 characters")


def _create_secret(path: Path) -> None:
    """Write a new secret to ``path`` unless it exists, atomically: a complete file appears or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (secrets.token_hex(32) + "\n").encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails when another process was first: its secret wins
    except FileExistsError:
        pass
    except OSError:  # no hard links here: create in place (readers wait for the content)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            try:
                os.write(fd, text)
            finally:
                os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)


def redact_url(url: str | None) -> str:
    """``url`` with its password replaced by ``***`` (for logs)."""
    if not url:
        return str(url)
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable Redis URL>"


class _RejectLog:
    """Counts rejected messages (Prometheus) and logs them at most once per ``REJECT_LOG_INTERVAL_S``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, int] = {}
        self._last = -1e18
        self.total: dict[str, int] = {}

    def __call__(self, reason: str, channel: str) -> None:
        from nautilus.runtime.metrics import BUS_REJECTED

        BUS_REJECTED.labels(reason).inc()
        with self._lock:
            self.total[reason] = self.total.get(reason, 0) + 1
            self._since[reason] = self._since.get(reason, 0) + 1
            now = time.monotonic()
            if now - self._last < REJECT_LOG_INTERVAL_S:
                return
            counts, self._since, self._last = self._since, {}, now
        log.warning("Redis bus: dropped %s received message(s) (%s), the latest on channel %s; see "
                    "nautilus_bus_rejected_total", sum(counts.values()),
                    ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), channel[:80].encode("unicode_escape"))


#: process-wide: rejected Redis bus messages (``REJECTED.total`` by reason; Prometheus has the same counts)
REJECTED = _RejectLog()


class BusCodec:
    """One stack's Redis wire format.

    Topic ``T`` travels on channel ``<prefix>:T`` (an empty prefix: on ``T``, a bus without a namespace, for tools
    and tests). A message is the JSON envelope ``{"v":1,"mac":"<hex>","data":<the message>}``; ``mac`` is
    HMAC-SHA256 under the stack secret of the channel, a newline and the exact bytes of ``data``, and is absent
    when the stack signs nothing. :meth:`decode` raises :class:`Rejected` for anything else.
    """

    def __init__(self, prefix: str = "", secret: bytes | None = None, max_bytes: int = 8 * 1024 * 1024) -> None:
        if prefix and not _PREFIX.match(prefix):
            raise ValueError(f"bad bus prefix {prefix!r}: 1-64 of A-Z a-z 0-9 _ . -")
        self.prefix = prefix
        self.head = f"{prefix}{SEPARATOR}" if prefix else ""
        self.secret = secret
        self.max_bytes = max_bytes
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256) if secret is not None else None

    @classmethod
    def for_settings(cls, settings: Settings) -> BusCodec:
        return cls(bus_prefix(settings), stack_secret(settings), settings.bus_max_message_bytes)

    def channel(self, topic: str) -> str:
        return self.head + topic

    def pattern(self, pattern: str) -> str:
        return self.head + pattern

    def _mac(self, channel: bytes, data: bytes) -> bytes:
        assert self._keyed is not None
        mac = self._keyed.copy()  # the key schedule once, not per message
        mac.update(channel)
        mac.update(b"\n")
        mac.update(data)
        return mac.hexdigest().encode()

    def encode(self, topic: str, message: dict[str, Any]) -> tuple[str, bytes]:
        """The channel and payload of a publish."""
        channel = self.channel(topic)
        data = _encode(message)
        if self.secret is None:
            return channel, b'{"v":1,"data":' + data + b"}"
        return channel, b'{"v":1,"mac":"' + self._mac(channel.encode(), data) + b'","data":' + data + b"}"

    def decode(self, channel: bytes | str, payload: Any) -> tuple[str, dict[str, Any]]:
        """``(topic, message)`` of a received publish; :class:`Rejected` when it is not one of this stack's."""
        if isinstance(channel, str):
            channel = channel.encode("utf-8", "surrogateescape")
        try:
            name = channel.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("bad_topic", "not UTF-8") from None
        if not name.startswith(self.head):
            raise Rejected("foreign_channel")
        topic = name[len(self.head):]
        if not topic or len(topic) > TOPIC_MAX or _BAD_TOPIC.search(topic) is not None:
            raise Rejected("bad_topic")
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogateescape")
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise Rejected("not_envelope", type(payload).__name__)
        if len(payload) > self.max_bytes:
            raise Rejected("too_large", f"{len(payload)} bytes")
        try:
            envelope = _envelope_decoder.decode(payload)
        except Exception:  # DecodeError, ValidationError, RecursionError: whatever hostile bytes raise
            raise Rejected("not_envelope") from None
        if envelope.v != WIRE_VERSION:
            raise Rejected("not_envelope", f"version {envelope.v}")
        raw = bytes(envelope.data)
        if self.secret is not None:
            if envelope.mac is None:
                raise Rejected("unsigned")
            if not hmac.compare_digest(envelope.mac.encode("utf-8", "surrogateescape"), self._mac(channel, raw)):
                raise Rejected("bad_signature")
        try:
            message = _data_decoder.decode(raw)
            msgspec.msgpack.encode(message)  # what the hub sends on (e.g. no integer beyond 64 bits)
        except Exception:
            raise Rejected("bad_data") from None
        return topic, message


class _RedisSubscription:
    """``PSUBSCRIBE <prefix>:<pattern>``. A Redis ACL user limited to ``&<prefix>:*`` may psubscribe that pattern
    only (Redis compares patterns literally): refused the narrow one, it subscribes to ``<prefix>:*`` and keeps
    the topics that match ``pattern`` here."""

    def __init__(self, client: Any, pattern: str, codec: BusCodec) -> None:
        import redis

        self.codec = codec
        self.filter: str | None = None
        try:
            self.pubsub = self._psubscribe(client, codec.pattern(pattern))
        except redis.exceptions.NoPermissionError:
            if pattern == "*":
                raise
            self.pubsub = self._psubscribe(client, codec.pattern("*"))
            self.filter = pattern

    @staticmethod
    def _psubscribe(client: Any, channel_pattern: str) -> Any:
        pubsub = client.pubsub()
        try:
            pubsub.psubscribe(channel_pattern)
            # Wait for the server's confirmation so that nothing published after subscribe() is missed.
            confirmed = pubsub.get_message(timeout=5.0)
            if confirmed is None or confirmed.get("type") != "psubscribe":
                raise ConnectionError(f"Redis did not confirm the subscription to {channel_pattern!r}")
        except BaseException:
            pubsub.close()
            raise
        return pubsub

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """The next valid message; invalid ones are dropped and counted (:data:`REJECTED`), never raised.
        Only a failing connection raises."""
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            message = self.pubsub.get_message(timeout=remaining)
            if message is not None and message.get("type") == "pmessage":
                channel = message.get("channel", b"")
                try:
                    item = self.codec.decode(channel, message.get("data"))
                    if self.filter is None or fnmatch.fnmatchcase(item[0], self.filter):
                        return item
                except Rejected as exc:
                    REJECTED(exc.reason, channel.decode("utf-8", "replace") if isinstance(channel, bytes)
                             else str(channel))
                except Exception:  # a bug here must not stop delivery either
                    REJECTED("error", str(channel))

    def close(self) -> None:
        self.pubsub.close()


def _redis_client(url: str, timeout_s: float, username: str | None, password: str | None) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    extra: dict[str, Any] = {}
    if username:
        extra["username"] = username
    if password:
        extra["password"] = password
    # No silent retries inside redis-py (its default: 10, with backoff): the bus decides (see ResilientRedisBus).
    return redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 0), **extra)


class RedisBus:
    """Pub/sub over Redis channels (one channel per topic, patterns via PSUBSCRIBE) in the wire format of
    :class:`BusCodec`. ``RedisBus(url)`` has no namespace and signs nothing (tools, tests); a stack's processes use
    :meth:`for_settings`: its prefix, its secret, its credentials."""

    def __init__(self, url: str, codec: BusCodec | None = None, *, timeout_s: float = 5.0, username: str | None = None,
                 password: str | None = None) -> None:
        self.codec = codec or BusCodec()
        self.url = url
        self.client = _redis_client(url, timeout_s, username, password)
        try:
            self.client.ping()
        except BaseException:
            self.client.close()
            raise

    @classmethod
    def for_settings(cls, settings: Settings, codec: BusCodec | None = None) -> RedisBus:
        return cls(str(settings.redis_url), codec or BusCodec.for_settings(settings),
                   timeout_s=settings.bus_publish_timeout_s, username=settings.redis_username,
                   password=redis_password(settings))

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.client.publish(*self.codec.encode(topic, message))

    def subscribe(self, pattern: str) -> _RedisSubscription:
        return _RedisSubscription(self.client, pattern, self.codec)

    def close(self) -> None:
        self.client.close()


def redis_password(settings: Settings) -> str | None:
    """The first line of ``redis_password_file`` (``None`` without one)."""
    if settings.redis_password_file is None:
        return None
    lines = Path(settings.redis_password_file).expanduser().read_text(encoding="utf-8").splitlines()
    return lines[0].strip() if lines else None


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
        from nautilus.runtime.registry import forward_sink

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
                if self._client is None:  # the injected sink (the engines install the WebSocket hub's)
                    self._client = forward_sink(self.settings)
                self._client.send(batch, FORWARD_TIMEOUT_S)
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
    and Redis is tried again every ``retry_s`` until it answers; subscribers read both.

    A publish on a dropped connection (a Redis restart, ``CLIENT KILL``) is retried at once on a new one, so
    that alone never moves publishes in-process; a Redis that does not answer stalls a publish at most
    ``bus_publish_timeout_s`` (then the local bus takes it). Channels are the stack's (:class:`BusCodec`)."""

    def __init__(self, settings: Settings, retry_s: float = 1.0, local: Bus | None = None) -> None:
        self.settings = settings
        self.url = settings.redis_url
        self.codec = BusCodec.for_settings(settings)
        self.retry_s = retry_s
        self.local: Bus = local or (ForwardingBus(settings) if settings.ws_forward else InMemoryBus())
        self.redis: RedisBus | None = None
        self._next_try = 0.0
        self._failed_tries = 0
        self._lock = threading.Lock()
        self._subscriptions: weakref.WeakSet[_ResilientSubscription] = weakref.WeakSet()
        self._subscriptions_lock = threading.Lock()
        self._connect()

    @property
    def degraded(self) -> bool:
        return self.redis is None

    def _connect(self) -> RedisBus | None:
        """The Redis bus, (re)connecting when it is down and the retry delay has passed. After reconnecting, the
        subscriptions subscribe on the new connection before this returns (so before the publish that called)."""
        with self._lock:
            connected = None
            if self.redis is None and time.monotonic() >= self._next_try:
                try:
                    self.redis = connected = RedisBus.for_settings(self.settings, self.codec)
                    log.warning("Redis bus at %s is up (channels %s*)", redact_url(self.url), self.codec.head)
                    self._failed_tries = 0
                except Exception as exc:  # redis.ConnectionError, TimeoutError, AuthenticationError, ...
                    self._next_try = time.monotonic() + self.retry_s
                    self._failed_tries += 1
                    if self._failed_tries == 1 or self._failed_tries % 60 == 0:  # not one line a second
                        log.warning("Redis bus at %s unreachable (%s, %d tries): using the in-process bus",
                                    redact_url(self.url), exc, self._failed_tries)
            redis_bus = self.redis
        if connected is not None:
            with self._subscriptions_lock:
                subscriptions = list(self._subscriptions)
            for sub in subscriptions:
                sub._attach()
        return redis_bus

    def _lost(self, exc: Exception, bus: RedisBus | None = None) -> None:
        with self._lock:
            if self.redis is not None and (bus is None or self.redis is bus):
                log.warning("Redis bus at %s lost (%s): using the in-process bus until it is back",
                            redact_url(self.url), exc)
                try:
                    self.redis.close()
                except Exception:
                    pass
                self.redis = None
                self._next_try = time.monotonic() + self.retry_s

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        redis_bus = self._connect()
        if redis_bus is not None:
            try:
                redis_bus.publish(topic, message)
                return
            except Exception as exc:
                if not _is_timeout(exc):  # a dropped connection: once more on a new one (redis-py reconnects)
                    try:
                        redis_bus.publish(topic, message)
                        return
                    except Exception as again:
                        exc = again
                self._lost(exc, redis_bus)
        self.local.publish(topic, message)

    def subscribe(self, pattern: str) -> Subscription:
        return _ResilientSubscription(self, pattern)

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
        self.local.close()


def _is_timeout(exc: BaseException) -> bool:
    """A Redis that did not answer in time (retrying would stall the publisher again and might publish twice)."""
    import redis

    return isinstance(exc, redis.TimeoutError | TimeoutError)


class _ResilientSubscription:
    """Reads the local bus (messages published here during an outage) and Redis (resubscribing after one).

    It is subscribed on the bus's current Redis connection: when the bus reconnects, it subscribes again
    before the publish that reconnected goes out (:meth:`ResilientRedisBus._connect`), so nothing published
    after Redis came back is missed. What Redis delivered while this subscription's own connection was down
    is lost (Redis pub/sub keeps nothing); it subscribes again at once."""

    def __init__(self, bus: ResilientRedisBus, pattern: str) -> None:
        self.bus = bus
        self.pattern = pattern
        self.local = bus.local.subscribe(pattern)
        self.remote: _RedisSubscription | None = None
        self._remote_bus: RedisBus | None = None  # the connection ``remote`` is on
        self._lock = threading.Lock()
        self._closed = False
        with bus._subscriptions_lock:
            bus._subscriptions.add(self)
        self._attach()

    def _attach(self) -> None:
        """Subscribe on the bus's current Redis connection unless already on it."""
        redis_bus = self.bus._connect()
        if redis_bus is None:
            return
        old = None
        with self._lock:
            if self._closed or (self.remote is not None and self._remote_bus is redis_bus):
                return
            try:
                new = redis_bus.subscribe(self.pattern)
            except Exception as exc:
                self.bus._lost(exc, redis_bus)
                return
            old, self.remote, self._remote_bus = self.remote, new, redis_bus
        _close_quietly(old)

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            item = self.local.get(timeout=0)
            if item is not None:
                return item
            if self.remote is None or self._remote_bus is not self.bus.redis:
                self._attach()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            remote = self.remote
            step = min(remaining, 0.05 if remote is not None else 0.1)
            if remote is None:
                item = self.local.get(timeout=step)
            else:
                try:
                    item = remote.get(timeout=step)
                except Exception:  # its connection dropped: subscribe again at once (Redis may well be there)
                    with self._lock:
                        if self.remote is remote:
                            self.remote = self._remote_bus = None
                    _close_quietly(remote)
                    self._attach()
                    continue
            if item is not None:
                return item

    def close(self) -> None:
        self.local.close()
        with self._lock:
            self._closed = True
            remote, self.remote, self._remote_bus = self.remote, None, None
        with self.bus._subscriptions_lock:
            self.bus._subscriptions.discard(self)
        _close_quietly(remote)


def _close_quietly(closable: Any) -> None:
    if closable is not None:
        try:
            closable.close()
        except Exception:
            pass


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        return ResilientRedisBus(settings)
    return ForwardingBus(settings) if settings.ws_forward else InMemoryBus()
