"""websocket_fanout: /ws delivery latency and loss to many subscribers, and gateway memory under slow clients.

A supervisor runs the WebSocket hub engine and the gateway (uvicorn) under a temporary home. Client
processes (``python -m nautilus.bench.wsclient ...``: lean RFC 6455 clients that opt in to batch frames,
without permessage-deflate, which would compress every frame once per connection) open 1,000 subscribers
(200 with ``--quick``) on channel ``bench``; this process publishes to the hub at 100 msg/s (the
``publish`` handler over the unix socket, as a bus forwarder does), each message carrying its publish
time. Reported: delivery latency p50/p99 over every (message, subscriber) pair (target p99 <= 50 ms),
messages lost (must be 0), the CPU cores kept busy by the gateway, the hub and the client processes
while the messages flow (they share the machine's cores), and the gateway's RSS with the subscribers
idle, after the run, and with 1,000 (200) clients that subscribe but never read while a burst is
published (the server must drop them as slow consumers and its RSS must stay bounded). No external
baseline: rows compare with targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import bench_settings, free_port_offset, temp_home, wait_until
from nautilus.bench.stats import percentile
from nautilus.bench.wsclient import CHANNEL
from nautilus.config import Settings
from nautilus.runtime import supervisor

ENGINE = "websocket"
RATE = 100.0
TARGET_P99_MS = 50.0
CLIENT_PROCS = 4
BURST = 5_000  # 2 KB each: more than a stalled socket's kernel buffers (4 MB) plus the 1,000-message queue hold
PAD_BYTES = 2_000


def _spawn_clients(url: str, total: int, expect: int, mode: str, home: Path) -> list[tuple[subprocess.Popen, Path]]:
    procs = []
    per = [total // CLIENT_PROCS + (1 if k < total % CLIENT_PROCS else 0) for k in range(CLIENT_PROCS)]
    for k, n in enumerate(per):
        out = home / f"client-{mode}-{k}.json"
        args = [sys.executable, "-m", "nautilus.bench.wsclient", url, str(n), str(expect), mode, str(out)]
        with open(out.with_suffix(".log"), "w") as log:
            procs.append((subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True), out))
    for proc, out in procs:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            tail = out.with_suffix(".log").read_text()[-500:]
            raise RuntimeError(f"a {mode} websocket client process failed to subscribe (exit {proc.poll()}): {tail}")
    return procs


def _stop(procs: list[tuple[subprocess.Popen, Path]]) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc, _ in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# The stack -------------------------------------------------------------------------------------------
def _service_pid(settings: Settings, name: str) -> int:
    state = supervisor.read_state(settings) or {}
    return int(state["services"][name]["pid"])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    return sum(psutil.Process(pid).cpu_times()[:2])


def _rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def _metric(settings: Settings, name: str) -> float:
    try:
        text = httpx.get(f"{settings.gateway_url}/metrics", timeout=60.0).text
    except httpx.HTTPError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _publish(settings: Settings, count: int, rate: float, pad: int = 0) -> None:
    from nautilus.engines.websocket.engine import WebSocketEngine
    from nautilus.engines.websocket.messages import BusMessage, PublishBatch
    from nautilus.runtime.client import EngineClient

    client = EngineClient(ENGINE, settings, transports=("unix",), probe=False)
    try:
        t0 = time.monotonic()
        for i in range(count):
            if rate > 0:
                wait = t0 + i / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            data: dict[str, Any] = {"i": i, "t": time.time_ns()}
            if pad:
                data["pad"] = os.urandom(pad // 2).hex()  # incompressible
            client.call(WebSocketEngine.publish, PublishBatch([BusMessage(CHANNEL, data)]))
    finally:
        client.close()


def _ready(settings: Settings) -> bool:
    try:
        health = httpx.get(f"{settings.gateway_url}/api/v1/system/health", timeout=1.0).json()
        return health["engines"][ENGINE]["status"] == "up"
    except (httpx.HTTPError, KeyError, ValueError):
        return False


@case("websocket_fanout", "/ws: 1,000 subscribers at 100 msg/s: delivery p50/p99, loss, gateway RSS idle and slow")
def websocket_fanout(ctx: BenchContext) -> list[Result]:
    subscribers = 200 if ctx.quick else 1_000
    duration_s = 2 if ctx.quick else 5
    count = int(RATE * duration_s)
    with temp_home("wsfanout") as home:
        settings = bench_settings(home, free_port_offset([ENGINE], gateway=True))
        url = f"ws://{settings.host}:{settings.gateway_bind_port}/ws"
        ctx.step("starting supervisor, websocket hub and gateway")
        sup = supervisor.start_detached(settings, [ENGINE])
        try:
            wait_until(lambda: _ready(settings), "gateway and hub", lambda: supervisor.pid_alive(sup))
            gw, hub = _service_pid(settings, "gateway"), _service_pid(settings, ENGINE)
            rss_start = _rss_mb(gw)
            ctx.step(f"{subscribers} subscribers, {count} messages at {RATE:g}/s")
            readers = _spawn_clients(url, subscribers, count, "read", home)
            rss_idle = _rss_mb(gw)
            gw_cpu0, hub_cpu0, t0 = _cpu_s(gw), _cpu_s(hub), time.monotonic()
            _publish(settings, count, RATE)
            for proc, _ in readers:
                proc.wait(60)
            elapsed = time.monotonic() - t0
            busy = {"gateway": round((_cpu_s(gw) - gw_cpu0) / elapsed, 2),
                    "hub": round((_cpu_s(hub) - hub_cpu0) / elapsed, 2)}
            summaries = [json.loads(out.read_text()) if out.exists() else None for _, out in readers]
            busy["clients"] = round(sum(s["cpu_s"] for s in summaries if s is not None) / elapsed, 2)
            rss_after = _rss_mb(gw)
            ctx.step(f"{subscribers} clients that never read, a burst of {BURST} 2 KB messages")
            slow = _spawn_clients(url, subscribers, BURST, "slow", home)
            rss_slow_idle = _rss_mb(gw)
            _publish(settings, BURST, 0.0, PAD_BYTES)
            _metric(settings, "nautilus_ws_connections")  # answered once the gateway has worked off the burst
            time.sleep(3.0)  # past the close timeout: dropped connections are aborted
            rss_slow = _rss_mb(gw)
            dropped = _metric(settings, "nautilus_ws_dropped_consumers_total")
            open_after = _metric(settings, "nautilus_ws_connections")
        finally:
            _stop(locals().get("readers", []))
            _stop(locals().get("slow", []))
            from nautilus.bench.cases.gateway_load import stop_stack

            left = stop_stack(settings, sup)
    per_proc = [subscribers // CLIENT_PROCS + (1 if k < subscribers % CLIENT_PROCS else 0) for k in range(CLIENT_PROCS)]
    lost = sum(s["lost"] if s is not None else n * count for s, n in zip(summaries, per_proc, strict=True))
    summaries = [s for s in summaries if s is not None]
    latencies = [v / 1_000 for s in summaries for v in s["latency_us"]]
    p50 = percentile(latencies, 50) if latencies else float("nan")
    p99 = percentile(latencies, 99) if latencies else float("nan")
    params = {"subscribers": subscribers, "messages": count, "rate_per_s": RATE, "client_processes": CLIENT_PROCS}
    checks = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "lost": lost, "deliveries": len(latencies),
              "client_errors": sum(s["errors"] for s in summaries), "meets_target": p99 <= TARGET_P99_MS and lost == 0,
              "rss_mb": {"start": rss_start, "idle_subscribers": rss_idle, "after_run": rss_after,
                         "slow_subscribed": rss_slow_idle, "slow_after_burst": rss_slow},
              "slow_consumers_dropped": dropped, "connections_open_after_burst": open_after,
              "cpu_cores_busy": busy, "processes_left": left}
    return [
        result("ms", ("target", TARGET_P99_MS), ("/ws delivery p99", p99), params | {"statistic": "p99"}, checks),
        result("ms", ("target", TARGET_P99_MS), ("/ws delivery p50", p50), params | {"statistic": "p50"},
               {"lost": lost}),
        result("MB", ("gateway RSS, idle subscribers", rss_idle), ("gateway RSS, slow clients after burst", rss_slow),
               params | {"burst": BURST, "payload_bytes": PAD_BYTES},
               {"dropped": dropped, "rss_growth_mb": round(rss_slow - rss_slow_idle, 1)}),
    ]

