"""Pre-trade limits in SQL: one row per account whose version grows with every change (a reset keeps the row,
NULL), each change audited in its own transaction, the hot-path reads on a raw transaction's cursor, and the
import of a legacy ``limits.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from nautilus.config import Settings
from nautilus.storage.bootstrap import migrate
from nautilus.storage.db import Database
from nautilus.storage.limits import LimitsStore, StoredLimits
from nautilus.storage.models import RiskLimits


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    migrate(settings)
    database = Database.from_url(str(settings.database_url))
    yield database
    database.dispose()


def test_versions_grow_with_every_change_and_a_reset_keeps_the_row(db: Database) -> None:
    store = LimitsStore(db)
    assert store.get("a") == StoredLimits("a", 0, None)
    assert store.put("a", None) == (StoredLimits("a", 0, None), None)  # nothing to reset: nothing written
    first, replaced = store.put("a", {"max_order_notional": 10.0})
    assert first == StoredLimits("a", 1, {"max_order_notional": 10.0}) and replaced is None
    second, replaced = store.put("a", {"min_cash": 0.0})
    assert second.version == 2 and replaced == {"max_order_notional": 10.0}
    reset, removed = store.put("a", None)
    assert reset == StoredLimits("a", 3, None) and removed == {"min_cash": 0.0}
    assert store.put("a", None) == (StoredLimits("a", 3, None), None)  # already reset: the version stays
    with db.engine.connect() as c:  # SQL NULL, not the JSON text null
        assert c.execute(text("SELECT limits IS NULL FROM risk_limits WHERE account = 'a'")).scalar_one() == 1
    assert store.put("a", {})[0] == StoredLimits("a", 4, {})  # explicitly empty: its own, checking nothing
    assert store.get("b").version == 0  # per account
    actions = [(e["action"], e["target"]) for e in reversed(db.list_audit(10))]
    assert actions == [("set_limits", "a"), ("set_limits", "a"), ("reset_limits", "a"), ("set_limits", "a")]
    assert db.list_audit(10, action="reset_limits")[0]["detail"] == {"removed": {"min_cash": 0.0}}


def test_hot_path_reads_on_the_order_transaction(db: Database) -> None:
    store = LimitsStore(db)
    store.put("a", {"max_order_notional": 5.0})
    with db.raw_transaction() as cur:
        assert store.version(cur, "a") == 1 and store.version(cur, "nobody") == 0
        assert store.read(cur, "a") == StoredLimits("a", 1, {"max_order_notional": 5.0})
        assert store.read(cur, "nobody") == StoredLimits("nobody", 0, None)


def test_a_legacy_limits_file_is_imported_once(db: Database, tmp_path: Path) -> None:
    store = LimitsStore(db)
    store.put("kept", {"min_cash": -5.0})  # set since: the row wins over the file
    path = tmp_path / "risk" / "limits.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"kept": {"min_cash": 0.0}, "old": {"max_order_notional": 7.0}}))
    assert store.import_file(path) == ["old"]
    assert not path.exists() and path.with_name("limits.json.imported").exists()
    assert store.get("old") == StoredLimits("old", 1, {"max_order_notional": 7.0})
    assert store.get("kept").body == {"min_cash": -5.0}
    assert store.import_file(path) == []  # gone: nothing to do (another engine imported it)
    with db.engine.connect() as c:
        assert sorted(c.execute(select(RiskLimits.account)).scalars()) == ["kept", "old"]
    assert [e["target"] for e in db.list_audit(10, action="import_limits")] == ["old"]
