"""The database's identity (SQLite): recorded at the first bootstrap, checked by every later one, watched while
a process runs. A missing, empty or replaced database is refused, never silently recreated or migrated."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from nautilus.core.errors import DatabaseUnavailable, database_outage, database_outage_kind
from nautilus.storage import identity
from nautilus.storage.bootstrap import migrate, open_database
from nautilus.storage.db import Database


def db_file(settings) -> Path:
    return settings.data_dir / "nautilus.db"


def raw_id(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT db_id FROM database_identity").fetchone()[0]


def copy_database(src: Path, dst: Path) -> None:
    """A consistent copy (the WAL folded in) at ``dst``, replacing what is there by a new inode."""
    tmp = dst.with_name(dst.name + ".tmp")
    with sqlite3.connect(src) as source, sqlite3.connect(tmp) as target:
        source.backup(target)
    for suffix in ("-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    os.replace(tmp, dst)


def gauge() -> float | None:
    return REGISTRY.get_sample_value("nautilus_database_ok")


def test_first_bootstrap_records_the_id_and_later_ones_agree(settings) -> None:
    db_id = migrate(settings)
    assert db_id == raw_id(db_file(settings))  # the oracle: the row migration 0006 made
    record = json.loads((settings.data_dir / "database.id").read_text())
    assert record["databases"][f"sqlite:{db_file(settings)}"]["db_id"] == db_id
    assert migrate(settings) == db_id
    assert identity.recorded_id(settings.data_dir, str(settings.database_url)) == db_id


def test_a_deleted_file_is_refused_and_not_recreated(settings) -> None:
    db_id = migrate(settings)
    db_file(settings).unlink()
    with pytest.raises(identity.DatabaseIdentityError) as refused:
        migrate(settings)
    assert refused.value.cause == "the database file is missing"
    assert db_id in refused.value.message and identity.RESET_HINT in refused.value.message
    assert str(db_file(settings)) in refused.value.message
    assert refused.value.status == 503 and refused.value.code == "unavailable"
    assert not db_file(settings).exists()  # never a fresh empty database


def test_an_empty_file_and_a_replacement_are_refused(settings, tmp_path) -> None:
    migrate(settings)
    db_file(settings).unlink()
    sqlite3.connect(db_file(settings)).close()  # an empty database where ours was
    with pytest.raises(identity.DatabaseIdentityError, match="no identity row"):
        migrate(settings)
    with sqlite3.connect(db_file(settings)) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []  # nothing was migrated

    other = settings.model_copy(update={"data_dir": tmp_path / "other", "database_url": None})
    other.data_dir.mkdir()
    other_url = f"sqlite:///{other.data_dir / 'nautilus.db'}"
    other.database_url = other_url
    other_id = migrate(other)
    copy_database(other.data_dir / "nautilus.db", db_file(settings))
    with pytest.raises(identity.DatabaseIdentityError, match="replaced") as refused:
        migrate(settings)
    assert other_id in refused.value.message


def test_reset_identity_accepts_the_database_that_is_there(settings) -> None:
    old = migrate(settings)
    db_file(settings).unlink()
    with pytest.raises(identity.DatabaseIdentityError):
        migrate(settings)
    assert identity.forget_id(settings.data_dir, str(settings.database_url)) == old
    new = migrate(settings)
    assert new != old and new == raw_id(db_file(settings))
    assert identity.recorded_id(settings.data_dir, str(settings.database_url)) == new


def test_a_database_without_a_record_is_adopted(settings) -> None:
    db_id = migrate(settings)
    (settings.data_dir / "database.id").unlink()
    assert migrate(settings) == db_id  # the record beside the data was lost, the database was not


def test_a_file_deleted_under_a_running_process_is_refused(settings) -> None:
    db = open_database(settings)
    db.guard.interval_s = 0.0  # check on every use (default: at most once per second)
    try:
        db.upsert_instrument("AAA")
        assert db.health()["ok"] is True and gauge() == 1
        db_file(settings).unlink()
        with pytest.raises(DatabaseUnavailable, match="deleted") as refused:
            db.upsert_instrument("BBB")
        assert refused.value.status == 503
        with pytest.raises(DatabaseUnavailable, match="deleted"):
            db.list_instruments()  # reads too: never from the unlinked file
        assert not db_file(settings).exists()
        health = db.health()
        assert health["ok"] is False and "deleted" in health["cause"]
        assert gauge() == 0
    finally:
        db.dispose()


def test_a_replaced_file_is_refused_and_a_restored_one_is_used(settings, tmp_path) -> None:
    db = open_database(settings)
    db.guard.interval_s = 0.0
    try:
        db.upsert_instrument("AAA")
        backup = tmp_path / "backup.db"
        copy_database(db_file(settings), backup)
        db.upsert_instrument("AFTER")  # written after the backup: gone with the restore

        stranger = tmp_path / "stranger"
        stranger_settings = settings.model_copy(update={"data_dir": stranger,
                                                        "database_url": f"sqlite:///{stranger / 'nautilus.db'}"})
        migrate(stranger_settings)
        copy_database(stranger / "nautilus.db", db_file(settings))
        with pytest.raises(DatabaseUnavailable, match="replaced by another database"):
            db.upsert_instrument("BBB")
        assert db.health()["ok"] is False

        copy_database(backup, db_file(settings))  # the operator restores the backup
        db.upsert_instrument("CCC")
        assert [i["symbol"] for i in db.list_instruments()] == ["AAA", "CCC"]
        with sqlite3.connect(db_file(settings)) as connection:  # into the file at the path, not an old inode
            assert connection.execute("SELECT count(*) FROM instruments WHERE symbol = 'CCC'").fetchone() == (1,)
        assert db.health() == {"ok": True, "cause": None, "id": raw_id(db_file(settings))}
    finally:
        db.dispose()


def test_an_identity_row_changed_in_place_is_refused(settings) -> None:
    db = open_database(settings)
    db.guard.row_interval_s = 0.0
    try:
        db.upsert_instrument("AAA")
        with sqlite3.connect(db_file(settings)) as connection:
            connection.execute("UPDATE database_identity SET db_id = 'someone-else'")
        with pytest.raises(DatabaseUnavailable, match="replaced by another one"):
            db.upsert_instrument("BBB")
        with sqlite3.connect(db_file(settings)) as connection:
            connection.execute("DELETE FROM database_identity")
        with pytest.raises(DatabaseUnavailable, match="identity row is gone"):
            db.list_instruments()
    finally:
        db.dispose()


def test_an_unwatched_database_reports_healthy_without_an_id(tmp_path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.health() == {"ok": True, "cause": None, "id": None}
    finally:
        db.dispose()


def _sqlite_error(message: str, code: int | None) -> sqlite3.OperationalError:
    """As the driver raises it: with its (extended) result code."""
    err = sqlite3.OperationalError(message)
    if code is not None:
        err.sqlite_errorcode = code  # type: ignore[attr-defined]
    return err


@pytest.mark.parametrize(("message", "code", "cause", "recycle"), [
    ("attempt to write a readonly database", sqlite3.SQLITE_READONLY, "read-only", True),
    ("attempt to write a readonly database", 1032, "read-only", True),  # SQLITE_READONLY_DBMOVED
    ("database or disk is full", sqlite3.SQLITE_FULL, "disk is full", True),
    ("database is locked", sqlite3.SQLITE_BUSY, "locked", False),
    ("database table is locked", sqlite3.SQLITE_LOCKED, "locked", False),
    ("unable to open database file", sqlite3.SQLITE_CANTOPEN, "cannot be opened", True),
    ("disk I/O error", 266, "I/O", True),  # SQLITE_IOERR_READ
    ("file is not a database", sqlite3.SQLITE_NOTADB, "corrupt", True),
    ("database disk image is malformed", sqlite3.SQLITE_CORRUPT, "corrupt", True),
])
def test_sqlite_outages_are_classified_by_result_code(message, code, cause, recycle) -> None:
    exc = OperationalError("INSERT", {}, _sqlite_error(message, code))
    kind = database_outage_kind(exc)
    assert kind is not None and cause in kind.cause and kind.recycle is recycle
    assert database_outage(exc)
    no_column = _sqlite_error("no such column: x", sqlite3.SQLITE_ERROR)
    assert database_outage_kind(OperationalError("x", {}, no_column)) is None
    # the code decides, never the text: a message that reads like an outage without the code is not one
    assert database_outage_kind(OperationalError("x", {}, _sqlite_error(message, None))) is None


def test_a_real_sqlite_outage_carries_its_code(tmp_path) -> None:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    kind = database_outage_kind(OperationalError("INSERT", {}, info.value))
    assert kind is not None and "read-only" in kind.cause and kind.recycle


def test_the_identity_file_is_replaced_atomically(settings) -> None:
    migrate(settings)
    leftovers = [p for p in settings.data_dir.iterdir() if p.name.startswith(".database.id.")]
    assert leftovers == []
    (settings.data_dir / "database.id").write_text("{not json")
    with pytest.raises(identity.DatabaseIdentityError, match="not valid JSON"):
        migrate(settings)
    shutil.rmtree(settings.data_dir)


def test_cli_refuses_a_lost_database_until_reset_identity(settings, monkeypatch) -> None:
    from typer.testing import CliRunner

    from nautilus import config
    from nautilus.cli import app

    monkeypatch.setenv("NAUTILUS_HOME", str(settings.home))
    for name in ("NAUTILUS_DATABASE_URL", "NAUTILUS_DATA_DIR", "NAUTILUS_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    config.get_settings.cache_clear()
    try:
        runner = CliRunner()
        added = runner.invoke(app, ["keys", "add", "ops", "--role", "admin"])
        assert added.exit_code == 0, added.output
        old = identity.recorded_id(settings.data_dir, str(settings.database_url))
        assert old is not None and runner.invoke(app, ["db", "identity"]).exit_code == 0

        db_file(settings).unlink()
        for command in (["keys", "list"], ["keys", "add", "x"], ["keys", "revoke", "1"]):
            refused = runner.invoke(app, command)
            assert refused.exit_code == 1, (command, refused.output)
            assert "missing" in refused.output and "reset-identity" in refused.output
            assert not db_file(settings).exists()
        assert runner.invoke(app, ["db", "identity"]).exit_code == 1
        assert runner.invoke(app, ["db", "reset-identity"]).exit_code == 2  # needs --yes

        reset = runner.invoke(app, ["db", "reset-identity", "--yes"])
        assert reset.exit_code == 0, reset.output
        new = identity.recorded_id(settings.data_dir, str(settings.database_url))
        assert new not in (None, old) and new == raw_id(db_file(settings))
        assert "no API keys" in reset.output
        listed = runner.invoke(app, ["keys", "list"])
        assert listed.exit_code == 0 and "ops" not in listed.output
    finally:
        config.get_settings.cache_clear()
