"""API-key authentication (header ``X-API-Key``), scoped roles and per-key rate limits for ``/api``.

Authentication fails closed. ``auth_mode=keys`` (the default) needs a key on every ``/api`` request, on
``/metrics`` and ``/metrics/engines/{name}``, on the detailed health (``/api/v1/system/health``) and on the API
description (``/openapi.json``: the docs pages ``/docs`` and ``/redoc`` load without one and ask for it); when no
key exists at all (none in the database, none in ``NAUTILUS_API_KEYS``) every such request is a 401 that says
how to create one. ``auth_mode=open`` is the explicit local mode without keys, refused on a non-loopback bind
(:func:`check_bind`). An empty key table never turns authentication off.

Keys come from settings (``NAUTILUS_API_KEYS``, role admin) and from the database (stored as sha256 digests
with a role; ``nautilus keys add|list|revoke``). Prometheus may instead send ``Authorization: Bearer
<metrics_token>`` on the metrics and detailed-health paths (read only). :class:`AuthMiddleware` (pure ASGI)
checks every such HTTP request before routing, so an unknown ``/api`` path without a key is a 401, not a 404.
(As a FastAPI dependency on every route the check cost ~15% of the gateway's CPU per request.) The WebSocket
authenticates in its own handshake with a one-use ticket (:class:`TicketBook`): keys never travel in URLs.

Revocation takes effect at once across processes without a database round trip per request: verified keys
are cached only while the key table's *version* is unchanged (:class:`KeyWatch`). On SQLite the version is
``PRAGMA data_version`` of a private read connection (it changes when any other connection, in any process,
commits; microseconds, no I/O) and, when it moved, a fingerprint of ``api_keys`` read on that connection; a
replaced database file (another inode) resets it. On PostgreSQL a listener thread ``LISTEN``s on
``nautilus_api_keys``, which every key change notifies inside its own transaction (delivered at commit); while
the listener is not connected nothing is cached and every request reads the key from the database.

Roles are ranked ``read < trade < admin`` and each path needs one (:func:`required_role`): reading and
computing (GET, and POSTs that only compute: VaR, backtests, indicators, predictions, ...) need ``read``;
paper trading, training and stream control need ``trade``; everything else that changes state
(limits, ingest, the model registry, feature sets, deletions) needs ``admin``. A key may make
``rate_limit_per_s`` requests per second on average with bursts of ``rate_limit_burst`` (token bucket,
per key and gateway process); beyond that it gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from nautilus.core.errors import Unavailable
from nautilus.gateway import errors
from nautilus.storage.db import Database

log = logging.getLogger("nautilus.gateway.auth")

CACHE_MAX_S = 60.0  # backstop: a verified key is re-read at least this often even when no change was seen
NOTIFY_CHANNEL: Final = "nautilus_api_keys"
ROLE_RANK: Final = {"read": 0, "trade": 1, "admin": 2}
API_ROOT: Final = "/api/"
API: Final = "/api/v1"
DETAILED_HEALTH: Final = f"{API}/system/health"
OPENAPI: Final = "/openapi.json"  # the API description: a key in keys mode, like the API (the docs pages ask)
LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
NO_KEYS: Final = ("no API key exists: create one with `nautilus keys add NAME --role admin` and send it as the "
                  "X-API-Key header, or set NAUTILUS_AUTH_MODE=open for local use without keys (loopback only)")
READ_POSTS: Final = frozenset(f"{API}{p}" for p in (
    "/risk/var", "/risk/cvar", "/risk/stress", "/risk/backtest", "/strategy/indicators", "/strategy/patterns",
    "/strategy/scan", "/strategy/backtest", "/strategy/sweep", "/features/compute", "/factors/compute",
    "/factors/research", "/ml/predict", "/analytics/stats", "/analytics/report", "/stream/ticket",
))
TRADE_PREFIXES: Final = tuple(f"{API}{p}" for p in (
    "/portfolio/", "/risk/check-order", "/ml/train", "/ml/jobs/", "/stream/",
))


def required_role(method: str, path: str) -> str:
    """The least role that may call ``method`` on ``path`` (a request path, or a route template: the policy
    names fixed paths and prefixes without parameters, so a template and its paths get the same role)."""
    if method in ("GET", "HEAD", "OPTIONS") or path in READ_POSTS:
        return "read"
    if path.startswith(TRADE_PREFIXES):
        return "trade"
    return "admin"


def protected(path: str) -> bool:
    """Whether ``path`` needs a key in keys mode: ``/api``, the metrics and the API description
    (``/openapi.json``, any role); ``/health`` and the docs pages (``/docs``, ``/redoc``: the viewer only, which
    asks for a key and fetches the description with it) stay public."""
    return (path.startswith(API_ROOT) or path == "/metrics" or path.startswith("/metrics/")
            or path == OPENAPI)


def scrape_path(path: str) -> bool:
    """Paths the metrics token may read: the metrics and the detailed health."""
    return path == "/metrics" or path.startswith("/metrics/") or path == DETAILED_HEALTH


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(settings: Any, bind_host: str) -> None:
    """Refuse open mode (no keys) on an address other machines can reach."""
    if settings.auth_mode == "open" and not is_loopback(bind_host):
        raise SystemExit(f"error: NAUTILUS_AUTH_MODE=open (no API keys) refuses to listen on {bind_host!r}, which "
                         "is not a loopback address: bind to 127.0.0.1, or use keys (NAUTILUS_AUTH_MODE=keys and "
                         "`nautilus keys add NAME --role admin`)")


@dataclass(frozen=True, slots=True)
class Identity:
    actor: str  # "key:<id>:<name>", "static" (a settings key) or "metrics" (the scrape token)
    role: str


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> float:
        """0 when a request may go now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class KeyWatch:
    """The key table's version as this process can see it cheaply; ``None`` when it cannot tell (then nothing
    may be cached). Base class: never knows (every lookup reads the database)."""

    def version(self) -> Any:
        return None

    def close(self) -> None:
        pass


