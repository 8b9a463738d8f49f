"""Shared fixtures: isolated settings (temp home, free port offset) for every test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.support is importable from engine subprocesses too
    sys.path.insert(0, str(ROOT))


def free_port_offset() -> int:
    """An offset whose dashboard, gateway, engine and echo-engine ports are all free (below the ephemeral range)."""
    from nautilus.runtime.ports import free_port_offset as pick

    return pick((3000, 8001, 8050, 8051, 8100, 8200, 8300, 8400, 8500, 8600, 8700, 8800, 8900))


# Authentication fails closed (auth_mode=keys by default); the tests that do not test keys run the explicit
# local open mode. "testserver" is the Host header of Starlette's TestClient (the host allow-list).
TEST_AUTH = {"auth_mode": "open", "allowed_hosts": ["testserver"]}
# Stateful engines (one writer) never run in-process in a gateway: a TestClient's gateway hosts them itself
# (single-process mode); tests with a supervised stack ignore it (it does not reach the child processes).
TEST_WRITERS = {"host_stateful_engines": True}


@pytest.fixture
def settings(tmp_path: Path):
    from nautilus.config import Settings

    return Settings(home=tmp_path / "home", port_offset=free_port_offset(), engine_ports={"echo": 8050, "echo_writer": 8051},
                    health_interval_s=0.2,
                    breaker_cooldown_s=0.5, call_timeout_s=30.0, **TEST_AUTH, **TEST_WRITERS)


@pytest.fixture
def stack_env(settings) -> dict[str, str]:
    """Environment that points child processes at the test's settings."""
    env = dict(os.environ)
    env.update({
        "NAUTILUS_HOME": str(settings.home),
        "NAUTILUS_PORT_OFFSET": str(settings.port_offset),
        "NAUTILUS_HEALTH_INTERVAL_S": str(settings.health_interval_s),
        "NAUTILUS_BREAKER_COOLDOWN_S": str(settings.breaker_cooldown_s),
        "NAUTILUS_RESTART_BACKOFF_S": "0.2",
        "NAUTILUS_AUTH_MODE": "open",  # explicit local mode (the default, keys, fails closed without one)
        "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    })
    env.pop("NAUTILUS_DATABASE_URL", None)
    env.pop("NAUTILUS_DATA_DIR", None)
    env.pop("NAUTILUS_RUNTIME_DIR", None)
    return env
