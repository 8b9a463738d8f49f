"""Engine call metrics: counted in plain numbers on each call, turned into Prometheus families when scraped.

``nautilus_engine_calls_total`` (engine, method, transport, outcome) and ``nautilus_engine_call_seconds`` (engine,
transport) change on every engine call. prometheus_client's ``Counter.inc`` and ``Histogram.observe`` take a lock
per value and walk the buckets in Python: a few microseconds, a sizeable part of a unix round trip. Here a call
appends its latency to a list (:meth:`CallCounter.record`: no lock), folded into plain counts in batches; a
collector in the default registry exports them as the same two metric families (same names, labels and buckets)
at scrape time.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from nautilus.runtime.metrics import LATENCY_BUCKETS

_LE = [floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]
_SUM = len(LATENCY_BUCKETS) + 1  # index of the sum in a latency row; before it, one count per bucket and +Inf

CALLS_NAME, CALLS_HELP = "nautilus_engine_calls", "Engine calls by engine, method, transport and outcome"
SECONDS_NAME, SECONDS_HELP = "nautilus_engine_call_seconds", "Engine call latency by engine and transport"

FOLD_AT = 256  # recorded calls waiting at most before they are added to the counts

_lock = threading.Lock()  # guards the counts (a fold, an unreached call, a scrape)
_rows: dict[tuple[str, str], list[float]] = {}  # (engine, transport) -> [count per bucket..., +Inf, sum]
_counters: dict[tuple[str, str, str, str], CallCounter] = {}  # (engine, method, transport, outcome)
_recorded: list[tuple[CallCounter, float]] = []  # calls not yet added to the counts


class CallCounter:
    """The calls of one engine method over one transport with one outcome, and that transport's latency row
    (shared by every method of the engine). Callers keep it, so that a call only adds numbers."""

    __slots__ = ("calls", "row")

    def __init__(self, row: list[float]) -> None:
        self.calls = 0
        self.row = row

    def record(self, seconds: float) -> None:
        """One call that got an answer (or timed out) after ``seconds``: appended (one atomic step, no lock) and
        added to the counts by the :data:`FOLD_AT`-th call or the next scrape, whichever comes first."""
        _recorded.append((self, seconds))
        if len(_recorded) >= FOLD_AT:
            _fold()

    def count(self) -> None:
        """One call counted without a latency (a transport that could not be reached)."""
        with _lock:
            self.calls += 1


def _fold() -> None:
    """Add the recorded calls to the counts. Only folds remove from the list, and they remove its first items, so
    a call appended meanwhile stays for the next one."""
    with _lock:
        n = len(_recorded)
        batch = _recorded[:n]
        del _recorded[:n]
        for counter, seconds in batch:
            counter.calls += 1
            row = counter.row
            row[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bucket whose bound is >= seconds (le)
            row[_SUM] += seconds


def counter(engine: str, method: str, transport: str, outcome: str) -> CallCounter:
    """The counter of these labels (the same object for the same labels, process-wide)."""
    key = (engine, method, transport, outcome)
    with _lock:
        found = _counters.get(key)
        if found is None:
            row = _rows.get((engine, transport))
            if row is None:
                row = _rows[(engine, transport)] = [0.0] * (_SUM + 1)
            found = _counters[key] = CallCounter(row)
        return found


class _Collector:
    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(CALLS_NAME, CALLS_HELP, labels=("engine", "method", "transport", "outcome")),
                HistogramMetricFamily(SECONDS_NAME, SECONDS_HELP, labels=("engine", "transport"))]

    def collect(self) -> Iterator[Metric]:
        _fold()
        with _lock:
            calls = [(key, found.calls) for key, found in _counters.items()]
            seconds = [(key, list(row)) for key, row in _rows.items() if any(row[:_SUM])]  # only timed calls
        family = CounterMetricFamily(CALLS_NAME, CALLS_HELP, labels=("engine", "method", "transport", "outcome"))
        for labels, value in calls:
            family.add_metric(labels, value)
        yield family
        histogram = HistogramMetricFamily(SECONDS_NAME, SECONDS_HELP, labels=("engine", "transport"))
        for labels, row in seconds:
            cumulative, buckets = 0.0, []
            for le, n in zip(_LE, row[:_SUM], strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            histogram.add_metric(labels, buckets, row[_SUM])
        yield histogram


REGISTRY.register(_Collector())  # type: ignore[arg-type]
