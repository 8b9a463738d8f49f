"""The circuit breaker an engine client keeps per transport.

``failures`` consecutive failures open it for ``cooldown_s``; then one trial call is let through, and its outcome
closes or reopens it. The health probe trips it at once when a ping fails and closes it when one answers.
"""

from __future__ import annotations

import threading
import time


class CircuitBreaker:
    """closed → (n failures) → open → (cooldown) → half-open: one trial → closed or open."""

    def __init__(self, failures: int, cooldown_s: float) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        with self._lock:
            if time.monotonic() - self.opened_at < self.cooldown_s or self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        if self.opened_at is not None or self.failures:
            with self._lock:
                self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._trial = False
            if self.failures >= self.threshold:
                self.opened_at = time.monotonic()

    def trip(self) -> None:
        with self._lock:
            self.failures = max(self.failures, self.threshold)
            self.opened_at = time.monotonic()
            self._trial = False
