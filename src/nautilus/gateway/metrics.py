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


def _refresh_supervisor_gauges(scope: dict) -> None:
    """Before Prometheus reads /metrics: the engines' health (cached 0.2 s), which sets
    ``nautilus_engine_restarts`` from the local supervisor's state, so the gauge no longer waits for someone to
    call /health. Containers have no supervisor (the gauge stays 0): alert on changes of each engine's
    ``process_start_time_seconds`` instead (EngineRestarted), which holds under both."""
    app = scope.get("app")
    engines = getattr(getattr(app, "state", None), "engines", None)
    if engines is not None:
        try:
            engines.health()
        except Exception:  # never fail the scrape over it
            pass


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
        if scope.get("path") == "/metrics":
            _refresh_supervisor_gauges(scope)

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
