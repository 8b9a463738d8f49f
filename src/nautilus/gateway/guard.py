"""Request guards (pure ASGI): the site checks (Host, Origin, body type), size caps on the body and the query,
and an audit entry for every state-changing call.

* Host allow-list (DNS rebinding): a request whose ``Host`` is not a loopback name (localhost, 127.0.0.1,
  [::1]), the configured ``host`` or one of ``allowed_hosts`` gets 421, on every path and on ``/ws``.
* Origin: a POST/PUT/PATCH/DELETE or a ``/ws`` handshake whose ``Origin`` is present and is not the
  dashboard's (``web_url``, and its loopback aliases), one of ``cors_origins`` or the gateway's own (the
  origin of the allowed ``Host``) gets 403; so does one that a browser marks ``Sec-Fetch-Site: cross-site``
  without an Origin. Requests without an Origin (curl, the client, the CLI) pass.
* Body types: a state-changing ``/api`` request with a body must send ``application/json`` (415 otherwise, so a
  cross-site ``text/plain`` "simple request" never reaches a route); ``multipart/form-data`` only on the upload
  routes (``upload_paths``: the ingest).

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
CLOSE_FORBIDDEN = 4403  # a /ws handshake refused before accept (the server answers HTTP 403)


def host_name(value: bytes) -> bytes:
    """The name of a ``Host`` header value, without the port, lower case (``[::1]:8001`` -> ``[::1]``)."""
    value = value.strip().lower()
    if value.startswith(b"["):
        end = value.find(b"]")
        return value[:end + 1] if end > 0 else value
    return value.split(b":", 1)[0]


def allowed_host_names(configured: list[str]) -> frozenset[bytes]:
    names = {b"localhost", b"127.0.0.1", b"[::1]"}
    for host in configured:
        host = host.strip().lower()
        if not host:
            continue
        if ":" in host and not host.startswith("["):  # a bare IPv6 address
            host = f"[{host}]"
        names.add(host_name(host.encode("idna") if not host.startswith("[") else host.encode()))
    return frozenset(names)


def allowed_origins(web_url: str, extra: list[str]) -> list[str]:
    """The dashboard's origin (with its loopback aliases when it is on loopback) and the configured ones."""
    origins = [web_url.rstrip("/").lower()]
    scheme, _, rest = origins[0].partition("://")
    name = host_name(rest.encode()).decode()
    port = rest[len(name):]
    if name in ("localhost", "127.0.0.1", "[::1]"):
        origins += [f"{scheme}://{alias}{port}" for alias in ("localhost", "127.0.0.1", "[::1]") if alias != name]
    origins += [o.rstrip("/").lower() for o in extra if o.strip()]
    return list(dict.fromkeys(origins))


class _TooLarge(Exception):
    pass


async def _reject(send: Any, status: int, code: str, message: str, field: str) -> None:
    body = msgspec.json.encode({"error": {"code": code, "message": message, "field": field}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """``hosts``: allowed ``Host`` names (:func:`allowed_host_names`; None: any); ``origins``: allowed
    ``Origin`` values besides the gateway's own (None: any); ``upload_paths``: routes that take multipart."""

    def __init__(self, app: Any, max_body_bytes: int, max_query_bytes: int, audit: AuditWriter | None,
                 hosts: frozenset[bytes] | None = None, origins: list[str] | None = None,
                 upload_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_query = max_query_bytes
        self.audit = audit
        self.hosts = hosts
        self.origins = None if origins is None else frozenset(o.encode() for o in origins)
        self.upload_paths = upload_paths
        self._host_ok: dict[bytes, bool] = {}

    def _host_allowed(self, host: bytes) -> bool:
        ok = self._host_ok.get(host)
        if ok is None:
            assert self.hosts is not None
            ok = host_name(host) in self.hosts
            if len(self._host_ok) < 1024:  # a bounded memo: hostile Host values are not remembered forever
                self._host_ok[host] = ok
        return ok

    def _origin_allowed(self, origin: bytes, host: bytes | None) -> bool:
        origin = origin.strip().lower().rstrip(b"/")
        if self.origins is None or origin in self.origins:
            return True
        if host is None:
            return False
        host = host.strip().lower()
        return origin in (b"http://" + host, b"https://" + host)  # the gateway's own origin (Host is allowed)

    def _site_refusal(self, scope: dict, headers: dict[bytes, bytes], state_changing: bool) -> tuple[int, str, str,
                                                                                                    str] | None:
        host = headers.get(b"host")
        if self.hosts is not None and host is not None and not self._host_allowed(host):
            return (421, "misdirected_request", f"host {host_name(host).decode('latin-1')[:100]!r} is not served "
                    "here: the gateway answers loopback names, its host and NAUTILUS_ALLOWED_HOSTS", "Host")
        if not state_changing:
            return None
        origin = headers.get(b"origin")
        if origin is not None:
            if not self._origin_allowed(origin, host):
                return (403, "forbidden_origin", f"cross-site request from {origin.decode('latin-1')[:100]!r} "
                        "refused: only the dashboard's origin and NAUTILUS_CORS_ORIGINS may change state", "Origin")
        elif headers.get(b"sec-fetch-site") == b"cross-site":
            return 403, "forbidden_origin", "cross-site request refused", "Origin"
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket":
            headers = dict(scope.get("headers", ()))
            refusal = self._site_refusal(scope, headers, True)
            if refusal is not None:  # before accept: the server answers HTTP 403
                await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN, "reason": refusal[2][:120]})
                return
            await self.app(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await _reject(send, 414, "too_large", f"the query string is over {self.max_query} bytes", "query")
            return
        length = chunked = host = origin = ctype = fetch_site = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"content-type":
                ctype = value
            elif name == b"sec-fetch-site":
                fetch_site = value
        method = scope.get("method")
        if host is not None and self.hosts is not None and not self._host_allowed(host):
            await _reject(send, *self._site_refusal(scope, {b"host": host}, False))  # type: ignore[misc]
            return
        if method not in SAFE_METHODS:
            if origin is not None or fetch_site == b"cross-site":
                site: dict[bytes, bytes] = {b"sec-fetch-site": fetch_site or b""}
                if host is not None:
                    site[b"host"] = host
                if origin is not None:
                    site[b"origin"] = origin
                refusal = self._site_refusal(scope, site, True)
                if refusal is not None:
                    await _reject(send, *refusal)
                    return
            has_body = chunked is not None or (length is not None and length.strip() not in (b"", b"0"))
            if (ctype is not None or has_body) and scope.get("path", "").startswith("/api/"):
                media = (ctype or b"").split(b";", 1)[0].strip().lower()
                json_body = media == b"application/json" or (media.startswith(b"application/")
                                                             and media.endswith(b"+json"))
                upload = media == b"multipart/form-data" and scope.get("path") in self.upload_paths
                if not (json_body or upload):
                    what = media.decode("latin-1")[:100] or "no content type"
                    takes = "application/json or multipart/form-data" if scope.get("path") in self.upload_paths \
                        else "application/json"
                    await _reject(send, 415, "unsupported_media_type", f"this route takes {takes}, not {what}",
                                  "Content-Type")
                    return
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _reject(send, 413, "too_large", f"the request body is over {self.max_body} bytes", "body")
            return
        if method in SAFE_METHODS and length is None and chunked is None:
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
