"""Schema set-up shared by every process that opens the database, with the identity check.

:func:`migrate` is the one entry: it refuses a database that is not the one this installation recorded
(missing, empty or replaced; see :mod:`nautilus.storage.identity`) before migrating anything, brings the
schema to head, and records the database's id at the first bootstrap. :func:`open_database` also opens the
database with the guard that watches it while the process runs.
"""

from __future__ import annotations

import fcntl
from typing import Any

from nautilus.config import Settings
from nautilus.storage import identity
from nautilus.storage.db import Database, upgrade


def migrate(settings: Settings) -> str:
    """Check the database's identity, bring the schema to head once (whichever process gets there first) and
    return the database's id. Raises :class:`~nautilus.storage.identity.DatabaseIdentityError` for a missing,
    empty or replaced database once an id is recorded."""
    assert settings.runtime_dir is not None and settings.data_dir is not None
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = str(settings.database_url)
    with open(settings.runtime_dir / "migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded, _ = identity.check_identity(settings.data_dir, url)
        upgrade(url)
        if recorded is not None:
            return recorded
        db_id = identity.read_database_id(url)
        if db_id is None:  # pragma: no cover - migration 0006 makes the row
            raise identity.DatabaseIdentityError("the database has no identity row",
                                                 f"the migrated database {identity.url_key(url)} has no identity row")
        identity.record_id(settings.data_dir, url, db_id)
        return db_id


def open_database(settings: Settings, **engine_kwargs: Any) -> Database:
    """:func:`migrate`, then the :class:`Database` watched by its identity guard (503 naming the cause once the
    database is deleted, replaced or emptied under the process)."""
    db_id = migrate(settings)
    return Database.from_url(str(settings.database_url), **engine_kwargs).watch(db_id)
