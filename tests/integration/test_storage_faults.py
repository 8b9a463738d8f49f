"""Storage faults under a running process: a read-only database, a deleted or replaced one, a PostgreSQL schema
emptied under the process. Every one answers 503 ``unavailable`` naming the cause (never 500, never a write into
a lost file), is reported in the detailed health and in ``nautilus_database_ok``, and recovery is immediate once
the database is back; audit entries written meanwhile arrive exactly once."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text
from tests.support.readonly import read_only

from nautilus.core.errors import DatabaseUnavailable
from nautilus.storage import identity
from nautilus.storage.audit import AuditWriter
from nautilus.storage.bootstrap import migrate, open_database
from nautilus.storage.connection import make_engine
from nautilus.storage.db import Database

pytestmark = pytest.mark.integration


def db_file(settings) -> Path:
    return settings.data_dir / "nautilus.db"


def audit_rows(path: Path, action: str) -> list[tuple]:
    # closed at once: sqlite3's own ``with`` only commits, and a connection this thread opened read-only that
    # lingers until garbage collection shares its read-only WAL index with the process's other connections
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT actor, target, ts FROM audit_log WHERE action = ? ORDER BY id",
                                  (action,)).fetchall()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# Read-only ------------------------------------------------------------------------------------------------
def test_read_only_database_is_503_naming_it_and_recovers_at_once(settings) -> None:
    db = open_database(settings)
    try:
        db.upsert_instrument("AAA")
        with read_only(db_file(settings)):
            db.engine.dispose()  # connections opened during the outage (a restarted worker, a grown pool)
            with pytest.raises(DatabaseUnavailable, match="read-only") as refused:
                db.upsert_instrument("BBB")
            assert refused.value.status == 503 and refused.value.code == "unavailable"
            assert [i["symbol"] for i in db.list_instruments()] == ["AAA"]  # reads still work
        # access is back: the next write succeeds (no read-only connection kept in the pool)
        db.upsert_instrument("CCC")
        assert [i["symbol"] for i in db.list_instruments()] == ["AAA", "CCC"]
    finally:
        db.dispose()


def test_read_only_prepared_transaction_is_503_and_recovers(settings) -> None:
    from sqlalchemy import insert

    from nautilus.storage.models import AuditLog, utcnow
    from nautilus.storage.prepared import Prepared

    db = open_database(settings)
    stmt = Prepared(insert(AuditLog), db, columns=("ts", "actor", "action", "target", "detail"))
    row = {"ts": utcnow(), "actor": "t", "action": "prepared", "target": None, "detail": None}
    try:
        with db.raw_transaction() as cursor:
            stmt.execute(cursor, row)
        with read_only(db_file(settings)):
            db.engine.dispose()
            with pytest.raises(DatabaseUnavailable, match="read-only"), db.raw_transaction() as cursor:
                stmt.execute(cursor, row)
        with db.raw_transaction() as cursor:
            stmt.execute(cursor, row)
        assert len(audit_rows(db_file(settings), "prepared")) == 2
    finally:
        db.dispose()


def test_audit_entries_written_while_read_only_arrive_exactly_once(settings) -> None:
    db = open_database(settings)
    failures = REGISTRY.get_sample_value("nautilus_audit_write_failures_total", {"writer": "ro-audit"}) or 0.0
    try:
        with read_only(db_file(settings)):
            db.engine.dispose()
            writer = AuditWriter(db, "ro-audit", spill_dir=settings.runtime_dir, retry_s=0.05, max_retry_s=0.2)
            for i in range(25):
                writer.write("tester", "ro", f"t{i}", {"i": i})
            assert writer.flush(timeout=10) is False  # handled, but kept: the database refused them
            assert writer.failures >= 1 and writer.pending == 25
            assert audit_rows(db_file(settings), "ro") == []
        assert wait_for(lambda: writer.pending == 0)
        assert writer.flush(timeout=10) is True
        rows = audit_rows(db_file(settings), "ro")
        assert [r[1] for r in rows] == [f"t{i}" for i in range(25)]  # each once, in order
        now = REGISTRY.get_sample_value("nautilus_audit_write_failures_total", {"writer": "ro-audit"})
        assert now == failures + writer.failures
        writer.close()
    finally:
        db.dispose()


def test_audit_entries_spill_to_a_file_and_the_next_writer_replays_them(settings) -> None:
    db = open_database(settings)
    spill = settings.runtime_dir / "audit-spill-spill-audit.jsonl"
    try:
        with read_only(db_file(settings)):
            db.engine.dispose()
            writer = AuditWriter(db, "spill-audit", spill_dir=settings.runtime_dir, max_pending=3,
                                 retry_s=30.0)
            for i in range(10):
                writer.write("tester", "spill", f"s{i}", {"i": i})
            writer.flush(timeout=10)
            assert writer.pending == 10
            writer.close()  # still read-only: what is left in memory goes to the file too
            lines = [json.loads(line) for line in spill.read_text().splitlines()]
            assert [row["target"] for row in lines] == [f"s{i}" for i in range(10)]
            assert audit_rows(db_file(settings), "spill") == []
        replayer = AuditWriter(db, "spill-audit", spill_dir=settings.runtime_dir, retry_s=0.05)
        assert wait_for(lambda: replayer.flush(timeout=1))
        rows = audit_rows(db_file(settings), "spill")
        assert [r[1] for r in rows] == [f"s{i}" for i in range(10)]
        assert [r[2][:19] for r in rows] == [row["ts"][:19].replace("T", " ") for row in lines]  # when written
        assert spill.read_text() == ""
        replayer.close()
        assert len(audit_rows(db_file(settings), "spill")) == 10
    finally:
        db.dispose()


# Lost or replaced, through the gateway -------------------------------------------------------------------
def test_gateway_reports_a_deleted_database_and_refuses_with_503(settings, monkeypatch) -> None:
    from nautilus.gateway import app as gateway_app
    from nautilus.gateway.app import create_app

    monkeypatch.setattr(gateway_app, "HEALTH_CACHE_S", 0.0)
    settings.auth_mode = "keys"
    migrate(settings)
    seed = Database.from_url(str(settings.database_url))
    seed.add_api_key("admin", "nk_test_admin_key", "admin")
    seed.dispose()
    headers = {"X-API-Key": "nk_test_admin_key"}
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as api:
        app.state.db.guard.interval_s = 0.0
        health = api.get("/api/v1/system/health", headers=headers)
        assert health.status_code == 200, health.text
        assert health.json()["database"]["ok"] is True
        assert health.json()["database"]["id"] == identity.recorded_id(settings.data_dir, settings.database_url)

        db_file(settings).unlink()
        app.state.key_checker._verified.clear()  # no cached verdict: the key must be looked up now
        refused = api.get("/api/v1/marketdata/instruments", headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert "deleted" in refused.json()["error"]["message"]
        assert "Retry-After" in refused.headers
        assert api.get("/api/v1/marketdata/instruments").status_code in (401, 503)  # never open without a key
        detailed = api.get("/api/v1/system/health", headers=headers)
        assert detailed.status_code in (200, 503), detailed.text
        if detailed.status_code == 200:  # the key was verified before the deletion: cached for a moment
            assert detailed.json()["database"]["ok"] is False
            assert "deleted" in detailed.json()["database"]["cause"]
        assert api.get("/health").json()["status"] != "ok"
        assert not db_file(settings).exists()
    detailed = app.state.engines.health()
    assert detailed["database"]["ok"] is False and "deleted" in detailed["database"]["cause"]
    assert REGISTRY.get_sample_value("nautilus_database_ok") == 0
    with pytest.raises(identity.DatabaseIdentityError, match="missing"):  # and the next start refuses it
        migrate(settings)


# PostgreSQL ------------------------------------------------------------------------------------------------
def test_postgres_schema_emptied_under_a_running_process_is_refused(settings, pg_url) -> None:
    settings.database_url = pg_url.render_as_string(hide_password=False)
    db = open_database(settings)
    db.guard.row_interval_s = 0.0
    schema = pg_url.query["options"].split("=", 1)[1]
    try:
        db.upsert_instrument("AAA")
        assert db.health()["id"] == identity.recorded_id(settings.data_dir, settings.database_url)
        with db.engine.begin() as connection:  # someone recreates the schema empty
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        with pytest.raises(DatabaseUnavailable, match="identity row is gone"):
            db.upsert_instrument("BBB")
        assert wait_for(lambda: db.health()["ok"] is False)
        with pytest.raises(identity.DatabaseIdentityError, match="no identity row"):
            migrate(settings)  # a restart refuses to migrate the empty schema
        check = make_engine(pg_url)
        try:
            with check.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM information_schema.tables "
                                               "WHERE table_schema = :s"), {"s": schema}).scalar() == 0
        finally:
            check.dispose()
    finally:
        db.dispose()
