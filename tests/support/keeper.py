"""A keeper for the fault-injection suites: one engine host process, restarted whenever it dies (as the
supervisor does), that the test can SIGKILL at will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from nautilus.bench.procs import engine_answers


class Keeper:
    """Keeps one engine process (``python -m nautilus.runtime.host ENGINE``) running, restarting it whenever it
    dies (like the supervisor)."""

    def __init__(self, settings: Any, env: dict[str, str], engine: str = "portfolio") -> None:
        self.settings, self.env, self.engine = settings, env, engine
        self.deaths = 0
        self.proc = self._spawn()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", self.engine], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self.proc.poll() is not None:
                self.deaths += 1
                self.proc = self._spawn()
            time.sleep(0.02)

    def wait_up(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while not engine_answers(self.settings, self.engine)():
            assert time.time() < deadline, f"the {self.engine} engine did not come up"
            time.sleep(0.05)

    def kill(self) -> None:
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # as the supervisor does: a stop that hangs is ended with SIGKILL
            print(f"keeper: the {self.engine} engine did not stop within 10 s of SIGTERM; killing it", file=sys.stderr)
            self.proc.kill()
            self.proc.wait(10)
