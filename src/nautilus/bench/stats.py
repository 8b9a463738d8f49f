"""Timing and summary statistics: interleaved sampling, percentiles, significant-digit rounding."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (what reports show and store)."""
    return float(f"{value:.{digits}g}")


def sample(
    calls: Mapping[str, Callable[[], object]], n: int, *, warmup: int, rounds: int = 5
) -> dict[str, list[float]]:
    """``n`` durations in seconds of every callable, measured after ``warmup`` calls of each.

    The measurements are taken in ``rounds`` blocks that alternate between the callables, so a noisy
    neighbour slows every variant alike instead of whichever ran at the time. The garbage collector is
    off while timing (as in :mod:`timeit`).
    """
    if n < 1 or rounds < 1:
        raise ValueError("n and rounds must be at least 1")
    for call in calls.values():
        for _ in range(warmup):
            call()
    out: dict[str, list[float]] = {name: [] for name in calls}
    rounds = min(rounds, n)
    clock = time.perf_counter_ns
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            block = n // rounds + (1 if r < n % rounds else 0)
            for name, call in calls.items():
                durations = out[name]
                for _ in range(block):
                    t0 = clock()
                    call()
                    durations.append((clock() - t0) * 1e-9)
    finally:
        if was_enabled:
            gc.enable()
    return out


def p50_p99_us(durations: Sequence[float]) -> tuple[float, float]:
    """Median and 99th percentile of durations in seconds, in microseconds (4 significant digits)."""
    return sig(percentile(durations, 50) * 1e6), sig(percentile(durations, 99) * 1e6)
