"""The production profile's local configuration: ``deploy/`` files rewritten for one machine.

``python -m nautilus.production render DIR`` writes into DIR the Prometheus config (the gateway and every
engine scraped at 127.0.0.1 on this stack's ports, with ``NAUTILUS_METRICS_TOKEN`` as the Bearer token from
DIR/metrics_token, mode 600), its alert rules, and an NGINX config (listening on
``NAUTILUS_NGINX_PORT``, default 8080, in front of this stack's gateway and dashboard, with its temporary
files under DIR so it runs without root's directories). ``scripts/production.sh`` renders, checks
(``promtool``, ``nginx -t``) and starts them; the containers use ``deploy/`` as it is.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from nautilus.config import Settings, get_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def render(settings: Settings, out: Path, nginx_port: int, prometheus_port: int) -> dict[str, Path]:
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
    nginx = (DEPLOY / "nginx.conf").read_text()
    nginx = nginx.replace("server gateway:8001;", f"server {gateway};").replace("server web:3000;", f"server {web};")
    nginx = re.sub(r"listen 80;", f"listen 127.0.0.1:{nginx_port};", nginx)
    nginx = nginx.replace("include       /etc/nginx/mime.types;", "include       /etc/nginx/mime.types;\n"
                          f"    client_body_temp_path {out}/nginx-body;\n    proxy_temp_path {out}/nginx-proxy;\n"
                          f"    fastcgi_temp_path {out}/nginx-fastcgi;\n    uwsgi_temp_path {out}/nginx-uwsgi;\n"
                          f"    scgi_temp_path {out}/nginx-scgi;")
    nginx = nginx.replace("worker_processes auto;", f"worker_processes auto;\npid {out}/nginx.pid;\n"
                          f"error_log {out}/nginx-error.log warn;")
    files = {"prometheus": out / "prometheus.yml", "alerts": out / "alerts.yml", "nginx": out / "nginx.conf"}
    files["prometheus"].write_text(prom)
    files["alerts"].write_text((DEPLOY / "alerts.yml").read_text())
    files["nginx"].write_text(nginx)
    (out / "ports.env").write_text(f"NGINX_PORT={nginx_port}\nPROMETHEUS_PORT={prometheus_port}\n")
    return files


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of ``url`` when it does not exist; True when it was created."""
    from sqlalchemy import text

    from nautilus.storage.db import make_engine, normalize_url

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
    for name, path in render(settings, Path(argv[1]), nginx_port, prometheus_port).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
