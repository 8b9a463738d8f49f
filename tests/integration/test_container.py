"""The container stack for real, and the dashboard build that two stacks on one checkout share.

* ``docker compose up`` of deploy/docker-compose.yml: build, up, wait until healthy, requests through NGINX
  (the only published port), the gateway recreated (NGINX finds its new address), ``down -v``. It runs only
  where ``docker compose version`` works and a Docker daemon answers, and skips otherwise, with ``CI`` set too:
  the static checks (tests/unit/deploy/test_deploy_static.py) cover the files everywhere.
* ``scripts/web.sh build`` twice (on a copy of web/): the first stack's dashboard server keeps serving the
  files it started with, unchanged, while the second build becomes web/dist; a build no server uses any more
  is removed by the next one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from tests.support.services import service_missing
from tests.support.tools import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"




def _get(url: str, **kwargs) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, **kwargs)
    except httpx.HTTPError:
        return None


# docker compose up ---------------------------------------------------------------------------------------------


def _docker_compose() -> list[str]:
    """``docker compose`` when the plugin and a daemon answer; skips (even with CI set) otherwise."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here: the container checks are static (tests/unit/deploy/test_deploy_static.py)")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose plugin here: the container checks are static")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no Docker daemon answers here: the container checks are static")
    return [docker, "compose"]


@pytest.mark.timeout(3600)
def test_compose_stack_comes_up_healthy_behind_nginx(tmp_path) -> None:
    compose = _docker_compose()
    assert (DEPLOY / "alertmanager.yml").is_file(), "deploy/alertmanager.yml is missing"
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    for name, value in (("postgres_password", "p@ss:w/rd " + uuid.uuid4().hex), ("metrics_token", uuid.uuid4().hex),
                        ("grafana_admin_password", uuid.uuid4().hex)):
        (secrets / name).write_text(value + "\n")
        (secrets / name).chmod(0o644)  # the containers' own users read their mounts
    port = free_port()
    project = f"nautilus-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAUTILUS_")}
    env.update(NAUTILUS_SECRETS_DIR=str(secrets), NAUTILUS_HTTP_PORT=str(port), NAUTILUS_IMAGE_TAG=project)
    base = [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "-p", project]

    def run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], env=env, cwd=DEPLOY, capture_output=True, text=True, timeout=timeout)

    try:
        up = run("up", "-d", "--build", "--wait", "--wait-timeout", "900")
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        front = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{front}/nginx-health", timeout=10).text == "ok\n"
        assert httpx.get(f"{front}/health", timeout=10).status_code == 200
        assert httpx.get(f"{front}/config.json", timeout=10).json() == {"apiBase": "/", "wsUrl": "/ws"}
        page = httpx.get(f"{front}/", timeout=10)
        assert page.status_code == 200 and "<div id=\"root\">" in page.text
        # Nothing but NGINX is published.
        published = run("ps", "--format", "{{.Service}} {{.Publishers}}", timeout=120).stdout
        for line in published.splitlines():
            service = line.split(" ", 1)[0]
            if service != "nginx":
                assert not re.search(r"PublishedPort:[1-9]", line), line
        # The gateway recreated (a new address): NGINX resolves it again within its 10 s cache.
        recreate = run("up", "-d", "--force-recreate", "--no-deps", "--wait", "--wait-timeout", "300", "gateway")
        assert recreate.returncode == 0, recreate.stderr[-4000:]
        wait_for(lambda: (r := _get(f"{front}/health")) is not None and r.status_code == 200, 60,
              "the recreated gateway through NGINX")
    finally:
        down = run("down", "-v", "--remove-orphans", "--rmi", "local", timeout=600)
        assert down.returncode == 0, down.stderr[-4000:]


# The dashboard build under a running stack --------------------------------------------------------------------


def _node_ready() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            service_missing(f"{tool} is not installed (Node.js 20+ builds the dashboard)")
    web = ROOT / "web"
    if not (web / "node_modules" / ".bin" / "vite").exists():
        done = subprocess.run([str(ROOT / "scripts" / "web.sh"), "deps"], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]


def _copy_web(dest: Path) -> Path:
    """A copy of web/ sharing its node_modules (a symlink), as npm ci left them."""
    src = ROOT / "web"
    skip = {"node_modules", "dist", "builds", "test-results", "playwright-report"}
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if Path(d) == src and n in skip],
                    symlinks=True)
    (dest / "node_modules").symlink_to(src / "node_modules", target_is_directory=True)
    installed = (src / "node_modules" / ".package-lock.json").stat().st_mtime
    os.utime(dest / "package-lock.json", (installed - 60, installed - 60))  # no npm ci in the copy
    return dest


