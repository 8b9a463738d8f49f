"""WebSocket hub engine handlers."""

from __future__ import annotations

from nautilus.engines.base import StorageEngine


class WebSocketEngine(StorageEngine):
    name = "websocket"
