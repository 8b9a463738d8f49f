"""Pre-trade limits in SQL on SQLite: one row per account whose version grows with every change (a reset keeps
the row, NULL), each change audited in its own transaction, the hot-path reads on a raw transaction's cursor,
and the import of a legacy ``limits.json`` (the checks: ``tests/support/limits_checks.py``)."""

from __future__ import annotations

from pathlib import Path

from tests.support.limits_checks import check_hot_path_reads, check_legacy_import, check_versions_and_resets

from nautilus.storage.db import Database


def test_versions_grow_with_every_change_and_a_reset_keeps_the_row(db: Database) -> None:
    check_versions_and_resets(db)


def test_hot_path_reads_on_the_order_transaction(db: Database) -> None:
    check_hot_path_reads(db)


def test_a_legacy_limits_file_is_imported_once(db: Database, tmp_path: Path) -> None:
    check_legacy_import(db, tmp_path)
