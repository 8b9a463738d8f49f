"""The production profile's pieces on this machine: NGINX in front of a real gateway (HTTP and the WebSocket
upgrade), Prometheus scraping the gateway and an engine, and the PostgreSQL database created when missing."""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import pytest
from sqlalchemy import text
from tests.support.tools import free_port, require_tool, wait_for

from nautilus.bench.cases.gateway_load import stop_stack, wait_for_stack
from nautilus.production import ensure_database, render
from nautilus.runtime import supervisor
from nautilus.storage.connection import make_engine

pytestmark = pytest.mark.integration





def test_nginx_and_prometheus_in_front_of_a_real_stack(settings, tmp_path) -> None:
    nginx, prometheus = require_tool("nginx"), require_tool("prometheus")
    nginx_port, prom_port = free_port(), free_port()
    settings.metrics_token = "scrape-token"  # render writes it for Prometheus (the stack runs open mode here)
    files = render(settings, tmp_path / "prod", nginx_port, prom_port)
    assert (tmp_path / "prod" / "metrics_token").stat().st_mode & 0o077 == 0
    assert str(tmp_path / "prod" / "metrics_token") in files["prometheus"].read_text()
    assert subprocess.run([nginx, "-t", "-q", "-c", str(files["nginx"])]).returncode == 0
    pid = supervisor.start_detached(settings, ["marketdata"])
    procs = []
    try:
        wait_for_stack(settings, pid, {}, ("marketdata",))
        procs.append(subprocess.Popen([nginx, "-c", str(files["nginx"]), "-g", "daemon off;"]))
        procs.append(subprocess.Popen([prometheus, f"--config.file={files['prometheus']}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        front = f"http://127.0.0.1:{nginx_port}"

        def served() -> bool:
            try:
                return httpx.get(f"{front}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(served, 30, "NGINX")
        assert httpx.get(f"{front}/api/v1/marketdata/instruments", timeout=10).status_code == 200
        big = httpx.get(f"{front}/openapi.json", headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert big.status_code == 200 and big.headers.get("content-encoding") == "gzip"
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{nginx_port}/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"op": "ping"}))
            frame = json.loads(ws.recv(timeout=10))
            while frame.get("type") == "heartbeat":
                frame = json.loads(ws.recv(timeout=10))
            assert frame["type"] == "pong", frame

        def scraped() -> bool:
            try:
                targets = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            health = {t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]}
            return health.get("gateway") == "up" and health.get("engine-marketdata") == "up"

        wait_for(scraped, 60, "Prometheus to scrape the gateway and the marketdata engine")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        stop_stack(settings, pid)


def test_production_database_is_created_when_missing(pg_admin_url) -> None:
    name = f"nautilus_prod_{uuid.uuid4().hex[:8]}"
    url = pg_admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        assert ensure_database(url) is True
        assert ensure_database(url) is False
    finally:
        admin = make_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
