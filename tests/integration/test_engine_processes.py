"""Engines as real processes: unix and tcp, kill -9 mid-stream, supervisor restarts, /health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from tests.support.echo_engine import EchoRequest
from tests.support.tools import pingable, wait_for

from nautilus.runtime import supervisor
from nautilus.runtime.client import EngineClient

pytestmark = pytest.mark.integration

LAUNCH_ECHO = "import tests.support.echo_engine; from nautilus.runtime.host import run_engine; run_engine('echo')"


@pytest.fixture
def echo_process(settings, stack_env):
    env = dict(stack_env, NAUTILUS_ENGINE_PORTS='{"echo": 8050}')
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH_ECHO], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: pingable(settings, "echo") and pingable(settings, "echo", "tcp"), what="echo engine")
    yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_calls_cross_process_boundaries_on_unix_and_tcp(echo_process, settings):
    for kind in ("unix", "tcp"):
        client = EngineClient("echo", settings, transports=(kind,), probe=False)
        reply = client.call("echo", EchoRequest(kind, 7))
        assert (reply.text, reply.n, reply.pid) == (kind, 7, echo_process.pid)
        client.close()


def test_sigterm_stops_the_engine_and_removes_its_socket(echo_process, settings):
    echo_process.send_signal(signal.SIGTERM)
    assert echo_process.wait(10) == 0
    assert not settings.socket_path("echo").exists()


def test_kill_9_mid_stream_falls_back_without_failed_calls(echo_process, settings):
    client = EngineClient("echo", settings, probe=True)
    results: list[tuple[int, str]] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                reply = client.call("echo", EchoRequest("x", 1))
                results.append((reply.pid, client.last_transport))
            except Exception as exc:  # any failure is a test failure
                errors.append(exc)

    worker = threading.Thread(target=hammer)
    worker.start()
    wait_for(lambda: len(results) > 200, what="calls before the kill")
    os.kill(echo_process.pid, signal.SIGKILL)
    echo_process.wait(10)
    wait_for(lambda: results and results[-1][1] == "inproc", what="in-process fallback")
    count = len(results)
    wait_for(lambda: len(results) > count + 200, what="calls after the kill")
    stop.set()
    worker.join(10)
    assert errors == []
    assert results[0] == (echo_process.pid, "unix")
    assert results[-1] == (os.getpid(), "inproc")
    health = client.health()
    assert health["status"] == "degraded" and health["path"] == "inproc"
    assert health["transports"]["unix"]["up"] is False
    client.close()


def test_supervisor_restarts_a_killed_engine_and_health_shows_it(settings, stack_env, monkeypatch):
    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", stack_env["PYTHONPATH"])
    supervisor.start_detached(settings, ["marketdata"], gateway=True)
    try:
        url = settings.gateway_url
        wait_for(lambda: _health(url, "up"), timeout=60, what="stack up")
        client = EngineClient("marketdata", settings, probe=False)
        from nautilus.engines.marketdata.messages import SampleRequest

        client.call("load_sample", SampleRequest(seed=3, symbols=["AAPL"]))
        client.close()
        first_pid = _health(url, "up")["pid"]

        statuses: list[int] = []
        seen: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=10) as http:
                while not stop.is_set():
                    statuses.append(http.get("/api/v1/marketdata/bars",
                                             params={"symbol": "AAPL", "limit": 5}).status_code)
                    seen.append(http.get("/api/v1/system/health").json()["engines"]["marketdata"]["status"])

        worker = threading.Thread(target=hammer)
        worker.start()
        wait_for(lambda: len(statuses) > 20, what="requests before the kill")
        os.kill(first_pid, signal.SIGKILL)
        restarted = wait_for(lambda: (h := _health(url, "up")) and h["pid"] != first_pid and h,
                             timeout=60, what="restart")
        count = len(statuses)
        wait_for(lambda: len(statuses) > count + 20, what="requests after the restart")
        stop.set()
        worker.join(30)
        assert set(statuses) == {200}
        # MarketData is stateful (one writer): no in-process stand-in ("degraded"); its callers waited for the
        # restarted process, and every request succeeded
        assert "degraded" not in seen
        state = supervisor.read_state(settings)
        assert state["services"]["marketdata"]["restarts"] >= 1
        assert state["services"]["marketdata"]["pid"] == restarted["pid"]
    finally:
        assert supervisor.stop(settings, 30)
    assert not list(settings.runtime_dir.glob("*.sock"))
    assert supervisor.running_supervisor(settings) is None


def _health(url: str, want: str) -> dict | None:
    try:
        engine = httpx.get(f"{url}/api/v1/system/health", timeout=1.0).json()["engines"]["marketdata"]
    except Exception:
        return None
    return engine if engine["status"] == want and engine["pid"] else None


def test_an_engine_past_its_memory_ceiling_stops_and_its_caller_gets_a_503(settings, stack_env):
    """engine_memory_mb: a request that grows the engine past its ceiling stops that engine (the supervisor
    restarts it); the caller gets a 503, and the machine keeps its memory."""
    from nautilus.core.errors import NautilusError

    env = dict(stack_env, NAUTILUS_ENGINE_PORTS='{"echo": 8050}', NAUTILUS_ENGINE_MEMORY_MB="300")
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH_ECHO], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pingable(settings, "echo"), what="echo engine")
        client = EngineClient("echo", settings, transports=("unix",), probe=False)
        assert client.call("hog", EchoRequest("small", 20)).value == 1  # 20 MB: fine
        with pytest.raises(NautilusError) as refused:
            client.call("hog", EchoRequest("big", 2_000), timeout=20)
        assert refused.value.status == 503
        assert proc.wait(10) == 137
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
