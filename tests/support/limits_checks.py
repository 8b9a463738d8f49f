"""Checks of the SQL store of pre-trade limits (:mod:`nautilus.storage.limits`), run on SQLite by
``tests/unit/storage/test_limits_store.py`` and on PostgreSQL by ``tests/integration/test_paper_store_pg.py``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, text

from nautilus.storage.db import Database
from nautilus.storage.limits import LimitsStore, StoredLimits
from nautilus.storage.models import RiskLimits


def check_versions_and_resets(db: Database) -> None:
    """A version per change; a reset keeps the row (SQL NULL); each change audited."""
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
        assert c.execute(text("SELECT limits IS NULL FROM risk_limits WHERE account = 'a'")).scalar_one() in (1, True)
    assert store.put("a", {})[0] == StoredLimits("a", 4, {})  # explicitly empty: its own, checking nothing
    assert store.get("b").version == 0  # per account
    actions = [(e["action"], e["target"]) for e in reversed(db.list_audit(10))]
    assert actions == [("set_limits", "a"), ("set_limits", "a"), ("reset_limits", "a"), ("set_limits", "a")]
    assert db.list_audit(10, action="reset_limits")[0]["detail"] == {"removed": {"min_cash": 0.0}}


def check_hot_path_reads(db: Database) -> None:
    """The version and the row, read on a raw transaction's cursor."""
    store = LimitsStore(db)
    store.put("hot", {"max_order_notional": 5.0})
    with db.raw_transaction() as cur:
        assert store.version(cur, "hot") == 1 and store.version(cur, "nobody") == 0
        assert store.read(cur, "hot") == StoredLimits("hot", 1, {"max_order_notional": 5.0})
        assert store.read(cur, "nobody") == StoredLimits("nobody", 0, None)


def check_legacy_import(db: Database, tmp_path: Path) -> None:
    """A legacy limits.json moves in once; rows set since win."""
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
        rows = select(RiskLimits.account).where(RiskLimits.account.in_(["kept", "old"]))
        assert sorted(c.execute(rows).scalars()) == ["kept", "old"]
    assert [e["target"] for e in db.list_audit(10, action="import_limits")] == ["old"]
