"""EngineClient: calls an engine over unix socket → tcp → in-process, whichever answers first.

Every transport has a circuit breaker (``breaker_failures`` consecutive failures open it for
``breaker_cooldown_s``, then one trial call) and a background health probe that pings it every
``health_interval_s``, so a dead engine is skipped without waiting for timeouts and taken back as
soon as it answers again. A call that may already have reached the engine is only retried on the
next transport when its handler is idempotent. The in-process transport instantiates the engine
inside the caller (same data directories), so reads keep working while the engine restarts.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import ctypes
import gc
import itertools
import logging
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, overload

import msgspec
import numpy as np

from nautilus.config import Settings, get_settings
from nautilus.core.errors import (
    DeadlineExceeded,
    EngineRestarting,
    EngineUnavailable,
    NautilusError,
    Unavailable,
    database_outage,
    error_from_code,
)
from nautilus.runtime import deadline as deadlines
from nautilus.runtime import metrics
from nautilus.runtime import registry as engine_registry
from nautilus.runtime.engine import Engine, Method
from nautilus.runtime.host import HEALTH, PING, HealthInfo
from nautilus.runtime.protocol import (
    HEADER,
    MAX_FRAME,
    REPLY_DECODER,
    REQUEST_ENCODER,
    SHM_HELLO,
    Codec,
    FramedSocket,
    ReplyFrame,
    RequestFrame,
    ShmHello,
    ShmHelloReply,
)
from nautilus.runtime.shm import Probe, ShmHandle, ShmPool, local_probe, peer_visible
from nautilus.runtime.stats import LatencyWindow

log = logging.getLogger("nautilus.client")

TRANSPORTS = ("unix", "tcp", "inproc")
INPROC_IDLE_S = 10.0  # an in-process stand-in unused this long, with the engine back on a socket, is released
_PING_BODY = msgspec.Raw(msgspec.msgpack.encode(b"ping"))

Q = TypeVar("Q")
R = TypeVar("R")
# What a call names: the engine's method itself (``MarketDataEngine.bars_json``: typed, and "go to definition"
# reaches the handler), or its name for the methods every engine has (``"echo"``) and generic tools.
Handle = Callable[..., Any] | str


def method_name(handle: Handle) -> str:
    """The wire name of an engine method handle."""
    if isinstance(handle, str):
        return handle
    name = getattr(handle, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"not an engine method: {handle!r}")
    return name


class _NotDelivered(Exception):
    """The request never left this process (connect failed, circuit open)."""


class _MaybeDelivered(Exception):
    """The connection failed after the request was sent (the engine process is gone or lost it)."""


class _TimedOut(_MaybeDelivered):
    """No reply before the deadline: the engine may still be working on it, so it is never run again elsewhere."""


# Shared memory for request arrays: one pool per process, made on first use. -----------------------
_process_pool: ShmPool | None = None
_pool_lock = threading.Lock()


def process_pool(settings: Settings) -> ShmPool:
    global _process_pool
    with _pool_lock:
        if _process_pool is None:
            _process_pool = ShmPool(settings.shm_pool_mb * 1024 * 1024)
            atexit.register(_process_pool.close)
        return _process_pool


def current_process_pool() -> ShmPool | None:
    """This process's pool if one was made (without making one)."""
    return _process_pool


def close_process_pool() -> None:
    """Unlink this process's pool now (the next big array makes a fresh one)."""
    global _process_pool
    with _pool_lock:
        pool, _process_pool = _process_pool, None
    if pool is not None:
        pool.close()


def no_stack_running(settings: Settings) -> bool:
    """Whether no supervisor serves this home's engines: a caller may then host a stateful engine in-process
    (it is the only writer; the lease still fences it should a stack start)."""
    from nautilus.runtime.supervisor import running_supervisor

    return running_supervisor(settings) is None


class CircuitBreaker:
    """closed → (n failures) → open → (cooldown) → half-open: one trial → closed or open."""

    def __init__(self, failures: int, cooldown_s: float) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        with self._lock:
            if time.monotonic() - self.opened_at < self.cooldown_s or self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        if self.opened_at is not None or self.failures:
            with self._lock:
                self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._trial = False
            if self.failures >= self.threshold:
                self.opened_at = time.monotonic()

    def trip(self) -> None:
        with self._lock:
            self.failures = max(self.failures, self.threshold)
            self.opened_at = time.monotonic()
            self._trial = False


