"""The in-process transport: the engine runs inside the caller (same settings, same data directories).

It is the last fallback of a stateless engine whose process does not answer, so reads keep working while the
engine restarts, and the only path of an in-process client (tests, a CLI with no stack running). The engine is
made on first use and shared by every in-process transport of the same engine and settings.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import gc
import threading
import time
from typing import Any, ClassVar

from nautilus.config import Settings
from nautilus.runtime import deadline as deadlines
from nautilus.runtime import registry as engine_registry
from nautilus.runtime.engine import Engine, Method


class InProcessTransport:
    """Runs the engine inside this process (created on first use).

    Every in-process transport of one engine and one settings object shares a single instance, so an
    engine that calls another in-process (the Portfolio engine's risk checks) sees the same state as
    the gateway's calls do. The instance closes when the last transport using it closes.
    """

    kind = "inproc"
    _shared: ClassVar[dict[tuple[str, int], list[Any]]] = {}  # (engine, id(settings)) -> [engine, users, settings]
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine_name: str, settings: Settings, engine_cls: type[Engine] | None = None) -> None:
        self.engine_name = engine_name
        self.settings = settings
        self.engine_cls = engine_cls
        self._engine: Engine | None = None
        self._key = (engine_name, id(settings))
        self.active = 0
        self.last_used = time.monotonic()

    def engine(self) -> Engine:
        if self._engine is None:
            with self._shared_lock:
                if self._engine is None:
                    entry = self._shared.get(self._key)
                    if entry is None:
                        self.settings.ensure_dirs()
                        cls = self.engine_cls or engine_registry.engine_class(self.engine_name)
                        engine = cls(self.settings)
                        engine.start()
                        # the entry holds the settings too, so their id cannot be reused while it lives
                        entry = self._shared[self._key] = [engine, 0, self.settings]
                    entry[1] += 1
                    self._engine = entry[0]
        return self._engine

    def call(self, method: Method, request: Any, deadline: float | None = None) -> Any:
        """Run the handler here, under ``deadline`` (nested calls inherit it; handlers may check it)."""
        engine = self.engine()
        self.active += 1
        try:
            with deadlines.scope(deadline):
                return method.invoke(engine, request)
        finally:
            self.active -= 1
            self.last_used = time.monotonic()

    def release_if_idle(self, idle_s: float) -> bool:
        """Drop the in-process engine (and give its memory back) once unused for ``idle_s``; True if dropped."""
        if self._engine is None or self.active or time.monotonic() - self.last_used < idle_s:
            return False
        self.close()
        _trim_memory()
        return True

    def close(self) -> None:
        with self._shared_lock:
            if self._engine is None:
                return
            entry = self._shared.get(self._key)
            self._engine = None
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._shared[self._key]
        entry[0].close()


def _trim_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), after an in-process engine went."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that run the in-process calls of a client that has socket transports too (its caller stops
    waiting at the deadline)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="inproc")
        return _executor

