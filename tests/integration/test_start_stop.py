"""The README's journey: ./start.sh, query the sample bars over HTTP, ./stop.sh leaves nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from nautilus.config import Settings
from nautilus.runtime import supervisor

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_script(name: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / name)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_start_query_stop(settings: Settings, stack_env: dict[str, str]):
    stack_env = {k: v for k, v in stack_env.items() if k != "NAUTILUS_AUTH_MODE"}  # start.sh chooses open mode
    started = run_script("start.sh", stack_env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "NAUTILUS_AUTH_MODE=open" in started.stdout  # ... and says so
        assert settings.gateway_url in started.stdout
        again = run_script("start.sh", stack_env)  # idempotent
        assert again.returncode == 0 and "already running" in again.stdout
        state = supervisor.read_state(settings)
        pids = [s["pid"] for s in state["services"].values()] + [state["supervisor_pid"]]
        response = httpx.get(f"{settings.gateway_url}/api/v1/marketdata/bars",
                             params={"symbol": "AAPL", "timeframe": "1d", "limit": 10}, timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 10 and body["symbol"] == "AAPL"
        assert all(h >= max(o, c) for o, h, c in zip(body["open"], body["high"], body["close"], strict=True))
    finally:
        stopped = run_script("stop.sh", stack_env, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for pid in pids:
        assert not supervisor.pid_alive(pid), f"process {pid} survived stop.sh"
    assert not list(settings.runtime_dir.glob("*.sock"))
    assert not (settings.runtime_dir / "supervisor.pid").exists()
    assert not [n for n in os.listdir("/dev/shm") if any(n.startswith(f"nautilus_{p}_") for p in pids)]
