"""Socket transports: length-prefixed frames to an engine over its Unix socket or TCP port.

:class:`SocketTransport` keeps a pool of connections to one engine address, blocking ones for :meth:`call` and
asyncio ones (:class:`_FrameProtocol`, no thread hop) for :meth:`acall` on the gateway's event loop. A new
connection first says ``__shm__`` hello with this process's probe: arrays travel as shared-memory handles only
once both ends saw each other's probe, inline otherwise. Failures are reported as :mod:`nautilus.runtime.delivery`
outcomes, so the client knows whether a request may have reached the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
import struct
import weakref
from typing import Any

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.errors import error_from_code
from nautilus.runtime.delivery import MaybeDelivered, NotDelivered, TimedOut
from nautilus.runtime.host import PING
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
from nautilus.runtime.shm import Probe, ShmHandle, ShmPool, local_probe, peer_visible, process_pool

TIMEOUT_STEP = 0.001  # a blocking connection's timeout is the call's remaining time rounded up to this


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
        reply = REPLY_DECODER.decode(data)
        if reply.id != request_id:
            raise _out_of_step("hello", reply, request_id)
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
        (release them once answered). One pass: the tuple encodes as the msgpack array of a
        :class:`RequestFrame` whose body was encoded on its own."""
        codec = self.codec
        release = self.pending
        if release:  # swapped before encoding: a block finalized meanwhile goes in this frame or the next one
            self.pending = []
        payload = codec.encode((request_id, method, request, release or (), budget_s * 1000.0))
        return payload, codec.leases

    def release(self, leases: list[int]) -> None:
        pool = self.codec.pool
        for block in leases:
            pool.decref(block)  # type: ignore[union-attr]

    def answer(self, reply: ReplyFrame, reply_type: Any) -> Any:
        """The reply's body as ``reply_type``, or the engine's error raised."""
        err = reply.error
        if err is not None:
            raise error_from_code(err.code, err.message, err.field)
        return self.codec.decoders[reply_type].decode(reply.body)


def _out_of_step(kind: str, reply: ReplyFrame, request_id: int) -> MaybeDelivered:
    """A reply to another request: this connection is out of step."""
    return MaybeDelivered(f"{kind} reply {reply.id} does not answer request {request_id}")


def _refuse_self_connect(sock: Any, host: str, port: int) -> None:
    """Nobody listens and the port lies in the ephemeral range: the kernel connected the socket to itself (TCP
    simultaneous open), and a request sent on it would come back as its own reply."""
    if sock.getsockname() == sock.getpeername():
        raise ConnectionRefusedError(f"nothing listens on {host}:{port} (self-connect)")