def _build(web: Path) -> Path:
    done = subprocess.run([str(ROOT / "scripts" / "web.sh"), "build"], capture_output=True, text=True,
                          env=dict(os.environ, NAUTILUS_WEB_SRC=str(web)), timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    dist = web / "dist"
    assert dist.is_symlink()
    return dist.resolve()


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _serve(web: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAUTILUS_")}
    env.update(NAUTILUS_WEB_DIST=str(web / "dist"), NAUTILUS_WEB_PORT=str(port), NAUTILUS_BIND_HOST="127.0.0.1",
               NAUTILUS_HOME=str(tmp / f"home-{port}"))
    proc = subprocess.Popen([sys.executable, "-m", "nautilus.web"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _get(f"{url}/config.json") is not None, 60, "the dashboard server")
    except AssertionError:
        proc.kill()
        raise
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    return proc, url


def _served(url: str) -> dict[str, bytes]:
    """What a browser loading the dashboard gets: the page and every asset it names."""
    index = httpx.get(f"{url}/", timeout=10)
    assert index.status_code == 200
    pages = {"/": index.content}
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text):
        response = httpx.get(f"{url}{asset}", timeout=10)
        assert response.status_code == 200 and "immutable" in response.headers["cache-control"], asset
        pages[asset] = response.content
    assert len(pages) >= 2, index.text  # the page and at least its script
    return pages


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(900)
def test_a_second_stacks_dashboard_build_leaves_the_first_ones_files_alone(tmp_path) -> None:
    _node_ready()
    web = _copy_web(tmp_path / "web")
    first = _build(web)
    first_files = _snapshot(first)
    stack1, url1 = _serve(web, tmp_path)
    stack2 = None
    try:
        before = _served(url1)
        markers = list((web / "builds" / ".in-use").glob(f"{first.name}.*"))
        assert [m.name for m in markers] == [f"{first.name}.{stack1.pid}"]  # the first build is in use
        # Another stack's build, from changed sources: different page and script.
        main = web / "src" / "main.tsx"
        main.write_text(main.read_text() + '\nconsole.info("nautilus second build");\n')
        index = web / "index.html"
        index.write_text(index.read_text().replace("<title>Nautilus</title>", "<title>Nautilus 2</title>"))
        second = _build(web)
        assert second != first and (web / "dist").resolve() == second
        assert _snapshot(first) == first_files, "the second build changed the first one's files"
        assert _served(url1) == before, "the first stack's dashboard changed under it"
        stack2, url2 = _serve(web, tmp_path)
        after = _served(url2)
        assert b"Nautilus 2" in after["/"] and after != before
        # Once the first server is gone, the next build removes the build nobody serves.
        _stop(stack1)
        assert not list((web / "builds" / ".in-use").glob(f"{first.name}.*"))
        third = _build(web)
        assert not first.exists() and second.exists() and third.exists()  # the second one is still in use
        assert _served(url2) == after
    finally:
        _stop(stack1)
        if stack2 is not None:
            _stop(stack2)


# The compose NGINX config routing for real (upstreams on this machine instead of the compose names) ------------


def test_compose_nginx_routes_each_path_to_its_upstream(tmp_path) -> None:
    import http.server
    import json
    import threading

    nginx = shutil.which("nginx")
    if nginx is None:
        service_missing("nginx is not installed (test.sh installs it from Debian)")

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = json.dumps({"upstream": self.server.name, "path": self.path,  # type: ignore[attr-defined]
                               "host": self.headers.get("Host"), "upgrade": self.headers.get("Upgrade")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    servers = {}
    for name in ("gateway", "web", "grafana"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name] = server
    port = free_port()
    conf = (DEPLOY / "nginx.conf").read_text()
    for name, compose_target in (("gateway", "gateway:8001"), ("web", "web:3000"), ("grafana", "grafana:3002")):
        line = f"set ${name}_upstream {compose_target};"
        assert line in conf, line
        conf = conf.replace(line, f"set ${name}_upstream 127.0.0.1:{servers[name].server_address[1]};")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("worker_processes auto;", f"worker_processes 1;\npid {tmp_path}/nginx.pid;\n"
                        f"error_log {tmp_path}/error.log warn;")
    conf = conf.replace("include       /etc/nginx/mime.types;", "include       /etc/nginx/mime.types;\n" + "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")))
    (tmp_path / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                            stderr=subprocess.PIPE)
    front = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _get(f"{front}/nginx-health") is not None, 30, "NGINX")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        cases = {"/api/v1/risk/var?x=1&y=%2F": "gateway", "/health": "gateway", "/metrics": "gateway",
                 "/openapi.json": "gateway", "/ws?ticket=t": "gateway", "/": "web", "/portfolio/orders": "web",
                 "/assets/app-1a2b.js": "web", "/config.json": "web", "/grafana/api/health": "grafana",
                 "/grafana/": "grafana"}
        for path, upstream in cases.items():
            got = httpx.get(front + path, headers={"Host": f"trade.example:{port}"}, timeout=10).json()
            assert (got["upstream"], got["path"]) == (upstream, path), (path, got)
            # Grafana checks the Origin against the Host with its port; the others get the bare name.
            assert got["host"] == (f"trade.example:{port}" if upstream == "grafana" else "trade.example"), got
        ws = httpx.get(f"{front}/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}, timeout=10).json()
        assert ws["upgrade"] == "websocket"
        response = httpx.get(f"{front}/nginx-health", timeout=10)
        assert response.headers["x-frame-options"] == "DENY"
        assert "nginx/" not in response.headers.get("server", "")  # server_tokens off: no version
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for server in servers.values():
            server.shutdown()
