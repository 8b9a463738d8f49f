"""Every CLI command resolves the database of the stack running at its home, not its caller's environment.

The operator's bug: ``NAUTILUS_PROFILE=production nautilus keys add ops --role admin`` wrote the key into the
SQLite file while the stack read PostgreSQL, so the production database had no keys. Here a stack runs on
PostgreSQL in keys mode; the CLI runs as a subprocess with nothing but ``NAUTILUS_HOME`` and must write the key
where the stack reads it (and the key must then open the API); an environment naming another database must make
write commands refuse (exit 2, naming both), read-only ones warn; a dead stack's record must be ignored.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from nautilus.bench.cases.gateway_load import stop_stack, wait_for_stack
from nautilus.config import (
    Settings,
    live_stack_record,
    read_stack_record,
    stack_record_path,
    write_stack_record,
)
from nautilus.runtime import supervisor
from nautilus.storage.connection import make_engine
from nautilus.storage.db import Database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRAPE = "scrape-token-for-the-wait"
LIMITS = {"limits": {"max_order_notional": 10}}


def cli(home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """``nautilus ARGS`` in a clean environment: NAUTILUS_HOME only (plus what Python needs to start)."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
             "NAUTILUS_HOME": str(home), "PYTHONPATH": str(ROOT)}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "nautilus.cli", *args], env=clean, cwd=cwd or home.parent,
                          capture_output=True, text=True, timeout=timeout)