class _Conn(_Frames):
    __slots__ = ("framed", "timeout", "generation")

    def __init__(self, sock: socket.socket, threshold: int, generation: int) -> None:
        super().__init__(threshold)
        self.framed = FramedSocket(sock)
        self.timeout = -1.0  # none set yet (the socket blocks)
        self.generation = generation

    def set_timeout(self, timeout: float) -> None:
        """Give the socket at least ``timeout`` and less than ``TIMEOUT_STEP`` more: successive calls with the same
        timeout (whose remaining time differs by microseconds) keep the value set, instead of two system calls
        each. The kernel rounds these timeouts up to its clock tick, which is coarser than the step."""
        if not timeout <= self.timeout < timeout + TIMEOUT_STEP:
            timeout = math.ceil(timeout / TIMEOUT_STEP) * TIMEOUT_STEP
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
        if not buffer and len(data) >= 4 and HEADER.unpack_from(data)[0] == len(data) - 4:
            self._deliver(data[4:])  # the usual case: exactly one whole frame, nothing buffered
            return
        buffer += data
        if len(buffer) < 4:
            return
        (size,) = HEADER.unpack_from(buffer)
        if size > MAX_FRAME:
            self._fail(ConnectionError(f"frame of {size} bytes exceeds the limit"))
            return
        if len(buffer) < 4 + size:
            return
        if len(buffer) > 4 + size:  # more than one frame: this connection is out of step
            self._fail(ConnectionError("unexpected frame from the engine"))
            return
        frame = bytes(buffer[4:])
        buffer.clear()
        self._deliver(frame)

    def _deliver(self, frame: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # a frame nobody waits for: this connection is out of step
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


class _AConn(_Frames):
    """A connection used from an asyncio event loop (the gateway's): same frames, no thread hop.

    Its reply timeout is one timer that is moved lazily: a call only notes when its reply is due, and the timer
    is re-armed only when it would fire more than ``TIMEOUT_STEP`` after that. A timer that fires early finds
    the call in flight not yet due and re-arms for it, one that finds no call in flight stops. Successive calls
    with the same timeout (each due a little later) thus share one timer instead of making and cancelling one
    each.
    """

    __slots__ = ("protocol", "transport", "loop", "generation", "due", "timeout", "timer", "timer_at")

    def __init__(self, protocol: _FrameProtocol, threshold: int, generation: int) -> None:
        super().__init__(threshold)
        self.protocol = protocol
        self.transport = protocol.transport
        self.loop = asyncio.get_running_loop()
        self.generation = generation
        self.due = 0.0  # loop time by which the reply in flight must have come
        self.timeout = 0.0  # that call's timeout (for the error message)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    async def exchange(self, payload: bytes, timeout: float) -> bytes:
        """Send one request frame and wait for its reply frame (TimeoutError, or ConnectionError when lost)."""
        protocol = self.protocol
        if protocol.lost:
            raise ConnectionError("connection lost before the request was sent")
        loop = self.loop
        waiter = loop.create_future()
        protocol.waiter = waiter
        self.transport.write(HEADER.pack(len(payload)) + payload)
        due = self.due = loop.time() + timeout
        self.timeout = timeout
        if self.timer is None or self.timer_at > due + TIMEOUT_STEP:
            if self.timer is not None:
                self.timer.cancel()
            self._arm(due)
        return await waiter

    def _arm(self, when: float) -> None:
        self.timer = self.loop.call_at(when, self._check)
        self.timer_at = when

    def _check(self) -> None:
        """The timer fired: fail the call in flight if its reply is overdue, else wait for it."""
        self.timer = None
        waiter = self.protocol.waiter
        if waiter is None or waiter.done():
            return  # nothing in flight: the next call arms a timer again
        if self.loop.time() >= self.due:
            self.protocol.waiter = None
            waiter.set_exception(TimeoutError(f"no reply in {self.timeout}s"))
        else:
            self._arm(self.due)

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
        self._ids = itertools.count(1)
        self._aidle: list[_AConn] = []  # touched by event-loop threads only; list.pop/append are atomic
        self._generation = 0  # bumped by reset(): connections made before are dropped when next seen

    def _shm_offer(self, hello: bool) -> tuple[ShmPool, Probe] | None:
        """The pool and probe a new connection offers, or None when it carries arrays inline."""
        if not hello or not self.settings.shm_threshold_bytes:
            return None
        probe = local_probe()
        return None if probe is None else (process_pool(self.settings), probe)

    def _connect(self, hello: bool = True) -> _Conn:
        generation = self._generation  # a reset while connecting makes this connection stale at once
        if self.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = str(self.settings.socket_path(self.engine))
        else:
            try:
                address = (self.settings.engine_host(self.engine), self.settings.engine_port(self.engine))
            except KeyError as exc:  # an engine registered without a TCP port: this transport has nowhere to go
                raise NotDelivered(str(exc)) from None
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.settings.connect_timeout_s)
        try:
            sock.connect(address)
            if self.kind == "tcp":
                _refuse_self_connect(sock, *address)
        except OSError as exc:
            sock.close()
            raise NotDelivered(f"{self.kind} connect failed: {exc}") from exc
        sock.settimeout(None)
        conn = _Conn(sock, self.settings.shm_threshold_bytes, generation)
        offer = self._shm_offer(hello)
        if offer is not None:
            try:
                conn.set_timeout(self.settings.connect_timeout_s)
                request_id = next(self._ids)
                conn.framed.send(conn.hello(request_id, offer[1]))
                keep = conn.welcome(conn.framed.recv(), request_id, offer[0])
            except (OSError, MaybeDelivered, msgspec.MsgspecError) as exc:
                conn.framed.close()
                raise NotDelivered(f"{self.kind} handshake failed: {exc}") from exc
            if not keep:
                conn.framed.close()
                return self._connect(hello=False)
        return conn

    # The idle list is shared without a lock: list.pop and list.append are atomic, the list is never replaced, and
    # a connection made before the last reset is closed wherever it turns up (taken, given back or found idle).
    def _acquire(self) -> _Conn:
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if conn.generation == self._generation:
                return conn
            conn.framed.close()
        return self._connect()

    def reset(self) -> None:
        """Drop idle connections (after the engine went away); those in use are closed when given back."""
        self._generation += 1
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            conn.framed.close()

    def call(self, method: str, request: Any, reply_type: Any, timeout: float) -> Any:
        conn = self._acquire()
        try:
            conn.set_timeout(timeout)
            request_id = next(self._ids)
            payload, leases = conn.request(request_id, method, request, timeout)
            framed = conn.framed
            try:
                framed.send(payload)
            except OSError as exc:
                raise NotDelivered(f"{self.kind} send failed: {exc}") from exc
            try:
                reply = REPLY_DECODER.decode(framed.recv())
            except BlockingIOError as exc:
                raise TimedOut(f"{self.kind} call timed out after {timeout:.3g}s") from exc
            except OSError as exc:
                raise MaybeDelivered(f"{self.kind} connection lost: {exc}") from exc
            finally:
                if leases:
                    conn.release(leases)
            if reply.id != request_id:
                raise _out_of_step(self.kind, reply, request_id)
        except BaseException:
            conn.framed.close()
            raise
        if conn.generation == self._generation:  # back to the pool, unless a reset came meanwhile
            self._idle.append(conn)
        else:
            conn.framed.close()
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
            raise NotDelivered(f"{self.kind} connect failed: {exc or 'timed out'}") from exc
        conn = _AConn(protocol, self.settings.shm_threshold_bytes, self._generation)
        offer = self._shm_offer(hello)
        if offer is not None:
            try:
                request_id = next(self._ids)
                data = await conn.exchange(conn.hello(request_id, offer[1]), self.settings.connect_timeout_s)
                keep = conn.welcome(data, request_id, offer[0])
            except (OSError, TimeoutError, MaybeDelivered, msgspec.MsgspecError) as exc:
                conn.close()
                raise NotDelivered(f"{self.kind} handshake failed: {exc}") from exc
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
                reply = REPLY_DECODER.decode(await conn.exchange(payload, timeout))
            except TimeoutError as exc:
                raise TimedOut(f"{self.kind} call timed out after {timeout:.3g}s") from exc
            except OSError as exc:
                raise MaybeDelivered(f"{self.kind} connection lost: {exc}") from exc
            finally:
                if leases:
                    conn.release(leases)
            if reply.id != request_id:
                raise _out_of_step(self.kind, reply, request_id)
        except BaseException:
            conn.close()
            raise
        self._aidle.append(conn)
        return conn.answer(reply, reply_type)


