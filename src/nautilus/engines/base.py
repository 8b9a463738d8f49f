"""Base class of the engines that read the bar catalog and keep state in the SQL database.

The catalog (and with it pyarrow) is opened on first use, so an engine whose requests so far only
touched SQL has not loaded it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from nautilus.config import Settings
from nautilus.runtime.engine import Engine
from nautilus.storage.bootstrap import open_database
from nautilus.storage.db import Database

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog
    from nautilus.storage.lease import WriterLease


class StorageEngine(Engine):
    """Opens the Parquet catalog (with its row-group cache) on first use and, on start, the migrated database."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._catalog: BarCatalog | None = None
        self._catalog_lock = threading.Lock()
        self.db: Database | None = None
        self.lease: WriterLease | None = None

    @property
    def catalog(self) -> BarCatalog:
        """The bar catalog, opened by the first caller (one instance per engine)."""
        if self._catalog is None:
            with self._catalog_lock:
                if self._catalog is None:
                    from nautilus.storage.catalog import BarCatalog

                    settings = self.settings
                    self._catalog = BarCatalog(settings.catalog_dir, cache_bytes=settings.catalog_cache_mb * 2**20)
        return self._catalog

    def start(self) -> None:
        self.settings.ensure_dirs()
        self.db = open_database(self.settings)  # refuses a missing or replaced database; watched while running
        if self.stateful:  # one writer: take the lease (fencing every write) before loading any state
            from nautilus.storage.lease import WriterLease

            self.lease = WriterLease(self.db, self.name, ttl_s=self.settings.writer_lease_ttl_s,
                                     on_lost=self._lease_lost)
            self.lease.acquire()

    def _lease_lost(self, why: str) -> None:
        if self.on_fatal is not None:
            self.on_fatal(why)

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
        if self.db is not None:
            self.db.dispose()

    @property
    def database(self) -> Database:
        assert self.db is not None, "engine not started"
        return self.db
