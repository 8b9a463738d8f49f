"""Prometheus metrics of the runtime (engine clients, shared memory, the bus, GPUs); the gateway exposes them. The
storage layer's own (database health, audit writer) are in :mod:`nautilus.storage.metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)

# nautilus_engine_calls_total and nautilus_engine_call_seconds change on every engine call: nautilus.runtime.callmetrics
# counts them in plain numbers and exports them when scraped.
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
GPU_UTILIZATION = Gauge("nautilus_gpu_utilization_ratio", "GPU busy fraction over the driver's last sample",
                        ["gpu", "name"])
GPU_MEMORY_BYTES = Gauge("nautilus_gpu_memory_bytes", "GPU memory by state (used, total)", ["gpu", "name", "state"])
GPU_PROCESS_MEMORY_BYTES = Gauge("nautilus_gpu_process_memory_bytes",
                                 "GPU memory this process's torch tensors hold (CUDA or MPS)", ["backend"])
BUS_REJECTED = Counter("nautilus_bus_rejected_total", "Messages received from the Redis bus and dropped (foreign "
                       "channel, bad topic, too large, not the bus's encoding, unsigned, bad signature)", ["reason"])
COMPUTE_BACKEND = Gauge("nautilus_compute_backend", "1 for the compute backend this process uses",
                        ["backend", "device"])

# Served by each engine process (``__metrics__``, scraped through the gateway at /metrics/engines/NAME).
HOST_REQUESTS = Gauge("nautilus_engine_requests", "Requests an engine process has served", ["engine"])
HOST_ERRORS = Gauge("nautilus_engine_errors", "Requests an engine process answered with an error", ["engine"])
HOST_CONNECTIONS = Gauge("nautilus_engine_connections", "Open client connections of an engine process", ["engine"])
HOST_LATENCY_US = Gauge("nautilus_engine_server_latency_us", "Server-side handling time over the recent window",
                        ["engine", "quantile"])


def update_gpu_metrics() -> None:
    """Set the GPU gauges from ``nvidia-smi`` (nothing on a machine without NVIDIA GPUs)."""
    from nautilus.runtime.gpu import gpu_stats

    for gpu in gpu_stats():
        labels = (str(gpu.index), gpu.name)
        if gpu.utilization is not None:
            GPU_UTILIZATION.labels(*labels).set(gpu.utilization)
        if gpu.memory_used_bytes is not None:
            GPU_MEMORY_BYTES.labels(*labels, "used").set(gpu.memory_used_bytes)
        if gpu.memory_total_bytes is not None:
            GPU_MEMORY_BYTES.labels(*labels, "total").set(gpu.memory_total_bytes)


def update_process_gpu_memory() -> None:
    """This process's torch GPU memory, when it has already loaded torch and used a GPU (never imports torch)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        GPU_PROCESS_MEMORY_BYTES.labels("cuda").set(torch.cuda.memory_allocated())
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        GPU_PROCESS_MEMORY_BYTES.labels("mps").set(torch.mps.current_allocated_memory())
