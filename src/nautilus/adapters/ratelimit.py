"""Per-source request pacing: a token bucket (requests per period, with a burst) and an optional daily quota.

One limiter per source name per process (:func:`limiter_for`), shared by every fetch and stream of that
source, so parallel jobs together stay under the source's published limits. ``acquire`` blocks until a
token is free; a spent daily quota raises ``SourceRateLimited`` at once (waiting hours is not useful).
The clock and the sleep are injectable so tests run without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from nautilus.core.errors import SourceRateLimited


class RateLimiter:
    def __init__(self, source: str, rate: float, per_s: float = 1.0, burst: float | None = None,
                 daily: int | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wall: Callable[[], float] = time.time) -> None:
        if rate <= 0 or per_s <= 0:
            raise ValueError("rate and per_s must be positive")
        self.source = source
        self.rate = rate / per_s  # tokens per second
        self.burst = burst if burst is not None else max(1.0, rate)
        self.daily = daily
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._tokens = self.burst
        self._at = clock()
        self._day: str | None = None
        self._used_today = 0
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Take one request's token, sleeping until one is available."""
        while True:
            with self._lock:
                self._take_daily()
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    self._used_today += 1 if self.daily is not None else 0
                    return
                wait = (1.0 - self._tokens) / self.rate
            self.waited_s += wait
            self._sleep(wait)

    def _roll_day(self) -> None:
        today = datetime.fromtimestamp(self._wall(), UTC).strftime("%Y-%m-%d")
        if today != self._day:
            self._day, self._used_today = today, 0

    def _take_daily(self) -> None:
        if self.daily is None:
            return
        self._roll_day()
        if self._used_today >= self.daily:
            raise SourceRateLimited(f"{self.source}: the daily quota of {self.daily} requests is used up "
                                    f"(resets at 00:00 UTC)", field="source")

    def seed_daily(self, used: int) -> None:
        """Count ``used`` requests already made today (by earlier processes, from the fetch records)."""
        with self._lock:
            self._roll_day()
            self._used_today = max(self._used_today, used)


_limiters: dict[str, RateLimiter] = {}
_guard = threading.Lock()


def limiter_for(source: str, make: Callable[[], RateLimiter]) -> RateLimiter:
    with _guard:
        if source not in _limiters:
            _limiters[source] = make()
        return _limiters[source]


def reset_limiters() -> None:
    """Forget every limiter (tests, settings changes)."""
    with _guard:
        _limiters.clear()


def seed_daily_usage(source: str, used: int) -> None:
    """Tell ``source``'s limiter (when it has a daily quota) that ``used`` requests were made today, e.g. by
    other processes, as the fetch records show."""
    with _guard:
        limiter = _limiters.get(source)
    if limiter is not None and limiter.daily is not None:
        limiter.seed_daily(used)
