"""The production profile's local configuration: ``deploy/`` files rewritten for one machine.

``python -m nautilus.production render DIR`` writes into DIR the Prometheus config (the gateway and every
engine scraped at 127.0.0.1 on this stack's ports, with ``NAUTILUS_METRICS_TOKEN`` as the Bearer token from
DIR/metrics_token, mode 600), its alert rules, the Alertmanager config (on 127.0.0.1 at
``NAUTILUS_ALERTMANAGER_PORT``, default 9093, + the offset; Prometheus sends it the alerts) and an NGINX
config (listening on ``NAUTILUS_NGINX_PORT``, default 8080, in front of this stack's gateway and dashboard,
with its temporary files under DIR so it runs without root's directories). ``scripts/production.sh``
renders, checks (``promtool``, ``amtool``, ``nginx -t``) and starts them; the containers use ``deploy/``
as it is.

Alertmanager's receiver (see deploy/alertmanager.yml): a webhook at ``NAUTILUS_ALERT_WEBHOOK_URL`` and, when
``NAUTILUS_ALERT_EMAIL_TO`` is set, e-mail through ``NAUTILUS_SMTP_HOST`` (host:port) from
``NAUTILUS_SMTP_FROM`` (login: ``NAUTILUS_SMTP_USER``, ``NAUTILUS_SMTP_PASSWORD``). With neither, alerts
show in Alertmanager's UI and notify nobody.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from nautilus.config import Settings, get_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WEBHOOK_PLACEHOLDER = "http://alert-webhook:9099/alerts"  # deploy/alertmanager.yml's container default


def alert_receivers(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``nautilus`` receiver from the environment (see the module docstring)."""
    receiver: dict[str, Any] = {"name": "nautilus"}
    url = env.get("NAUTILUS_ALERT_WEBHOOK_URL", "").strip()
    if url:
        if not re.match(r"https?://[^\s/]+", url):
            raise SystemExit(f"error: NAUTILUS_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        receiver["webhook_configs"] = [{"url": url, "send_resolved": True}]
    to = env.get("NAUTILUS_ALERT_EMAIL_TO", "").strip()
    if to:
        missing = [n for n in ("NAUTILUS_SMTP_HOST", "NAUTILUS_SMTP_FROM") if not env.get(n, "").strip()]
        if missing:
            raise SystemExit(f"error: NAUTILUS_ALERT_EMAIL_TO needs {' and '.join(missing)}")
        email: dict[str, Any] = {"to": to, "send_resolved": True, "smarthost": env["NAUTILUS_SMTP_HOST"].strip(),
                                 "from": env["NAUTILUS_SMTP_FROM"].strip()}
        if env.get("NAUTILUS_SMTP_USER"):
            email["auth_username"] = env["NAUTILUS_SMTP_USER"]
            email["auth_password"] = env.get("NAUTILUS_SMTP_PASSWORD", "")
        receiver["email_configs"] = [email]
    return receiver


def render_alertmanager(env: Mapping[str, str], timings: Mapping[str, str] | None = None) -> str:
    """deploy/alertmanager.yml with the receiver from ``env`` (``timings`` overrides the route's group_wait,
    group_interval, repeat_interval: tests)."""
    config = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    receiver = alert_receivers(env)
    config["receivers"] = [receiver if r["name"] == "nautilus" else r for r in config["receivers"]]
    if timings:
        for route in (config["route"], *config["route"].get("routes", [])):
            route.update({k: v for k, v in timings.items() if k in route or route is config["route"]})
    header = "# Rendered from deploy/alertmanager.yml by python -m nautilus.production (do not edit)\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def render(settings: Settings, out: Path, nginx_port: int, prometheus_port: int,
           alertmanager_port: int | None = None, env: Mapping[str, str] | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    gateway = f"127.0.0.1:{settings.gateway_bind_port}"
    web = f"127.0.0.1:{settings.web_port + settings.port_offset}"
    if not settings.metrics_token:
        raise SystemExit("error: NAUTILUS_METRICS_TOKEN is not set: Prometheus scrapes the gateway with it "
                         "(scripts/production.sh env sets one)")
    token = out / "metrics_token"
    token.touch(mode=0o600)
    token.write_text(settings.metrics_token)
    prom = (DEPLOY / "prometheus.yml").read_text().replace("'gateway:8001'", f"'{gateway}'")
    prom = prom.replace("/run/secrets/metrics_token", str(token))
    if alertmanager_port is None:
        alertmanager_port = 9093 + settings.port_offset
    prom = prom.replace("'alertmanager:9093'", f"'127.0.0.1:{alertmanager_port}'")
    nginx = (DEPLOY / "nginx.conf").read_text()
    # The container form names its upstreams in variables resolved through Docker's DNS (127.0.0.11); here
    # they are addresses on this machine (no resolver needed; no Grafana in this profile: /grafana/ answers 502).
    nginx = nginx.replace("server gateway:8001;", f"server {gateway};").replace("server web:3000;", f"server {web};")
    nginx = nginx.replace("$gateway_upstream gateway:8001;", f"$gateway_upstream {gateway};")
    nginx = nginx.replace("$web_upstream web:3000;", f"$web_upstream {web};")
    nginx = nginx.replace("$grafana_upstream grafana:3002;", "$grafana_upstream 127.0.0.1:3002;")
    nginx = re.sub(r"^\s*resolver(_timeout)? [^\n]*\n", "", nginx, flags=re.M)
    nginx = re.sub(r"listen 80;", f"listen 127.0.0.1:{nginx_port};", nginx)
    nginx = nginx.replace("include       /etc/nginx/mime.types;", "include       /etc/nginx/mime.types;\n"
                          f"    client_body_temp_path {out}/nginx-body;\n    proxy_temp_path {out}/nginx-proxy;\n"
                          f"    fastcgi_temp_path {out}/nginx-fastcgi;\n    uwsgi_temp_path {out}/nginx-uwsgi;\n"
                          f"    scgi_temp_path {out}/nginx-scgi;")
    nginx = nginx.replace("worker_processes auto;", f"worker_processes auto;\npid {out}/nginx.pid;\n"
                          f"error_log {out}/nginx-error.log warn;")
    files = {"prometheus": out / "prometheus.yml", "alerts": out / "alerts.yml", "nginx": out / "nginx.conf",
             "alertmanager": out / "alertmanager.yml"}
    files["prometheus"].write_text(prom)
    files["alertmanager"].touch(mode=0o600)  # it may hold an SMTP password
    files["alertmanager"].write_text(render_alertmanager(os.environ if env is None else env))
    files["alerts"].write_text((DEPLOY / "alerts.yml").read_text())
    files["nginx"].write_text(nginx)
    (out / "ports.env").write_text(f"NGINX_PORT={nginx_port}\nPROMETHEUS_PORT={prometheus_port}\n"
                                   f"ALERTMANAGER_PORT={alertmanager_port}\n")
    return files


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of ``url`` when it does not exist; True when it was created."""
    from sqlalchemy import text

    from nautilus.storage.connection import make_engine, normalize_url

    target = normalize_url(url)
    if not target.drivername.startswith("postgresql") or not target.database:
        return False
    admin = make_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).first()
            if exists is None:
                c.execute(text(f'CREATE DATABASE "{target.database}"'))
            return exists is None
    finally:
        admin.dispose()


def main(argv: list[str]) -> None:
    if argv[:1] == ["database"]:
        url = str(get_settings().database_url)
        print("created" if ensure_database(url) else "exists", url.split("@")[-1])
        return
    if len(argv) != 2 or argv[0] != "render":
        raise SystemExit("usage: python -m nautilus.production render DIR | database")
    settings = get_settings()
    nginx_port = int(os.environ.get("NAUTILUS_NGINX_PORT", 8080)) + settings.port_offset
    prometheus_port = int(os.environ.get("NAUTILUS_PROMETHEUS_PORT", 9090)) + settings.port_offset
    alertmanager_port = int(os.environ.get("NAUTILUS_ALERTMANAGER_PORT", 9093)) + settings.port_offset
    for name, path in render(settings, Path(argv[1]), nginx_port, prometheus_port, alertmanager_port).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
