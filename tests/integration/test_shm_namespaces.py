"""Shared memory across container-like boundaries: an engine in its own mount and PID namespaces (its own
``/dev/shm``, running as PID 1, as under compose) reached over unix and TCP.

Before the hello, arrays of 64 KiB or more travelled as handles whatever the peer, so a client outside failed
(``FileNotFoundError``) and a client that was PID 1 with its own pool read its own bytes back as the answer.
Now handles cross a connection only after both ends read each other's probe; elsewhere the same numbers
come back inline. The control (an engine in this namespace) proves the probe does succeed where it should.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tests.integration.test_engine_processes import LAUNCH_ECHO
from tests.support.echo_engine import ArrayReply, ArrayRequest
from tests.support.tools import pingable, wait_for

from nautilus.runtime.shm import process_prefix
from nautilus.runtime.sockets import SocketTransport

pytestmark = pytest.mark.integration

ROWS, COLS, SCALE = 783, 14, 2.0  # the feature matrix: 87,696 bytes, above the 64 KiB threshold

# Run inside a namespace of its own (PID 1, its own /dev/shm): call the engine and say what came back.
CLIENT = f"""
import json
import numpy as np
import tests.support.echo_engine
from tests.support.echo_engine import ArrayReply, ArrayRequest
from nautilus.config import get_settings
from nautilus.runtime.shm import process_prefix
from nautilus.runtime.sockets import SocketTransport
settings = get_settings()
values = np.random.default_rng(7).standard_normal(({ROWS}, {COLS}))
out = {{"pid": __import__("os").getpid(), "prefix": process_prefix()}}
for kind in ("unix", "tcp"):
    transport = SocketTransport(kind, "echo", settings)
    reply = transport.call("scale", ArrayRequest(values, {SCALE}), ArrayReply, 10.0)
    out[kind] = {{"shared": transport._idle[-1].shared, "total": reply.total,
                 "equal": bool(np.array_equal(reply.scaled, values * {SCALE}))}}
    transport.reset()
print(json.dumps(out))
"""


def _isolated(command: list[str]) -> list[str]:
    """``command`` as PID 1 of new mount and PID namespaces with a fresh tmpfs on /dev/shm."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is not installed") if os.environ.get("CI") else pytest.skip("no unshare")
    quoted = shlex.join(command)
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [unshare, *user, "--mount", "--pid", "--fork", "--kill-child",
            "sh", "-c", f"mount -t tmpfs -o size=64m nautilus-shm /dev/shm && exec {quoted}"]


def _env(stack_env: dict[str, str]) -> dict[str, str]:
    return dict(stack_env, NAUTILUS_ENGINE_PORTS='{"echo": 8050}')


def _start_echo(stack_env: dict[str, str], settings, isolated: bool) -> subprocess.Popen:
    command = [sys.executable, "-c", LAUNCH_ECHO]
    env = _env(stack_env)
    proc = subprocess.Popen(_isolated(command) if isolated else command, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: proc.poll() is None and pingable(settings, "echo") and pingable(settings, "echo", "tcp"),
                 timeout=30, what="the echo engine")
    except AssertionError:
        proc.kill()
        raise AssertionError(f"the echo engine did not start: {proc.communicate()[1].decode()[-2000:]}") from None
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _call_from_here(settings) -> dict[str, dict]:
    values = np.random.default_rng(7).standard_normal((ROWS, COLS))
    out = {}
    for kind in ("unix", "tcp"):
        transport = SocketTransport(kind, "echo", settings)
        try:
            reply = transport.call("scale", ArrayRequest(values, SCALE), ArrayReply, 10.0)
            out[kind] = {"shared": transport._idle[-1].shared, "total": reply.total,
                         "equal": bool(np.array_equal(reply.scaled, values * SCALE))}
        finally:
            transport.reset()
    return out


def test_an_engine_in_this_namespace_shares_memory_and_the_numbers_are_exact(settings, stack_env) -> None:
    proc = _start_echo(stack_env, settings, isolated=False)
    try:
        got = _call_from_here(settings)
    finally:
        _stop(proc)
    total = float(np.random.default_rng(7).standard_normal((ROWS, COLS)).sum())
    for kind in ("unix", "tcp"):
        assert got[kind] == {"shared": True, "total": pytest.approx(total, rel=1e-12), "equal": True}, kind


def test_an_engine_in_its_own_namespaces_gets_arrays_inline_from_outside(settings, stack_env) -> None:
    proc = _start_echo(stack_env, settings, isolated=True)
    try:
        got = _call_from_here(settings)
    finally:
        _stop(proc)
    total = float(np.random.default_rng(7).standard_normal((ROWS, COLS)).sum())
    for kind in ("unix", "tcp"):  # unix too: a socket on a shared volume does not mean a shared /dev/shm
        assert got[kind] == {"shared": False, "total": pytest.approx(total, rel=1e-12), "equal": True}, kind


def test_two_pid_1_processes_with_their_own_pools_never_read_their_own_bytes_back(settings, stack_env) -> None:
    """The silent-corruption case: the engine and the client are both PID 1, each with its own /dev/shm."""
    proc = _start_echo(stack_env, settings, isolated=True)
    try:
        # warm the engine's own pool first, so that a segment of the client's old name would exist there
        _call_from_here(settings)
        client = subprocess.run(_isolated([sys.executable, "-c", CLIENT]), env=_env(stack_env), capture_output=True,
                                text=True, timeout=120)
    finally:
        _stop(proc)
    assert client.returncode == 0, client.stderr[-3000:]
    got = json.loads(client.stdout.strip().splitlines()[-1])
    assert got["pid"] == 1 and got["prefix"].startswith("nautilus_1_")  # it really ran as PID 1
    assert got["prefix"] != process_prefix()
    total = float(np.random.default_rng(7).standard_normal((ROWS, COLS)).sum())
    for kind in ("unix", "tcp"):
        assert got[kind] == {"shared": False, "total": pytest.approx(total, rel=1e-12), "equal": True}, kind
