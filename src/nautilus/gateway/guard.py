"""Request guards (pure ASGI): size caps on the body and the query, and an audit entry for every
state-changing call.

* A body over ``max_body_mb`` (by its ``Content-Length``, or counted while it streams in) gets 413 and never
  reaches a route; a query string over ``max_query_bytes`` gets 414. Both answer with the API's error shape.
* Every request under ``/api`` with a method other than GET/HEAD/OPTIONS is audited after it is answered:
  actor (the API key's id and name, ``static`` or ``anonymous``), ``METHOD route-template``, the path and
  the status. Entries go through a background writer, so requests never wait on the database.
"""

from __future__ import annotations

from typing import Any

import msgspec

from nautilus.storage.audit import AuditWriter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _TooLarge(Exception):
    pass


async def _reject(send: Any, status: int, code: str, message: str, field: str) -> None:
    body = msgspec.json.encode({"error": {"code": code, "message": message, "field": field}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, max_query_bytes: int, audit: AuditWriter | None) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_query = max_query_bytes
        self.audit = audit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await _reject(send, 414, "too_large", f"the query string is over {self.max_query} bytes", "query")
            return
        length = chunked = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _reject(send, 413, "too_large", f"the request body is over {self.max_body} bytes", "body")
            return
        if scope.get("method") in SAFE_METHODS and length is None and chunked is None:
            await self.app(scope, receive, send)  # no body to count, nothing to audit
            return
        received = 0
        started = False
        status = 500

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise _TooLarge
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _reject(send, 413, "too_large", f"the request body is over {self.max_body} bytes", "body")
            status = 413
        finally:
            self._audit(scope, status)

    def _audit(self, scope: dict, status: int) -> None:
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        if self.audit is None or method in SAFE_METHODS or not path.startswith("/api/"):
            return
        actor = (scope.get("state") or {}).get("actor", "anonymous")
        route = getattr(scope.get("route"), "path", path)
        self.audit.write(actor, f"{method} {route}", path, {"status": status})
