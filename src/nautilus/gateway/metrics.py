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
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(path, method, str(status)).inc()
            HTTP_SECONDS.labels(path, method).observe(time.perf_counter() - t0)
