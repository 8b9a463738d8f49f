"""Wire protocol of the engine runtime: length-prefixed msgspec msgpack frames.

A frame is a 4-byte little-endian length followed by a msgpack body. A request body is
``[id, method, body, release, budget_ms]`` and a reply ``[id, body, error]``; ``body`` is the handler's own
msgspec Struct, encoded once and carried as raw bytes. numpy arrays inside bodies travel as
msgpack extension types: small ones inline (code 1), big ones as a shared-memory handle (code 2)
that the receiver maps without copying. The same framing serves Unix sockets and TCP.

Handles cross a connection only after its first exchange, ``__shm__`` (:class:`ShmHello`), proved that
both peers see the same shared memory (``nautilus.runtime.shm.Probe``); a connection without that proof —
another container, another host, an older peer — carries every array inline, and a handle arriving on it
is refused, never mapped.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from nautilus.runtime.shm import BadHandle, PoolFull, ShmHandle, ShmPool, attach

HEADER = struct.Struct("<I")
MAX_FRAME = 1 << 31
EXT_INLINE = 1
EXT_SHM = 2
_BIG_SEND = 1 << 16
_RECV_CHUNK = 1 << 16


class ErrorBody(msgspec.Struct, array_like=True):
    code: str
    message: str
    field: str | None = None


class RequestFrame(msgspec.Struct, array_like=True):
    id: int
    method: str
    body: msgspec.Raw
    release: list[int] = []
    budget_ms: float = 0.0  # time the caller still waits for the reply (0: no deadline)


NIL = msgspec.Raw(b"\xc0")


class ReplyFrame(msgspec.Struct, array_like=True):
    id: int
    body: msgspec.Raw = NIL
    error: ErrorBody | None = None


SHM_HELLO = "__shm__"


class ShmHello(msgspec.Struct, array_like=True):
    """A client's probe segment and its nonce: the engine reads it back to learn whether it sees our memory."""

    segment: str
    nonce: bytes


class ShmHelloReply(msgspec.Struct, array_like=True):
    """Whether the engine saw the client's probe, and the engine's own probe for the client to read back."""

    sees_you: bool
    segment: str = ""
    nonce: bytes = b""


class Empty(msgspec.Struct):
    """Request or reply without fields."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection."""


_inline_header = msgspec.msgpack.Encoder()
_inline_decoder = msgspec.msgpack.Decoder(tuple[str, tuple[int, ...]])
_handle_encoder = msgspec.msgpack.Encoder()
_handle_decoder = msgspec.msgpack.Decoder(ShmHandle)


