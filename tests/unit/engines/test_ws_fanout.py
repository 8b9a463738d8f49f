"""The /ws fan-out logic with fake sockets and fake transports: one encoding (and one framing) for every
subscriber, globs, batch frames only for connections that opted in, resume de-duplication, and a slow
consumer closed with its reason while a fast one keeps receiving everything in order.

Oracles: the ``websockets`` library's own frame serializer and parser (RFC 6455 framing), and the
messages as published."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from nautilus.engines.websocket.hub import Hub
from nautilus.gateway import websocket as wsmod
from nautilus.gateway.websocket import CLOSE_SLOW, WRITE_BUFFER_BYTES, Connection, Fanout, text_frame


class FakeSocket:
    """Starlette's WebSocket as the fan-out uses it when no transport is reachable."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.stuck = stuck
        self._never = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.stuck:
            await self._never.wait()  # a client that stopped reading: the send never completes
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


class FakeTransport:
    """An asyncio transport whose unsent-buffer size the test sets."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing


def parse_frames(data: bytes) -> list[Frame]:
    """Server frames as the ``websockets`` library parses them (raises on anything incomplete)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out = []
    while True:
        gen = Frame.parse(reader.read_exact, mask=False)
        try:
            next(gen)
        except StopIteration as stop:
            out.append(stop.value)
            continue
        except EOFError:
            return out
        raise AssertionError("incomplete frame")


def received(transport: FakeTransport) -> list[dict]:
    frames = parse_frames(b"".join(transport.writes))
    assert all(f.opcode is Opcode.TEXT and f.fin for f in frames)
    return [json.loads(bytes(f.data)) for f in frames]


