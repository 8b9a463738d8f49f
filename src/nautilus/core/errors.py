"""Errors that cross engine boundaries with a stable code.

A handler raises one of these for bad input; the runtime carries ``code``/``field``/``message``
to the caller, the gateway maps them to HTTP statuses and the CLI to exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass


class NautilusError(Exception):
    """Base error: ``code`` picks the HTTP status, ``field`` names the offending input."""

    code = "error"
    status = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInput(NautilusError):
    """The request is malformed or its values are out of range (HTTP 422, exit 2)."""

    code = "invalid_input"
    status = 422


class NotFound(NautilusError):
    """A referenced object (symbol, timeframe, engine, method) does not exist (HTTP 404)."""

    code = "not_found"
    status = 404


class Conflict(NautilusError):
    """The request collides with existing state (HTTP 409)."""

    code = "conflict"
    status = 409


class EngineUnavailable(NautilusError):
    """No transport reached the engine (HTTP 503)."""

    code = "engine_unavailable"
    status = 503


class Unavailable(NautilusError):
    """A service the request needs (the database) is unreachable right now; retry later (HTTP 503)."""

    code = "unavailable"
    status = 503


class EngineRestarting(EngineUnavailable):
    """A stateful engine (one writer) is restarting and did not come back within the wait (HTTP 503 with
    ``Retry-After``); nothing of the request was done."""

    code = "engine_restarting"


class FencedOut(Unavailable):
    """This process's writer lease was taken over by a newer writer: its write was rolled back and it stops
    (HTTP 503; the caller retries and reaches the new writer)."""

    code = "fenced_out"


class DeadlineExceeded(NautilusError):
    """The request's deadline passed before the engine answered (HTTP 504); it is never re-run elsewhere."""

    code = "deadline_exceeded"
    status = 504


class RemoteError(NautilusError):
    """An engine failed while handling a request (HTTP 500 at the gateway, logged there)."""

    code = "engine_error"
    status = 500


class SourceError(NautilusError):
    """An external data source (Yahoo, FRED, an exchange, ...) answered with something unusable (HTTP 502).

    The message starts with the source's name and says the cause; nothing of the fetch was written.
    """

    code = "source_error"
    status = 502


class SourceAuthError(SourceError):
    """The source refused the credentials (missing, wrong or expired API key) (HTTP 502)."""

    code = "source_auth"


class SourceRateLimited(SourceError):
    """The source's rate limit or quota is exhausted, even after waiting and retrying (HTTP 429)."""

    code = "source_rate_limited"
    status = 429


class SourceUnreachable(SourceError):
    """The source could not be reached (network down, DNS, timeouts, 5xx) after retries (HTTP 503)."""

    code = "source_unreachable"
    status = 503


ERRORS_BY_CODE: dict[str, type[NautilusError]] = {
    cls.code: cls for cls in (NautilusError, InvalidInput, NotFound, Conflict, EngineUnavailable, Unavailable,
                              EngineRestarting, FencedOut, DeadlineExceeded, RemoteError, SourceError, SourceAuthError, SourceRateLimited, SourceUnreachable)
}


def error_from_code(code: str, message: str, field: str | None = None) -> NautilusError:
    return ERRORS_BY_CODE.get(code, RemoteError)(message, field)


class DatabaseUnavailable(Unavailable):
    """The SQL database cannot serve the request (HTTP 503 ``unavailable``): ``cause`` says why in a few words
    (read-only, disk full, locked, connection refused, deleted or replaced under the running process)."""

    def __init__(self, cause: str, detail: str | None = None) -> None:
        message = f"database unavailable: {cause}"
        if detail:
            message += f" ({detail})"
        super().__init__(message + "; retry later", field=None)
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Outage:
    """A database error that is an outage rather than a bad request or a bug.

    ``cause`` names it for the caller; ``recycle`` says that connections opened before it must not be reused
    (a connection SQLite opened read-only stays read-only after access returns; a PostgreSQL connection to a
    server that failed over or restarted is dead), so the pool is emptied and recovery is immediate.
    """

    cause: str
    recycle: bool


# SQLite primary result code (``sqlite3.Error.sqlite_errorcode & 0xFF``: an extended code refines its primary
# one, e.g. SQLITE_READONLY_DBMOVED) -> (cause, recycle)
_SQLITE_OUTAGES: dict[int, tuple[str, bool]] = {
    8: ("the database is read-only", True),  # SQLITE_READONLY
    13: ("the disk is full", True),  # SQLITE_FULL
    5: ("the database is locked", False),  # SQLITE_BUSY
    6: ("the database is locked", False),  # SQLITE_LOCKED
    14: ("the database file cannot be opened", True),  # SQLITE_CANTOPEN
    10: ("disk I/O error", True),  # SQLITE_IOERR
    11: ("the database file is corrupt", True),  # SQLITE_CORRUPT
    26: ("the database file is corrupt", True),  # SQLITE_NOTADB
}
# PostgreSQL SQLSTATE (class or code) -> (cause, recycle)
_PG_OUTAGES: dict[str, tuple[str, bool]] = {
    "25006": ("the database is read-only", True),
    "53100": ("the disk is full", True),
    "53200": ("the database server is out of memory", False),
    "53300": ("the database server has too many connections", False),
    "55P03": ("the database is locked", False),
    "57014": ("the database timed out", False),
    "57P01": ("the database server is shutting down", True),
    "57P02": ("the database server is shutting down", True),
    "57P03": ("the database server is starting up", True),
    "08": ("the connection to the database failed", True),
    "53": ("the database server is out of resources", False),
    "58": ("disk I/O error", True),
}


def database_outage_kind(exc: BaseException) -> Outage | None:
    """The :class:`Outage` ``exc`` is (read-only, disk full, locked, unreachable, ...), else None."""
    if isinstance(exc, DatabaseUnavailable):
        return Outage(exc.cause, False)
    try:
        from sqlalchemy.exc import DBAPIError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):  # SQLite: by its result code
        code = getattr(orig, "sqlite_errorcode", None)
        found = _SQLITE_OUTAGES.get(code & 0xFF) if isinstance(code, int) else None
        if found is not None:
            return Outage(*found)
        return Outage("the connection to the database was lost", True) if exc.connection_invalidated else None
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate:
        found = _PG_OUTAGES.get(sqlstate) or _PG_OUTAGES.get(sqlstate[:2])
        if found is not None:
            return Outage(*found)
    if exc.connection_invalidated:
        return Outage("the connection to the database was lost", True)
    if type(orig).__name__ in ("OperationalError", "InterfaceError"):  # psycopg: the connection failed
        text = str(orig).lower()
        if "refused" in text:
            return Outage("the database refused the connection", True)
        if "timeout" in text or "timed out" in text:
            return Outage("the connection to the database timed out", True)
        return Outage("the database is unreachable", True)
    return None


def database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being unavailable (unreachable, read-only, disk full, locked, ...)."""
    return database_outage_kind(exc) is not None