class SqliteKeyWatch(KeyWatch):
    """``PRAGMA data_version`` of a private autocommit connection, then a fingerprint of ``api_keys`` when it
    moved (any commit by another connection moves it; the fingerprint tells key changes from the rest)."""

    FINGERPRINT = ("SELECT count(*), coalesce(max(id), 0), count(revoked_at), "
                   "coalesce(sum(length(role) * id), 0) FROM api_keys")

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._inode: tuple[int, int] | None = None
        self._data_version: int | None = None
        self._fingerprint: Any = None
        self._generation = 0

    def version(self) -> Any:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        inode = (st.st_dev, st.st_ino)
        with self._lock:
            try:
                if self._conn is None or inode != self._inode:
                    self._reopen(inode)
                assert self._conn is not None
                data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version != self._data_version:
                    fingerprint = self._conn.execute(self.FINGERPRINT).fetchone()
                    self._data_version = data_version
                    if fingerprint != self._fingerprint:
                        self._fingerprint = fingerprint
                        self._generation += 1
            except sqlite3.Error:
                self._drop()
                return None
            return (self._inode, self._generation)

    def _reopen(self, inode: tuple[int, int]) -> None:
        self._drop()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1.0)
        self._inode = inode
        self._generation += 1

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
        self._data_version = self._fingerprint = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class PostgresKeyWatch(KeyWatch):
    """A daemon thread that ``LISTEN``s on :data:`NOTIFY_CHANNEL`; the version is a counter of notifications
    (and of reconnections), ``None`` while the listener is not connected."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._generation = 0
        self._live = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nautilus-key-watch", daemon=True)
        self._thread.start()

    def version(self) -> Any:
        return self._generation if self._live else None

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._generation += 1  # anything may have changed while not listening
                    self._live = True
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._generation += 1
                        conn.execute("SELECT 1")  # notices a dead connection within a second
            except Exception as exc:  # the database is down: no caching until the listener is back
                log.warning("API key change listener lost: %s", type(exc).__name__)
            finally:
                self._live = False
            self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()


def key_watch(db: Database) -> KeyWatch:
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteKeyWatch(url.database)
    if url.get_backend_name() == "postgresql":
        return PostgresKeyWatch(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    return KeyWatch()


class TicketBook:
    """One-use, short-lived tickets for ``/ws`` (browsers cannot set headers on a WebSocket and keys never go in
    URLs): ``POST /api/v1/stream/ticket`` with a key issues one; the handshake redeems it once. Tickets live in
    this gateway process's memory (one gateway process per stack)."""

    MAX_OUTSTANDING = 10_000

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._tickets: dict[str, tuple[float, Identity | None, str | None]] = {}
        self._lock = threading.Lock()

    def issue(self, identity: Identity | None, key: str | None) -> tuple[str, float]:
        """A new ticket and its expiry (epoch seconds)."""
        now = time.monotonic()
        with self._lock:
            if len(self._tickets) >= self.MAX_OUTSTANDING:
                self._tickets = {t: v for t, v in self._tickets.items() if v[0] > now}
                if len(self._tickets) >= self.MAX_OUTSTANDING:
                    self._tickets.pop(next(iter(self._tickets)))
            ticket = "wst_" + secrets.token_urlsafe(24)
            self._tickets[ticket] = (now + self.ttl_s, identity, key)
        return ticket, time.time() + self.ttl_s

    def redeem(self, ticket: str) -> tuple[Identity | None, str | None] | None:
        with self._lock:
            entry = self._tickets.pop(ticket, None)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]


