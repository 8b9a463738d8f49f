"""The supervisor: starts engines and the gateway as processes, restarts crashes, stops all.

It runs detached (``nautilus up``) or in the foreground (``nautilus up --foreground``), writes its
pid to ``<runtime_dir>/supervisor.pid`` and the state of every service to
``<runtime_dir>/supervisor.json`` (pid, start time, restarts, last exit), logs each service to
``<runtime_dir>/logs/<name>.log``, restarts a crashed service after ``restart_backoff_s`` doubling
up to ``restart_backoff_max_s`` (reset once it has stayed up for 30 s), and on SIGTERM/SIGINT stops
every service with SIGTERM, then SIGKILL after a grace period.

While it runs it also records the stack's identity settings (profile, database, bus, directories, ports) in
``HOME/stack.json`` (:func:`nautilus.config.write_stack_record`), so every CLI command at that home resolves
the stack's database and bus whatever its own environment says; the record goes when the supervisor stops.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nautilus.config import Settings, remove_stack_record, write_stack_record

log = logging.getLogger("nautilus.supervisor")

GATEWAY = "gateway"
WEB = "web"
STABLE_AFTER_S = 30.0
STOP_GRACE_S = 10.0


@dataclass
class ServiceState:
    name: str
    kind: str  # "engine" | "gateway" | "web"
    pid: int | None = None
    started_at: float | None = None
    restarts: int = 0
    status: str = "starting"  # starting | running | backoff | stopped
    last_exit: int | None = None
    next_start: float | None = None
    crashes: int = field(default=0, repr=False)


def state_path(settings: Settings) -> Path:
    assert settings.runtime_dir is not None
    return settings.runtime_dir / "supervisor.json"


def pid_path(settings: Settings) -> Path:
    assert settings.runtime_dir is not None
    return settings.runtime_dir / "supervisor.pid"


def log_dir(settings: Settings) -> Path:
    assert settings.runtime_dir is not None
    return settings.runtime_dir / "logs"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def running_supervisor(settings: Settings) -> int | None:
    """The pid of a live supervisor for these settings, or None."""
    try:
        pid = int(pid_path(settings).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _remove_segments(pid: int) -> None:
    """Unlink the shared-memory segments an exited service left (the shm module loads numpy: on first use)."""
    from nautilus.runtime.shm import remove_segments_of

    remove_segments_of(pid)


def dashboard_dir() -> Path:
    """The dashboard build to serve: ``NAUTILUS_WEB_DIST``, else ``web/dist`` of the source tree (here, so that
    the supervisor decides whether to start ``python -m nautilus.web`` without importing it)."""
    override = os.environ.get("NAUTILUS_WEB_DIST")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "web" / "dist"


def dashboard_built() -> bool:
    return (dashboard_dir() / "index.html").is_file()


def read_state(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return None


class Supervisor:
    def __init__(self, settings: Settings, engines: list[str], gateway: bool = True, web: bool | None = None) -> None:
        """``engines`` come from the caller (the runtime knows no engine); ``web`` (with the gateway) defaults to
        whether the dashboard has been built."""
        self.settings = settings
        self.services: dict[str, ServiceState] = {n: ServiceState(n, "engine") for n in engines}
        if gateway:
            self.services[GATEWAY] = ServiceState(GATEWAY, "gateway")
            if dashboard_built() if web is None else web:
                self.services[WEB] = ServiceState(WEB, "web")
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at = time.time()
        self._stopping = False

    def command(self, service: ServiceState) -> list[str]:
        if service.kind == "gateway":
            return [sys.executable, "-m", "nautilus.gateway"]
        if service.kind == "web":
            return [sys.executable, "-m", "nautilus.web"]
        return [sys.executable, "-m", "nautilus.runtime.host", service.name]

    def spawn(self, service: ServiceState) -> None:
        logs = log_dir(self.settings)
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{service.name}.log", "ab") as out:
            proc = subprocess.Popen(self.command(service), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self.child_env())
        self.procs[service.name] = proc
        service.pid = proc.pid
        service.started_at = time.time()
        service.status = "running"
        service.next_start = None
        log.info("started %s pid %d", service.name, proc.pid)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        s = self.settings
        env.update({
            "NAUTILUS_HOME": str(s.home), "NAUTILUS_DATA_DIR": str(s.data_dir),
            "NAUTILUS_RUNTIME_DIR": str(s.runtime_dir), "NAUTILUS_PORT_OFFSET": str(s.port_offset),
            "NAUTILUS_DATABASE_URL": str(s.database_url), "NAUTILUS_AUTH_MODE": s.auth_mode,
        })
        return env

    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "started_at": self.started_at,
            "gateway_url": self.settings.gateway_url,
            "services": {n: asdict(s) for n, s in self.services.items()},
        }
        path = state_path(self.settings)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, path)

    def check(self) -> bool:
        """Reap exited services and start due ones; True when something changed."""
        changed = False
        now = time.time()
        for name, service in self.services.items():
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                code = proc.returncode
                del self.procs[name]
                _remove_segments(proc.pid)
                service.last_exit = code
                ran = now - (service.started_at or now)
                service.crashes = 1 if ran >= STABLE_AFTER_S else service.crashes + 1
                delay = min(self.settings.restart_backoff_s * 2 ** (service.crashes - 1),
                            self.settings.restart_backoff_max_s)
                service.status = "backoff"
                service.pid = None
                service.next_start = now + delay
                log.warning("%s exited with %s after %.1fs; restarting in %.2fs", name, code, ran, delay)
                changed = True
            if service.status in ("starting", "backoff") and (service.next_start or 0) <= now:
                if service.status == "backoff":
                    service.restarts += 1
                self.spawn(service)
                changed = True
        return changed

    def run(self) -> None:
        self.settings.ensure_dirs()
        pid_path(self.settings).write_text(str(os.getpid()))
        write_stack_record(self.settings)  # what a CLI at this home must talk to (mode 600)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            self.write_state()
            while not self._stopping:
                if self.check():
                    self.write_state()
                time.sleep(0.1)
        finally:
            self.stop_all()

    def _on_signal(self, *_: Any) -> None:
        self._stopping = True

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + STOP_GRACE_S
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM; killing", name)
                proc.kill()
                proc.wait()
            _remove_segments(proc.pid)
        self.procs.clear()
        for name in self.services:
            sock = self.settings.socket_path(name)
            if sock.exists():
                sock.unlink()
        for path in (state_path(self.settings), pid_path(self.settings)):
            path.unlink(missing_ok=True)
        remove_stack_record(self.settings.home, os.getpid())
        log.info("all services stopped")


def start_detached(settings: Settings, engines: list[str], gateway: bool = True,
                   env: dict[str, str] | None = None) -> int:
    """Launch a supervisor in its own session; returns its pid.

    ``env`` replaces the inherited environment (the settings' paths and ports are added to it).
    """
    settings.ensure_dirs()
    logs = log_dir(settings)
    logs.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "nautilus.runtime.supervisor", "--engines", ",".join(engines)]
    if not gateway:
        args.append("--no-gateway")
    env = dict(os.environ if env is None else env, NAUTILUS_HOME=str(settings.home), NAUTILUS_RUNTIME_DIR=str(settings.runtime_dir),
               NAUTILUS_DATA_DIR=str(settings.data_dir), NAUTILUS_PORT_OFFSET=str(settings.port_offset),
               NAUTILUS_DATABASE_URL=str(settings.database_url), NAUTILUS_AUTH_MODE=settings.auth_mode,
               NAUTILUS_PROFILE=settings.profile)
    with open(logs / "supervisor.log", "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def stop(settings: Settings, timeout: float = 30.0) -> bool:
    """SIGTERM the supervisor and wait for it; True when nothing is left running."""
    pid = running_supervisor(settings)
    if pid is None:
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def main(argv: list[str] | None = None) -> None:
    import argparse

    from nautilus.runtime.registry import engine_names  # the installed registry's (the engines' by default)

    parser = argparse.ArgumentParser(prog="nautilus-supervisor")
    parser.add_argument("--engines", default=",".join(engine_names()))
    parser.add_argument("--no-gateway", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
    engines = [e for e in args.engines.split(",") if e]
    # Its own environment (start_detached's), never another stack's record: this process writes the record.
    Supervisor(Settings(stack_record=False), engines, gateway=not args.no_gateway).run()


if __name__ == "__main__":
    main()
