"""The gateway's ``/ws`` endpoint: live channels from the WebSocket hub engine, with resume.

Protocol (JSON text frames)
- Authentication (keys mode): get a one-use ticket with ``POST /api/v1/stream/ticket`` (``X-API-Key``;
  reply ``{"ticket", "expires_at"}``, valid ``ws_ticket_ttl_s``) and connect to ``/ws?ticket=...``; clients
  that can set headers may send ``X-API-Key`` on the handshake instead. Keys never go in the URL: a
  ``?api_key=`` is refused. Without a valid ticket or key the server closes with code 4401 and a reason; a
  connection whose key is revoked is closed with 4401 within ``REVALIDATE_S``. The handshake's ``Origin`` and
  ``Host`` are checked first (:mod:`nautilus.gateway.guard`). ``?batch=1`` opts in to batch frames (below).
- Client ops: ``{"op": "subscribe", "channels": ["bars.*", "orders"], "resume": {"orders": 41}}``
  (``resume``: last ``seq`` seen per channel; the missed messages are replayed first, exactly once and in
  order), ``{"op": "unsubscribe", "channels": [...]}``, ``{"op": "ping"}``.
- Server frames: ``{"type": "message", "channel", "seq", "id", "ts", "data"}``; ``subscribed`` (patterns
  and, per resumed channel, ``replayed``, ``last_seq``, ``complete`` — false when the hub's ring no longer
  held everything — and ``reset`` when the hub's sequence restarted); ``unsubscribed``; ``heartbeat``
  every ``ws_heartbeat_s``; ``pong``; ``error`` (``op``, ``field``, ``message``) for a bad op.
- Batch frames (only on connections opened with ``?batch=1``): when several live messages for one
  connection arrive from the hub together they go out as ONE frame
  ``{"type": "batch", "messages": [<message frame>, ...]}`` whose elements are exactly the message frames
  above, in order. A single message is always a plain ``message`` frame, so a client that does not opt in
  never sees a batch.

Design: ONE poller task per app long-polls the hub (in a worker thread) while connections exist and
fans out. Each message's JSON is encoded once and, on a real server connection, framed once: the same
bytes are written straight to every subscriber's transport (:class:`Out`), with no task wake-up, ASGI
call or per-connection framing on that path. A connection whose transport already buffers more than
``WRITE_BUFFER_BYTES`` (its client reads slowly) gets its frames queued instead; its sender task writes
them once the buffer drains. The queue is bounded (``ws_queue_size`` live messages): one that overflows
is closed with code 1008 and reason ``slow consumer: ...`` so it never slows the others or grows memory.
Where no transport is reachable (an in-process test client) every frame goes through the queue and
Starlette's ``send_text``. Direct writes are safe next to the server's own: every write is one whole
RFC 6455 frame and so are uvicorn's (pongs, pings, close), so frames never interleave; the fan-out stops
writing once its connection is closed or the transport is closing, so nothing follows a close frame; and
an uncompressed frame (RSV1 clear) is valid even where permessage-deflate was negotiated (RFC 7692
section 6). Resume: the subscription is registered first (live messages of resumed channels are held),
then the hub's ``replay`` is fetched and sent, then the held live messages with a higher ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import msgspec
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from prometheus_client import Counter, Gauge
from websockets.frames import Frame, Opcode

from nautilus.core.errors import NautilusError
from nautilus.engines.websocket.engine import WebSocketEngine
from nautilus.engines.websocket.messages import HubMessage, PollRequest, ReplayRequest

log = logging.getLogger("nautilus.gateway.ws")
Q = TypeVar("Q")
R = TypeVar("R")
router = APIRouter()

WS_CONNECTIONS = Gauge("nautilus_ws_connections", "Open /ws connections")
WS_QUEUE_DEPTH = Gauge("nautilus_ws_queue_depth", "Live messages queued for /ws connections (all, max)", ["kind"])
WS_DROPPED = Counter("nautilus_ws_dropped_consumers_total", "/ws connections closed as slow consumers")
WS_SENT = Counter("nautilus_ws_messages_sent_total", "Live messages handed to /ws connections (written or queued)")
WS_GAPS = Counter("nautilus_ws_poll_gaps_total", "Hub polls that found messages already out of the ring")

MAX_PATTERNS = 100
MAX_NAME = 200
CLOSE_AUTH = 4401
REVALIDATE_S = 1.0  # how often an open connection's key is checked again (revocation closes it)
CLOSE_SLOW = 1008
CLOSE_TIMEOUT_S = 2.0
WRITE_BUFFER_BYTES = 64 * 1024  # above this many unsent bytes in a transport, frames wait in the connection's queue
DRAIN_POLL_S = 0.01  # how often a connection with queued frames re-checks its transport's buffer
_encode = msgspec.json.encode


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2) carrying ``payload``, serialised by
    the ``websockets`` library (once per message: every subscriber gets the same bytes)."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class Out:
    """One outgoing frame, shared by every connection it goes to: its JSON ``payload``, the number of live
    messages it carries (``live``; 0 for control and replayed frames) and its framing, built once."""

    __slots__ = ("payload", "live", "_frame")

    def __init__(self, payload: bytes, live: int = 0) -> None:
        self.payload = payload
        self.live = live
        self._frame: bytes | None = None

    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.payload)
        return self._frame

    def text(self) -> str:
        return self.payload.decode()


def message_payload(msg: HubMessage) -> bytes:
    return _encode({"type": "message", "channel": msg.channel, "seq": msg.seq, "id": msg.id, "ts": msg.ts,
                    "data": msg.data})


def batch_payload(payloads: list[bytes]) -> bytes:
    """``{"type":"batch","messages":[...]}`` around already encoded message frames (no re-encoding)."""
    return b'{"type":"batch","messages":[' + b",".join(payloads) + b"]}"


class BadOp(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class Connection:
    """One client: its patterns, its bounded queue of frames, and the sender task that drains the queue
    and sends heartbeats. ``transport`` (the server's asyncio transport, when reachable) takes frames
    directly while the queue is empty and its buffer is below ``WRITE_BUFFER_BYTES``."""

    def __init__(self, ws: Any, queue_size: int, heartbeat_s: float, transport: Any = None,
                 batch: bool = False) -> None:
        self.ws = ws
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.transport = transport
        self.batch = batch
        self.patterns: set[str] = set()
        self.queue: deque[Out] = deque()
        self.queued = 0  # live messages in ``queue``
        self.pending: dict[str, list[tuple[int, Out]]] = {}  # resumed channel -> live messages held back
        self.floor: dict[str, int] = {}  # resumed channel -> highest seq already sent
        self.wake = asyncio.Event()
        self.closed_reason: str | None = None
        self.sender: asyncio.Task | None = None
        self.on_kill: Any = None

    def matches(self, channel: str) -> bool:
        return any(fnmatch.fnmatchcase(channel, p) for p in self.patterns)

    def push(self, out: Out) -> None:
        """Write ``out`` now when possible, else queue it (never blocks). Live overflow closes the connection."""
        if self.closed_reason is not None:
            return
        t = self.transport
        if t is not None:
            if t.is_closing():  # the client is gone; the receive loop ends the connection
                return
            if not self.queue and t.get_write_buffer_size() <= WRITE_BUFFER_BYTES:
                t.write(out.frame())
                return
        self.queue.append(out)
        self.queued += out.live
        if self.queued > self.queue_size:
            self.kill(f"slow consumer: more than {self.queue_size} messages queued")
            return
        self.wake.set()

    def admit(self, channel: str, seq: int, out: Out) -> bool:
        """Resume bookkeeping for one live message: False when it is held (its channel's replay is being
        fetched) or was already sent by the replay."""
        held = self.pending.get(channel)
        if held is not None:
            held.append((seq, out))
            if len(held) > self.queue_size:
                self.kill(f"slow consumer: more than {self.queue_size} messages held during resume")
            return False
        floor = self.floor.get(channel)
        if floor is None:
            return True
        if seq <= floor:
            return False
        del self.floor[channel]  # seqs only grow from here on
        return True

    def send_now(self, frame: dict[str, Any] | Out) -> None:
        """A control or replayed frame, in order with everything else (not counted against the live bound)."""
        self.push(frame if isinstance(frame, Out) else Out(_encode(frame)))

    def kill(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self.queue.clear()
        self.queued = 0
        self.pending.clear()
        WS_DROPPED.inc()
        if self.on_kill is not None:
            self.on_kill(self)
        if self.sender is not None:
            self.sender.cancel()
        asyncio.get_running_loop().create_task(self._close(CLOSE_SLOW, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, reason=reason[:120]), CLOSE_TIMEOUT_S)
        except Exception:  # the client does not read: the close frame cannot go out; drop the TCP connection
            _abort(self.ws)

    async def _flush(self) -> None:
        """Send everything queued, waiting (without blocking others) while the transport's buffer is full."""
        while self.queue and self.closed_reason is None:
            t = self.transport
            if t is None:
                out = self.queue.popleft()
                self.queued -= out.live
                await self.ws.send_text(out.text())
                continue
            if t.is_closing():
                self.queue.clear()
                self.queued = 0
                return
            if t.get_write_buffer_size() > WRITE_BUFFER_BYTES:
                await asyncio.sleep(DRAIN_POLL_S)
                continue
            outs = list(self.queue)
            self.queue.clear()
            self.queued = 0
            t.write(b"".join(o.frame() for o in outs))

    async def run_sender(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_s
        while self.closed_reason is None:
            await self._flush()
            now = time.monotonic()
            if now >= next_beat:
                self.send_now({"type": "heartbeat", "ts": time.time_ns()})
                next_beat = now + self.heartbeat_s
                continue
            self.wake.clear()
            if self.queue:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), next_beat - now)


