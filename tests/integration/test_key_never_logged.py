"""An API key never reaches a log (issue 18, "Secrets and information").

A real stack in keys mode (supervisor, gateway, the Portfolio and WebSocket engines as processes) serves a
key created with ``nautilus keys add``: API calls, the metrics, a wrong key, a ticketed ``/ws``, a ``/ws``
with the key header, a refused ``/ws?api_key=`` and a revocation (``nautilus keys revoke``). The test
process's own logging is captured at DEBUG. Then every file under NAUTILUS_HOME (the service logs in
``run/logs``, the SQLite file, audit spill files, state files) and the captured logs and output are searched:
neither the key nor the wrong key appears anywhere, and the key's sha256 appears only in the database (where
it is the stored hash), never in a log.

The only text allowed to hold the key is what the operator asked for: ``nautilus keys add`` prints it once
on stdout. The websockets client's DEBUG trace of its own outgoing handshake (``> X-API-Key: ...``, ``> GET
/ws?api_key=...``) is the client echoing what the test deliberately sent; it is left out of the search, every
other record (the server's answers, httpx, nautilus) is searched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from nautilus.bench.cases.gateway_load import stop_stack
from nautilus.runtime import supervisor

pytestmark = pytest.mark.integration
ENGINES = ("portfolio", "websocket")
DETAILED_HEALTH = "/api/v1/system/health"


def nautilus_cli(env: dict[str, str], *args: str) -> str:
    """Run the CLI in its own process; its stdout (stderr must not hold anything key-like: checked later)."""
    proc = subprocess.run([sys.executable, "-m", "nautilus.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, (args[:2], proc.stdout[-500:], proc.stderr[-2000:])
    return proc.stdout + "\n[stderr]\n" + proc.stderr


def wait_up(settings, pid: int, key: str, timeout: float = 60.0) -> None:
    """Until the gateway's detailed health (with the key) sees every engine up."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert supervisor.pid_alive(pid), "the supervisor died: see run/logs/supervisor.log"
        try:
            reply = httpx.get(f"{settings.gateway_url}{DETAILED_HEALTH}", headers={"X-API-Key": key}, timeout=1.0)
            last = reply.status_code
            if reply.status_code == 200:
                engines = reply.json()["engines"]
                if all(engines[name]["status"] == "up" for name in ENGINES):
                    return
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"the stack did not come up within {timeout} s (last: {last})")


def ws_refusal(url: str, **kw) -> str:
    """Connect, ask for a pong, and return the reason the server refused the connection ('' when it did not)."""
    try:
        with connect(url, open_timeout=10, close_timeout=2, **kw) as ws:
            ws.send(json.dumps({"op": "ping", "id": 1}))
            frame = json.loads(ws.recv(timeout=10))
            return "" if frame.get("type") == "pong" else f"unexpected frame {frame}"
    except ConnectionClosed as exc:
        assert exc.rcvd is not None and exc.rcvd.code == 4401, exc
        return exc.rcvd.reason or "closed"
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}"


def find_secrets(named_texts: dict[str, bytes], secrets_: dict[str, str]) -> list[str]:
    """``where: which: the line`` (the secret replaced by ``<which>``) for every secret found in any text."""
    found = []
    for where, data in named_texts.items():
        for what, value in secrets_.items():
            secret = value.encode()
            for line in data.splitlines():
                if secret in line:
                    shown = line.replace(secret, f"<{what}>".encode())[:300].decode(errors="replace")
                    found.append(f"{where}: {what}: {shown}")
    return found


def home_files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def test_the_scanner_finds_a_planted_key(tmp_path: Path) -> None:
    """The search below is not vacuous: a key planted in a log line under a home is found."""
    key = "nk_" + secrets.token_urlsafe(32)
    log = tmp_path / "run" / "logs" / "gateway.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"2030-01-01 INFO start\n2030-01-01 INFO request with {key} done\n")
    assert find_secrets(home_files(tmp_path), {"key": key}) == [
        "run/logs/gateway.log: key: 2030-01-01 INFO request with <key> done"]