class _Frames:
    """What a connection keeps between calls: its codec, and the engine's shared-memory blocks we are done with
    (sent back with the next request). Arrays go inline until :meth:`welcome` found that both ends share memory.
    """

    __slots__ = ("codec", "pending", "__weakref__")

    def __init__(self, threshold: int) -> None:
        self.pending: list[int] = []
        self.codec = Codec(None, threshold, on_attach=self._track)

    @staticmethod
    def hello(request_id: int, probe: Probe) -> bytes:
        """The first frame of a connection that would use shared memory: our probe, for the engine to read."""
        body = msgspec.msgpack.encode(ShmHello(probe.name, probe.nonce))
        return REQUEST_ENCODER.encode(RequestFrame(request_id, SHM_HELLO, msgspec.Raw(body)))

    def welcome(self, data: bytes | bytearray, request_id: int, pool: ShmPool) -> bool:
        """Read the hello's reply: shared memory on when each end saw the other's probe; False when the engine
        saw ours but we cannot see its (it would send handles we cannot map: drop this connection)."""
        reply = _in_step("hello", REPLY_DECODER.decode(data), request_id)
        if reply.error is not None:  # an engine that predates the hello: inline
            return True
        answer = msgspec.msgpack.decode(reply.body, type=ShmHelloReply)
        if not answer.sees_you:
            return True
        if not peer_visible(answer.segment, answer.nonce):
            return False
        self.codec.pool = pool
        return True

    @property
    def shared(self) -> bool:
        """True when this connection passes arrays by shared-memory handle."""
        return self.codec.pool is not None

    def _track(self, handle: ShmHandle, array: np.ndarray) -> None:
        weakref.finalize(array, self.pending.append, handle.block)

    def request(self, request_id: int, method: str, request: Any, budget_s: float) -> tuple[bytes, list[int]]:
        """The encoded request frame (carrying the caller's remaining time) and the blocks leased for its arrays
        (release them once answered)."""
        codec = self.codec
        body = codec.encode(request) if request is not None else b"\xc0"
        leases = codec.leases
        release, self.pending = self.pending, []
        frame = RequestFrame(request_id, method, msgspec.Raw(body), release, budget_s * 1000.0)
        return REQUEST_ENCODER.encode(frame), leases

    def release(self, leases: list[int]) -> None:
        pool = self.codec.pool
        for block in leases:
            pool.decref(block)  # type: ignore[union-attr]

    def answer(self, reply: ReplyFrame, reply_type: Any) -> Any:
        """The reply's body as ``reply_type``, or the engine's error raised."""
        if reply.error is not None:
            err = reply.error
            raise error_from_code(err.code, err.message, err.field)
        return self.codec.decode(reply.body, reply_type)


def _in_step(kind: str, reply: ReplyFrame, request_id: int) -> ReplyFrame:
    if reply.id != request_id:  # a reply to another request: this connection is out of step
        raise _MaybeDelivered(f"{kind} reply {reply.id} does not answer request {request_id}")
    return reply


def _refuse_self_connect(sock: Any, host: str, port: int) -> None:
    """Nobody listens and the port lies in the ephemeral range: the kernel connected the socket to itself (TCP
    simultaneous open), and a request sent on it would come back as its own reply."""
    if sock.getsockname() == sock.getpeername():
        raise ConnectionRefusedError(f"nothing listens on {host}:{port} (self-connect)")


class _Conn(_Frames):
    __slots__ = ("framed", "timeout")

    def __init__(self, sock: socket.socket, threshold: int) -> None:
        super().__init__(threshold)
        self.framed = FramedSocket(sock)
        self.timeout: float | None = None

    def set_timeout(self, timeout: float) -> None:
        if timeout != self.timeout:
            sec = int(timeout)
            value = struct.pack("ll", sec, int((timeout - sec) * 1e6))
            self.framed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            self.framed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
            self.timeout = timeout