def _abort(ws: Any) -> None:
    """Best effort: abort the server's transport (uvicorn's protocols expose it via the ASGI send callable)."""
    transport = _find_transport(getattr(ws, "_send", None), 0)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


def _find_transport(obj: Any, depth: int) -> Any:
    """The asyncio transport behind an ASGI ``send`` (a bound method of the server's protocol, maybe wrapped)."""
    if obj is None or depth > 6:
        return None
    transport = getattr(obj, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        return transport
    found = _find_transport(getattr(obj, "__self__", None), depth + 1)
    for cell in getattr(obj, "__closure__", None) or ():
        if found is not None:
            break
        with contextlib.suppress(ValueError):
            found = _find_transport(cell.cell_contents, depth + 1)
    return found


def direct_transport(ws: Any) -> Any:
    """The transport that frames can be written to directly, or None (then frames go through ``send_text``)."""
    transport = _find_transport(getattr(ws, "_send", None), 0)
    if transport is None or not all(hasattr(transport, a) for a in ("write", "is_closing", "get_write_buffer_size")):
        return None
    return transport


class Fanout:
    """The app's single hub poller and the routing of messages to connections."""

    def __init__(self, client: Any, poll_timeout_s: float, limit: int = 1000) -> None:
        self.client = client
        self.poll_timeout_s = poll_timeout_s
        self.limit = limit
        self.conns: set[Connection] = set()
        self.after_id: int | None = None
        self.task: asyncio.Task | None = None
        self._routes: dict[str, list[Connection]] = {}

    def add(self, conn: Connection) -> None:
        conn.on_kill = self.remove
        self.conns.add(conn)
        self.changed()
        WS_CONNECTIONS.set(len(self.conns))

    def remove(self, conn: Connection) -> None:
        self.conns.discard(conn)
        self.changed()
        WS_CONNECTIONS.set(len(self.conns))

    def changed(self) -> None:
        self._routes.clear()

    def route(self, channel: str) -> list[Connection]:
        conns = self._routes.get(channel)
        if conns is None:
            if len(self._routes) > 10_000:
                self._routes.clear()
            conns = self._routes[channel] = [c for c in self.conns if c.matches(channel)]
        return conns

    async def _call(self, method: Callable[[Any, Q], R], request: Q, timeout: float | None = None) -> R:
        """Call ``method``, a handler of the hub engine (``WebSocketEngine.poll``), in a worker thread."""
        fn = functools.partial(self.client.call, method, request, timeout=timeout)
        return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)

    async def ensure_started(self) -> None:
        """Start the poller (from the hub's current last id) unless it runs; returns once positioned."""
        if self.task is not None and not self.task.done():
            return
        reply = await self._call(WebSocketEngine.poll, PollRequest(after_id=None))
        if self.task is not None and not self.task.done():  # another connection started it meanwhile
            return
        self.after_id = reply.last_id
        self.task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        timeout = self.poll_timeout_s + self.client.settings.call_timeout_s
        while self.conns:
            try:
                req = PollRequest(after_id=self.after_id, timeout_s=self.poll_timeout_s, limit=self.limit)
                reply = await self._call(WebSocketEngine.poll, req, timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # hub unreachable: keep trying, never kill the loop
                log.warning("hub poll failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if reply.gap:
                WS_GAPS.inc()
            if reply.messages:
                self.after_id = reply.messages[-1].id
                self.dispatch(reply.messages)
            elif self.after_id is not None and reply.last_id < self.after_id:  # the hub restarted
                self.after_id = reply.last_id

    def dispatch(self, messages: list[HubMessage]) -> None:
        """Hand one poll's messages to their subscribers: each message encoded once; a batching connection
        that gets several of them gets one batch frame, shared with every connection that gets the same set."""
        singles: dict[int, Out] = {}

        def single(i: int) -> Out:
            out = singles.get(i)
            if out is None:
                out = singles[i] = Out(message_payload(messages[i]), live=1)
            return out

        targets: dict[Connection, list[int]] = {}
        for i, msg in enumerate(messages):
            for conn in self.route(msg.channel):
                idx = targets.get(conn)
                if idx is None:
                    targets[conn] = [i]
                else:
                    idx.append(i)
        batches: dict[tuple[int, ...], Out] = {}
        delivered = 0
        for conn, idx in targets.items():
            if conn.closed_reason is not None:
                continue
            if conn.pending or conn.floor:
                idx = [i for i in idx if conn.admit(messages[i].channel, messages[i].seq, single(i))]
            if conn.batch and len(idx) > 1:
                key = tuple(idx)
                out = batches.get(key)
                if out is None:
                    out = batches[key] = Out(batch_payload([single(i).payload for i in idx]), live=len(idx))
                conn.push(out)
            else:
                for i in idx:
                    conn.push(single(i))
            delivered += len(idx)
        if delivered:
            WS_SENT.inc(delivered)
        depths = [c.queued for c in self.conns]
        WS_QUEUE_DEPTH.labels("total").set(sum(depths))
        WS_QUEUE_DEPTH.labels("max").set(max(depths, default=0))


def fanout_of(app: Any) -> Fanout:
    fan = getattr(app.state, "ws_fanout", None)
    if fan is None:
        settings = app.state.settings
        fan = app.state.ws_fanout = Fanout(app.state.engines["websocket"], settings.ws_poll_timeout_s)
    return fan


def _names(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_PATTERNS:
        raise BadOp(f"{field} must be a non-empty list of at most {MAX_PATTERNS} channel names or globs", field)
    for name in value:
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise BadOp(f"{field} entries must be non-empty strings of at most {MAX_NAME} characters", field)
    return value


async def _subscribe(fan: Fanout, conn: Connection, op: dict[str, Any]) -> None:
    patterns = _names(op.get("channels"), "channels")
    resume = op.get("resume") or {}
    if not isinstance(resume, dict) or not all(
            isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in resume.items()):
        raise BadOp("resume must map channel names to the last seq seen (an integer >= 0)", "resume")
    for channel in resume:
        if any(ch in channel for ch in "*?["):
            raise BadOp(f"resume takes exact channel names, not globs ({channel!r})", "resume")
    await fan.ensure_started()
    for channel in resume:
        conn.pending[channel] = []
    conn.patterns.update(patterns)
    conn.patterns.update(c for c in resume if not conn.matches(c))
    fan.changed()
    replies = {}
    try:
        for channel, after in resume.items():
            reply = await fan._call(WebSocketEngine.replay, ReplayRequest(channel=channel, after_seq=after))
            reset = after > reply.last_seq  # the hub restarted: its seqs began again
            if reset:
                reply = await fan._call(WebSocketEngine.replay, ReplayRequest(channel=channel, after_seq=0))
            replies[channel] = (after, reply, reset)
    except BaseException:
        for channel in resume:
            conn.pending.pop(channel, None)
        raise
    resumed = {}
    frames: list[Out] = []
    for channel, (after, reply, reset) in replies.items():
        frames.extend(Out(message_payload(m)) for m in reply.messages)
        sent = reply.messages[-1].seq if reply.messages else (0 if reset else after)
        held = conn.pending.pop(channel, [])
        frames.extend(out for seq, out in held if seq > sent)
        conn.floor[channel] = max([sent] + [seq for seq, _ in held])
        resumed[channel] = {"after": after, "replayed": len(reply.messages), "last_seq": reply.last_seq,
                            "complete": reply.complete, "reset": reset}
    conn.send_now({"type": "subscribed", "channels": sorted(conn.patterns), "resumed": resumed})
    for out in frames:
        conn.send_now(out)


class Ticket(msgspec.Struct, frozen=True):
    ticket: str
    expires_at: float  # epoch seconds


@router.post("/api/v1/stream/ticket", tags=["stream"], status_code=201,
             summary="A one-use ticket for /ws?ticket=... (keys never travel in URLs)")
async def ws_ticket(request: Request) -> Response:
    identity = (request.scope.get("state") or {}).get("identity")
    key = request.headers.get("x-api-key") if identity is not None and identity.actor != "static" else None
    ticket, expires = request.app.state.ws_tickets.issue(identity, key)
    return Response(_encode(Ticket(ticket, round(expires, 3))), status_code=201, media_type="application/json")


def _authorized(ws: WebSocket) -> tuple[str | None, str | None]:
    """``(reason to close or None, the key to re-check while the connection lives or None)``."""
    checker = ws.app.state.key_checker
    if "api_key" in ws.query_params:
        return "API keys never go in URLs: get a ticket (POST /api/v1/stream/ticket) and use ?ticket=", None
    if not checker.enabled():
        return None, None
    ticket = ws.query_params.get("ticket")
    if ticket:
        redeemed = ws.app.state.ws_tickets.redeem(ticket)
        if redeemed is None:
            return "invalid or expired ticket (tickets are one-use)", None
        identity, key = redeemed
        if key is not None and checker.identify(key) is None:  # revoked since the ticket was issued
            return "API key revoked", None
        return None, key
    key = ws.headers.get("x-api-key")
    if not key:
        if not checker.any_key():
            return "no API key exists: `nautilus keys add NAME --role admin`, or NAUTILUS_AUTH_MODE=open", None
        return "missing ticket: POST /api/v1/stream/ticket, then /ws?ticket=", None
    if checker.identify(key) is None:
        return "invalid API key", None
    return None, key


async def _close_when_revoked(ws: WebSocket, conn: Connection, key: str) -> None:
    checker = ws.app.state.key_checker
    while conn.closed_reason is None:
        await asyncio.sleep(REVALIDATE_S)
        try:
            valid = checker.identify(key) is not None
        except Exception:  # the database is unreachable: keep the connection, check again
            continue
        if not valid:
            conn.closed_reason = "API key revoked"
            await conn._close(CLOSE_AUTH, "API key revoked")
            return


@router.websocket("/ws")
async def ws_endpoint(ws: WebSocket) -> None:
    await ws.accept()
    try:
        reason, key = _authorized(ws)
    except Exception:  # the keys live in the database
        log.warning("/ws authentication failed: the database is unreachable")
        await ws.close(code=1013, reason="the database is unreachable; retry later")
        return
    if reason is not None:
        await ws.close(code=CLOSE_AUTH, reason=reason[:120])
        return
    settings = ws.app.state.settings
    fan = fanout_of(ws.app)
    conn = Connection(ws, settings.ws_queue_size, settings.ws_heartbeat_s, transport=direct_transport(ws),
                      batch=ws.query_params.get("batch") in ("1", "true"))
    fan.add(conn)
    conn.sender = asyncio.get_running_loop().create_task(conn.run_sender())
    watcher = None if key is None else asyncio.get_running_loop().create_task(_close_when_revoked(ws, conn, key))
    try:
        while conn.closed_reason is None:
            text = await ws.receive_text()
            try:
                op = msgspec.json.decode(text)
            except msgspec.DecodeError:
                conn.send_now({"type": "error", "op": None, "field": "body", "message": "frame is not valid JSON"})
                continue
            name = op.get("op") if isinstance(op, dict) else None
            try:
                if name == "subscribe":
                    await _subscribe(fan, conn, op)
                elif name == "unsubscribe":
                    patterns = _names(op.get("channels"), "channels")
                    conn.patterns.difference_update(patterns)
                    fan.changed()
                    conn.send_now({"type": "unsubscribed", "channels": patterns})
                elif name == "ping":
                    conn.send_now({"type": "pong", "ts": time.time_ns(), "id": op.get("id")})
                else:
                    raise BadOp(f"unknown op {name!r}; expected subscribe, unsubscribe or ping", "op")
            except BadOp as exc:
                conn.send_now({"type": "error", "op": name, "field": exc.field, "message": str(exc)})
            except NautilusError as exc:
                conn.send_now({"type": "error", "op": name, "field": exc.field, "message": exc.message})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        fan.remove(conn)
        if watcher is not None:
            watcher.cancel()
        if conn.sender is not None:
            conn.sender.cancel()
            with contextlib.suppress(BaseException):
                await conn.sender
