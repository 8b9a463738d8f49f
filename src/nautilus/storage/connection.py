"""SQLAlchemy engines for a database URL: the psycopg 3 driver for PostgreSQL; for SQLite, WAL, foreign keys, a
busy timeout, real transactions (``BEGIN``, or ``BEGIN IMMEDIATE`` for a transaction marked :data:`SQLITE_WRITE`)
and read-only connections recycled once the file is writable again; outages surface as
:class:`~nautilus.core.errors.DatabaseUnavailable` (HTTP 503) naming their cause.

Below :mod:`nautilus.storage.db` (the repository) and :mod:`nautilus.storage.identity` (the guard), which both
open engines through :func:`make_engine`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError

from nautilus.core.errors import DatabaseUnavailable, database_outage_kind

# busy_timeout: a writer waits up to 30 s for the lock (a paper replay commits every bar and would starve a
# writer that gave up after 5 s; it then answered 503).
SQLITE_PRAGMAS: Final = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000")


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; plain ``postgresql://`` (or ``postgres://``) URLs get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; ``kwargs`` go to :func:`sqlalchemy.create_engine`."""
    parsed = normalize_url(url)
    if parsed.drivername.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)  # a connection lost with the server is replaced, not used
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _recycle_read_only_connections(engine, Path(parsed.database).absolute())
    event.listen(engine, "handle_error", _on_database_error)
    return engine


def _on_database_error(context: Any) -> BaseException | None:
    """An outage (read-only, disk full, locked, unreachable, ...) surfaces as :class:`DatabaseUnavailable` naming
    its cause (HTTP 503); one that leaves connections unusable (a connection SQLite opened read-only stays
    read-only after access returns) invalidates the whole pool, so the first statement after recovery works."""
    if context.is_pre_ping:  # the pool replaces a dead connection by itself
        return None
    kind = database_outage_kind(context.sqlalchemy_exception or context.original_exception)
    if kind is None:
        return None
    if kind.recycle:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True
    return DatabaseUnavailable(kind.cause, driver_message(context.original_exception))


def driver_message(exc: BaseException) -> str | None:
    """The driver's own words for SQLite (no host names or credentials in them); None for a server database."""
    if type(exc).__module__.startswith("sqlite3"):
        return str(exc).splitlines()[0][:200] if str(exc) else None
    return None


def _recycle_read_only_connections(engine: Engine, path: Path) -> None:
    """SQLite opens a file it may not write read-only, and such a connection stays read-only; worse, while one is
    open, the process's other connections to the file share its read-only WAL index and fail to write too. So a
    connection opened while the file was write-protected (it still serves reads) is flagged, and once the file
    is writable again the first checkout closes every idle connection (and replaces a flagged one), and a
    flagged one coming back to the pool is closed: writes work at once after access returns. (``os.access``
    with the effective ids; never an ``open``/``close`` of the file, which would drop SQLite's POSIX locks.)"""
    seen = [False]  # a flagged connection was opened since the last recovery

    def writable() -> bool:
        return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        if not writable():
            record.info[_READ_ONLY] = True
            seen[0] = True

    def on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        flagged = record.info.get(_READ_ONLY, False)
        if (seen[0] or flagged) and writable():
            if seen[0]:
                seen[0] = False
                engine.dispose()  # the idle ones, read-only ones among them
            if flagged:
                raise DisconnectionError("opened read-only; the file is writable again")  # the pool reconnects

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and record.info.get(_READ_ONLY) and writable():
            record.invalidate()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)


_READ_ONLY: Final = "nautilus_read_only"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver stops emitting BEGIN; _sqlite_on_begin does
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # A transaction that reads and then writes must take the write lock at BEGIN: in WAL mode its upgrade
    # fails at once with "database is locked" (no busy wait helps a stale snapshot) when another connection
    # committed in between. Database.writing() marks such transactions.
    immediate = connection.get_execution_options().get(SQLITE_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


SQLITE_WRITE: Final = "nautilus_sqlite_write"
