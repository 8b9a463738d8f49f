"""WebSocket hub engine handlers: ingest bus messages, serve pollers and resuming clients, replay bars.

The hub makes bus channels cross-process (see ``nautilus.runtime.bus``): engines' publishes reach it
through Redis (the hub subscribes to every topic of its own stack, ``<prefix>:*``, and drops and counts what
is not one of the stack's messages, without pausing) or, without Redis, through each process's forwarder that
calls :meth:`publish`. The gateway's ``/ws`` long-polls :meth:`poll` and resumes clients with
:meth:`replay`. The hub's own bus ingests directly (it never forwards to itself), so bar replays
started here reach ``/ws`` and, with Redis, every other process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from nautilus.core.bars import Bars
from nautilus.engines.base import StorageEngine
from nautilus.engines.websocket import channels as channel_table
from nautilus.engines.websocket.hub import Hub
from nautilus.engines.websocket.messages import (
    Channels,
    PollReply,
    PollRequest,
    PublishBatch,
    Published,
    ReplayId,
    ReplayInfo,
    ReplayReply,
    ReplayRequest,
    Replays,
    StartReplay,
)
from nautilus.engines.websocket.replay import Replayer
from nautilus.runtime.bus import Bus, BusCodec, InMemoryBus, RedisBus, ResilientRedisBus, redact_url
from nautilus.runtime.engine import handler

log = logging.getLogger("nautilus.websocket")


class _HubBus(InMemoryBus):
    """The hub process's bus without Redis: local delivery plus direct ingestion (no forwarding)."""

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        super().publish(topic, message)
        self.hub.ingest([(topic, message)])


class WebSocketEngine(StorageEngine):
    name = "websocket"
    stateful = True  # one writer: see nautilus.runtime.engine.Engine.stateful

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        # Message ids begin at this life's start in microseconds: they keep rising across restarts (the rings are
        # in memory and a crash loses them; a poller from before it sees a gap, never silently skipped messages).
        self.hub = Hub(settings.ws_ring_size, settings.ws_channel_ring_size, first_id=time.time_ns() // 1000)
        self.replayer = Replayer(self._read_bars, self._publish_bar)
        self._stop = threading.Event()
        self._redis_thread: threading.Thread | None = None
        self._ingest_error_at = -1e18

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            local = _HubBus(self.hub)  # without Redis (or while it is down) publishes are ingested directly
            self._bus = ResilientRedisBus(self.settings, local=local) if self.settings.redis_url else local
        return self._bus

    def start(self) -> None:
        """The hub needs no database; with Redis it starts ingesting every topic."""
        self.settings.ensure_dirs()
        if self.settings.redis_url:
            ready = threading.Event()
            self._redis_thread = threading.Thread(target=self._ingest_redis, args=(ready,), daemon=True,
                                                  name="hub-redis")
            self._redis_thread.start()
            ready.wait(5.0)

    def _ingest_redis(self, ready: threading.Event) -> None:
        """Ingest every topic of the stack from Redis; when the connection drops, subscribe again at once, then
        every second until Redis is back (meanwhile publishers fall back to forwarding to the hub, see
        ``nautilus.runtime.bus``). A bad message never stops it: the subscription drops and counts those, and
        an ingestion error skips the one message."""
        codec: BusCodec | None = None
        failures = 0
        while not self._stop.is_set():
            bus = sub = None
            try:
                codec = codec or BusCodec.for_settings(self.settings)  # the stack's prefix and secret
                bus = RedisBus.for_settings(self.settings, codec)
                sub = bus.subscribe("*")
                failures = 0
                ready.set()
                while not self._stop.is_set():
                    item = sub.get(timeout=0.5)
                    if item is not None:
                        self._ingest_one(item)
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 60 == 0:
                    log.warning("the hub's Redis subscription at %s failed (%s); retrying",
                                redact_url(self.settings.redis_url), exc)
                ready.set()
                if failures > 1:
                    self._stop.wait(1.0)
            finally:
                for closable in (sub, bus):
                    if closable is not None:
                        try:
                            closable.close()
                        except Exception:
                            pass

    def _ingest_one(self, item: tuple[str, dict[str, Any]]) -> None:
        try:
            self.hub.ingest([item])
        except Exception as exc:  # never lose the subscription (and the messages after this one) over one
            now = time.monotonic()
            if now - self._ingest_error_at > 30.0:
                self._ingest_error_at = now
                log.warning("the hub could not ingest a message on %r (%s): dropped", item[0][:80], exc)

    def close(self) -> None:
        self.replayer.close()
        self._stop.set()
        if self._redis_thread is not None:
            self._redis_thread.join(2.0)
        if self._bus is not None:
            self._bus.close()

    def _read_bars(self, symbol: str, timeframe: str, start_ns: int | None, end_ns: int | None) -> Bars:
        return self.catalog.read(symbol, timeframe, start_ns, end_ns)

    def _publish_bar(self, topic: str, data: dict[str, Any]) -> None:
        self.bus.publish(topic, data)

    # Hub ------------------------------------------------------------------------------------------
    @handler(idempotent=False)
    def publish(self, req: PublishBatch) -> Published:
        """Ingest a batch of bus messages (from other processes' forwarders)."""
        stamped = self.hub.ingest((m.topic, m.data) for m in req.messages)
        return Published(len(stamped), self.hub.last_id)

    @handler
    def poll(self, req: PollRequest) -> PollReply:
        return self.hub.poll(req.after_id, req.timeout_s, req.limit)

    @handler
    def replay(self, req: ReplayRequest) -> ReplayReply:
        return self.hub.replay(req.channel, req.after_seq, req.limit)

    @handler
    def channels(self) -> Channels:
        return Channels(self.hub.channels(), self.hub.last_id, self.hub.ingested, channel_table.table())

    # Bar replay -----------------------------------------------------------------------------------
    @handler(idempotent=False)
    def start_replay(self, req: StartReplay) -> ReplayInfo:
        return self.replayer.start(req)

    @handler(idempotent=False)
    def stop_replay(self, req: ReplayId) -> ReplayInfo:
        return self.replayer.stop(req.id)

    @handler
    def get_replay(self, req: ReplayId) -> ReplayInfo:
        return self.replayer.get(req.id)

    @handler
    def replays(self) -> Replays:
        return Replays(self.replayer.list())
