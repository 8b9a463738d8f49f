"""API-key authentication (header ``X-API-Key``) for everything under /api.

Keys come from settings (``NAUTILUS_API_KEYS``) and from the database (hashed, see
``nautilus keys``). Authentication is on when either holds a key.
"""

from __future__ import annotations

import hmac
import time

from fastapi import HTTPException, Request

from nautilus.storage.db import Database

CACHE_S = 5.0


class KeyChecker:
    def __init__(self, static_keys: list[str], db: Database) -> None:
        self.static_keys = [k.encode() for k in static_keys]
        self.db = db
        self._db_has_keys: tuple[float, bool] = (0.0, False)
        self._verified: dict[str, tuple[float, str | None]] = {}

    def enabled(self) -> bool:
        if self.static_keys:
            return True
        checked, has = self._db_has_keys
        if time.monotonic() - checked > CACHE_S:
            has = self.db.has_active_api_keys()
            self._db_has_keys = (time.monotonic(), has)
        return has

    def role(self, key: str) -> str | None:
        raw = key.encode()
        if any(hmac.compare_digest(raw, k) for k in self.static_keys):
            return "admin"
        cached = self._verified.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        role = self.db.verify_api_key(key)
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[key] = (time.monotonic(), role)
        return role

    async def __call__(self, request: Request) -> None:
        if not self.enabled():
            return
        key = request.headers.get("x-api-key")
        if not key:
            raise HTTPException(401, "missing X-API-Key header")
        if self.role(key) is None:
            raise HTTPException(401, "invalid API key")
