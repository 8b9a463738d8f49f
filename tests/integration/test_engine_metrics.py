"""Each engine process exposes its own Prometheus metrics (process CPU/RSS, requests, domain gauges) through
the gateway at /metrics/engines/NAME; an unreachable engine's scrape fails with 503."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nautilus.bench.procs import engine_process
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration


def test_engine_metrics_through_the_gateway(settings) -> None:
    settings.ensure_dirs()
    with engine_process(settings, "portfolio"), TestClient(create_app(settings)) as api:
        r = api.get("/metrics/engines/portfolio")
        assert r.status_code == 200, r.text
        text = r.text
        assert 'nautilus_portfolio_equity{account="default"} 100000.0' in text
        assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
        assert 'nautilus_engine_requests{engine="portfolio"}' in text
        down = api.get("/metrics/engines/risk")  # not running as a process
        assert down.status_code == 503 and down.json()["error"]["code"] == "engine_unavailable"
        assert api.get("/metrics/engines/nope").status_code == 404
