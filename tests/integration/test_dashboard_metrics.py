"""Every metric a Grafana panel or an alert rule queries exists in a live scrape of a running stack (the
gateway's /metrics and each engine's /metrics/engines/NAME)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from nautilus.bench.cases.gateway_load import stop_stack, wait_for_stack
from nautilus.config import DEFAULT_ENGINE_PORTS
from nautilus.runtime import supervisor

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\b((?:nautilus|process)_[a-z0-9_]+)")


def queried_metrics() -> dict[str, str]:
    """metric name -> where it is queried."""
    out = {}
    for board in (DEPLOY / "grafana/dashboards").glob("*.json"):
        for panel in json.loads(board.read_text())["panels"]:
            for target in panel["targets"]:
                for name in METRIC.findall(target["expr"]):
                    out[name] = f"{board.stem}: {panel['title']}"
    for rule in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]:
        for name in METRIC.findall(rule["expr"]):
            out[name] = f"alert {rule['alert']}"
    return out


def test_every_queried_metric_is_in_a_live_scrape(settings) -> None:
    engines = sorted(DEFAULT_ENGINE_PORTS)  # the built-in engines (tests may register more)
    pid = supervisor.start_detached(settings, engines)
    try:
        wait_for_stack(settings, pid, {}, tuple(engines))
        api = httpx.Client(base_url=settings.gateway_url, timeout=30.0)
        assert api.post("/api/v1/marketdata/generate", json={"symbol": "MET", "n": 30}).status_code == 201
        api.put("/api/v1/risk/limits", json={"limits": {"max_gross_exposure": 1e6, "drawdown_halt": 0.5}})
        order = api.post("/api/v1/portfolio/orders", json={"symbol": "MET", "side": "buy", "quantity": 1})
        assert order.status_code == 201, order.text
        scrape = api.get("/metrics").text
        for engine in engines:
            r = api.get(f"/metrics/engines/{engine}")
            assert r.status_code == 200, (engine, r.text)
            scrape += r.text
    finally:
        stop_stack(settings, pid)
    missing = {name: where for name, where in queried_metrics().items()
               if not re.search(rf"^(# HELP )?{name}[ {{]", scrape, flags=re.M)}
    assert not missing, missing