@pytest.mark.parametrize(("size", "header"), [
    (0, b"\x81\x00"), (1, b"\x81\x01"), (125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"),
    (65_535, b"\x81\x7e\xff\xff"), (65_536, b"\x81\x7f" + (65_536).to_bytes(8, "big")),
    (70_000, b"\x81\x7f" + (70_000).to_bytes(8, "big"))])
def test_text_frame_is_rfc6455_framing(size: int, header: bytes) -> None:
    """FIN + text opcode, no mask, 7-bit / 16-bit / 64-bit payload length (RFC 6455 section 5.2), then the payload."""
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert text_frame(payload) == header + payload


def test_direct_path_writes_the_same_frame_bytes_to_every_subscriber() -> None:
    async def scenario() -> tuple[list[FakeTransport], list[Connection]]:
        fan = Fanout(client=None, poll_timeout_s=1.0)
        transports = [FakeTransport() for _ in range(3)]
        conns = [Connection(FakeSocket(), 100, 60.0, transport=t) for t in transports]
        for conn, pattern in zip(conns, ["orders", "*", "bars.*"], strict=True):
            conn.patterns.add(pattern)
            fan.add(conn)
        fan.dispatch(Hub().ingest([("portfolio.orders.a", {"q": 1})]))
        return transports, conns

    (a, b, c), conns = asyncio.run(scenario())
    assert len(a.writes) == 1 and a.writes[0] is b.writes[0] and not c.writes
    frame = received(a)[0]
    assert frame == {"type": "message", "channel": "orders", "seq": 1, "id": 1, "ts": frame["ts"], "data": {"q": 1}}
    assert all(not conn.queue for conn in conns)  # nothing waited in a queue


def test_batch_frames_only_for_connections_that_opted_in() -> None:
    async def scenario() -> list[FakeTransport]:
        fan = Fanout(client=None, poll_timeout_s=1.0)
        transports = [FakeTransport() for _ in range(4)]
        for t, pattern, batch in zip(transports, ["bars.*", "bars.*", "bars.*", "bars.B"], [True, True, False, True],
                                     strict=True):
            conn = Connection(FakeSocket(), 100, 60.0, transport=t, batch=batch)
            conn.patterns.add(pattern)
            fan.add(conn)
        fan.dispatch(Hub().ingest([("bars.A", {"i": 0}), ("bars.B", {"i": 1}), ("orders", {"i": 2})]))
        return transports

    both, both_too, plain, only_b = asyncio.run(scenario())
    assert both.writes[0] is both_too.writes[0]  # the batch frame is built once for the same message set
    (batch,) = received(both)
    assert batch["type"] == "batch"
    assert [(m["type"], m["channel"], m["seq"], m["data"]) for m in batch["messages"]] == [
        ("message", "bars.A", 1, {"i": 0}), ("message", "bars.B", 1, {"i": 1})]
    assert received(plain) == batch["messages"]  # the same message frames, one per frame
    assert [f["type"] for f in received(only_b)] == ["message"]  # one message: never a batch


def test_full_transport_buffer_queues_in_order_then_drains(monkeypatch) -> None:
    monkeypatch.setattr(wsmod, "DRAIN_POLL_S", 0)

    async def scenario() -> tuple[FakeTransport, list[int]]:
        hub, fan = Hub(), Fanout(client=None, poll_timeout_s=1.0)
        t = FakeTransport()
        conn = Connection(FakeSocket(), 10, 60.0, transport=t)
        conn.patterns.add("x")
        fan.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(conn.run_sender())
        fan.dispatch(hub.ingest([("x", {"i": 0})]))
        t.buffered = WRITE_BUFFER_BYTES + 1  # the client stopped reading for a while
        for i in range(1, 6):
            fan.dispatch(hub.ingest([("x", {"i": i})]))
        for _ in range(5):
            await asyncio.sleep(0)
        queued = [len(t.writes), conn.queued]
        t.buffered = 0
        for _ in range(5):
            await asyncio.sleep(0)
        queued.append(conn.queued)
        conn.sender.cancel()
        return t, queued

    t, queued = asyncio.run(scenario())
    assert queued == [1, 5, 0]  # one written directly, five waited, none left
    assert len(t.writes) == 2  # the five queued frames went out in one write
    assert [f["data"]["i"] for f in received(t)] == list(range(6))


def test_slow_consumer_is_dropped_and_fast_one_gets_everything() -> None:
    async def scenario() -> tuple[FakeSocket, FakeSocket, FakeTransport, Fanout]:
        hub = Hub(10_000, 10_000)
        fan = Fanout(client=None, poll_timeout_s=1.0)
        fast_ws, slow_ws, stalled_ws = FakeSocket(), FakeSocket(stuck=True), FakeSocket()
        stalled_t = FakeTransport()
        stalled_t.buffered = WRITE_BUFFER_BYTES + 1  # a direct connection whose client never reads
        fast, slow = Connection(fast_ws, 5, 60.0), Connection(slow_ws, 5, 60.0)
        stalled = Connection(stalled_ws, 5, 60.0, transport=stalled_t)
        for conn in (fast, slow, stalled):
            conn.patterns.add("bars.*")
            fan.add(conn)
            conn.sender = asyncio.get_running_loop().create_task(conn.run_sender())
        for i in range(40):
            fan.dispatch(hub.ingest([(f"bars.S{i % 2}", {"i": i}), ("orders", {"i": i})]))
            for _ in range(3):
                await asyncio.sleep(0)  # the event loop turns between hub polls
        for _ in range(10):
            await asyncio.sleep(0)
        fast.sender.cancel()
        return fast_ws, slow_ws, stalled_ws, fan

    fast_ws, slow_ws, stalled_ws, fan = asyncio.run(scenario())
    frames = [json.loads(t) for t in fast_ws.sent]
    assert [f["data"]["i"] for f in frames] == list(range(40))
    assert [f["seq"] for f in frames if f["channel"] == "bars.S0"] == list(range(1, 21))
    for ws in (slow_ws, stalled_ws):
        assert ws.closed is not None and ws.closed[0] == CLOSE_SLOW
        assert ws.closed[1] == "slow consumer: more than 5 messages queued"
    assert len(fan.conns) == 1  # the slow ones were removed at once


def test_resume_floor_and_held_messages_drop_duplicates() -> None:
    async def scenario() -> tuple[FakeTransport, Connection]:
        hub, fan = Hub(), Fanout(client=None, poll_timeout_s=1.0)
        t = FakeTransport()
        conn = Connection(FakeSocket(), 100, 60.0, transport=t, batch=True)
        conn.patterns.update(["orders", "fills"])
        fan.add(conn)
        conn.floor["orders"] = 3  # seq 1..3 were sent by the replay
        conn.pending["fills"] = []  # the replay of fills is being fetched
        fan.dispatch(hub.ingest([("portfolio.orders.a", {"i": i}) for i in range(5)]
                                + [("portfolio.fills.a", {"i": 9})]))
        return t, conn

    t, conn = asyncio.run(scenario())
    (batch,) = received(t)
    assert [m["seq"] for m in batch["messages"]] == [4, 5]
    assert [seq for seq, _ in conn.pending["fills"]] == [1]  # held until the replay is sent
    assert "orders" not in conn.floor  # passed: later seqs are never compared again
