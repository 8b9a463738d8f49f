"""The /ws fan-out logic with fake sockets: one encoding for every subscriber, globs, and a slow
consumer closed with its reason while a fast one keeps receiving everything in order."""

from __future__ import annotations

import asyncio
import json

from nautilus.engines.websocket.hub import Hub
from nautilus.gateway.websocket import CLOSE_SLOW, Connection, Fanout


class FakeSocket:
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


def test_slow_consumer_is_dropped_and_fast_one_gets_everything() -> None:
    async def scenario() -> tuple[FakeSocket, FakeSocket, Fanout]:
        hub = Hub(10_000, 10_000)
        fan = Fanout(client=None, poll_timeout_s=1.0)
        fast_ws, slow_ws = FakeSocket(), FakeSocket(stuck=True)
        fast, slow = Connection(fast_ws, 5, 60.0), Connection(slow_ws, 5, 60.0)
        for conn in (fast, slow):
            conn.patterns.add("bars.*")
            fan.add(conn)
            conn.sender = asyncio.get_running_loop().create_task(conn.run_sender())
        for i in range(40):
            fan.dispatch(hub.ingest([(f"bars.S{i % 2}", {"i": i}), ("orders", {"i": i})]))
            await asyncio.sleep(0)  # the event loop turns between hub polls
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        fast.sender.cancel()
        return fast_ws, slow_ws, fan

    fast_ws, slow_ws, fan = asyncio.run(scenario())
    frames = [json.loads(t) for t in fast_ws.sent]
    assert [f["data"]["i"] for f in frames] == list(range(40))
    assert [f["seq"] for f in frames if f["channel"] == "bars.S0"] == list(range(1, 21))
    assert slow_ws.closed is not None and slow_ws.closed[0] == CLOSE_SLOW
    assert slow_ws.closed[1].startswith("slow consumer:")
    assert len(fan.conns) == 1  # the slow one was removed at once


def test_each_message_is_encoded_once_for_all_subscribers() -> None:
    async def scenario() -> list[Connection]:
        fan = Fanout(client=None, poll_timeout_s=1.0)
        conns = [Connection(FakeSocket(), 100, 60.0) for _ in range(3)]
        for conn, pattern in zip(conns, ["orders", "*", "bars.*"], strict=True):
            conn.patterns.add(pattern)
            fan.add(conn)
        fan.dispatch(Hub().ingest([("portfolio.orders.a", {"q": 1})]))
        return conns

    a, b, c = asyncio.run(scenario())
    assert len(a.queue) == 1 and a.queue[0] is b.queue[0] and not c.queue
    assert json.loads(a.queue[0]) == {"type": "message", "channel": "orders", "seq": 1, "id": 1,
                                      "ts": json.loads(a.queue[0])["ts"], "data": {"q": 1}}


def test_resume_buffer_drops_duplicates() -> None:
    async def scenario() -> Connection:
        conn = Connection(FakeSocket(), 100, 60.0)
        conn.patterns.add("orders")
        conn.floor["orders"] = 3  # seq 1..3 were sent by the replay
        for seq in range(1, 6):
            conn.offer("orders", seq, f"m{seq}")
        return conn

    assert list(asyncio.run(scenario()).queue) == ["m4", "m5"]
