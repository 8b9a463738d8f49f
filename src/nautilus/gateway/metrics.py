"""HTTP metrics middleware (pure ASGI, so it costs microseconds) and the /metrics exposition."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

from nautilus.runtime.metrics import LATENCY_BUCKETS

HTTP_REQUESTS = Counter("nautilus_http_requests_total", "HTTP requests by route, method and status",
                        ["route", "method", "status"])
HTTP_SECONDS = Histogram("nautilus_http_request_seconds", "HTTP latency by route",
                         ["route", "method"], buckets=LATENCY_BUCKETS)


class MetricsMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labels() costs a lock and a lookup

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            key = (path, scope.get("method", "GET"), status)
            children = self._children.get(key)
            if children is None:  # one per route template, method and status: a bounded set
                children = self._children[key] = (HTTP_REQUESTS.labels(key[0], key[1], str(status)),
                                                   HTTP_SECONDS.labels(key[0], key[1]))
            children[0].inc()
            children[1].observe(time.perf_counter() - t0)