def test_an_api_key_never_reaches_a_log(settings, stack_env, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)  # the test process's own logging (httpx, httpcore, websockets, nautilus)
    settings.auth_mode = "keys"
    env = dict(stack_env, NAUTILUS_AUTH_MODE="keys", NAUTILUS_RESTART_BACKOFF_S="0.2")
    for name in ("NAUTILUS_API_KEYS", "NAUTILUS_METRICS_TOKEN"):
        env.pop(name, None)
    settings.ensure_dirs()
    cli_env = dict(env, NAUTILUS_DATA_DIR=str(settings.data_dir), NAUTILUS_RUNTIME_DIR=str(settings.runtime_dir))

    added = nautilus_cli(cli_env, "keys", "add", "ops", "--role", "admin")  # the first bootstrap, then the key
    match = re.search(r"key (\d+) for ops \(admin\): (nk_\S+)", added)
    assert match, added
    key_id, key = match.group(1), match.group(2)
    wrong = "nk_" + secrets.token_urlsafe(32)  # a wrong key is often a real one mistyped: never logged either
    digest = hashlib.sha256(key.encode()).hexdigest()
    outputs = {"nautilus keys add": added.replace(match.group(0), "")}  # its one line is the key, printed once

    pid = supervisor.start_detached(settings, list(ENGINES), env=env)
    try:
        wait_up(settings, pid, key)
        base, ws_base = settings.gateway_url, settings.gateway_url.replace("http://", "ws://")
        with httpx.Client(base_url=base, timeout=30.0, headers={"X-API-Key": key}) as api:
            assert api.get("/api/v1/portfolio/accounts").status_code == 200
            assert api.get(DETAILED_HEALTH).json()["engines"]["portfolio"]["status"] == "up"
            assert "nautilus_http_requests_total" in api.get("/metrics").text
            assert api.get("/metrics/engines/portfolio").status_code == 200
            assert httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
            assert api.get("/api/v1/stream/channels").status_code == 200
            created = api.post("/api/v1/portfolio/accounts", json={"name": "leak-check", "cash": 1000.0})
            assert created.status_code in (200, 201), created.text
            assert api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": wrong}).status_code == 401
            assert api.post("/api/v1/portfolio/accounts", headers={"X-API-Key": wrong},
                            json={"name": "nope", "cash": 1.0}).status_code == 401
            assert httpx.get(f"{base}/api/v1/portfolio/accounts").status_code == 401
            assert httpx.get(f"{base}/health").json().keys() == {"status"}

            ticket = api.post("/api/v1/stream/ticket")
            assert ticket.status_code == 201, ticket.text
            assert ws_refusal(f"{ws_base}/ws?ticket={ticket.json()['ticket']}") == ""
            assert ws_refusal(f"{ws_base}/ws", additional_headers={"X-API-Key": key}) == ""
            assert "never go in URLs" in ws_refusal(f"{ws_base}/ws?api_key={key}")
            assert "invalid" in ws_refusal(f"{ws_base}/ws", additional_headers={"X-API-Key": wrong})

            outputs["nautilus keys revoke"] = nautilus_cli(cli_env, "keys", "revoke", key_id)
            revoked = api.get("/api/v1/portfolio/accounts")  # at once: no grace period
            assert revoked.status_code == 401, revoked.text
            assert httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 401
            fresh = api.post("/api/v1/stream/ticket")
            assert fresh.status_code == 401
    finally:
        assert stop_stack(settings, pid) == 0  # every service stopped: its logs are complete

    records = [r for r in caplog.records  # the websockets client's trace of what it sent (see the docstring)
               if not (r.name.startswith("websockets") and str(r.msg).startswith(">"))]
    captured = capfd.readouterr()
    texts = home_files(settings.home)
    assert any(name.startswith("run/logs/gateway") for name in texts), sorted(texts)
    texts |= {f"captured log ({i})": f"{r.name} {r.levelname} {r.getMessage()}".encode()
              for i, r in enumerate(records)}
    texts |= {"captured stdout": captured.out.encode(), "captured stderr": captured.err.encode()}
    texts |= {name: text.encode() for name, text in outputs.items()}
    database = Path(str(settings.database_url).removeprefix("sqlite:///")).resolve()
    stored = {str(p.relative_to(settings.home)) for p in database.parent.glob(database.name + "*")
              if p.is_relative_to(settings.home)}  # the SQLite file and its -wal/-shm/-journal
    assert stored, (settings.database_url, sorted(texts))
    logs_only = {where: data for where, data in texts.items() if where not in stored}

    found = find_secrets(texts, {"the key": key, "the wrong key": wrong,
                                 "the wrong key's sha256": hashlib.sha256(wrong.encode()).hexdigest()})
    found += find_secrets(logs_only, {"the key's sha256": digest})
    assert not found, found
    assert len(records) > 10  # DEBUG capture was live (httpx/httpcore/websockets records)
    assert os.path.getsize(settings.runtime_dir / "logs" / "gateway.log") > 0
