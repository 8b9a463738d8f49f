"""Latency bookkeeping: a fixed ring of recent samples gives p50/p99 without unbounded memory."""

from __future__ import annotations

import threading

import numpy as np


class LatencyWindow:
    """The last ``size`` latencies in seconds; percentiles in microseconds."""

    def __init__(self, size: int = 4096) -> None:
        self._samples = np.zeros(size, dtype=np.float64)
        self._count = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples[self._count % self._samples.shape[0]] = seconds
            self._count += 1

    @property
    def count(self) -> int:
        return self._count

    def percentiles_us(self, *qs: float) -> list[float | None]:
        with self._lock:
            n = min(self._count, self._samples.shape[0])
            if n == 0:
                return [None for _ in qs]
            values = np.percentile(self._samples[:n], qs) * 1e6
        return [round(float(v), 1) for v in values]
