"""The prepared-statement path and the PaperStore on a real PostgreSQL server (psycopg 3).

The round trips of ``tests/support/prepared_checks.py`` (prepared vs Core, value for value) run here on
PostgreSQL; the PaperStore scenario must store the same rows as on SQLite; and a server that is
unreachable or drops the connection mid-transaction surfaces as SQLAlchemy's ``OperationalError`` that
:func:`nautilus.core.errors.database_outage` recognises. Each test gets a fresh schema (see conftest);
with PostgreSQL unreachable they skip, except with ``CI`` set, where they fail.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import URL, insert, select, text
from sqlalchemy.exc import OperationalError
from tests.support.limits_checks import check_hot_path_reads, check_legacy_import, check_versions_and_resets
from tests.support.prepared_checks import (
    check_audit_and_select,
    check_errors_and_rollback,
    check_executemany_upsert,
    check_orders_round_trip,
    check_store_scenario,
    check_unsupported_statement,
    run_store_scenario,
)

from nautilus.core.errors import DatabaseUnavailable, database_outage
from nautilus.storage.connection import make_engine
from nautilus.storage.db import Database, upgrade
from nautilus.storage.models import AuditLog
from nautilus.storage.prepared import Prepared

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(pg_url: URL) -> Iterator[Database]:
    upgrade(pg_url)
    database = Database.from_url(pg_url)
    yield database
    database.dispose()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'data' / 'nautilus.db'}"
    upgrade(url)
    database = Database.from_url(url)
    yield database
    database.dispose()


def test_pg_limits_store(pg: Database, tmp_path: Path) -> None:
    """The pre-trade limits' versions, resets, hot-path reads and legacy import on PostgreSQL."""
    check_versions_and_resets(pg)
    check_hot_path_reads(pg)
    check_legacy_import(pg, tmp_path)


def test_pg_orders_round_trip_like_core(pg: Database) -> None:
    assert pg.engine.dialect.driver == "psycopg"
    check_orders_round_trip(pg)


def test_pg_executemany_upsert_like_core(pg: Database) -> None:
    check_executemany_upsert(pg)


def test_pg_audit_insert_and_select_like_core(pg: Database) -> None:
    check_audit_and_select(pg)


def test_pg_errors_roll_back_and_surface_as_sqlalchemy(pg: Database) -> None:
    check_errors_and_rollback(pg)


def test_pg_expanding_parameters_are_refused(pg: Database) -> None:
    check_unsupported_statement(pg)


def test_paper_store_stores_the_same_rows_on_postgresql_as_on_sqlite(pg: Database, lite: Database) -> None:
    on_pg = run_store_scenario(pg)
    on_sqlite = run_store_scenario(lite)
    check_store_scenario(on_pg)
    assert on_pg == on_sqlite


def test_unreachable_server_is_an_outage() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(make_engine(f"postgresql://postgres@127.0.0.1:{port}/test", connect_args={"connect_timeout": 2}))
    try:
        with pytest.raises(DatabaseUnavailable) as info, db.raw_transaction():
            pass
        assert info.value.status == 503 and "refused" in info.value.cause
    finally:
        db.dispose()


def test_connection_lost_mid_transaction_is_an_outage_and_the_pool_recovers(pg: Database, pg_admin_url: URL) -> None:
    audit = Prepared(insert(AuditLog), pg, ("ts", "actor", "action", "target", "detail"))
    entry = {"ts": datetime.now(UTC), "actor": "t", "action": "a", "target": None, "detail": {"k": 1}}
    admin = make_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(DatabaseUnavailable) as info, pg.raw_transaction() as cur:
            audit.execute(cur, entry)
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            with admin.connect() as c:
                assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            audit.execute(cur, entry)
        lost = info.value.__cause__
        assert isinstance(lost, OperationalError) and lost.connection_invalidated and database_outage(lost)
    finally:
        admin.dispose()
    assert pg.engine.pool.checkedout() == 0
    with pg.raw_transaction() as cur:  # a fresh connection; the lost transaction left nothing
        audit.execute(cur, entry)
    with pg.engine.begin() as c:
        assert c.execute(select(AuditLog.action)).scalars().all() == ["a"]
