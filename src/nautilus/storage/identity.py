"""The database's identity: a lost or replaced database is an outage, never a fresh empty database.

Migration 0006 puts one row in ``database_identity`` when the schema is created: a random ``db_id``. The
first bootstrap of an installation records it beside the data (``<data_dir>/database.id``: JSON, one entry
per database URL, written atomically). From then on:

* every process that opens the database (:func:`nautilus.storage.bootstrap.migrate`: engines, the gateway,
  the CLI) compares the database's id with the recorded one *before* migrating anything. A SQLite file that
  is missing, a database without the identity row (empty, or someone else's) or one with another id is
  refused with :class:`DatabaseIdentityError`, naming the cause and the two ways out: restore the database,
  or accept the one that is there with ``nautilus db reset-identity --yes``;
* a running process watches the database it opened (:class:`IdentityGuard`, hooked into the connection
  pool): at most once per ``interval_s`` on use it compares the SQLite file's device and inode with those it
  opened (deleted or replaced under it), and every ``row_interval_s`` it reads the identity row (PostgreSQL
  schema dropped and recreated, a file overwritten in place). On a fault every connection is refused with
  :class:`~nautilus.core.errors.DatabaseUnavailable` naming the cause (HTTP 503) instead of writing into an
  unlinked file, ``nautilus_database_ok`` drops to 0 and the gateway's detailed health reports it. A file
  restored at the path with the same id is picked up again (the pool is emptied first).

SQLite connections of a guarded database never create the file (``mode=rw`` URIs), so a deleted database
cannot come back empty behind the process's back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InvalidatePoolError

from nautilus.core.errors import DatabaseUnavailable, Unavailable, database_outage_kind
from nautilus.storage.connection import make_engine, normalize_url
from nautilus.storage.metrics import DATABASE_OK

log = logging.getLogger("nautilus.storage.identity")

IDENTITY_FILE: Final = "database.id"
IDENTITY_QUERY: Final = "SELECT db_id FROM database_identity WHERE id = 1"
RESET_HINT: Final = "nautilus db reset-identity --yes"


class DatabaseIdentityError(Unavailable):
    """The database is not the one this installation recorded (missing, empty or replaced): refused at start
    (HTTP 503 ``unavailable``, CLI exit 1). ``cause`` is the short reason."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message, field="database_url")
        self.cause = cause


# Where the database lives ------------------------------------------------------------------------
def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (absolute), None for an in-memory SQLite or another database."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database
    if database.startswith("file:"):  # a URI filename (?uri=true)
        database = database[5:].split("?", 1)[0]
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
    return Path(os.path.abspath(database))


def url_key(url: str | URL) -> str:
    """The key of ``url`` in the identity file: the SQLite file's absolute path, else the URL without password."""
    path = sqlite_path(url)
    if path is not None:
        return f"sqlite:{path}"
    return normalize_url(url).render_as_string(hide_password=True)


# The record beside the data ----------------------------------------------------------------------
def identity_file(data_dir: Path) -> Path:
    return Path(data_dir) / IDENTITY_FILE


def _read_records(data_dir: Path) -> dict[str, Any]:
    file = identity_file(data_dir)
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        records = json.loads(raw)
    except ValueError as exc:
        raise DatabaseIdentityError(
            "the identity record is unreadable",
            f"{file} is not valid JSON ({exc}); restore it, or delete it to trust the database as it is") from exc
    if not isinstance(records, dict) or not isinstance(records.get("databases"), dict):
        raise DatabaseIdentityError("the identity record is unreadable",
                                    f"{file} has no 'databases' object; restore it, or delete it to trust the "
                                    "database as it is")
    return records


def recorded_id(data_dir: Path, url: str | URL) -> str | None:
    """The db_id recorded for ``url`` beside the data, None when none was."""
    entry = _read_records(data_dir).get("databases", {}).get(url_key(url))
    if isinstance(entry, dict) and isinstance(entry.get("db_id"), str) and entry["db_id"]:
        return entry["db_id"]
    return None


