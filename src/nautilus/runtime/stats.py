"""Latency bookkeeping: a fixed ring of recent samples gives p50/p99 without unbounded memory."""

from __future__ import annotations

from collections import deque

import numpy as np


class LatencyWindow:
    """The last ``size`` latencies in seconds; percentiles in microseconds.

    Adding is on every call's path, so it is a bounded deque's own ``append`` (atomic, drops the oldest sample,
    no lock and no Python frame); reading copies the deque in one step.
    """

    def __init__(self, size: int = 4096) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.add = self._samples.append

    def percentiles_us(self, *qs: float) -> list[float | None]:
        samples = list(self._samples)
        if not samples:
            return [None for _ in qs]
        values = np.percentile(samples, qs) * 1e6
        return [round(float(v), 1) for v in values]
