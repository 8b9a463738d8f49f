"""gateway_load: HTTP latency of the real stack under load, against the targets.

A supervisor (``supervisor.start_detached``) runs the marketdata engine and the gateway under a
temporary home on a free port offset; the sample universe is loaded through the engine; then a
separate process (``wrk -t1 -c4 --latency`` when installed, else :mod:`nautilus.bench.loadgen`)
drives ``/health`` and a one-month daily bars query with 4 keep-alive connections. There is no
external baseline: each row compares a percentile with its target (ratio > 1 meets it).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.loadgen import drive
from nautilus.bench.procs import bench_settings, engine_answers, free_port_offset, temp_home, wait_until
from nautilus.config import Settings
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import SampleReply, SampleRequest
from nautilus.runtime import supervisor
from nautilus.runtime.client import EngineClient
from nautilus.runtime.shm import remove_segments_of

ENGINE = "marketdata"
SYMBOL = "AAPL"
CONNECTIONS = 4
WARMUP_S = 1
WINDOW_DAYS = 31
# (endpoint, statistic) -> target in ms
TARGETS_MS = {("health", "p50"): 1.0, ("health", "p99"): 3.0, ("bars", "p50"): 2.0}


def api_headers() -> dict[str, str]:
    """An ``X-API-Key`` when the environment configures keys (the stack's children inherit it)."""
    keys = Settings().api_keys
    return {"X-API-Key": keys[0]} if keys else {}


def wait_for_stack(settings: Settings, supervisor_pid: int, headers: dict[str, str],
                   engines: tuple[str, ...] = (ENGINE,)) -> None:
    """Wait until each of ``engines`` answers and the gateway sees them all up (other engines may be absent)."""
    logs = supervisor.log_dir(settings)

    def alive() -> bool:
        return supervisor.pid_alive(supervisor_pid)

    for name in engines:
        wait_until(engine_answers(settings, name), f"engine {name}", alive, logs / f"{name}.log")

    def gateway_sees_engines() -> bool:
        try:
            reply = httpx.get(f"{settings.gateway_url}/api/v1/system/health", headers=headers, timeout=1.0)
        except httpx.HTTPError:
            return False
        if reply.status_code != 200:
            return False
        health = reply.json()["engines"]
        return all(health[name]["status"] == "up" for name in engines)

    wait_until(gateway_sees_engines, "gateway", alive, logs / "gateway.log")


def load_sample(settings: Settings) -> SampleReply:
    client = EngineClient(ENGINE, settings, transports=("unix",), probe=False)
    try:
        return client.call(MarketDataEngine.load_sample, SampleRequest(), timeout=300.0)
    finally:
        client.close()


def bars_query(reply: SampleReply) -> str:
    """The query string of the last ~month of the symbol's daily bars."""
    series = next((s for s in reply.series if s.symbol == SYMBOL and s.timeframe == "1d"), None)
    if series is None:
        raise RuntimeError(f"the sample universe has no {SYMBOL} 1d series")
    end = datetime.fromtimestamp(series.last_ts / 1e9, tz=UTC).date() + timedelta(days=1)
    start = end - timedelta(days=WINDOW_DAYS)
    return f"symbol={SYMBOL}&timeframe=1d&start={start.isoformat()}&end={end.isoformat()}"


def stop_stack(settings: Settings, supervisor_pid: int) -> int:
    """Stop the supervisor and its services (SIGKILL to its session if need be); returns how many live on."""
    state = supervisor.read_state(settings) or {}
    pids = {supervisor_pid} | {svc["pid"] for svc in state.get("services", {}).values() if svc.get("pid")}
    if not supervisor.stop(settings) or supervisor.pid_alive(supervisor_pid):
        try:
            os.killpg(supervisor_pid, signal.SIGKILL)  # its own session: the services die with it
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10.0
    while any(supervisor.pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.waitpid(supervisor_pid, os.WNOHANG)  # reap our child
    except ChildProcessError:
        pass
    for pid in pids:
        remove_segments_of(pid)
    return sum(supervisor.pid_alive(pid) for pid in pids)


def measure(settings: Settings, ctx: BenchContext, duration_s: int) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = api_headers()
    supervisor_pid = supervisor.start_detached(settings, [ENGINE])
    try:
        wait_for_stack(settings, supervisor_pid, headers)
        ctx.step("loading the sample data through the engine")
        query = bars_query(load_sample(settings))
        urls = {"health": f"{settings.gateway_url}/health",
                "bars": f"{settings.gateway_url}/api/v1/{ENGINE}/bars?{query}"}
        probe = httpx.get(urls["bars"], headers=headers, timeout=10.0)
        probe.raise_for_status()
        info = {"bars_per_response": probe.json()["count"], "bars_query": query}
        loads = {}
        for name, url in urls.items():
            ctx.step(f"{name}: {WARMUP_S:g}s warm-up, {duration_s:g}s of load")
            drive(url, CONNECTIONS, WARMUP_S, headers)
            loads[name] = drive(url, CONNECTIONS, duration_s, headers)
    finally:
        info_left = stop_stack(settings, supervisor_pid)
    return loads, info | {"processes_left": info_left}


@case("gateway_load", "HTTP p50/p99 of /health and a 1-month bars query on a real stack, 4 connections")
def gateway_load(ctx: BenchContext) -> list[Result]:
    duration_s = 2 if ctx.quick else 5
    with temp_home("gateway") as home:
        settings = bench_settings(home, free_port_offset([ENGINE], gateway=True))
        ctx.step("starting supervisor, marketdata engine and gateway")
        loads, info = measure(settings, ctx, duration_s)
    rows = []
    for (endpoint, stat), target in TARGETS_MS.items():
        load = loads[endpoint]
        value = load[f"{stat}_ms"]
        params = {"path": "/health" if endpoint == "health" else f"/api/v1/{ENGINE}/bars?{info['bars_query']}",
                  "statistic": stat, "connections": CONNECTIONS, "duration_s": duration_s, "tool": load["tool"]}
        checks = {"p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"], "requests": load["requests"],
                  "rps": load["rps"], "errors": load["errors"],
                  "meets_target": value < target and load["errors"] == 0, "processes_left": info["processes_left"]}
        if endpoint == "bars":
            checks["bars_per_response"] = info["bars_per_response"]
        rows.append(result("ms", ("target", target), (f"gateway GET {endpoint} {stat}", value), params, checks))
    return rows
