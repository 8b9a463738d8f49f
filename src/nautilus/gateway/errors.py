"""One error shape for every route: ``{"error": {"code", "message", "field"}}`` with a 4xx status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from nautilus.core.errors import NautilusError, Unavailable, database_outage_kind

log = logging.getLogger("nautilus.gateway")
RETRY_AFTER_S = 2  # seconds; set from settings.retry_after_s when the app is built


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status)


def install(app: FastAPI) -> None:
    global RETRY_AFTER_S
    settings = getattr(app.state, "settings", None)
    if settings is not None:
        RETRY_AFTER_S = settings.retry_after_s
    @app.exception_handler(NautilusError)
    async def nautilus_error(_: Request, exc: NautilusError) -> JSONResponse:
        if exc.status >= 500 and exc.code != "engine_unavailable":
            log.error("engine error: %s", exc.message)
        response = error_response(exc.status, exc.code, exc.message, exc.field)
        if exc.status == 503:  # a restarting engine or an unreachable service: say when to come back
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        return database_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path", "header", "form")]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg', 'invalid')}" if field else first.get("msg", "invalid request")
        return error_response(422, "invalid_input", message, field)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return http_error_response(exc)


def database_error_response(exc: DBAPIError | Unavailable) -> JSONResponse:
    """The gateway's own database calls (API keys): an outage is a 503 naming its cause (with ``Retry-After``),
    anything else a logged 500."""
    if isinstance(exc, Unavailable):
        message = exc.message
    else:
        kind = database_outage_kind(exc)
        if kind is None:
            log.exception("database error")
            return error_response(500, "internal_error", "a database error occurred")
        message = f"database unavailable: {kind.cause}; retry later"
    log.warning("%s", message)
    response = error_response(503, "unavailable", message)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def http_error_response(exc: HTTPException) -> JSONResponse:
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
            413: "too_large", 429: "rate_limited"}.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response
