"""Base class of the engines that read the bar catalog and keep state in the SQL database."""

from __future__ import annotations

from nautilus.config import Settings
from nautilus.runtime.engine import Engine
from nautilus.storage.bootstrap import migrate
from nautilus.storage.catalog import BarCatalog
from nautilus.storage.db import Database


class StorageEngine(Engine):
    """Opens the Parquet catalog (with its row-group cache) and, on start, the migrated database."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.catalog = BarCatalog(settings.catalog_dir, cache_bytes=settings.catalog_cache_mb * 2**20)
        self.db: Database | None = None

    def start(self) -> None:
        self.settings.ensure_dirs()
        migrate(self.settings)
        self.db = Database.from_url(str(self.settings.database_url))

    def close(self) -> None:
        if self.db is not None:
            self.db.dispose()

    @property
    def database(self) -> Database:
        assert self.db is not None, "engine not started"
        return self.db
