"""Migrations and the SQL repository against a real SQLite file and a real PostgreSQL server.

PostgreSQL (``NAUTILUS_TEST_PG_URL``, default ``postgres@127.0.0.1:5432/test``, also tried as user
``root``) tests run in a fresh schema per test, dropped afterwards. When PostgreSQL is unreachable
they skip, except with ``CI`` set, where they fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, CheckConstraint, Engine, event, inspect, make_url, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from nautilus.core.errors import Conflict, InvalidInput, NotFound
from nautilus.storage.connection import make_engine
from nautilus.storage.db import MIGRATIONS_DIR, Database, alembic_config, downgrade, upgrade
from nautilus.storage.models import ApiKey, AuditLog, Base, CatalogSeries, Instrument

pytestmark = pytest.mark.integration

NS_2024 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    if request.param == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'data' / 'nautilus.db'}")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(url: URL) -> Iterator[Database]:
    upgrade(url)
    database = Database.from_url(url)
    yield database
    database.dispose()


def _near_now(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0) and (
        abs(datetime.now(UTC) - value) < timedelta(minutes=1)
    )


# Engine ---------------------------------------------------------------------------------------------
def test_plain_postgresql_url_uses_psycopg3() -> None:
    assert make_engine("postgresql://u@localhost/db").dialect.driver == "psycopg"
    assert make_engine("postgresql+psycopg://u@localhost/db").dialect.driver == "psycopg"


def test_sqlite_engine_sets_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'x.db'}")
    with engine.connect() as connection:
        pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "foreign_keys", "busy_timeout")}
    engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000}


# Migrations -----------------------------------------------------------------------------------------
def _assert_schema_matches_models(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    for name, table in Base.metadata.tables.items():
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        assert columns == {c.name: c.nullable for c in table.columns}, name
        assert inspector.get_pk_constraint(name)["constrained_columns"] == [c.name for c in table.primary_key]
        checks = {c["name"] for c in inspector.get_check_constraints(name)}
        assert checks == {c.name for c in table.constraints if isinstance(c, CheckConstraint)}, name
    with engine.connect() as connection:  # types, indexes, unique and foreign keys
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_upgrade_creates_exactly_the_model_tables(url: URL) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        _assert_schema_matches_models(engine)
    finally:
        engine.dispose()


def test_downgrade_to_base_drops_everything_and_upgrade_again_works(url: URL) -> None:
    upgrade(url)
    downgrade(url)
    engine = make_engine(url)
    try:
        assert inspect(engine).get_table_names() == ["alembic_version"]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0
        upgrade(url)
        _assert_schema_matches_models(engine)
    finally:
        engine.dispose()


def test_env_runs_from_a_url_without_a_connection(url: URL) -> None:
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            head = ScriptDirectory.from_config(config).get_current_head()
            assert head == f"{len(list(MIGRATIONS_DIR.glob('versions/0*.py'))):04d}"
            assert MigrationContext.configure(connection).get_current_revision() == head
        command.downgrade(config, "base")
        assert inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()


# Instruments and series -----------------------------------------------------------------------------
def test_upsert_instrument_inserts_then_updates_only_given_fields(db: Database) -> None:
    first = db.upsert_instrument("AAPL", name="Apple Inc.", asset_class="equity", currency="USD")
    again = db.upsert_instrument("AAPL", exchange="NASDAQ")
    unchanged = db.upsert_instrument("AAPL")

    assert first == again == unchanged
    [aapl] = db.list_instruments()
    created_at = aapl.pop("created_at")
    assert _near_now(created_at)
    assert aapl == {"id": first, "symbol": "AAPL", "name": "Apple Inc.", "asset_class": "equity",
                    "currency": "USD", "exchange": "NASDAQ", "series": []}


def test_upsert_instrument_rejects_unknown_fields(db: Database) -> None:
    with pytest.raises(InvalidInput, match="sector") as error:
        db.upsert_instrument("AAPL", sector="tech")
    assert error.value.field == "sector"
    assert db.list_instruments() == []


def test_record_series_keeps_one_row_per_symbol_and_timeframe(db: Database) -> None:
    db.upsert_instrument("SPY", name="SPDR S&P 500")
    db.record_series("SPY", "1m", NS_2024, NS_2024 + 99 * MINUTE, 100)
    db.record_series("SPY", "1m", NS_2024 - MINUTE, NS_2024 + 199 * MINUTE, 201)
    db.record_series("SPY", "1d", NS_2024, NS_2024, 1)
    db.record_series("BTCUSD", "1h", 0, 2**62, 7)  # creates the instrument; ns beyond int32 survive

    listed = db.list_instruments()
    assert [i["symbol"] for i in listed] == ["BTCUSD", "SPY"]
    assert listed[1]["name"] == "SPDR S&P 500"
    series = [{k: s[k] for k in ("timeframe", "first_ts", "last_ts", "rows")} for s in listed[1]["series"]]
    assert series == [
        {"timeframe": "1d", "first_ts": NS_2024, "last_ts": NS_2024, "rows": 1},
        {"timeframe": "1m", "first_ts": NS_2024 - MINUTE, "last_ts": NS_2024 + 199 * MINUTE, "rows": 201},
    ]
    assert listed[0]["series"][0]["last_ts"] == 2**62
    assert all(_near_now(s["updated_at"]) for s in listed[1]["series"])

    assert db.delete_series("SPY", "1m") == 1
    assert [s["timeframe"] for s in db.list_instruments()[1]["series"]] == ["1d"]
    assert db.delete_series("SPY") == 1
    assert db.list_instruments()[1]["series"] == []


@pytest.mark.parametrize(
    ("args", "field"),
    [(("SPY", "1m", 5, 4, 1), "first_ts"), (("SPY", "1m", 1, 2, -1), "rows"), (("SPY", "1x", 1, 2, 1), "timeframe")],
)
def test_record_series_rejects_bad_values(db: Database, args: tuple, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        db.record_series(*args)
    assert error.value.field == field
    assert db.list_instruments() == []


# Ingest runs and audit log --------------------------------------------------------------------------
def test_ingest_runs_are_started_finished_and_listed_newest_first(db: Database) -> None:
    csv_run = db.start_ingest_run("AAPL", "1d", "csv", path="/data/aapl.csv")
    synthetic_run = db.start_ingest_run("SPY", "1m", "synthetic")
    db.finish_ingest_run(csv_run, "ok", rows=252)
    db.finish_ingest_run(synthetic_run, "failed", error="disk full")

    newest, oldest = db.list_ingest_runs()
    assert newest | {"started_at": None, "finished_at": None} == {
        "id": synthetic_run, "symbol": "SPY", "timeframe": "1m", "source": "synthetic", "path": None,
        "rows": 0, "status": "failed", "error": "disk full", "started_at": None, "finished_at": None,
    }
    assert (oldest["id"], oldest["path"], oldest["rows"], oldest["status"], oldest["error"]) == (
        csv_run, "/data/aapl.csv", 252, "ok", None)
    assert _near_now(oldest["started_at"]) and oldest["started_at"] <= oldest["finished_at"]
    assert [run["id"] for run in db.list_ingest_runs(limit=1)] == [synthetic_run]


def test_ingest_run_errors(db: Database) -> None:
    run = db.start_ingest_run("AAPL", "1d", "csv")
    with pytest.raises(InvalidInput) as bad_status:
        db.finish_ingest_run(run, "done", rows=1)
    with pytest.raises(NotFound, match="ingest run 999"):
        db.finish_ingest_run(999, "ok", rows=1)
    assert bad_status.value.field == "status"
    assert db.list_ingest_runs()[0]["status"] == "running"


def test_audit_stores_json_detail(db: Database) -> None:
    detail = {"rows": 252, "symbols": ["AAPL", "MSFT"], "nested": {"ok": True, "ratio": 0.5}}
    entry_id = db.audit("alice", "ingest", "AAPL/1d", detail)

    with db.sessions() as session:
        entry = session.get(AuditLog, entry_id)
    assert entry is not None
    assert (entry.actor, entry.action, entry.target, entry.detail) == ("alice", "ingest", "AAPL/1d", detail)
    assert _near_now(entry.ts)


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.sessions.begin() as session:
        session.add(AuditLog(ts=datetime(2024, 1, 1), actor="a", action="b"))


# API keys -------------------------------------------------------------------------------------------
def test_api_keys_store_only_the_sha256_hash(db: Database) -> None:
    raw = "nk_live_5f2b8c0d9e"
    key_id = db.add_api_key("ci bot", raw, "trade")

    with db.sessions() as session:
        stored = session.get(ApiKey, key_id)
        all_values = [str(v) for row in session.execute(select(ApiKey.__table__)) for v in row]
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (stored.name, stored.role, stored.revoked_at) == ("ci bot", "trade", None)
    assert not any(raw in value for value in all_values)
    assert db.verify_api_key(raw) == "trade"
    assert db.verify_api_key(raw + "x") is None


def test_revoked_keys_are_rejected(db: Database) -> None:
    assert not db.has_active_api_keys()
    reader = db.add_api_key("reader", "key-read-1", "read")
    admin = db.add_api_key("admin", "key-admin-1", "admin")

    db.revoke_api_key(reader)
    db.revoke_api_key(reader)  # idempotent

    assert db.verify_api_key("key-read-1") is None
    assert db.verify_api_key("key-admin-1") == "admin"
    with db.sessions() as session:
        revoked_at = session.get(ApiKey, reader).revoked_at  # type: ignore[union-attr]
        assert session.get(ApiKey, admin).revoked_at is None  # type: ignore[union-attr]
    assert revoked_at is not None and _near_now(revoked_at)
    assert db.has_active_api_keys()
    db.revoke_api_key(admin)
    assert not db.has_active_api_keys()
    with pytest.raises(NotFound):
        db.revoke_api_key(12345)


def test_api_key_input_errors(db: Database) -> None:
    db.add_api_key("one", "same-key", "read")
    with pytest.raises(Conflict):
        db.add_api_key("two", "same-key", "admin")
    with pytest.raises(InvalidInput) as bad_role:
        db.add_api_key("three", "other-key", "root")
    assert bad_role.value.field == "role"
    with db.sessions() as session:
        assert session.scalars(select(ApiKey.name)).all() == ["one"]


# Transactions ---------------------------------------------------------------------------------------
def test_failure_mid_method_leaves_nothing(db: Database) -> None:
    """record_series inserts the instrument, then the series; failing the second undoes the first."""

    def fail_series_insert(conn, cursor, statement: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO catalog_series"):
            raise RuntimeError("injected failure")

    event.listen(db.engine, "before_cursor_execute", fail_series_insert)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            db.record_series("NEW", "1m", NS_2024, NS_2024, 1)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_series_insert)

    assert db.list_instruments() == []


def test_constraint_violation_rolls_back_the_whole_transaction(db: Database) -> None:
    with pytest.raises(IntegrityError), db.sessions.begin() as session:
        session.add(Instrument(symbol="QQQ"))
        session.flush()
        session.add(CatalogSeries(symbol="QQQ", timeframe="1m", first_ts=2, last_ts=1, rows=1))
    with pytest.raises(IntegrityError), db.sessions.begin() as session:  # foreign key enforced
        session.add(CatalogSeries(symbol="NOPE", timeframe="1m", first_ts=1, last_ts=2, rows=1))

    assert db.list_instruments() == []


def _model_fields(name: str = "dir") -> dict:
    return dict(name=name, task="direction", kind="lightgbm", objective="binary", target="direction_1",
                feature_set={"name": "direction", "features": []}, feature_names=["ret_1", "ret_5"],
                params={"num_leaves": 31}, metrics={"auc": 0.55}, folds=[{"fold": 0, "auc": 0.55}],
                symbols=["AAA"], timeframe="1d", first_ts=0, last_ts=10**18, n_rows=1000, artifact="/tmp/m")


def test_model_registry_versions_promote_and_rollback(db: Database) -> None:
    v1 = db.add_model(**_model_fields())
    v2 = db.add_model(**_model_fields())
    other = db.add_model(**_model_fields("vol"))
    assert (v1["version"], v2["version"], other["version"]) == (1, 2, 1)
    assert v1["stage"] == "candidate" and v1["feature_names"] == ["ret_1", "ret_5"]
    assert db.get_model("dir")["version"] == 2  # no production version yet: the latest
    db.promote_model("dir", 1)
    assert db.get_model("dir")["version"] == 1  # production wins over latest
    db.promote_model("dir", 2)
    stages = {m["version"]: m["stage"] for m in db.list_models("dir")}
    assert stages == {1: "archived", 2: "production"}
    restored = db.rollback_model("dir")
    assert restored["version"] == 1 and db.get_model("dir")["version"] == 1
    assert {m["version"]: m["stage"] for m in db.list_models("dir")} == {1: "production", 2: "archived"}
    with pytest.raises(Conflict):
        db.delete_model("dir", 1)  # production
    assert db.delete_model("dir", 2)["version"] == 2
    with pytest.raises(Conflict):
        db.rollback_model("dir")  # nothing earlier left
    with pytest.raises(NotFound):
        db.get_model("dir", 7)
    with pytest.raises(NotFound):
        db.get_model("nope")
    assert [m["name"] for m in db.list_models()] == ["vol", "dir"]


def test_read_then_write_transactions_wait_for_a_concurrent_writer(tmp_path) -> None:
    """On SQLite (WAL) a transaction that reads and then writes fails at once with "database is locked" when
    another connection commits in between, whatever the busy timeout; Database.writing() takes the write lock at
    BEGIN instead, so it waits and succeeds."""
    import threading

    from nautilus.core.errors import DatabaseUnavailable
    from nautilus.storage.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'lock.db'}"
    upgrade(url)
    db = Database.from_url(url)
    db.upsert_instrument("AAA")
    read_done, wrote = threading.Event(), threading.Event()

    def writer() -> None:
        read_done.wait(5)
        db.upsert_instrument("BBB")  # commits between the other transaction's read and its write
        wrote.set()

    def read_then_write(session_factory) -> None:
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            with session_factory() as session:
                session.execute(text("SELECT count(*) FROM instruments")).scalar()
                read_done.set()
                wrote.wait(0.5)
                session.execute(text("INSERT INTO instruments (symbol, created_at) VALUES ('CCC', '2024-01-01')"))
        finally:
            read_done.set()
            thread.join()

    with pytest.raises(DatabaseUnavailable, match="database is locked"):  # 503 naming it, not a 500
        read_then_write(db.sessions.begin)
    read_done.clear()
    wrote.clear()
    read_then_write(db.writing)  # the writer waits for us instead
    assert {i["symbol"] for i in db.list_instruments()} == {"AAA", "BBB", "CCC"}
    db.dispose()
