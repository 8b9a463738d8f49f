"""Requests and replies of the WebSocket hub engine (msgspec structs).

Every hub message has a hub-wide ``id`` (1, 2, ... in ingestion order), a per-channel ``seq``
(1, 2, ... per channel), the bus ``topic`` it came from, a server timestamp ``ts`` (int ns UTC) and
the JSON-able ``data`` that was published.
"""

from __future__ import annotations

from typing import Any

import msgspec

from nautilus.core.bounds import Name, Timestamp


class BusMessage(msgspec.Struct):
    """One bus publish: ``topic`` and its JSON-able ``data``."""

    topic: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class PublishBatch(msgspec.Struct):
    messages: list[BusMessage]


class Published(msgspec.Struct):
    count: int
    last_id: int


class HubMessage(msgspec.Struct):
    id: int
    channel: str
    seq: int
    ts: int
    topic: str
    data: dict[str, Any]


class PollRequest(msgspec.Struct, kw_only=True):
    """Messages with ``id > after_id`` (``after_id=None``: none, just report ``last_id``).

    Blocks up to ``timeout_s`` (0..30) when there is nothing newer; at most ``limit`` (1..10,000) messages.
    """

    after_id: int | None = None
    timeout_s: float = 0.0
    limit: int = 1000


class PollReply(msgspec.Struct):
    messages: list[HubMessage]
    last_id: int
    gap: bool  # messages after ``after_id`` fell out of the hub-wide ring before this poll


class ReplayRequest(msgspec.Struct, kw_only=True):
    channel: str
    after_seq: int = 0
    limit: int = 10_000


class ReplayReply(msgspec.Struct):
    channel: str
    messages: list[HubMessage]
    last_seq: int  # the channel's latest seq (0: nothing published yet)
    complete: bool  # the ring still held every message with seq > after_seq (up to limit)


class ChannelInfo(msgspec.Struct):
    channel: str
    last_seq: int
    buffered: int
    first_seq: int  # oldest seq still in the channel ring (0: empty)
    last_ts: int


class Channels(msgspec.Struct):
    items: list[ChannelInfo]
    last_id: int
    ingested: int
    table: list[dict[str, str]]


class StartReplay(msgspec.Struct, kw_only=True):
    """Replay catalog bars of ``symbol``/``timeframe`` in ``[start_ns, end_ns)`` on ``bars.<symbol>``.

    Pace: ``bars_per_second`` > 0 is a fixed rate; otherwise ``speed`` x real time between bar
    timestamps (``speed=0`` and ``bars_per_second=0``: as fast as possible). ``loop`` starts over at the end.
    """

    symbol: Name
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    speed: float = 0.0
    bars_per_second: float = 0.0
    loop: bool = False


class ReplayId(msgspec.Struct):
    id: str


class ReplayInfo(msgspec.Struct):
    id: str
    symbol: str
    timeframe: str
    channel: str
    status: str  # running | done | stopped | failed
    bars: int
    published: int
    loops: int
    speed: float
    bars_per_second: float
    loop: bool
    started_at: int
    finished_at: int | None = None
    error: str | None = None


class Replays(msgspec.Struct):
    items: list[ReplayInfo]
