"""Pre-trade limits in SQL (table ``risk_limits``): written by the Risk engine, read by every order checker.

An account has at most one row; its ``version`` grows by one with every set or reset (a reset keeps the row
with ``limits`` NULL, so a version never comes back). A reader caches an account's limits with their version
and revalidates them with one primary-key read of the version: the Portfolio engine does it inside the order's
own transaction (:meth:`LimitsStore.version` on the cursor of :meth:`Database.raw_transaction`), so an order is
never checked against limits older than a change that committed before the order's transaction began, and a
Risk engine's reply to a change comes only after its commit. Every change is audited in its own transaction.

The limits lived in ``DATA_DIR/risk/limits.json`` before; :meth:`LimitsStore.import_file` moves such a file in
(accounts that have no row yet), idempotent, so whichever engine starts first does it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import bindparam, insert, null, select

from nautilus.storage.db import Database
from nautilus.storage.models import AuditLog, RiskLimits, utcnow
from nautilus.storage.prepared import Prepared


@dataclass(frozen=True, slots=True)
class StoredLimits:
    """An account's row: ``version`` 0 when it never had one; ``body`` None when it has no limits of its own."""

    account: str
    version: int
    body: dict[str, Any] | None


class LimitsStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        key = RiskLimits.account == bindparam("b_account")
        self._version = Prepared(select(RiskLimits.version).where(key), db)
        self._row = Prepared(select(RiskLimits.version, RiskLimits.limits).where(key), db)

    # Reads ------------------------------------------------------------------------------------------
    def version(self, cursor: Any, account: str) -> int:
        """The account's version, read on ``cursor`` (a raw transaction's): the hot path's revalidation."""
        rows = self._version.rows(self._version.execute(cursor, {"b_account": account}))
        return rows[0]["version"] if rows else 0

    def read(self, cursor: Any, account: str) -> StoredLimits:
        """The account's row, read on ``cursor``."""
        rows = self._row.rows(self._row.execute(cursor, {"b_account": account}))
        if not rows:
            return StoredLimits(account, 0, None)
        return StoredLimits(account, rows[0]["version"], rows[0]["limits"])

    def get(self, account: str) -> StoredLimits:
        """The account's row, in a transaction of its own."""
        with self.db.engine.connect() as c:
            row = c.execute(select(RiskLimits.version, RiskLimits.limits).where(RiskLimits.account == account)).first()
        return StoredLimits(account, 0, None) if row is None else StoredLimits(account, row.version, row.limits)

    # Changes ----------------------------------------------------------------------------------------
    def put(self, account: str, body: dict[str, Any] | None, actor: str = "risk") -> tuple[StoredLimits, Any]:
        """Replace the account's limits (``None``: reset to the defaults); returns the new row and the body it
        replaced. Audited (``set_limits`` / ``reset_limits``) in the same transaction."""
        with self.db.writing() as session:
            old = session.execute(select(RiskLimits.version, RiskLimits.limits)
                                  .where(RiskLimits.account == account)).first()
            removed = None if old is None else old.limits
            if body is None and removed is None:  # nothing of its own to reset
                return StoredLimits(account, 0 if old is None else old.version, None), None
            stmt = self.db.upsert(RiskLimits).values(account=account, version=1, updated_at=utcnow(),
                                                     limits=null() if body is None else body)
            stmt = stmt.on_conflict_do_update(
                index_elements=[RiskLimits.account],
                set_={"limits": stmt.excluded.limits, "updated_at": stmt.excluded.updated_at,
                      "version": RiskLimits.version + 1}).returning(RiskLimits.version)
            version = session.execute(stmt).scalar_one()
            action, detail = ("set_limits", body) if body is not None else ("reset_limits", {"removed": removed})
            session.execute(insert(AuditLog), {"ts": utcnow(), "actor": actor, "action": action, "target": account,
                                               "detail": detail})
        return StoredLimits(account, version, body), removed

    def import_file(self, path: Path) -> list[str]:
        """Move the limits of a legacy ``limits.json`` ({account: body}) in: accounts without a row get theirs
        (version 1), then the file is renamed ``limits.json.imported``. Returns the accounts imported."""
        try:
            stored = msgspec.json.decode(path.read_bytes())
        except FileNotFoundError:
            return []
        imported = []
        with self.db.writing() as session:
            have = set(session.scalars(select(RiskLimits.account)))
            for account, body in stored.items():
                if account in have:
                    continue
                session.execute(insert(RiskLimits), {"account": account, "version": 1, "limits": body,
                                                     "updated_at": utcnow()})
                session.execute(insert(AuditLog), {"ts": utcnow(), "actor": "risk", "action": "import_limits",
                                                   "target": account, "detail": body})
                imported.append(account)
        try:
            os.replace(path, path.with_name(path.name + ".imported"))
        except FileNotFoundError:  # another process moved it first
            pass
        return imported