def _write_records(data_dir: Path, records: dict[str, Any]) -> None:
    """Replace the identity file atomically (temporary file, fsync, rename, fsync of the directory)."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".database.id.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(records, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, identity_file(directory))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def record_id(data_dir: Path, url: str | URL, db_id: str) -> None:
    records = _read_records(data_dir) or {"version": 1, "databases": {}}
    records.setdefault("databases", {})[url_key(url)] = {
        "db_id": db_id, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _write_records(data_dir, records)


def forget_id(data_dir: Path, url: str | URL) -> str | None:
    """Drop the record of ``url`` (the explicit reset); returns the id that was recorded."""
    records = _read_records(data_dir)
    entry = records.get("databases", {}).pop(url_key(url), None)
    if entry is None:
        return None
    _write_records(data_dir, records)
    return entry.get("db_id") if isinstance(entry, dict) else None


# The id in the database --------------------------------------------------------------------------
def forbid_create(engine: Engine, path: Path, guard: IdentityGuard | None = None) -> None:
    """Open ``engine``'s SQLite file with ``mode=rw``: a missing file is an error, never a new empty database
    (the guard's fault, when it has one, names the cause)."""

    def connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if cparams.get("uri"):
            return
        if guard is not None and not path.exists():
            guard.check_file()
            raise DatabaseUnavailable(guard.fault or "the database file is missing")
        cargs[0] = f"file:{quote(str(path))}?mode=rw"
        cparams["uri"] = True

    event.listen(engine, "do_connect", connect)


def read_database_id(url: str | URL) -> str | None:
    """The db_id stored in the database at ``url``: None when it has no identity row (an empty database, one
    migrated before 0006, or not Nautilus's). Never creates a SQLite file: a missing one is None too."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    engine = make_engine(url)
    if path is not None:
        forbid_create(engine, path)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("database_identity"):
                return None
            return connection.execute(text(IDENTITY_QUERY)).scalar()
    finally:
        engine.dispose()


def check_identity(data_dir: Path, url: str | URL) -> tuple[str | None, str | None]:
    """Before migrating: ``(recorded, actual)`` ids; raises :class:`DatabaseIdentityError` when a database was
    recorded and the one at ``url`` is missing, empty or another one."""
    recorded = recorded_id(data_dir, url)
    if recorded is None:
        return None, None
    where = identity_file(data_dir)
    path = sqlite_path(url)
    recover = (f"restore the database from a backup, or, to accept the database as it is now (its data and API "
               f"keys are not the recorded ones), run `{RESET_HINT}`")
    if path is not None and not path.exists():
        raise DatabaseIdentityError(
            "the database file is missing",
            f"the database file {path} is missing, but {where} records database {recorded} there; refusing to "
            f"create an empty one: {recover}")
    actual = read_database_id(url)
    shown = str(path) if path is not None else url_key(url)
    if actual is None:
        raise DatabaseIdentityError(
            "the database has no identity row",
            f"the database {shown} has no identity row (it is empty or not this installation's), but {where} "
            f"records database {recorded}; refusing to migrate it: {recover}")
    if actual != recorded:
        raise DatabaseIdentityError(
            "the database was replaced",
            f"the database {shown} is database {actual}, but {where} records database {recorded}: it was "
            f"replaced; refusing to use it: {recover}")
    return recorded, actual


# Watching a running process's database -------------------------------------------------------------
def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _read_sqlite_id(path: Path) -> str | None:
    """The id of the SQLite file at ``path`` through a fresh read-only connection (not the pool's)."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        row = connection.execute(IDENTITY_QUERY).fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return None if row is None else row[0]


class IdentityGuard:
    """Watches that ``engine`` still reaches database ``db_id`` (see the module docstring).

    ``fault`` is the current identity fault (None: none); ``outage`` the last reachability problem a probe saw.
    :meth:`health` reports both without blocking: the file check is a ``stat``; the identity row and the
    connection are probed in a background thread at most once per ``interval_s``.
    """

    def __init__(self, engine: Engine, db_id: str, interval_s: float = 1.0, row_interval_s: float = 5.0) -> None:
        self.engine = engine
        self.db_id = db_id
        self.interval_s = interval_s
        self.row_interval_s = row_interval_s
        self.path = sqlite_path(engine.url)
        self.file_fault: str | None = None
        self.row_fault: str | None = None
        self.outage: str | None = None
        self._pinned = _file_id(self.path) if self.path is not None else None
        if self.path is not None and self._pinned is None:
            self.file_fault = "the database file is missing"
        self._next_file = 0.0
        self._next_row = 0.0
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._probed_at = 0.0
        if self.path is not None:
            forbid_create(engine, self.path, self)
        event.listen(engine, "checkout", self._on_checkout)
        event.listen(engine, "handle_error", self._on_error)
        self._publish()

    @property
    def fault(self) -> str | None:
        return self.file_fault or self.row_fault

    # the file (SQLite) ------------------------------------------------------------------------------
    def check_file(self) -> bool:
        """Compare the path's device and inode with the opened ones; True when the pool must be recycled (a
        file with the same id was restored at the path)."""
        if self.path is None:
            return False
        with self._lock:
            self._next_file = time.monotonic() + self.interval_s
            current = _file_id(self.path)
            if current is not None and current == self._pinned:
                if self.file_fault is not None:  # e.g. a missing-file fault, the same file back (a rename)
                    self.file_fault = None
                    self._publish()
                return False
            if current is None:
                self._set_file_fault("the database file was deleted under the running process; restore it")
                return False
            found = _read_sqlite_id(self.path)
            if found == self.db_id:  # restored (a backup of the same database): use it, not the old inode
                log.warning("the database file %s was replaced by a copy of database %s; reopening it",
                            self.path, self.db_id)
                self._pinned = current
                self.file_fault = None
                self.engine.dispose(close=False)
                self._publish()
                return True
            cause = ("the database file was replaced by one without an identity row" if found is None else
                     f"the database file was replaced by another database ({found})")
            self._set_file_fault(cause)
            return False

    def _set_file_fault(self, cause: str) -> None:
        if self.file_fault != cause:
            log.error("database %s: %s (file %s)", self.db_id, cause, self.path)
            self.file_fault = cause
            self.engine.dispose(close=False)  # no connection to the old file is handed out again
            self._publish()

    # the identity row --------------------------------------------------------------------------------
    def _check_row(self, dbapi_connection: Any) -> None:
        self._next_row = time.monotonic() + self.row_interval_s
        dialect = self.engine.dialect
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(IDENTITY_QUERY)
            row = cursor.fetchone()
        except dialect.loaded_dbapi.Error as exc:
            text_ = str(exc).lower()
            missing = ("no such table" in text_ or getattr(exc, "sqlstate", None) == "42P01"
                       or "does not exist" in text_)
            if missing:
                self._set_row_fault("the database's identity row is gone (it was emptied or replaced)")
            else:
                self._next_row = 0.0  # not an identity problem: the caller's own statement will report it
        else:
            if row is None:
                self._set_row_fault("the database's identity row is gone (it was emptied or replaced)")
            elif row[0] != self.db_id:
                self._set_row_fault(f"the database was replaced by another one ({row[0]})")
            else:
                if self.row_fault is not None:
                    log.warning("database %s is back", self.db_id)
                    self.row_fault = None
                self.note_outage(None)
        finally:
            with contextlib.suppress(Exception):
                cursor.close()
            if dialect.name != "sqlite":  # psycopg opened a transaction for the SELECT
                with contextlib.suppress(Exception):
                    dbapi_connection.rollback()

    def _set_row_fault(self, cause: str) -> None:
        if self.row_fault != cause:
            log.error("database %s: %s", self.db_id, cause)
            self.row_fault = cause
            self._publish()

    # hooks -----------------------------------------------------------------------------------------
    def _on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        if self.path is not None and now >= self._next_file and self.check_file():
            raise InvalidatePoolError("the database file was restored")  # the pool reconnects this one and retries
        if self.file_fault is None and now >= self._next_row:
            self._check_row(dbapi_connection)
        fault = self.fault
        if fault is not None:
            raise DatabaseUnavailable(fault)

    def _publish(self) -> None:
        DATABASE_OK.set(0 if (self.fault or self.outage) else 1)

    def _on_error(self, context: Any) -> None:
        kind = database_outage_kind(context.original_exception)
        if kind is not None and kind.recycle:  # not a lock wait or a timeout: the database itself is out
            self.note_outage(kind.cause)

    def note_outage(self, cause: str | None) -> None:
        """Record what the last statement or probe saw (None: the database answered)."""
        if cause != self.outage:
            self.outage = cause
            self._publish()

    # health ----------------------------------------------------------------------------------------
    def probe(self) -> None:
        """Check out a connection (running the row check now) and record the outcome."""
        self._next_row = 0.0
        try:
            with self.engine.connect():
                pass
        except DatabaseUnavailable as exc:
            self.note_outage(None if exc.cause == self.fault else exc.cause)
        except DBAPIError as exc:
            kind = database_outage_kind(exc)
            self.note_outage(kind.cause if kind is not None else f"{type(exc.orig).__name__}")
        except Exception as exc:  # the probe must never take health down with it
            self.note_outage(f"{type(exc).__name__}")
        else:
            self.note_outage(None)

    def _probe_in_background(self) -> None:
        if not self._probe_lock.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self.probe()
            finally:
                self._probe_lock.release()

        self._probed_at = time.monotonic()
        threading.Thread(target=run, name="database-probe", daemon=True).start()

    def health(self) -> dict[str, Any]:
        """``{"ok", "cause", "id"}`` now (a ``stat`` for SQLite), refreshing the probe in the background."""
        self.check_file()
        if time.monotonic() - self._probed_at >= self.interval_s:
            self._probe_in_background()
        cause = self.fault or self.outage
        return {"ok": cause is None, "cause": cause, "id": self.db_id}
