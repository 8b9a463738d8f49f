"""Baseline servers: a raw blocking socket echo and a pickle receiver, plus their client.

``python -m nautilus.bench.servers echo ADDRESS`` sends every frame (4-byte little-endian length +
body) straight back; ``python -m nautilus.bench.servers pickle ADDRESS`` unpickles each frame (a numpy
array) and replies with its first element as one 8-byte float frame. ADDRESS is a Unix socket path,
or ``tcp:PORT`` for loopback TCP. Both are the plainest blocking loops, the yardstick the engine
runtime is measured against.
"""

from __future__ import annotations

import pickle
import socket
import struct
import sys
import time
from collections.abc import Callable

HEADER = struct.Struct("<I")
FLOAT = struct.Struct("<d")
_SMALL = 1 << 16


def recv_exact(sock: socket.socket, size: int) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionResetError("peer closed the connection")
        got += n
    return buf


def recv_frame(sock: socket.socket) -> bytearray:
    (size,) = HEADER.unpack(recv_exact(sock, HEADER.size))
    return recv_exact(sock, size)


def send_frame(sock: socket.socket, payload: bytes | bytearray) -> None:
    if len(payload) < _SMALL:
        sock.sendall(HEADER.pack(len(payload)) + payload)
    else:  # no concatenated copy of a big payload
        sock.sendall(HEADER.pack(len(payload)))
        sock.sendall(payload)


def echo_reply(body: bytearray) -> bytes | bytearray:
    return body


def pickle_reply(body: bytearray) -> bytes:
    return FLOAT.pack(float(pickle.loads(body).flat[0]))


REPLIES: dict[str, Callable[[bytearray], bytes | bytearray]] = {"echo": echo_reply, "pickle": pickle_reply}


def parse_address(address: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """``tcp:PORT`` is loopback TCP; anything else a Unix socket path."""
    if address.startswith("tcp:"):
        return socket.AF_INET, ("127.0.0.1", int(address[4:]))
    return socket.AF_UNIX, address


def _socket(family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve(address: str, reply: Callable[[bytearray], bytes | bytearray]) -> None:
    """Accept connections one after another; answer each frame with ``reply(frame)``."""
    family, bind_to = parse_address(address)
    listener = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(bind_to)
    listener.listen(1)
    while True:
        conn, _ = listener.accept()
        if family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            try:
                while True:
                    send_frame(conn, reply(recv_frame(conn)))
            except ConnectionError:
                pass


class FrameClient:
    """A blocking client of :func:`serve` (connects as soon as the server accepts)."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        family, connect_to = parse_address(address)
        deadline = time.monotonic() + timeout
        while True:
            sock = _socket(family)
            try:
                sock.connect(connect_to)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.sock = sock

    def call(self, payload: bytes | bytearray) -> bytearray:
        send_frame(self.sock, payload)
        return recv_frame(self.sock)

    def close(self) -> None:
        self.sock.close()


if __name__ == "__main__":
    serve(sys.argv[2], REPLIES[sys.argv[1]])
