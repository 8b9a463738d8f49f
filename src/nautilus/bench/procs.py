"""Processes and temporary stacks for bench cases, and the harness's cleanup safety net.

Cases start real processes (engines, echo servers, a supervisor) under a temporary ``NAUTILUS_HOME``
with a free port offset; the context managers here stop them (SIGTERM, then SIGKILL), remove their
shared-memory segments and temp dirs whether the case succeeded or not.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import resource_tracker
from pathlib import Path

import psutil

from nautilus.config import DEFAULT_ENGINE_PORTS, Settings
from nautilus.runtime import ports
from nautilus.runtime.shm import (
    SEGMENT_PREFIX,
    ShmPool,
    close_process_pool,
    current_process_pool,
    remove_segments_of,
)

STOP_GRACE_S = 10.0
START_TIMEOUT_S = 60.0


# Settings of a throwaway stack ----------------------------------------------------------------------
@contextmanager
def temp_home(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"nautilus-bench-{prefix}-") as path:
        yield Path(path)


def bench_settings(home: Path, port_offset: int, shm_pool_mb: int = 64) -> Settings:
    """Settings of a stack living entirely under ``home`` (explicit open mode on loopback, no Redis)."""
    return Settings(home=home, data_dir=home / "data", runtime_dir=home / "run",
                    database_url=f"sqlite:///{home / 'data' / 'nautilus.db'}", port_offset=port_offset,
                    shm_pool_mb=shm_pool_mb, api_keys=[], redis_url=None, auth_mode="open")


def child_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same :class:`Settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAUTILUS_")}
    env.update({
        "NAUTILUS_HOME": str(settings.home), "NAUTILUS_DATA_DIR": str(settings.data_dir),
        "NAUTILUS_RUNTIME_DIR": str(settings.runtime_dir), "NAUTILUS_DATABASE_URL": str(settings.database_url),
        "NAUTILUS_PORT_OFFSET": str(settings.port_offset), "NAUTILUS_SHM_POOL_MB": str(settings.shm_pool_mb),
        "NAUTILUS_API_KEYS": "", "NAUTILUS_AUTH_MODE": settings.auth_mode,
    })
    return env


def free_port_offset(engines: list[str], gateway: bool = False) -> int:
    """A free offset for these engines' (and the gateway's) ports, all below the ephemeral range."""
    base = [DEFAULT_ENGINE_PORTS[e] for e in engines]
    if gateway:  # the supervisor also starts the dashboard server when a build exists
        base += [Settings.model_fields["gateway_port"].default, Settings.model_fields["web_port"].default]
    return ports.free_port_offset(base)


def free_tcp_port() -> int:
    """A loopback port that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Processes -------------------------------------------------------------------------------------------
@contextmanager
def spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run ``args`` with output to ``log_path``; on exit SIGTERM, then SIGKILL, and remove its segments."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)
    try:
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    remove_segments_of(proc.pid)


@contextmanager
def pinned(server_pids: list[int]) -> Iterator[bool]:
    """Latency cases: this process and ``server_pids`` (every thread) on one CPU, so the baseline and our path
    run the same way: each round trip is the work of both ends plus a context switch, not whichever placement the
    scheduler picked at the time (unpinned, on two vCPUs, that alone moved a raw echo between 18 and 45 µs and the
    ratio between 1.1x and 2.7x from run to run). Yields whether it pinned; everything is unpinned after."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    if not cpus:
        yield False
        return
    mine = os.sched_getaffinity(0)
    tasks = [int(t) for pid in server_pids for t in _tasks(pid)]
    try:
        os.sched_setaffinity(0, {cpus[0]})
        for tid in tasks:
            _set_affinity(tid, {cpus[0]})
        yield True
    finally:
        os.sched_setaffinity(0, mine)
        for tid in tasks:
            _set_affinity(tid, set(cpus))


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return [str(pid)]


def _set_affinity(tid: int, cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError:  # the thread ended
        pass


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def wait_until(ready: Callable[[], bool], what: str, alive: Callable[[], bool] | None = None,
               log_path: Path | None = None, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``ready`` until it holds; fail early (with the log's tail) once ``alive`` is False."""
    deadline = time.monotonic() + timeout
    while not ready():
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited before it was ready{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s{_tail(log_path)}")
        time.sleep(0.05)


def running(proc: subprocess.Popen) -> Callable[[], bool]:
    return lambda: proc.poll() is None


def _tail(log_path: Path | None, lines: int = 5) -> str:
    if log_path is None or not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").strip().splitlines()[-lines:]
    return ": " + " | ".join(text) if text else ""


def engine_answers(settings: Settings, name: str, kind: str = "unix") -> Callable[[], bool]:
    """A readiness probe: True once engine ``name`` answers a ping on ``kind``."""
    from nautilus.runtime.sockets import SocketTransport

    def probe() -> bool:
        transport = SocketTransport(kind, name, settings)
        try:
            transport.ping(1.0)
        except Exception:
            return False
        finally:
            transport.reset()
        return True

    return probe


@contextmanager
def engine_process(settings: Settings, name: str = "marketdata") -> Iterator[subprocess.Popen]:
    """``python -m nautilus.runtime.host NAME`` serving on unix + tcp, ready when both answer a ping."""
    log_path = settings.home / f"{name}.log"
    with spawn(python_module("nautilus.runtime.host", name), log_path, child_env(settings)) as proc:
        for kind in ("unix", "tcp"):
            wait_until(engine_answers(settings, name, kind), f"engine {name} ({kind})", running(proc), log_path)
        yield proc


# Harness safety net ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """What this process owned before a case: child pids, shared-memory segments, its pool."""

    children: frozenset[int]
    segments: frozenset[str]
    pool: ShmPool | None


def _own_segments() -> set[str]:
    """This process's pool segments (not its probe: a per-process singleton, unlinked at exit)."""
    prefix = f"{SEGMENT_PREFIX}{os.getpid()}_"
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith(prefix) and not name.endswith("_probe")}
    except FileNotFoundError:
        return set()


def _live_children() -> list[psutil.Process]:
    """Running descendants, except multiprocessing's resource tracker (it lives as long as we do)."""
    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.pid != tracker and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def snapshot() -> Snapshot:
    return Snapshot(frozenset(c.pid for c in _live_children()), frozenset(_own_segments()),
                    current_process_pool())


def restore(before: Snapshot) -> list[str]:
    """Undo what a case left behind; returns a description of each leftover (empty when clean).

    The shared-memory pool this process made during the case (``process_pool``) is closed here, not
    reported: it is a per-process singleton the case cannot release itself.
    """
    pool = current_process_pool()
    if pool is not None and pool is not before.pool:
        close_process_pool()
    found = []
    for child in _live_children():
        if child.pid in before.children:
            continue
        try:
            found.append(f"process {child.pid} ({' '.join(child.cmdline()[1:4])})")
            child.kill()
        except psutil.NoSuchProcess:
            pass
    for name in sorted(_own_segments() - before.segments):
        found.append(f"/dev/shm/{name}")
        os.unlink(f"/dev/shm/{name}")
    return found


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB.

    Unlike ``getrusage``'s ``ru_maxrss``, which Linux carries across ``execve`` (a child started by
    a big bench process would report the parent's size), VmHWM belongs to the current image only.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not in /proc/self/status")
