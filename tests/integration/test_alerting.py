"""Alerts reach someone: a real Prometheus (the rendered production config and deploy/alerts.yml) evaluates
EngineDown against a real stack in which only the marketdata engine runs, and a real Alertmanager (the
rendered deploy/alertmanager.yml) posts the alerts to a webhook served by this test, with the alert's labels
and its rendered description. Intervals are shortened in the rendered copies only (the rules are as shipped)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml
from tests.support.tools import free_port, require_tool

from nautilus.bench.cases.gateway_load import stop_stack, wait_for_stack
from nautilus.production import render, render_alertmanager
from nautilus.runtime import supervisor

pytestmark = pytest.mark.integration




class Webhook:
    """A local HTTP server that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self) -> list[dict]:
        return [a for body in list(self.bodies) for a in body["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_alertmanager_receiver_is_rendered_from_the_environment() -> None:
    none = yaml.safe_load(render_alertmanager({}))
    assert none["receivers"] == [{"name": "nautilus"}]  # nobody to notify: a valid, silent receiver
    both = yaml.safe_load(render_alertmanager({
        "NAUTILUS_ALERT_WEBHOOK_URL": "https://hooks.example.org/x", "NAUTILUS_ALERT_EMAIL_TO": "ops@example.org",
        "NAUTILUS_SMTP_HOST": "smtp.example.org:587", "NAUTILUS_SMTP_FROM": "nautilus@example.org"}))
    (receiver,) = both["receivers"]
    assert receiver["webhook_configs"][0]["url"] == "https://hooks.example.org/x"
    assert receiver["email_configs"][0]["to"] == "ops@example.org"
    with pytest.raises(SystemExit, match="NAUTILUS_SMTP_HOST"):
        render_alertmanager({"NAUTILUS_ALERT_EMAIL_TO": "ops@example.org"})
    with pytest.raises(SystemExit, match="http"):
        render_alertmanager({"NAUTILUS_ALERT_WEBHOOK_URL": "ftp://x"})


def test_a_down_engine_reaches_the_webhook(settings, tmp_path) -> None:
    prometheus, alertmanager = require_tool("prometheus"), require_tool("prometheus-alertmanager")
    amtool = require_tool("amtool")
    prom_port, am_port = free_port(), free_port()
    hook = Webhook()
    settings.metrics_token = "scrape-token"
    files = render(settings, tmp_path / "prod", free_port(), prom_port, am_port,
                   env={"NAUTILUS_ALERT_WEBHOOK_URL": hook.url})
    assert f"'127.0.0.1:{am_port}'" in files["prometheus"].read_text()
    check = subprocess.run([amtool, "check-config", str(files["alertmanager"])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # faster than production: scrape and evaluate every second, notify a new group after a second
    prom = re.sub(r"(scrape|evaluation)_interval: 5s", r"\1_interval: 1s", files["prometheus"].read_text())
    files["prometheus"].write_text(prom)
    files["alertmanager"].write_text(render_alertmanager(
        {"NAUTILUS_ALERT_WEBHOOK_URL": hook.url},
        {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1m"}))
    pid = supervisor.start_detached(settings, ["marketdata"])  # every other engine is down
    procs = []
    try:
        wait_for_stack(settings, pid, {}, ("marketdata",))
        # old history that no source keeps up to date (like the sample data of a fresh stack): never stale
        with httpx.Client(base_url=settings.gateway_url, timeout=30) as api:
            assert api.post("/api/v1/marketdata/generate", json={"symbol": "OLD", "n": 30}).status_code == 201
            scrape = api.get("/metrics/engines/marketdata").text
        assert "# HELP nautilus_data_open_age_seconds" in scrape and "nautilus_data_open_age_seconds{" not in scrape
        procs.append(subprocess.Popen([alertmanager, f"--config.file={files['alertmanager']}",
                                       f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                                       "--cluster.listen-address="],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([prometheus, f"--config.file={files['prometheus']}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 75  # EngineDown holds for 30s before it fires
        while time.time() < deadline:
            down = [a for a in hook.alerts() if a["labels"].get("alertname") == "EngineDown"]
            if any(a["labels"].get("component") == "analytics" for a in down):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no EngineDown alert reached the webhook: {hook.bodies}")
        alert = next(a for a in down if a["labels"]["component"] == "analytics")
        assert alert["status"] == "firing"
        assert alert["labels"] | {"instance": None} == {
            "alertname": "EngineDown", "component": "analytics", "engine": "analytics", "job": "engine-analytics",
            "severity": "critical", "instance": None}
        assert alert["annotations"]["summary"] == "engine analytics is unreachable"
        assert alert["annotations"]["description"].startswith("The gateway cannot read analytics's metrics")
        assert not [a for a in down if a["labels"]["component"] == "marketdata"]  # it runs: never down
        rules = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/rules", timeout=5).json()["data"]["groups"]
        stale = next(r for g in rules for r in g["rules"] if r["name"] == "DataStale")
        assert stale["health"] == "ok" and stale["alerts"] == []
        # a restarted engine: EngineRestarted (its process start time changed) and the supervisor's restarts
        # gauge on /metrics, with nobody calling /health
        state = supervisor.read_state(settings)["services"]["marketdata"]
        os.kill(state["pid"], signal.SIGKILL)
        deadline = time.time() + 30
        while time.time() < deadline:
            restarted = [a for a in hook.alerts() if a["labels"].get("alertname") == "EngineRestarted"]
            if restarted:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no EngineRestarted alert reached the webhook: {hook.bodies}")
        assert restarted[0]["labels"]["component"] == "marketdata"
        assert restarted[0]["annotations"]["description"] == ("The marketdata engine process started 1 time(s) in "
                                                              "the last 15 minutes.")
        gauge = httpx.get(f"{settings.gateway_url}/metrics", timeout=10).text
        assert 'nautilus_engine_restarts{engine="marketdata"} 1.0' in gauge
        # Prometheus itself knows where it sends alerts
        ams = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/alertmanagers", timeout=5).json()
        assert [a["url"] for a in ams["data"]["activeAlertmanagers"]] == [f"http://127.0.0.1:{am_port}/api/v2/alerts"]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        stop_stack(settings, pid)
        hook.close()


def test_a_fetched_series_reports_its_open_market_age(settings) -> None:
    """A series a source keeps up to date (fetched: ``update`` refreshes it) is measured by its calendar."""
    from pathlib import Path

    from fastapi.testclient import TestClient
    from prometheus_client import REGISTRY

    from nautilus.adapters.ratelimit import reset_limiters
    from nautilus.bench.sourceserver import SourceServer
    from nautilus.engines.marketdata.freshness import open_ns
    from nautilus.gateway.app import create_app

    reset_limiters()
    fixtures = Path(__file__).parent.parent / "fixtures"
    with SourceServer(synthetic=("SYN",), fixtures=fixtures) as server:
        settings.source_urls = {"yahoo": server.url}
        settings.source_retries = 1
        with TestClient(create_app(settings)) as api:
            r = api.post("/api/v1/marketdata/fetch", json={"source": "yahoo", "symbol": "AAPL", "timeframe": "1d",
                                                           "start": "2020-08-01", "end": "2020-09-08"})
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 30
            while (job := api.get(f"/api/v1/marketdata/fetch/{r.json()['id']}").json())["status"] in ("queued",
                                                                                                   "running"):
                assert time.monotonic() < deadline, job
                time.sleep(0.05)
            assert job["status"] == "ok", job
            assert api.post("/api/v1/marketdata/generate", json={"symbol": "GEN", "n": 30}).status_code == 201
            engine = api.app.state.writers["marketdata"].engine  # the in-process writer of this test
            engine.update_metrics()
            (series,) = [s for i in api.get("/api/v1/marketdata/instruments").json()["instruments"]
                         if i["symbol"] == "AAPL" for s in i["series"] if s["timeframe"] == "1d"]
    now = time.time_ns()
    age = REGISTRY.get_sample_value("nautilus_data_open_age_seconds",
                                    {"symbol": "AAPL", "timeframe": "1d", "calendar": "weekdays"})
    expected = open_ns("weekdays", series["last_ts"] + 86_400 * 10**9, now) / 1e9
    assert age is not None and expected - 60 <= age <= expected
    assert REGISTRY.get_sample_value("nautilus_data_open_age_seconds",
                                     {"symbol": "GEN", "timeframe": "1d", "calendar": "weekdays"}) is None
