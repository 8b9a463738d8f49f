"""The live bar feed of the Portfolio engine: it follows ``bars.<SYMBOL>`` channels of the WebSocket hub.

Bars reach the hub from a replay (``POST /api/v1/stream/replay``) or a live adapter publishing ``bars.<SYMBOL>``
on the bus (Redis or the in-memory bus's forwarder); the feed long-polls the hub from where it started,
hands each new bar of a followed symbol to the book of every account (a bar not after an account's clock is
ignored there, so a re-delivered bar is harmless), then to the listeners of that symbol (stream
deployments). A gap (the hub's ring moved past us) is logged and skipped: the bars in it are lost to the
paper accounts, not filled late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from nautilus.core.bounds import check_bar
from nautilus.core.errors import InvalidInput
from nautilus.trading.matching import Bar

log = logging.getLogger("nautilus.portfolio.feed")
Listener = Callable[[str, Bar], None]


def bar_from_message(data: dict[str, Any]) -> Bar | None:
    """The bar of a hub message, or None when it is malformed or outside the domain bounds (never let it move
    a symbol's clock)."""
    try:
        bar = Bar(int(data["ts"]), float(data["open"]), float(data["high"]), float(data["low"]),
                  float(data["close"]), float(data.get("volume", float("inf"))))
        check_bar(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume, "bar")
    except (KeyError, TypeError, ValueError, OverflowError, InvalidInput):
        return None
    return bar


class HubFeed:
    def __init__(self, settings: Any, on_bar: Listener, poll_timeout_s: float = 1.0) -> None:
        self.settings = settings
        self.on_bar = on_bar
        self.poll_timeout_s = poll_timeout_s
        self.symbols: set[str] = set()
        self.listeners: dict[str, list[Listener]] = {}
        self.received = 0
        self.gaps = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def follow(self, symbol: str, listener: Listener | None = None) -> None:
        with self._lock:
            self.symbols.add(symbol)
            if listener is not None:
                self.listeners.setdefault(symbol, []).append(listener)
            if self._thread is None:
                from nautilus.engines.websocket.engine import WebSocketEngine
                from nautilus.engines.websocket.messages import PollRequest
                from nautilus.runtime.client import EngineClient, no_stack_running

                self._client = EngineClient("websocket", self.settings, probe=False,
                                            inproc_writer=no_stack_running(self.settings))
                start = self._client.call(WebSocketEngine.poll, PollRequest(after_id=None)).last_id  # from now on
                self._thread = threading.Thread(target=self._run, args=(start,), daemon=True, name="portfolio-feed")
                self._thread.start()

    def unfollow(self, symbol: str, listener: Listener) -> None:
        with self._lock:
            if listener in self.listeners.get(symbol, []):
                self.listeners[symbol].remove(listener)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll_timeout_s + 2.0)
        if self._client is not None:
            self._client.close()

    def _run(self, after: int) -> None:
        from nautilus.engines.websocket.engine import WebSocketEngine
        from nautilus.engines.websocket.messages import PollRequest

        while not self._stop.is_set():
            try:
                reply = self._client.call(WebSocketEngine.poll, PollRequest(after_id=after, timeout_s=self.poll_timeout_s))
            except Exception as exc:  # the hub is restarting: try again shortly
                log.warning("bar feed: hub poll failed: %s", exc)
                self._stop.wait(0.5)
                continue
            if reply.gap:
                self.gaps += 1
                log.warning("bar feed: bars fell out of the hub's ring before they were read")
            for message in reply.messages:
                symbol = message.channel.removeprefix("bars.")
                if not message.channel.startswith("bars.") or symbol not in self.symbols:
                    continue
                bar = bar_from_message(message.data)
                if bar is None:
                    continue
                self.received += 1
                try:
                    self.on_bar(symbol, bar)
                    for listener in list(self.listeners.get(symbol, ())):
                        listener(symbol, bar)
                except Exception:  # one bad bar or listener must not stop the feed
                    log.exception("bar feed: handling a %s bar failed", symbol)
            after = reply.last_id
