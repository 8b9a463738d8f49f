"""Storage unit tests: a migrated SQLite database of its own per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nautilus.config import Settings
from nautilus.storage.bootstrap import migrate
from nautilus.storage.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    migrate(settings)
    database = Database.from_url(str(settings.database_url))
    yield database
    database.dispose()
