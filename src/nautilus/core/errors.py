"""Errors that cross engine boundaries with a stable code.

A handler raises one of these for bad input; the runtime carries ``code``/``field``/``message``
to the caller, the gateway maps them to HTTP statuses and the CLI to exit code 2.
"""

from __future__ import annotations


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


def database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being unreachable (connection refused, lost or timed out)."""
    try:
        from sqlalchemy.exc import DBAPIError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return False
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):  # SQLite: busy past the timeout, or the file unreachable
        text = str(orig).lower()
        return any(s in text for s in ("database is locked", "unable to open", "disk i/o"))
    return type(orig).__name__ in ("OperationalError", "InterfaceError")  # psycopg: the connection failed
