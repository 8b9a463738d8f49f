"""Gateway hardening: scoped roles per route, per-key rate limits, body and query caps, the audit log of
every state-changing call, and a policy entry for every route."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app
from nautilus.gateway.auth import required_role
from nautilus.storage.bootstrap import migrate
from nautilus.storage.db import Database

pytestmark = pytest.mark.integration


@pytest.fixture
def keyed(settings):
    settings.ensure_dirs()
    migrate(settings)
    db = Database.from_url(str(settings.database_url))
    keys = {role: f"key-{role}" for role in ("read", "trade", "admin")}
    for role, raw in keys.items():
        db.add_api_key(f"{role}-user", raw, role)
    yield settings, db, keys
    db.dispose()


def test_roles_are_enforced_per_route(keyed) -> None:
    settings, db, keys = keyed
    with TestClient(create_app(settings)) as api:
        def call(role: str, method: str, path: str, **kw) -> int:
            return api.request(method, path, headers={"X-API-Key": keys[role]}, **kw).status_code

        assert call("read", "GET", "/api/v1/portfolio/accounts") == 200
        assert call("read", "POST", "/api/v1/risk/var", json={}) == 422  # computing is read: gets to validation
        r = api.post("/api/v1/portfolio/orders", headers={"X-API-Key": keys["read"]}, json={})
        assert r.status_code == 403 and "'trade' role" in r.json()["error"]["message"]
        assert call("trade", "POST", "/api/v1/portfolio/orders", json={}) == 422
        assert call("trade", "PUT", "/api/v1/risk/limits", json={}) == 403
        assert call("admin", "PUT", "/api/v1/risk/limits", json={"limits": {"max_order_notional": 10}}) == 200
        assert call("admin", "POST", "/api/v1/marketdata/generate", json={"symbol": "SEC", "n": 5}) == 201
        revoked = db.list_api_keys()[-1]["id"]  # the read key, added first
        db.revoke_api_key(revoked)
        assert api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": "nope"}).status_code == 401
        # every state-changing call is audited with the key's identity and the outcome
        api.app.state.audit.flush()
        entries = db.list_audit(100)
        actions = {(e["actor"], e["action"], e["detail"]["status"]) for e in entries if e["actor"].startswith("key:")}
        assert ("key:1:read-user", "POST /api/v1/portfolio/orders", 403) in actions
        assert ("key:3:admin-user", "PUT /api/v1/risk/limits", 200) in actions
        assert not any(a.startswith("GET ") for _, a, _ in actions)


def test_rate_limit_per_key(keyed) -> None:
    settings, _, keys = keyed
    settings.rate_limit_per_s, settings.rate_limit_burst = 1.0, 5.0  # a token a second: slow test machines pass
    with TestClient(create_app(settings)) as api:
        codes = [api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": keys["read"]}).status_code
                 for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[-1] == 429
        other = api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": keys["trade"]})
        assert other.status_code == 200  # buckets are per key
        limited = api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": keys["read"]})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        time.sleep(1.1)
        assert api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": keys["read"]}).status_code == 200


def test_body_and_query_caps(settings) -> None:
    settings.max_body_mb = 1
    with TestClient(create_app(settings)) as api:
        r = api.post("/api/v1/risk/var", content=b"x" * (2 * 2**20), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["field"] == "body"
        r = api.request("GET", "/api/v1/marketdata/instruments", content=b"x" * (2 * 2**20))
        assert r.status_code == 413 and r.json()["error"]["field"] == "body"
        r = api.get("/api/v1/marketdata/instruments?" + "a=1&" * 3000)
        assert r.status_code == 414 and r.json()["error"]["field"] == "query"


def test_every_state_changing_route_has_a_deliberate_role(settings) -> None:
    """New routes must be classified: a POST that only computes belongs in READ_POSTS."""
    app = create_app(settings)
    roles = {}
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if method != "get" and path.startswith("/api/"):
                roles[(method.upper(), path)] = required_role(method.upper(), path)
    assert roles[("POST", "/api/v1/portfolio/orders")] == "trade"
    assert roles[("POST", "/api/v1/strategy/backtest")] == "read"
    assert roles[("PUT", "/api/v1/risk/limits")] == "admin"
    assert roles[("DELETE", "/api/v1/ml/models/{name}/versions/{version}")] == "admin"
    assert set(roles.values()) <= {"read", "trade", "admin"}
