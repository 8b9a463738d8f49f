"""What the integration tests share: external tools (fail under CI, skip elsewhere), free ports, waiting."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def require_tool(*names: str) -> str:
    """The first of ``names`` found beside this interpreter (the virtual environment) or on PATH; with ``CI`` set
    a missing tool fails the test (test.sh and the test extras install them), elsewhere it skips."""
    for name in names:
        beside = Path(sys.executable).with_name(name)
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
        found = shutil.which(name)
        if found:
            return found
    message = f"{' / '.join(names)} is not installed (test.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.05) -> T:
    """``predicate()``'s first truthy value within ``timeout`` seconds, else an AssertionError naming ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def pingable(settings, name: str, kind: str = "unix") -> bool:
    """True when engine ``name`` answers a ping on ``kind`` (unix or tcp) within half a second."""
    from nautilus.runtime.sockets import SocketTransport

    transport = SocketTransport(kind, name, settings)
    try:
        transport.ping(0.5)
        return True
    except Exception:
        return False
    finally:
        transport.reset()
