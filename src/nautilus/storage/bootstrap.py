"""Schema set-up shared by every process that opens the database."""

from __future__ import annotations

import fcntl

from nautilus.config import Settings
from nautilus.storage.db import upgrade


def migrate(settings: Settings) -> None:
    """Bring the SQL schema to head once, whichever process gets there first."""
    assert settings.runtime_dir is not None
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    with open(settings.runtime_dir / "migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        upgrade(str(settings.database_url))
