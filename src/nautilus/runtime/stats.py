"""Latency bookkeeping: a fixed ring of recent samples gives p50/p99 without unbounded memory."""

from __future__ import annotations

import itertools
import math

import numpy as np


class LatencyWindow:
    """The last ``size`` latencies in seconds; percentiles in microseconds.

    Adding is on every call's path, so it takes no lock: each sample gets its own slot from an
    ``itertools.count`` (one step of it is atomic) and a list item assignment is atomic too. Slots never
    written hold NaN and are left out of the percentiles.
    """

    def __init__(self, size: int = 4096) -> None:
        self._samples = [math.nan] * size
        self._size = size
        self._slots = itertools.count()

    def add(self, seconds: float) -> None:
        self._samples[next(self._slots) % self._size] = seconds

    def percentiles_us(self, *qs: float) -> list[float | None]:
        samples = np.array(self._samples)
        samples = samples[~np.isnan(samples)]
        if samples.size == 0:
            return [None for _ in qs]
        values = np.percentile(samples, qs) * 1e6
        return [round(float(v), 1) for v in values]
