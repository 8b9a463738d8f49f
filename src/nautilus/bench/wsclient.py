"""``python -m nautilus.bench.wsclient URL CONNS EXPECT MODE [OUT]``: websocket subscribers for the
``websocket_fanout`` bench case, in their own process (a separate module so that running it registers no
bench case). ``MODE`` ``read`` records each message's delivery latency; ``slow`` subscribes and never reads.

The subscribers are lean RFC 6455 clients on asyncio protocols (uvloop when installed): the opening
handshake with its ``Sec-WebSocket-Accept`` check, masked client frames, every server frame parsed (text,
ping answered with pong, close), every message's JSON decoded. They share the bench machine's cores with
the gateway, so the instrument is kept cheap: a general-purpose client library costs tens of
microseconds per frame, which 1,000 subscribers x 100 msg/s cannot afford on 2 cores. Connections opt in
to batch frames (``?batch=1``, see ``nautilus.gateway.websocket``); each message inside a batch is counted
and timed on its own. Latency of a message = receipt time of the bytes that completed its frame minus
the publish time it carries (``data.t``, ns). A message is lost when its ``data.i`` never arrives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

CHANNEL = "bench"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
IDLE_TIMEOUT_S = 20.0
_decode = msgspec.json.decode


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, unfragmented client frame (RFC 6455 section 5.2; payloads here are < 64 KB)."""
    mask = os.urandom(4)
    n = len(payload)
    head = struct.pack("!BB", 0x80 | opcode, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class Subscriber(asyncio.Protocol):
    """One websocket subscriber of ``CHANNEL``; ``done`` resolves when ``expect`` messages arrived, the server
    closed, or nothing came for ``IDLE_TIMEOUT_S``."""

    def __init__(self, host: str, path: str, expect: int, mode: str, subscribed: asyncio.Future) -> None:
        self.host, self.path, self.expect, self.mode = host, path, expect, mode
        self.subscribed = subscribed
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.open = False
        self.seen: list[int] = []
        self.lat: list[int] = []
        self.error: str | None = None
        self.last_data = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                             % (self.path.encode(), self.host.encode(), self.key))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(None if self.open else f"connection lost before the handshake: {exc}")

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self.last_data = time.monotonic()
        buf = self.buf + data if self.buf else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self._handshake(buf[:end])
            buf = buf[end + 4:]
            if not self.open:
                return
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, length = buf[pos], buf[pos + 1]
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2:pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            if n - start < length:
                break
            pos = start + length
            self._frame(b0, buf[start:pos], now)
        self.buf = buf[pos:]

    def _handshake(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest())
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        if b" 101 " not in lines[0] + b" " or headers.get(b"sec-websocket-accept") != accept:
            self._finish(f"handshake refused: {lines[0]!r}")
            return
        self.open = True
        self.transport.write(client_frame(0x1, json.dumps({"op": "subscribe", "channels": [CHANNEL]}).encode()))

    def _frame(self, b0: int, payload: bytes, now: int) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x1 and b0 & 0x80:
            frame = _decode(payload)
            kind = frame["type"]
            if kind == "message":
                self._message(frame, now)
            elif kind == "batch":
                for msg in frame["messages"]:
                    self._message(msg, now)
            elif kind == "subscribed" and not self.subscribed.done():
                self.subscribed.set_result(True)
                if self.mode == "slow":
                    self.transport.pause_reading()  # never read again: the server's sends stall
        elif opcode == 0x9:
            self.transport.write(client_frame(0xA, payload))
        elif opcode == 0x8:
            self._finish(None)
        elif opcode != 0xA:
            self._finish(f"unexpected frame (opcode {opcode}, fin {b0 >> 7})")

    def _message(self, frame: dict, now: int) -> None:
        data = frame["data"]
        self.seen.append(data["i"])
        self.lat.append((now - data["t"]) // 1_000)
        if len(self.seen) >= self.expect:
            self._finish(None)

    def _finish(self, error: str | None) -> None:
        if self.done.done():
            return
        self.error = error
        if not self.subscribed.done():
            self.subscribed.set_exception(RuntimeError(error or "closed before subscribing"))
        if self.transport is not None and not self.transport.is_closing():
            if self.open:
                self.transport.write(client_frame(0x8, struct.pack("!H", 1000)))
            self.transport.close()
        self.done.set_result(None)


async def _connect(host: str, port: int, path: str, expect: int, mode: str) -> Subscriber:
    loop = asyncio.get_running_loop()
    subscribed = loop.create_future()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if mode == "slow":  # a tiny receive window: the server's sends stall after a few KB
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    _, sub = await loop.create_connection(lambda: Subscriber(host, path, expect, mode, subscribed), sock=sock)
    await asyncio.wait_for(subscribed, 60.0)
    return sub


async def _watch_idle(subs: list[Subscriber]) -> None:
    while not all(s.done.done() for s in subs):
        await asyncio.sleep(1.0)
        for s in subs:
            if not s.done.done() and time.monotonic() - s.last_data > IDLE_TIMEOUT_S:
                s._finish(None)


async def _client(url: str, conns: int, expect: int, mode: str, out: str | None) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + "?" + "&".join(q for q in (parts.query, "batch=1") if q)
    subs = await asyncio.gather(*(_connect(host, port, path, expect, mode) for _ in range(conns)))
    print("ready", flush=True)
    if mode == "slow":
        await asyncio.sleep(3600)  # never read again; the bench terminates this process
    cpu0 = time.process_time()
    for s in subs:
        s.last_data = time.monotonic()
    await _watch_idle(subs)
    if out:
        summary = {"received": [sorted(set(s.seen)) == list(range(expect)) and len(s.seen) == expect for s in subs],
                   "latency_us": [v for s in subs for v in s.lat],
                   "errors": sum(s.error is not None for s in subs),
                   "lost": sum(expect - len(set(s.seen)) for s in subs),
                   "cpu_s": time.process_time() - cpu0}
        Path(out).write_text(json.dumps(summary))


def client_main(argv: list[str]) -> None:
    url, conns, expect, mode = argv[0], int(argv[1]), int(argv[2]), argv[3]
    out = argv[4] if len(argv) > 4 else None
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(url, conns, expect, mode, out))


if __name__ == "__main__":
    client_main(sys.argv[1:])
