"""The hub's rings: per-channel sequence numbers, bounded buffers, long-poll and replay.

Contract
- :meth:`Hub.ingest` stamps each message with a hub-wide ``id`` (1, 2, ...), a per-channel ``seq``
  (1, 2, ... per channel) and a server ``ts`` (int ns), and appends it to two bounded rings: the
  hub-wide ring (``ring_size``, what pollers read) and its channel's ring (``channel_ring_size``, what
  resuming clients replay). Oldest entries fall out first.
- :meth:`Hub.poll` returns messages with ``id > after_id`` (waiting up to ``timeout_s`` on a
  condition variable when there are none) and ``gap=True`` when some of them already fell out.
- :meth:`Hub.replay` returns a channel's messages with ``seq > after_seq`` and ``complete=False``
  when the ring no longer held all of them.
Thread-safe; no I/O. The clock is injectable (tests).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from nautilus.core.errors import InvalidInput
from nautilus.engines.websocket.channels import channel_for
from nautilus.engines.websocket.messages import ChannelInfo, HubMessage, PollReply, ReplayReply

MAX_POLL_S = 30.0
MAX_LIMIT = 10_000


class _Channel:
    __slots__ = ("name", "seq", "ring")

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.seq = 0
        self.ring: deque[HubMessage] = deque(maxlen=size)


class Hub:
    def __init__(self, ring_size: int = 10_000, channel_ring_size: int = 1_000,
                 clock: Callable[[], int] = time.time_ns, max_channels: int = 10_000, first_id: int = 1) -> None:
        """``first_id``: the id of the first message; the engine starts each life above the last one's ids, so a
        poller from before a crash is told of the gap (``gap``) instead of skipping the new life's messages."""
        if ring_size < 1 or channel_ring_size < 1:
            raise InvalidInput("ring sizes must be >= 1", field="ring_size")
        self.ring_size = ring_size
        self.channel_ring_size = channel_ring_size
        self.max_channels = max_channels
        self.clock = clock
        if first_id < 1:
            raise InvalidInput("first_id must be >= 1", field="first_id")
        self.last_id = first_id - 1
        self.ingested = 0
        self.rejected = 0  # items that were not (topic, dict) pairs: dropped
        self._ring: deque[HubMessage] = deque(maxlen=ring_size)
        self._channels: dict[str, _Channel] = {}
        self._cond = threading.Condition()

    # Writing --------------------------------------------------------------------------------------
    def ingest(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[HubMessage]:
        """Stamp and buffer ``(topic, data)`` pairs; wake pollers. Returns the stamped messages."""
        out: list[HubMessage] = []
        with self._cond:
            for topic, data in items:
                if not isinstance(topic, str) or not topic or not isinstance(data, dict):
                    self.rejected += 1  # a message pollers could not decode would stall every poll after it
                    continue
                name = channel_for(topic)
                channel = self._channels.get(name)
                if channel is None:
                    if len(self._channels) >= self.max_channels:
                        self._evict_idle_channel()
                    channel = self._channels[name] = _Channel(name, self.channel_ring_size)
                channel.seq += 1
                self.last_id += 1
                msg = HubMessage(self.last_id, name, channel.seq, self.clock(), topic, data)
                channel.ring.append(msg)
                self._ring.append(msg)
                out.append(msg)
            self.ingested += len(out)
            if out:
                self._cond.notify_all()
        return out

    def _evict_idle_channel(self) -> None:
        """Forget the channel whose newest message is oldest (bounded memory with unbounded topic names)."""
        oldest = min(self._channels.values(), key=lambda c: c.ring[-1].id if c.ring else 0)
        del self._channels[oldest.name]

    # Reading --------------------------------------------------------------------------------------
    def poll(self, after_id: int | None, timeout_s: float = 0.0, limit: int = 1000) -> PollReply:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be in 1..{MAX_LIMIT}", field="limit")
        if not 0 <= timeout_s <= MAX_POLL_S:
            raise InvalidInput(f"timeout_s must be in 0..{MAX_POLL_S}", field="timeout_s")
        with self._cond:
            if after_id is None:
                return PollReply([], self.last_id, False)
            if after_id < 0:
                raise InvalidInput("after_id must be >= 0", field="after_id")
            if self.last_id <= after_id and timeout_s > 0:
                self._cond.wait_for(lambda: self.last_id > after_id, timeout_s)
            return self._after(after_id, limit)

    def _after(self, after_id: int, limit: int) -> PollReply:
        ring = self._ring
        if not ring or ring[-1].id <= after_id:
            return PollReply([], self.last_id, after_id < self.last_id - len(ring) if ring else False)
        first = ring[0].id
        gap = after_id + 1 < first
        start = max(0, after_id + 1 - first)  # ids in the ring are consecutive
        end = min(len(ring), start + limit)
        messages = list(itertools.islice(ring, start, end))
        return PollReply(messages, self.last_id, gap)

    def replay(self, channel: str, after_seq: int = 0, limit: int = MAX_LIMIT) -> ReplayReply:
        if after_seq < 0:
            raise InvalidInput("after_seq must be >= 0", field="after_seq")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be in 1..{MAX_LIMIT}", field="limit")
        with self._cond:
            ch = self._channels.get(channel)
            if ch is None:
                return ReplayReply(channel, [], 0, after_seq == 0)
            ring = ch.ring
            if after_seq >= ch.seq:
                return ReplayReply(channel, [], ch.seq, True)
            first = ring[0].seq if ring else ch.seq + 1
            complete = after_seq + 1 >= first
            start = max(0, after_seq + 1 - first)  # seqs in a channel ring are consecutive
            messages = list(itertools.islice(ring, start, start + limit))
            return ReplayReply(channel, messages, ch.seq, complete)

    def channels(self) -> list[ChannelInfo]:
        with self._cond:
            return [ChannelInfo(c.name, c.seq, len(c.ring), c.ring[0].seq if c.ring else 0,
                                c.ring[-1].ts if c.ring else 0)
                    for c in sorted(self._channels.values(), key=lambda c: c.name)]
