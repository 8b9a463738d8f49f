"""API-key authentication (header ``X-API-Key``), scoped roles and per-key rate limits for ``/api``.

Keys come from settings (``NAUTILUS_API_KEYS``, role admin) and from the database (stored as sha256
digests with a role; ``nautilus keys add|list|revoke``). Authentication is on when either holds a key.
:class:`AuthMiddleware` (pure ASGI) checks every HTTP request under ``/api/`` before routing, so an unknown
``/api`` path without a key is a 401, not a 404. (As a FastAPI dependency on every route the check cost
~15% of the gateway's CPU per request; the WebSocket authenticates in its own handshake.)

Roles are ranked ``read < trade < admin`` and each path needs one (:func:`required_role`): reading and
computing (GET, and POSTs that only compute: VaR, backtests, indicators, predictions, ...) need ``read``;
paper trading, training and stream control need ``trade``; everything else that changes state
(limits, ingest, the model registry, feature sets, deletions) needs ``admin``. A key may make
``rate_limit_per_s`` requests per second on average with bursts of ``rate_limit_burst`` (token bucket,
per key and gateway process); beyond that it gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from nautilus.gateway import errors
from nautilus.storage.db import Database

CACHE_S = 5.0
ROLE_RANK: Final = {"read": 0, "trade": 1, "admin": 2}
API_ROOT: Final = "/api/"
API: Final = "/api/v1"
READ_POSTS: Final = frozenset(f"{API}{p}" for p in (
    "/risk/var", "/risk/cvar", "/risk/stress", "/risk/backtest", "/strategy/indicators", "/strategy/patterns",
    "/strategy/scan", "/strategy/backtest", "/strategy/sweep", "/features/compute", "/factors/compute",
    "/factors/research", "/ml/predict", "/analytics/stats", "/analytics/report",
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


@dataclass(frozen=True, slots=True)
class Identity:
    actor: str  # "key:<id>:<name>" or "static" (a settings key)
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


class KeyChecker:
    def __init__(self, static_keys: list[str], db: Database, rate_per_s: float = 200.0,
                 burst: float = 400.0) -> None:
        self.static_keys = [k.encode() for k in static_keys]
        self.db = db
        self.rate_per_s, self.burst = rate_per_s, burst
        self._db_has_keys: tuple[float, bool] = (0.0, False)
        self._verified: dict[str, tuple[float, Identity | None]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def enabled(self) -> bool:
        if self.static_keys:
            return True
        checked, has = self._db_has_keys
        if time.monotonic() - checked > CACHE_S:
            has = self.db.has_active_api_keys()
            self._db_has_keys = (time.monotonic(), has)
        return has

    def identify(self, key: str) -> Identity | None:
        raw = key.encode()
        if any(hmac.compare_digest(raw, k) for k in self.static_keys):
            return Identity("static", "admin")
        cached = self._verified.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        row = self.db.find_api_key(key)
        identity = None if row is None else Identity(f"key:{row['id']}:{row['name']}", row["role"])
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[key] = (time.monotonic(), identity)
        return identity

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

    def refusal(self, method: str, path: str,
                headers: list[tuple[bytes, bytes]]) -> tuple[Identity | None, HTTPException | None]:
        """Who calls (None: authentication is off) and why they may not, if they may not (``headers``: the ASGI
        request headers, read only when authentication is on)."""
        if not self.enabled():
            return None, None
        key = next((value.decode("latin-1") for name, value in headers if name == b"x-api-key"), None)
        if not key:
            return None, HTTPException(401, "missing X-API-Key header")
        identity = self.identify(key)
        if identity is None:
            return None, HTTPException(401, "invalid API key")
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
    """Checks the key of every HTTP request under ``/api/``; sets ``scope["state"]["actor"]`` for the audit."""

    def __init__(self, app: Any, checker: KeyChecker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_ROOT):
            await self.app(scope, receive, send)
            return
        try:
            identity, refusal = self.checker.refusal(scope["method"], scope["path"], scope["headers"])
        except DBAPIError as exc:  # the keys live in the database
            await errors.database_error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = "anonymous" if identity is None else identity.actor
        if refusal is not None:
            await errors.http_error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)
