"""The production files, validated structurally (no Docker engine here): the compose services, ports,
healthchecks and restart policies, the image the Dockerfile builds, Prometheus scrape targets for the gateway
and every engine, alert rules (promtool when installed), NGINX routing, Grafana provisioning."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from tests.support.paths import DEPLOY

from nautilus.config import DEFAULT_ENGINE_PORTS

ENGINES = sorted(DEFAULT_ENGINE_PORTS)  # the built-in engines (tests may register more)



def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_health_and_restart() -> None:
    services = compose()["services"]
    expected = set(ENGINES) | {"gateway", "web", "postgres", "redis", "prometheus", "grafana", "nginx"}
    assert expected <= set(services)
    for name, svc in services.items():
        assert svc.get("restart") == "unless-stopped", name
        assert "healthcheck" in svc and svc["healthcheck"]["test"], name
    for engine in ENGINES:
        svc = services[engine]
        assert svc["command"] == ["engine", "run", engine]
        assert svc["expose"] == [str(DEFAULT_ENGINE_PORTS[engine])]  # each engine on its own TCP port
        hosts = json.loads(svc["environment"]["NAUTILUS_ENGINE_HOSTS"])
        assert hosts == {e: e for e in ENGINES}
        assert svc["environment"]["NAUTILUS_BIND_HOST"] == "0.0.0.0"
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["postgres"]["image"].startswith("timescale/timescaledb")
    assert services["nginx"]["ports"] == ["${NAUTILUS_BIND_ADDRESS:-127.0.0.1}:${NAUTILUS_HTTP_PORT:-80}:80"]
    assert "ports" not in services["grafana"] and "ports" not in services["gateway"]
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, flags=re.M)
    assert len(stages) == 3 and "-slim" in stages[-1][0]
    assert re.search(r"^USER 10001:10001$", text, flags=re.M)
    assert "HEALTHCHECK" in text and "download.pytorch.org/whl/cpu" in text
    assert 'ENTRYPOINT ["nautilus"]' in text


def test_prometheus_scrapes_the_gateway_and_every_engine() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["gateway"]["metrics_path"] == "/metrics"
    for engine in ENGINES:
        assert jobs[f"engine-{engine}"]["metrics_path"] == f"/metrics/engines/{engine}"
    assert config["rule_files"] == ["alerts.yml"]


def test_alert_rules_parse_and_cover_the_required_alerts() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"EngineDown", "EngineFallbackActive", "GatewayP99OverBudget", "VarLimitBreach", "DataStale",
            "WebSocketBacklog"} <= names
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed (test.sh installs Debian's prometheus package)")
        pytest.skip("promtool is not installed")
    # The config names the compose secret /run/secrets/metrics_token (the scrape token): check its syntax only.
    for what, path, extra in (("rules", "alerts.yml", []), ("config", "prometheus.yml", ["--syntax-only"])):
        out = subprocess.run([promtool, "check", what, *extra, str(DEPLOY / path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_nginx_routes_api_ws_and_dashboard() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade" in text and "location /ws" in text
    assert "gzip on" in text and "client_max_body_size" in text
    assert re.search(r"location ~ \^/\(api\|health\|metrics", text)


def test_grafana_is_provisioned_with_four_dashboards() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    boards = sorted(p.stem for p in (DEPLOY / "grafana/dashboards").glob("*.json"))
    assert boards == ["engines", "overview", "portfolio", "risk"]


def test_docker_compose_config_when_the_client_exists() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose client here (the structure is checked above)")
    env = dict(os.environ, GRAFANA_ADMIN_PASSWORD="x", POSTGRES_PASSWORD="y")
    out = subprocess.run([docker, "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