class Codec:
    """Encodes bodies (arrays ≥ ``threshold`` bytes by shared-memory lease) and decodes them.

    ``pool`` is None until the connection proved that both peers share memory: arrays then go inline and a
    handle received is refused (:class:`BadHandle`). ``leases`` collects the block ids leased during the last :meth:`encode`; ``on_attach`` is
    called for each shared-memory array decoded (the client uses it to schedule the release).
    """

    def __init__(
        self,
        pool: ShmPool | None = None,
        threshold: int = 1 << 16,
        on_attach: Callable[[ShmHandle, np.ndarray], None] | None = None,
    ) -> None:
        self.pool = pool
        self.threshold = threshold
        self.on_attach = on_attach
        self.leases: list[int] = []
        self._encoder = msgspec.msgpack.Encoder(enc_hook=self._enc_hook)
        # decoders[tp] decodes a body as tp (made on first use): a plain subscript on every request's path
        self.decoders = _Decoders(self._ext_hook, self._dec_hook)

    def _enc_hook(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError("object arrays cannot be sent")
            if self.pool is not None and obj.nbytes >= self.threshold:
                try:
                    handle = self.pool.lease(obj)
                except PoolFull:
                    pass
                else:
                    self.leases.append(handle.block)
                    return msgspec.msgpack.Ext(EXT_SHM, _handle_encoder.encode(handle))
            contiguous = np.ascontiguousarray(obj)
            header = _inline_header.encode((contiguous.dtype.str, contiguous.shape))
            return msgspec.msgpack.Ext(EXT_INLINE, HEADER.pack(len(header)) + header + contiguous.tobytes())
        if isinstance(obj, np.generic):
            return obj.item()
        raise NotImplementedError(f"cannot encode {type(obj).__name__}")

    def _ext_hook(self, code: int, data: memoryview) -> Any:
        if code == EXT_INLINE:
            (hlen,) = HEADER.unpack_from(data)
            dtype, shape = _inline_decoder.decode(data[4 : 4 + hlen])
            return np.frombuffer(data[4 + hlen :], dtype=np.dtype(dtype)).reshape(shape).copy()
        if code == EXT_SHM:
            if self.pool is None:
                raise BadHandle("a shared-memory handle on a connection that did not prove it shares memory")
            handle = _handle_decoder.decode(data)
            array = attach(handle)
            if self.on_attach is not None:
                self.on_attach(handle, array)
            return array
        raise ValueError(f"unknown extension type {code}")

    @staticmethod
    def _dec_hook(tp: type, obj: Any) -> Any:
        if tp is np.ndarray and isinstance(obj, np.ndarray):
            return obj
        raise NotImplementedError(f"cannot decode {tp}")

    def encode(self, obj: Any) -> bytes:
        self.leases = []
        return self._encoder.encode(obj)

    def decode(self, data: Any, tp: Any = Any) -> Any:
        return self.decoders[tp].decode(data)


class _Decoders(dict[Any, msgspec.msgpack.Decoder]):
    """A codec's decoders by type, each made on first use with the codec's hooks."""

    def __init__(self, ext_hook: Callable[[int, memoryview], Any], dec_hook: Callable[[type, Any], Any]) -> None:
        super().__init__()
        self._hooks = (ext_hook, dec_hook)

    def __missing__(self, tp: Any) -> msgspec.msgpack.Decoder:
        ext_hook, dec_hook = self._hooks
        decoder = self[tp] = msgspec.msgpack.Decoder(tp, ext_hook=ext_hook, dec_hook=dec_hook)
        return decoder


REQUEST_ENCODER = msgspec.msgpack.Encoder()
REQUEST_DECODER = msgspec.msgpack.Decoder(RequestFrame)
REPLY_ENCODER = msgspec.msgpack.Encoder()
REPLY_DECODER = msgspec.msgpack.Decoder(ReplyFrame)


class FramedSocket:
    """A blocking socket that sends and receives length-prefixed frames.

    Receiving reads into one fixed buffer (``recv_into``: a round trip's small frame arrives in one system call and
    allocates nothing but the frame's own bytes); a frame bigger than the buffer is received straight into its own.
    """

    __slots__ = ("sock", "_buf", "_view", "_start", "_end")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray(_RECV_CHUNK)
        self._view = memoryview(self._buf)
        self._start = 0  # the received bytes not yet returned are _buf[_start:_end]
        self._end = 0

    def send(self, payload: bytes | bytearray) -> None:
        if len(payload) < _BIG_SEND:
            self.sock.sendall(HEADER.pack(len(payload)) + payload)
        else:
            self.sock.sendall(HEADER.pack(len(payload)))
            self.sock.sendall(payload)

    def recv(self) -> bytes | bytearray:
        if self._start == self._end:  # nothing buffered (the usual case): receive at the buffer's start
            got = self.sock.recv_into(self._view)
            if not got:
                raise ConnectionClosed("peer closed the connection")
            self._start, self._end = 0, got
        while self._end - self._start < 4:
            self._fill()
        start = self._start
        (size,) = HEADER.unpack_from(self._buf, start)
        if size > MAX_FRAME:
            raise ConnectionClosed(f"frame of {size} bytes exceeds the limit")
        end = start + 4 + size
        if end <= self._end:
            frame = bytes(self._view[start + 4:end])
            if end == self._end:
                self._start = self._end = 0
            else:
                self._start = end
            return frame
        if 4 + size <= _RECV_CHUNK:  # a small frame not all here yet
            while self._end - self._start < 4 + size:
                self._fill()
            return self.recv()
        # A big frame: receive the remainder straight into its own buffer.
        out = bytearray(size)
        have = self._end - start - 4
        out[:have] = self._view[start + 4:self._end]
        self._start = self._end = 0
        view = memoryview(out)
        while have < size:
            got = self.sock.recv_into(view[have:], size - have)
            if got == 0:
                raise ConnectionClosed("peer closed the connection mid-frame")
            have += got
        return out

    def _fill(self) -> None:
        """Receive more bytes behind those buffered (moved to the front first when the end is near)."""
        if self._end == _RECV_CHUNK:
            pending = bytes(self._view[self._start:self._end])
            self._view[:len(pending)] = pending
            self._start, self._end = 0, len(pending)
        got = self.sock.recv_into(self._view[self._end:])
        if not got:
            raise ConnectionClosed("peer closed the connection")
        self._end += got

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