class _FrameProtocol(asyncio.Protocol):
    """An engine connection on the event loop: length-prefixed frames, one request in flight; the reply resolves
    the waiting future in ``data_received`` (no StreamReader, no waiter per read, no timeout context)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if len(buffer) < 4:
            return
        (size,) = HEADER.unpack_from(buffer)
        if size > MAX_FRAME:
            self._fail(ConnectionError(f"frame of {size} bytes exceeds the limit"))
            return
        if len(buffer) < 4 + size:
            return
        frame = bytes(buffer[4:4 + size])
        del buffer[:4 + size]
        waiter = self.waiter
        if waiter is None or waiter.done() or buffer:  # a frame nobody waits for: this connection is out of step
            self._fail(ConnectionError("unexpected frame from the engine"))
            return
        self.waiter = None
        waiter.set_result(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(f"connection lost: {exc or 'closed by the engine'}"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[bytes], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no reply in {timeout}s"))


class _AConn(_Frames):
    """A connection used from an asyncio event loop (the gateway's): same frames, no thread hop."""

    __slots__ = ("protocol", "transport", "loop", "generation")

    def __init__(self, protocol: _FrameProtocol, threshold: int, generation: int) -> None:
        super().__init__(threshold)
        self.protocol = protocol
        self.transport = protocol.transport
        self.loop = asyncio.get_running_loop()
        self.generation = generation

    async def exchange(self, payload: bytes, timeout: float) -> bytes:
        """Send one request frame and wait for its reply frame (TimeoutError, or ConnectionError when lost)."""
        if self.protocol.lost:
            raise ConnectionError("connection lost before the request was sent")
        loop = self.loop
        waiter = loop.create_future()
        self.protocol.waiter = waiter
        self.transport.write(HEADER.pack(len(payload)) + payload)
        timer = loop.call_later(timeout, _expire, waiter, timeout)
        try:
            return await waiter
        finally:
            timer.cancel()

    def usable(self, generation: int) -> bool:
        """Still open, of this loop, and made after the last reset (an engine that went away closes its end,
        which the loop has seen by the time the connection is reused)."""
        return (self.generation == generation and self.loop is asyncio.get_running_loop()
                and not self.protocol.lost and not self.transport.is_closing())

    def close(self) -> None:
        loop = self.loop
        try:
            if loop.is_closed():
                return  # a finished loop (tests run several): the socket is freed with its transport
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self.transport.close()
            else:
                loop.call_soon_threadsafe(self.transport.close)
        except RuntimeError:  # the loop closed meanwhile
            pass


class SocketTransport:
    """A pool of blocking connections to one engine address (unix path or tcp host:port)."""

    def __init__(self, kind: str, engine: str, settings: Settings) -> None:
        self.kind = kind
        self.engine = engine
        self.settings = settings
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._aidle: list[_AConn] = []  # touched by event-loop threads only; list.pop/append are atomic
        self._generation = 0  # bumped by reset(): async connections made before are dropped when next seen

    def _shm_offer(self, hello: bool) -> tuple[ShmPool, Probe] | None:
        """The pool and probe a new connection offers, or None when it carries arrays inline."""
        if not hello or not self.settings.shm_threshold_bytes:
            return None
        probe = local_probe()
        return None if probe is None else (process_pool(self.settings), probe)

    def _connect(self, hello: bool = True) -> _Conn:
        if self.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = str(self.settings.socket_path(self.engine))
        else:
            try:
                address = (self.settings.engine_host(self.engine), self.settings.engine_port(self.engine))
            except KeyError as exc:  # an engine registered without a TCP port: this transport has nowhere to go
                raise _NotDelivered(str(exc)) from None
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.settings.connect_timeout_s)
        try:
            sock.connect(address)
            if self.kind == "tcp":
                _refuse_self_connect(sock, *address)
        except OSError as exc:
            sock.close()
            raise _NotDelivered(f"{self.kind} connect failed: {exc}") from exc
        sock.settimeout(None)
        conn = _Conn(sock, self.settings.shm_threshold_bytes)
        offer = self._shm_offer(hello)
        if offer is not None:
            try:
                conn.set_timeout(self.settings.connect_timeout_s)
                request_id = next(self._ids)
                conn.framed.send(conn.hello(request_id, offer[1]))
                keep = conn.welcome(conn.framed.recv(), request_id, offer[0])
            except (OSError, _MaybeDelivered, msgspec.MsgspecError) as exc:
                conn.framed.close()
                raise _NotDelivered(f"{self.kind} handshake failed: {exc}") from exc
            if not keep:
                conn.framed.close()
                return self._connect(hello=False)
        return conn

    def _acquire(self) -> _Conn:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: _Conn) -> None:
        with self._lock:
            self._idle.append(conn)

    def reset(self) -> None:
        """Drop idle connections (after the engine went away)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            conn.framed.close()

    def call(self, method: str, request: Any, reply_type: Any, timeout: float) -> Any:
        conn = self._acquire()
        try:
            conn.set_timeout(timeout)
            request_id = next(self._ids)
            payload, leases = conn.request(request_id, method, request, timeout)
            try:
                conn.framed.send(payload)
            except OSError as exc:
                raise _NotDelivered(f"{self.kind} send failed: {exc}") from exc
            try:
                reply = _in_step(self.kind, REPLY_DECODER.decode(conn.framed.recv()), request_id)
            except BlockingIOError as exc:
                raise _TimedOut(f"{self.kind} call timed out after {timeout:.3g}s") from exc
            except OSError as exc:
                raise _MaybeDelivered(f"{self.kind} connection lost: {exc}") from exc
            finally:
                conn.release(leases)
        except BaseException:
            conn.framed.close()
            raise
        self._release(conn)
        return conn.answer(reply, reply_type)

    def ping(self, timeout: float) -> None:
        self.call(PING, None, Any, timeout)

    # Async calls (the gateway's event loop) ---------------------------------------------------------
    async def _aconnect(self, hello: bool = True) -> _AConn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                if self.kind == "unix":
                    path = str(self.settings.socket_path(self.engine))
                    transport, protocol = await loop.create_unix_connection(_FrameProtocol, path)
                else:
                    host, port = self.settings.engine_host(self.engine), self.settings.engine_port(self.engine)
                    transport, protocol = await loop.create_connection(_FrameProtocol, host, port)
                    sock = transport.get_extra_info("socket")
                    try:
                        _refuse_self_connect(sock, host, port)
                    except ConnectionRefusedError:
                        transport.close()
                        raise
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, TimeoutError, KeyError) as exc:  # KeyError: no TCP port configured for this engine
            raise _NotDelivered(f"{self.kind} connect failed: {exc or 'timed out'}") from exc
        conn = _AConn(protocol, self.settings.shm_threshold_bytes, self._generation)
        offer = self._shm_offer(hello)
        if offer is not None:
            try:
                request_id = next(self._ids)
                data = await conn.exchange(conn.hello(request_id, offer[1]), self.settings.connect_timeout_s)
                keep = conn.welcome(data, request_id, offer[0])
            except (OSError, TimeoutError, _MaybeDelivered, msgspec.MsgspecError) as exc:
                conn.close()
                raise _NotDelivered(f"{self.kind} handshake failed: {exc}") from exc
            if not keep:
                conn.close()
                return await self._aconnect(hello=False)
        return conn

    async def acall(self, method: str, request: Any, reply_type: Any, timeout: float) -> Any:
        """:meth:`call` on the running event loop: the same frames over an asyncio protocol."""
        conn = None
        while self._aidle:
            candidate = self._aidle.pop()
            if candidate.usable(self._generation):
                conn = candidate
                break
            candidate.close()
        if conn is None:
            conn = await self._aconnect()
        try:
            request_id = next(self._ids)
            payload, leases = conn.request(request_id, method, request, timeout)
            try:
                reply = _in_step(self.kind, REPLY_DECODER.decode(await conn.exchange(payload, timeout)), request_id)
            except TimeoutError as exc:
                raise _TimedOut(f"{self.kind} call timed out after {timeout:.3g}s") from exc
            except OSError as exc:
                raise _MaybeDelivered(f"{self.kind} connection lost: {exc}") from exc
            finally:
                conn.release(leases)
        except BaseException:
            conn.close()
            raise
        self._aidle.append(conn)
        return conn.answer(reply, reply_type)


class InProcessTransport:
    """Runs the engine inside this process (created on first use).

    Every in-process transport of one engine and one settings object shares a single instance, so an
    engine that calls another in-process (the Portfolio engine's risk checks) sees the same state as
    the gateway's calls do. The instance closes when the last transport using it closes.
    """

    kind = "inproc"
    _shared: ClassVar[dict[tuple[str, int], list[Any]]] = {}  # (engine, id(settings)) -> [engine, users, settings]
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine_name: str, settings: Settings, engine_cls: type[Engine] | None = None) -> None:
        self.engine_name = engine_name
        self.settings = settings
        self.engine_cls = engine_cls
        self._engine: Engine | None = None
        self._key = (engine_name, id(settings))
        self.active = 0
        self.last_used = time.monotonic()

    def engine(self) -> Engine:
        if self._engine is None:
            with self._shared_lock:
                if self._engine is None:
                    entry = self._shared.get(self._key)
                    if entry is None:
                        self.settings.ensure_dirs()
                        cls = self.engine_cls or engine_registry.engine_class(self.engine_name)
                        engine = cls(self.settings)
                        engine.start()
                        # the entry holds the settings too, so their id cannot be reused while it lives
                        entry = self._shared[self._key] = [engine, 0, self.settings]
                    entry[1] += 1
                    self._engine = entry[0]
        return self._engine

    def call(self, method: Method, request: Any, deadline: float | None = None) -> Any:
        """Run the handler here, under ``deadline`` (nested calls inherit it; handlers may check it)."""
        engine = self.engine()
        self.active += 1
        try:
            with deadlines.scope(deadline):
                return method.invoke(engine, request)
        finally:
            self.active -= 1
            self.last_used = time.monotonic()

    def release_if_idle(self, idle_s: float) -> bool:
        """Drop the in-process engine (and give its memory back) once unused for ``idle_s``; True if dropped."""
        if self._engine is None or self.active or time.monotonic() - self.last_used < idle_s:
            return False
        self.close()
        _trim_memory()
        return True

    def close(self) -> None:
        with self._shared_lock:
            if self._engine is None:
                return
            entry = self._shared.get(self._key)
            self._engine = None
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._shared[self._key]
        entry[0].close()


def _trim_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), after an in-process engine went."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


_inproc_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _inproc_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _inproc_pool
    with _pool_lock:
        if _inproc_pool is None:
            _inproc_pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="inproc")
        return _inproc_pool


@dataclass
class TransportState:
    name: str
    breaker: CircuitBreaker
    up: bool | None = None  # None: not probed yet
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    latency: LatencyWindow = field(default_factory=LatencyWindow)


class EngineClient:
    """Calls one engine with fallback, breakers, probes and metrics."""

    def __init__(
        self,
        engine: str,
        settings: Settings | None = None,
        transports: tuple[str, ...] | None = None,
        probe: bool = True,
        inproc_writer: bool = False,
        registry: engine_registry.EngineRegistry | None = None,
    ) -> None:
        """``transports`` defaults to unix, tcp and (for stateless engines, when settings allow) in-process. A
        stateful engine (one writer) runs in-process only where ``inproc_writer`` says no engine process serves
        it (the CLI without a running stack); otherwise callers wait for its restart (``writer_wait_s``).
        ``registry`` resolves the engine's class; by default the one installed in :mod:`nautilus.runtime.registry`."""
        self.settings = settings or get_settings()
        self.engine = engine
        self.engine_cls: type[Engine] = (registry or engine_registry.registry()).engine_class(engine)
        self.stateful = bool(getattr(self.engine_cls, "stateful", False))
        inproc = self.settings.in_process_fallback and (inproc_writer or not self.stateful)
        names = transports or (TRANSPORTS if inproc else TRANSPORTS[:2])
        if transports is None and engine in self.settings.engine_hosts:
            # served from another host or container: its unix socket is not ours to reach, and TCP is the normal
            # path there, not a fallback (so the fallback metrics and alert stay true in containers)
            names = tuple(n for n in names if n != "unix")
        self.transports: dict[str, SocketTransport | InProcessTransport] = {}
        for name in names:
            if name == "inproc":
                self.transports[name] = InProcessTransport(engine, self.settings, self.engine_cls)
            else:
                self.transports[name] = SocketTransport(name, engine, self.settings)
        s = self.settings
        self.states = {n: TransportState(n, CircuitBreaker(s.breaker_failures, s.breaker_cooldown_s))
                       for n in names}
        self.last_transport: str | None = None
        self.fallbacks = 0
        self.remote_health: HealthInfo | None = None
        self._metric_children: dict[tuple[str, str, str], Any] = {}
        self._stop = threading.Event()
        self._probe_thread: threading.Thread | None = None
        if probe:
            self.start_probes()

    # Calls ----------------------------------------------------------------------------------------
    # One deadline per call (the caller's timeout, or the enclosing request's deadline if earlier); each
    # transport gets only what remains. A call goes on to the next transport only when the last one provably
    # did not get it (connect failed, circuit open) or, for idempotent handlers, when its connection died;
    # never after a timeout. A stateful engine has no in-process stand-in: when no socket answers, the call
    # waits (up to ``writer_wait_s``, within the deadline) for the restarted writer, else EngineRestarting.
    def _deadline(self, timeout: float | None) -> float:
        own = time.monotonic() + (timeout or self.settings.call_timeout_s)
        outer = deadlines.current()
        return own if outer is None or own < outer else outer

    def _left(self, deadline: float, method: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"{self.engine}.{method}: the request's deadline passed before it was sent")
        return left

    def _allowed(self, name: str, state: TransportState, waiting: bool) -> bool:
        # While waiting for a restarting writer the breakers are ignored: connecting is the probe.
        return (waiting and name != "inproc") or state.breaker.allow()

    def _unreached(self, method: str, errors: list[str], deadline: float, wait_until: float | None) -> float:
        """After a pass that reached nothing: raise, or return how long to sleep before the next pass."""
        if not self.stateful:
            raise EngineUnavailable(f"engine {self.engine} unreachable ({'; '.join(errors)})")
        now = time.monotonic()
        assert wait_until is not None
        if now >= wait_until:
            if wait_until >= deadline:
                raise DeadlineExceeded(f"{self.engine}.{method}: the {self.engine} engine did not come back "
                                       "before the request's deadline")
            raise EngineRestarting(f"the {self.engine} engine is restarting (one writer; not reachable for "
                                   f"{self.settings.writer_wait_s:g}s); retry in a few seconds")
        return min(0.05, wait_until - now)

    @overload
    def call(self, method: Callable[[Any], R], request: None = None, *, timeout: float | None = None) -> R: ...
    @overload
    def call(self, method: Callable[[Any, Q], R], request: Q, *, timeout: float | None = None) -> R: ...
    @overload
    def call(self, method: str, request: Any = None, *, timeout: float | None = None) -> Any: ...

    def call(self, method: Handle, request: Any = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` (the engine's method, e.g. ``RiskEngine.check_order``) with ``request`` (a Struct, or
        None for no-argument handlers)."""
        method = method_name(method)
        spec = self.engine_cls.method(method)
        deadline = self._deadline(timeout)
        wait_until: float | None = None
        while True:
            errors: list[str] = []
            for name, transport in self.transports.items():
                state = self.states[name]
                if not self._allowed(name, state, wait_until is not None):
                    errors.append(f"{name}: circuit open")
                    continue
                left = self._left(deadline, method)
                t0 = time.perf_counter()
                try:
                    if isinstance(transport, InProcessTransport):
                        result = self._inproc(transport, spec, request, deadline, left)
                    else:
                        result = transport.call(method, request, spec.reply, left)
                except Exception as exc:
                    self._handle_error(name, state, spec, exc, errors, t0)
                    continue
                self._succeeded(name, state, method, t0)
                return result
            if wait_until is None:
                wait_until = min(deadline, time.monotonic() + self.settings.writer_wait_s)
            time.sleep(self._unreached(method, errors, deadline, wait_until))

    def _inproc(self, transport: InProcessTransport, spec: Method, request: Any, deadline: float,
                left: float) -> Any:
        if len(self.transports) == 1:  # an in-process client: the handler runs in this thread, under the deadline
            return transport.call(spec, request, deadline)
        future = _inproc_executor().submit(transport.call, spec, request, deadline)
        try:
            return future.result(timeout=left)
        except concurrent.futures.TimeoutError:
            raise _TimedOut(f"inproc call timed out after {left:.3g}s") from None

    @overload
    async def acall(self, method: Callable[[Any], R], request: None = None, *, timeout: float | None = None) -> R: ...
    @overload
    async def acall(self, method: Callable[[Any, Q], R], request: Q, *, timeout: float | None = None) -> R: ...
    @overload
    async def acall(self, method: str, request: Any = None, *, timeout: float | None = None) -> Any: ...

    async def acall(self, method: Handle, request: Any = None, *, timeout: float | None = None) -> Any:
        """:meth:`call` from an event loop: socket transports answer on the loop itself (no thread hop), the
        in-process fallback runs in the thread pool (it does the engine's work) and is awaited until the
        deadline only."""
        from starlette.concurrency import run_in_threadpool

        method = method_name(method)
        spec = self.engine_cls.method(method)
        deadline = self._deadline(timeout)
        wait_until: float | None = None
        while True:
            errors: list[str] = []
            for name, transport in self.transports.items():
                state = self.states[name]
                if not self._allowed(name, state, wait_until is not None):
                    errors.append(f"{name}: circuit open")
                    continue
                left = self._left(deadline, method)
                t0 = time.perf_counter()
                try:
                    if isinstance(transport, InProcessTransport):
                        try:
                            result = await asyncio.wait_for(
                                run_in_threadpool(transport.call, spec, request, deadline), left)
                        except TimeoutError:
                            raise _TimedOut(f"inproc call timed out after {left:.3g}s") from None
                    else:
                        result = await transport.acall(method, request, spec.reply, left)
                except Exception as exc:
                    self._handle_error(name, state, spec, exc, errors, t0)
                    continue
                self._succeeded(name, state, method, t0)
                return result
            if wait_until is None:
                wait_until = min(deadline, time.monotonic() + self.settings.writer_wait_s)
            await asyncio.sleep(self._unreached(method, errors, deadline, wait_until))

    def _succeeded(self, name: str, state: TransportState, method: str, t0: float) -> None:
        state.breaker.success()
        state.up = True
        self._record(name, method, "ok", time.perf_counter() - t0)

    def _handle_error(self, name: str, state: TransportState, spec: Method, exc: Exception, errors: list[str],
                t0: float) -> None:
        """Raise what the caller must see, or return to try the next transport."""
        method = spec.name
        if isinstance(exc, NautilusError):  # the engine answered: its error is the answer
            state.breaker.success()
            self._record(name, method, "error", time.perf_counter() - t0)
            raise exc
        if isinstance(exc, _NotDelivered):
            self._fail(name, state, method, exc, errors)
            return
        if isinstance(exc, _TimedOut):  # the engine may still be at it: never run it again elsewhere
            self._record(name, method, "timeout", time.perf_counter() - t0)
            if isinstance(self.transports[name], SocketTransport):
                self.transports[name].reset()
            raise DeadlineExceeded(f"{self.engine}.{method} did not answer before the deadline ({exc}); "
                                   "not retried") from None
        if isinstance(exc, _MaybeDelivered):
            self._fail(name, state, method, exc, errors)
            if not spec.idempotent:
                raise EngineUnavailable(
                    f"{self.engine}.{method} outcome unknown ({exc}); not retried because it changes state"
                ) from None
            return
        if name != "inproc":
            raise exc
        if database_outage(exc):
            log.warning("in-process %s.%s: the database is unreachable: %s", self.engine, method, exc)
            raise Unavailable("the database is unreachable; retry later") from exc
        log.exception("in-process %s.%s failed", self.engine, method, exc_info=exc)
        self._fail(name, state, method, exc, errors)
        raise EngineUnavailable(f"{self.engine}.{method} failed in-process: {exc}") from exc

    def _record(self, transport: str, method: str, outcome: str, seconds: float) -> None:
        state = self.states[transport]
        state.calls += 1
        state.latency.add(seconds)
        if self.last_transport != transport:
            if self.last_transport is not None:
                metrics.ENGINE_TRANSPORT.labels(self.engine, self.last_transport).set(0)
            metrics.ENGINE_TRANSPORT.labels(self.engine, transport).set(1)
            self.last_transport = transport
        key = (method, transport, outcome)
        children = self._metric_children.get(key)
        if children is None:
            children = (
                metrics.ENGINE_CALLS.labels(self.engine, method, transport, outcome),
                metrics.ENGINE_CALL_SECONDS.labels(self.engine, transport),
            )
            self._metric_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _fail(self, name: str, state: TransportState, method: str, exc: Exception, errors: list[str]) -> None:
        state.failures += 1
        state.up = False
        state.last_error = str(exc)
        state.breaker.failure()
        errors.append(f"{name}: {exc}")
        self.fallbacks += 1
        metrics.ENGINE_FALLBACKS.labels(self.engine, name).inc()
        metrics.ENGINE_CALLS.labels(self.engine, method, name, "unreachable").inc()
        transport = self.transports[name]
        if isinstance(transport, SocketTransport):
            transport.reset()

    # Health -----------------------------------------------------------------------------------------
    def probe_once(self) -> None:
        """Ping every socket transport; update breakers, up-gauges and the engine's own health."""
        timeout = min(1.0, self.settings.call_timeout_s)
        for name, transport in self.transports.items():
            if not isinstance(transport, SocketTransport):
                continue
            state = self.states[name]
            try:
                transport.ping(timeout)
            except (_NotDelivered, _MaybeDelivered, NautilusError) as exc:
                if state.up is not False:
                    log.warning("engine %s down on %s: %s", self.engine, name, exc)
                state.up = False
                state.last_error = str(exc)
                state.breaker.trip()
                transport.reset()
            else:
                state.up = True
                state.breaker.success()
            metrics.ENGINE_UP.labels(self.engine, name).set(1 if state.up else 0)
        first = next((t for n, t in self.transports.items()
                      if isinstance(t, SocketTransport) and self.states[n].up), None)
        inproc = self.transports.get("inproc")
        if first is not None and isinstance(inproc, InProcessTransport) and inproc.release_if_idle(INPROC_IDLE_S):
            log.info("engine %s is back on %s: its in-process stand-in was released", self.engine, first.kind)
        self.remote_health = None
        if first is not None:
            try:
                self.remote_health = first.call(HEALTH, None, HealthInfo, timeout)
            except (_NotDelivered, _MaybeDelivered, NautilusError):
                pass

    def start_probes(self) -> None:
        if self._probe_thread is None:
            self._probe_thread = threading.Thread(target=self._probe_loop, daemon=True,
                                                  name=f"probe-{self.engine}")
            self._probe_thread.start()

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:  # never let the prober die
                log.exception("health probe of %s failed", self.engine)
            self._stop.wait(self.settings.health_interval_s)

    def health(self) -> dict[str, Any]:
        """State for /health and `nautilus status`."""
        sockets_up = [n for n, s in self.states.items() if n != "inproc" and s.up]
        if sockets_up:
            status = "up"
        elif "inproc" in self.transports and not self.stateful:
            status = "degraded"
        else:
            status = "down"
        remote = self.remote_health
        return {
            "engine": self.engine,
            "status": status,
            "stateful": self.stateful,
            "path": sockets_up[0] if sockets_up else ("inproc" if "inproc" in self.transports else None),
            "last_transport": self.last_transport,
            "fallbacks": self.fallbacks,
            "pid": remote.pid if remote else None,
            "uptime_s": remote.uptime_s if remote else None,
            "server_p50_us": remote.p50_us if remote else None,
            "server_p99_us": remote.p99_us if remote else None,
            "backend": remote.backend if remote else None,
            "transports": {
                n: {
                    "up": s.up if n != "inproc" else True,
                    "breaker": s.breaker.state,
                    "calls": s.calls,
                    "failures": s.failures,
                    "p50_us": s.latency.percentiles_us(50)[0],
                    "p99_us": s.latency.percentiles_us(99)[0],
                    "last_error": s.last_error,
                }
                for n, s in self.states.items()
            },
        }

    def close(self) -> None:
        self._stop.set()
        for transport in self.transports.values():
            if isinstance(transport, SocketTransport):
                transport.reset()
            else:
                transport.close()
