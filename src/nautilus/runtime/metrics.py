"""Prometheus metrics of the runtime (engine clients, shared memory); the gateway exposes them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)

ENGINE_CALLS = Counter(
    "nautilus_engine_calls_total", "Engine calls by engine, method, transport and outcome",
    ["engine", "method", "transport", "outcome"],
)
ENGINE_CALL_SECONDS = Histogram(
    "nautilus_engine_call_seconds", "Engine call latency by engine and transport",
    ["engine", "transport"], buckets=LATENCY_BUCKETS,
)
ENGINE_FALLBACKS = Counter(
    "nautilus_engine_fallbacks_total", "Calls that moved past a failing transport",
    ["engine", "from_transport"],
)
ENGINE_UP = Gauge("nautilus_engine_up", "1 when the engine answers health probes on a transport",
                  ["engine", "transport"])
ENGINE_TRANSPORT = Gauge("nautilus_engine_transport_active",
                         "1 for the transport the last successful call used", ["engine", "transport"])
SHM_POOL_BYTES = Gauge("nautilus_shm_pool_bytes", "Shared-memory pool of this process", ["state"])
ENGINE_RESTARTS = Gauge("nautilus_engine_restarts", "Times the supervisor restarted an engine", ["engine"])
COMPUTE_BACKEND = Gauge("nautilus_compute_backend", "1 for the compute backend this process uses",
                        ["backend", "device"])

# Served by each engine process (``__metrics__``, scraped through the gateway at /metrics/engines/NAME).
HOST_REQUESTS = Gauge("nautilus_engine_requests", "Requests an engine process has served", ["engine"])
HOST_ERRORS = Gauge("nautilus_engine_errors", "Requests an engine process answered with an error", ["engine"])
HOST_CONNECTIONS = Gauge("nautilus_engine_connections", "Open client connections of an engine process", ["engine"])
HOST_LATENCY_US = Gauge("nautilus_engine_server_latency_us", "Server-side handling time over the recent window",
                        ["engine", "quantile"])
