"""Range independence through the gateway (engines in-process) over stored bars: an indicator's or a feature's
value at t is the same whether the request asked for the full history, a later start or the last N bars."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.gateway.app import create_app
from nautilus.storage.catalog import BarCatalog
from nautilus.strategy.indicators.warmups import RTOL

pytestmark = pytest.mark.integration

SPECS = ["rsi(14)", "ema(50)", "macd", "atr(14)", "obv", "sma(30)", "supertrend"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.conftest import TEST_AUTH, TEST_WRITERS, free_port_offset

    from nautilus.config import Settings

    home = tmp_path_factory.mktemp("ranges")
    s = Settings(home=home / "home", port_offset=free_port_offset(), health_interval_s=0.2, call_timeout_s=30.0,
                 **TEST_AUTH, **TEST_WRITERS)
    with TestClient(create_app(s)) as client:
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "ACME", "n": 900, "seed": 5})
        assert r.status_code == 201, r.text
        yield client, BarCatalog(s.catalog_dir).read("ACME", "1d")


def values(body: dict, key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in body["columns"][key]], dtype=float)


def iso(ts: int) -> str:
    return np.datetime_as_string(np.datetime64(int(ts), "ns"), unit="s") + "Z"


def close(got: np.ndarray, full: np.ndarray, scale_of: np.ndarray) -> bool:
    scale = float(np.nanmax(np.abs(scale_of)))
    same_nan = np.array_equal(np.isnan(got), np.isnan(full))
    return same_nan and bool((np.isnan(full) | (np.abs(got - full) <= RTOL * np.maximum(np.abs(full), scale))).all())


def indicators(client, **selector) -> dict:
    r = client.post("/api/v1/strategy/indicators", json={"symbol": "ACME", "indicators": SPECS, **selector})
    assert r.status_code == 200, r.text
    return r.json()


def test_limit_ten_shows_numbers_equal_to_full_history(stack) -> None:
    client, bars = stack
    full = indicators(client)
    last = indicators(client, limit=10)
    assert last["t"] == full["t"][-10:]
    # obv and supertrend are running totals: the whole stored history before the last ten bars is read
    assert full["warmup"] == 0 and last["warmup"] == len(bars) - 10
    for key in full["columns"]:
        got = values(last, key)
        assert np.isfinite(got).all(), key
        assert close(got, values(full, key)[-10:], values(full, key)), key


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_indicator_values_do_not_depend_on_start_end(stack, data) -> None:
    client, bars = stack
    n = len(bars)
    start = data.draw(st.integers(0, n - 2), label="start")
    end = data.draw(st.integers(start + 1, n), label="end")
    selector = {"start": iso(bars.ts[start])}
    if end < n:
        selector["end"] = iso(bars.ts[end])
    full = indicators(client)
    part = indicators(client, **selector)
    assert part["t"] == full["t"][start:end]
    for key in full["columns"]:
        assert close(values(part, key), values(full, key)[start:end], values(full, key)), (key, start, end)


def test_features_do_not_depend_on_the_range(stack) -> None:
    client, bars = stack
    full = client.post("/api/v1/features/compute", json={"name": "standard", "symbols": ["ACME"]})
    assert full.status_code == 200, full.text
    full = full.json()
    start = 600
    part = client.post("/api/v1/features/compute",
                       json={"name": "standard", "symbols": ["ACME"], "start": iso(bars.ts[start])}).json()
    tail = client.post("/api/v1/features/compute", json={"name": "standard", "symbols": ["ACME"], "limit": 5}).json()
    assert part["columns"]["t"] == full["columns"]["t"][start:]
    for name in ("rsi_14", "atr_14_over_close", "ret_20", "std_60_log_return", "dist_high_252"):
        f = values(full, name)
        assert close(values(part, name), f[start:], f), name
        assert np.isfinite(values(tail, name)).all() and close(values(tail, name), f[-5:], f), name
