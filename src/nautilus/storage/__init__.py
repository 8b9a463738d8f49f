"""Storage: SQL state (models, migrations, repository) and the Parquet bar catalog."""

from nautilus.storage.catalog import BarCatalog, SeriesStats
from nautilus.storage.db import Database, downgrade, make_engine, session_factory, upgrade

__all__ = ["BarCatalog", "Database", "SeriesStats", "downgrade", "make_engine", "session_factory", "upgrade"]