def new_key(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    found = re.search(r"(nk_[A-Za-z0-9_-]+)", out.stdout)
    assert found, out.stdout
    return found.group(1)


def sqlite_keys(settings: Settings) -> int:
    """API keys in the SQLite file at the home's default place (0 when there is none)."""
    path = settings.data_dir / "nautilus.db"
    if not path.exists():
        return 0
    engine = make_engine(f"sqlite:///{path}")
    try:
        if "api_keys" not in inspect(engine).get_table_names():
            return 0
        with engine.connect() as c:
            return c.exec_driver_sql("SELECT count(*) FROM api_keys").scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def pg_stack(settings, stack_env, pg_url):
    """A stack (risk engine + gateway) on PostgreSQL in keys mode, started like start.sh's production profile
    would (its environment names the database; the CLI's will not)."""
    url = pg_url.render_as_string(hide_password=False)
    settings.database_url = url
    settings.auth_mode = "keys"
    settings.profile = "production"
    env = dict(stack_env, NAUTILUS_METRICS_TOKEN=SCRAPE, NAUTILUS_AUTH_MODE="keys")
    pid = supervisor.start_detached(settings, ["risk"], env=env)
    try:
        wait_for_stack(settings, pid, {"Authorization": f"Bearer {SCRAPE}"}, ("risk",))
        yield settings, url, pid
    finally:
        stop_stack(settings, pid)


def test_cli_from_a_plain_shell_writes_keys_where_the_stack_reads(pg_stack) -> None:
    settings, url, pid = pg_stack
    home = settings.home
    # the record: the stack's identity settings, mode 600, no secrets
    path = stack_record_path(home)
    assert path.stat().st_mode & 0o777 == 0o600
    record = read_stack_record(home)
    assert record["pid"] == pid and record["settings"]["database_url"] == url
    assert record["settings"]["profile"] == "production" and record["settings"]["auth_mode"] == "keys"
    assert record["settings"]["port_offset"] == settings.port_offset
    assert SCRAPE not in path.read_text()
    # what the CLI resolved, and from where
    shown = cli(home, "config", "--json")
    assert shown.returncode == 0, shown.stderr
    resolved = json.loads(shown.stdout)
    assert resolved["profile"] == "production" and resolved["origins"]["database_url"] == "stack"
    assert resolved["database_url"].startswith("postgresql://") and resolved["stack"]["pid"] == pid
    status = cli(home, "status")
    assert "profile production" in status.stdout and f"supervisor pid {pid}" in status.stdout, status.stdout

    # an admin request without a key fails (keys mode: no key exists yet, none sent)
    limits = f"{settings.gateway_url}/api/v1/risk/limits"
    assert httpx.put(limits, json=LIMITS, timeout=30).status_code == 401
    raw = new_key(cli(home, "keys", "add", "ops", "--role", "admin"))
    db = Database.from_url(url)
    try:
        row = db.find_api_key(raw)
        assert row is not None and row["name"] == "ops" and row["role"] == "admin"  # in PostgreSQL ...
    finally:
        db.dispose()
    assert sqlite_keys(settings) == 0  # ... and not in a SQLite file
    assert not (settings.data_dir / "nautilus.db").exists()
    # the stack accepts the key at once; still nothing without one
    r = httpx.put(limits, json=LIMITS, headers={"X-API-Key": raw}, timeout=60)
    assert r.status_code == 200, r.text
    assert httpx.put(limits, json=LIMITS, timeout=30).status_code == 401
    assert httpx.get(f"{settings.gateway_url}/openapi.json", timeout=30).status_code == 401
    assert httpx.get(f"{settings.gateway_url}/openapi.json", headers={"X-API-Key": raw}, timeout=30).status_code == 200
    # --home points a CLI started elsewhere at the same stack
    listed = cli(Path("/nonexistent-home"), "--home", str(home), "keys", "list")
    assert listed.returncode == 0 and "ops" in listed.stdout, listed.stdout + listed.stderr

    # an environment naming another database: writes refuse (exit 2, naming both), nothing is written
    other = f"sqlite:///{settings.home / 'elsewhere.db'}"
    refused = cli(home, "keys", "add", "intruder", "--role", "admin", env={"NAUTILUS_DATABASE_URL": other})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "refusing `nautilus keys add`" in message and "NAUTILUS_DATABASE_URL" in message
    assert other in message and "postgresql://" in message and str(pid) in message
    assert "nk_" not in refused.stdout and not (settings.home / "elsewhere.db").exists()
    # read-only commands warn and use the stack's database
    warned = cli(home, "keys", "list", env={"NAUTILUS_DATABASE_URL": other})
    assert warned.returncode == 0, warned.stderr
    assert "warning" in warned.stderr and "ops" in warned.stdout and "intruder" not in warned.stdout
    # the same database spelled with a driver is no conflict
    same = url.replace("postgresql://", "postgresql+psycopg://", 1)
    again = cli(home, "keys", "add", "ops2", "--role", "read", env={"NAUTILUS_DATABASE_URL": same,
                                                                    "NAUTILUS_PROFILE": "production"})
    new_key(again)
    assert "warning" not in again.stderr
    db = Database.from_url(url)
    try:
        assert {k["name"] for k in db.list_api_keys()} == {"ops", "ops2"}
    finally:
        db.dispose()

    # stopping removes the record: the CLI is back on its own environment
    stop_stack(settings, pid)
    assert not path.exists()
    after = json.loads(cli(home, "config", "--json").stdout)
    assert after["stack"] is None and after["database_url"].startswith("sqlite:")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_stacks_record_is_ignored(settings, pg_url) -> None:
    url = pg_url.render_as_string(hide_password=False)
    recorded = Settings(home=settings.home, database_url=url, profile="production", auth_mode="keys",
                        stack_record=False)
    write_stack_record(recorded, pid=_dead_pid())
    assert read_stack_record(settings.home) is not None and live_stack_record(settings.home) is None
    shown = json.loads(cli(settings.home, "config", "--json").stdout)
    assert shown["stack"] is None and shown["profile"] == "embedded" and shown["database_url"].startswith("sqlite:")
    # a write goes by the caller's own settings (the SQLite default), never to the dead stack's database
    new_key(cli(settings.home, "keys", "add", "local", "--role", "admin"))
    assert sqlite_keys(settings) == 1
    engine = make_engine(pg_url)
    try:
        assert "api_keys" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    # a live pid that is another process than the one recorded (a reused pid) does not count either
    record = read_stack_record(settings.home)
    record["pid"], record["process"] = os.getpid(), "1"
    stack_record_path(settings.home).write_text(json.dumps(record))
    assert live_stack_record(settings.home) is None
    assert Settings(home=settings.home).database_url != url
    # `nautilus down` clears the stale record
    down = cli(settings.home, "down")
    assert down.returncode == 0 and "no longer running" in down.stdout, down.stdout + down.stderr
    assert not stack_record_path(settings.home).exists()


def test_precedence_init_then_stack_then_environment(settings, monkeypatch) -> None:
    """Explicit keyword arguments > the running stack's record > environment > defaults."""
    stack_url = f"sqlite:///{settings.home / 'stack.db'}"
    write_stack_record(Settings(home=settings.home, database_url=stack_url, profile="production",
                                port_offset=settings.port_offset, stack_record=False))  # this process: alive
    monkeypatch.delenv("NAUTILUS_DATABASE_URL", raising=False)
    plain = Settings(home=settings.home)
    assert plain.database_url == stack_url and plain.origin("database_url") == "stack" and not plain.stack_conflicts()
    assert plain.profile == "production" and plain.running_stack["pid"] == os.getpid()
    monkeypatch.setenv("NAUTILUS_DATABASE_URL", "sqlite:////tmp/other.db")
    env = Settings(home=settings.home)
    assert env.database_url == stack_url
    assert env.stack_conflicts() == {"database_url": ("sqlite:////tmp/other.db", stack_url)}
    explicit = Settings(home=settings.home, database_url="sqlite:////tmp/mine.db")
    assert explicit.database_url == "sqlite:////tmp/mine.db" and explicit.origin("database_url") == "init"
    assert not explicit.stack_conflicts()
    off = Settings(home=settings.home, stack_record=False)
    assert off.database_url == "sqlite:////tmp/other.db" and off.running_stack is None
