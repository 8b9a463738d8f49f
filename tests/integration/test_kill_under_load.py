"""Every engine in turn is killed with SIGKILL while requests that need it keep coming through the gateway:
not one request fails (they fall back to the engine in-process), and the supervisor brings the engine back
until the gateway routes over its unix socket again. The time to get back to the unix path is reported."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from nautilus.bench.cases.gateway_load import stop_stack, wait_for_stack
from nautilus.config import DEFAULT_ENGINE_PORTS
from nautilus.runtime import supervisor

pytestmark = pytest.mark.integration
READS = {  # one GET per engine that the engine itself answers
    "marketdata": "/api/v1/marketdata/instruments", "risk": "/api/v1/risk/decisions",
    "strategy": "/api/v1/strategy/strategies", "features": "/api/v1/features/sets", "factor": "/api/v1/factors",
    "ml": "/api/v1/ml/tasks", "analytics": "/api/v1/analytics/backtests/1/stats",
    "websocket": "/api/v1/stream/channels", "portfolio": "/api/v1/portfolio/accounts",
}


def test_sigkill_each_engine_under_load_loses_no_request(settings, stack_env, capsys) -> None:
    assert set(READS) == set(DEFAULT_ENGINE_PORTS)
    engines = sorted(DEFAULT_ENGINE_PORTS)
    env = dict(stack_env, NAUTILUS_RESTART_BACKOFF_S="0.2")
    pid = supervisor.start_detached(settings, engines, env=env)
    try:
        wait_for_stack(settings, pid, {}, tuple(engines))
        results: list[tuple[str, int]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=settings.gateway_url, timeout=30.0) as http:
                while not stop.is_set():
                    for engine, path in READS.items():
                        try:
                            results.append((engine, http.get(path).status_code))
                        except httpx.HTTPError as exc:
                            results.append((engine, -1))
                            print("request error", engine, exc)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        recovery = {}
        with httpx.Client(base_url=settings.gateway_url, timeout=10.0) as http:
            for engine in engines:
                victim, waited = None, time.monotonic() + 30
                while victim is None and time.monotonic() < waited:  # the gateway's probe reports the pid
                    victim = http.get("/api/v1/system/health").json()["engines"][engine]["pid"]
                    time.sleep(0.1)
                assert victim, engine
                os.kill(victim, signal.SIGKILL)
                killed = time.monotonic()
                deadline = killed + 120
                while time.monotonic() < deadline:
                    info = http.get("/api/v1/system/health").json()["engines"][engine]
                    if info["pid"] not in (None, victim) and info["status"] == "up" and info["path"] == "unix":
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError(f"{engine} did not come back on its unix socket")
                recovery[engine] = round(time.monotonic() - killed, 2)
            health = http.get("/api/v1/system/health").json()["engines"]
            assert all(health[e]["restarts"] == 1 for e in engines), {e: health[e]["restarts"] for e in engines}
            assert 'nautilus_engine_restarts{engine="ml"} 1.0' in http.get("/metrics").text
        stop.set()
        worker.join(30)
    finally:
        stop_stack(settings, pid)
    failed = [(e, s) for e, s in results if s < 0 or s >= 500]
    with capsys.disabled():
        print(f"\nrequests {len(results)}, failed {len(failed)}, seconds back on the unix path: {recovery}")
    assert len(results) > 100 and not failed, failed[:10]