class KeyChecker:
    def __init__(self, static_keys: list[str], db: Database, rate_per_s: float = 200.0,
                 burst: float = 400.0, mode: str = "keys", metrics_token: str | None = None,
                 watch: KeyWatch | None = None) -> None:
        if mode not in ("keys", "open"):
            raise ValueError(f"auth mode must be keys or open, not {mode!r}")
        self.mode = mode
        self.static_keys = [k.encode() for k in static_keys if k]
        self.metrics_token = metrics_token.encode() if metrics_token else None
        self.db = db
        self.rate_per_s, self.burst = rate_per_s, burst
        self.watch = (watch or key_watch(db)) if mode == "keys" else KeyWatch()
        self._version: Any = None
        self._verified: dict[str, tuple[float, Identity | None]] = {}
        self._any_key: bool | None = None
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def enabled(self) -> bool:
        """Whether requests need a key (keys mode), whatever the key table holds."""
        return self.mode == "keys"

    def close(self) -> None:
        self.watch.close()

    def _current(self) -> bool:
        """Check the key table's version; drop the caches when it moved. False: nothing may be cached."""
        version = self.watch.version()
        if version is None or version != self._version:
            self._verified.clear()
            self._any_key = None
            self._version = version
        return version is not None

    def identify(self, key: str) -> Identity | None:
        raw = key.encode()
        if any(hmac.compare_digest(raw, k) for k in self.static_keys):
            return Identity("static", "admin")
        cacheable = self._current()
        cached = self._verified.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_MAX_S:
            return cached[1]
        row = self.db.find_api_key(key)
        identity = None if row is None else Identity(f"key:{row['id']}:{row['name']}", row["role"])
        if cacheable:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key] = (now, identity)
        return identity

    def any_key(self) -> bool:
        """Whether any key exists (settings or database): only asked on the way to a 401, for its message."""
        if self.static_keys:
            return True
        cacheable = self._current()
        if self._any_key is None or not cacheable:
            self._any_key = self.db.has_active_api_keys()
        return self._any_key

    def role(self, key: str) -> str | None:
        identity = self.identify(key)
        return None if identity is None else identity.role

    def throttle(self, actor: str) -> float:
        """Seconds the caller must wait (0: go)."""
        if not math.isfinite(self.rate_per_s) or self.rate_per_s <= 0:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(actor)
            if bucket is None:
                bucket = self._buckets[actor] = TokenBucket(self.rate_per_s, self.burst)
            return bucket.take()

    def unauthenticated(self, reason: str) -> HTTPException:
        return HTTPException(401, reason if self.any_key() else NO_KEYS)

    def authenticate(self, method: str, path: str, headers: Any) -> tuple[Identity | None, str | None]:
        """Who sends ``headers`` (ASGI header pairs): ``(identity, None)`` or ``(None, why not)``. The metrics
        token counts only on :func:`scrape_path` GETs; ``Authorization: Bearer`` may also carry an API key."""
        key = bearer = None
        for name, value in headers:
            if name == b"x-api-key":
                key = value.decode("latin-1")
            elif name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    bearer = token.strip()
        if key:
            identity = self.identify(key)
            return (identity, None) if identity is not None else (None, "invalid API key")
        if bearer:
            if (self.metrics_token is not None and method in ("GET", "HEAD") and scrape_path(path)
                    and hmac.compare_digest(bearer.encode(), self.metrics_token)):
                return Identity("metrics", "read"), None
            identity = self.identify(bearer)
            return (identity, None) if identity is not None else (None, "invalid bearer token")
        return None, "missing X-API-Key header"

    def refusal(self, method: str, path: str,
                headers: list[tuple[bytes, bytes]]) -> tuple[Identity | None, HTTPException | None]:
        """Who calls (None: open mode) and why they may not, if they may not (``headers``: the ASGI request
        headers, read only in keys mode)."""
        if self.mode == "open":
            return None, None
        identity, reason = self.authenticate(method, path, headers)
        if identity is None:
            return None, self.unauthenticated(reason or "unauthenticated")
        needed = required_role(method, path)
        if ROLE_RANK[identity.role] < ROLE_RANK[needed]:
            return identity, HTTPException(403, f"{method} {path} needs the {needed!r} role; this key has "
                                                f"{identity.role!r}")
        wait = self.throttle(identity.actor)
        if wait > 0:
            return identity, HTTPException(429, f"rate limit of {self.rate_per_s:g} requests/s exceeded",
                                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return identity, None


class AuthMiddleware:
    """Checks the key of every protected HTTP request (:func:`protected`); sets ``scope["state"]["actor"]``
    (for the audit) and ``scope["state"]["identity"]``."""

    def __init__(self, app: Any, checker: KeyChecker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            identity, refusal = self.checker.refusal(scope["method"], scope["path"], scope["headers"])
        except (DBAPIError, Unavailable) as exc:  # the keys live in the database: a 503 naming why, never open
            await errors.database_error_response(exc)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["actor"] = "anonymous" if identity is None else identity.actor
        state["identity"] = identity
        if refusal is not None:
            await errors.http_error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)
