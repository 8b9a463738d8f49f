"""Prepared statements on the DBAPI cursor bind, return and fail exactly as SQLAlchemy's Core path does.

Every round trip writes the same values through ``Connection.execute`` and through :class:`Prepared` and
compares what the database stored (the raw column text, and the values SQLAlchemy reads back) with each
other and with the values written. The PaperStore scenario checks a hand-worked order -> fill -> close
sequence. The checks live in ``tests/support/prepared_checks.py``; ``tests/integration/test_paper_store_pg.py`` runs
them on PostgreSQL.
"""

from __future__ import annotations

import pytest
from tests.support.prepared_checks import (
    check_audit_and_select,
    check_errors_and_rollback,
    check_executemany_upsert,
    check_orders_round_trip,
    check_store_scenario,
    check_unsupported_statement,
    run_store_scenario,
)

from nautilus.storage.db import Database


def test_orders_round_trip_like_core(db: Database) -> None:
    check_orders_round_trip(db)


def test_executemany_upsert_like_core(db: Database) -> None:
    check_executemany_upsert(db)


def test_audit_insert_and_select_like_core(db: Database) -> None:
    check_audit_and_select(db)


def test_errors_roll_back_and_surface_as_sqlalchemy(db: Database) -> None:
    check_errors_and_rollback(db)


def test_expanding_parameters_are_refused(db: Database) -> None:
    check_unsupported_statement(db)


def test_sqlite_raw_transaction_takes_the_write_lock_at_begin(db: Database) -> None:
    """BEGIN IMMEDIATE: while a raw transaction is open, another writer cannot start one (it would wait)."""
    other = db.engine.raw_connection()
    try:
        other.cursor().execute("PRAGMA busy_timeout=0")
        with db.raw_transaction(), pytest.raises(Exception, match="locked"):
            other.cursor().execute("BEGIN IMMEDIATE")
        other.cursor().execute("BEGIN IMMEDIATE")  # free again once it committed
        other.rollback()
    finally:
        other.cursor().execute("PRAGMA busy_timeout=30000")
        other.close()


def test_paper_store_scenario(db: Database) -> None:
    check_store_scenario(run_store_scenario(db))
