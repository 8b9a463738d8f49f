"""Engine call metrics: counted in plain numbers per call, exported with the names, labels and buckets of a
prometheus_client Counter and Histogram."""

from __future__ import annotations

from prometheus_client import REGISTRY

from nautilus.runtime import callmetrics
from nautilus.runtime.metrics import LATENCY_BUCKETS


def _sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_calls_and_latencies_are_exported_as_a_counter_and_a_histogram():
    ok = callmetrics.counter("metrics-test", "echo", "unix", "ok")
    assert callmetrics.counter("metrics-test", "echo", "unix", "ok") is ok  # one counter per label set
    ok.record(0.00003)  # first bucket (le 5e-05)
    ok.record(0.0001)  # exactly a bound: counted in it (le is inclusive)
    ok.record(60.0)  # beyond the last bound: only +Inf
    callmetrics.counter("metrics-test", "other", "unix", "ok").record(0.002)  # same transport, same histogram
    callmetrics.counter("metrics-test", "echo", "tcp", "unreachable").count()

    calls = {"engine": "metrics-test", "method": "echo", "transport": "unix", "outcome": "ok"}
    assert _sample("nautilus_engine_calls_total", calls) == 3
    assert _sample("nautilus_engine_calls_total", calls | {"transport": "tcp", "outcome": "unreachable"}) == 1
    unix = {"engine": "metrics-test", "transport": "unix"}
    assert _sample("nautilus_engine_call_seconds_count", unix) == 4
    assert abs(_sample("nautilus_engine_call_seconds_sum", unix) - 60.00213) < 1e-9
    buckets = {le: _sample("nautilus_engine_call_seconds_bucket", unix | {"le": le})
               for le in ("5e-05", "0.0001", "0.002", "10.0", "+Inf")}
    assert buckets == {"5e-05": 1, "0.0001": 2, "0.002": 3, "10.0": 3, "+Inf": 4}
    assert _sample("nautilus_engine_call_seconds_count", {"engine": "metrics-test", "transport": "tcp"}) is None
    assert len(LATENCY_BUCKETS) + 1 == sum(
        1 for metric in REGISTRY.collect() if metric.name == "nautilus_engine_call_seconds"
        for s in metric.samples if s.name.endswith("_bucket") and s.labels["engine"] == "metrics-test"
        and s.labels["transport"] == "unix")
