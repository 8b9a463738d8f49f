"""Gateway hardening: scoped roles per route, per-key rate limits, body and query caps, the audit log of
every state-changing call, a policy entry for every route, and the API description behind a key."""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from nautilus.gateway.app import create_app
from nautilus.gateway.auth import required_role
from nautilus.storage.bootstrap import migrate
from nautilus.storage.db import Database

pytestmark = pytest.mark.integration


@pytest.fixture
def keyed(settings):
    settings.auth_mode = "keys"
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


# Fail-closed authentication, revocation, metrics and health (issue 18) ------------------------------------
PROBE = "/api/v1/system/health"  # a read route answered by the gateway itself (no engine call)


def keys_mode(settings, **extra):
    settings.auth_mode = "keys"
    for name, value in extra.items():
        setattr(settings, name, value)
    return settings


def test_no_key_at_all_is_401_everywhere_never_open(settings) -> None:
    """An empty key table (a fresh or replaced database) keeps every /api request out, with a way forward."""
    keys_mode(settings)
    with TestClient(create_app(settings)) as api:
        for method, path in (("GET", "/api/v1/portfolio/accounts"), ("POST", "/api/v1/portfolio/orders"),
                             ("GET", "/api/v1/nope"), ("GET", "/metrics"), ("GET", "/metrics/engines/risk"),
                             ("GET", "/api/v1/system/health")):
            r = api.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.status_code)
            error = r.json()["error"]
            assert error["code"] == "unauthorized"
            assert "nautilus keys add" in error["message"] and "NAUTILUS_AUTH_MODE=open" in error["message"]
        r = api.get("/health")  # public liveness: the status and nothing else
        assert r.status_code == 200 and set(r.json()) == {"status"}
        r = api.get("/openapi.json")  # the API description is behind a key too, with the same way forward
        assert r.status_code == 401 and "nautilus keys add" in r.json()["error"]["message"]
        r = api.get("/api/v1/portfolio/accounts", headers={"X-API-Key": "guess"})
        assert r.status_code == 401 and "nautilus keys add" in r.json()["error"]["message"]


def test_open_mode_is_explicit_and_loopback_only(settings) -> None:
    from nautilus.gateway.auth import check_bind

    assert settings.auth_mode == "open"  # the fixture's explicit choice
    with TestClient(create_app(settings)) as api:
        assert "engines" in api.get("/api/v1/system/health").json()
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(settings, host)
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.com"):
        with pytest.raises(SystemExit, match="not a loopback address"):
            check_bind(settings, host)
    check_bind(keys_mode(settings), "0.0.0.0")  # keys mode may listen anywhere


def test_detailed_health_and_metrics_need_a_key_or_the_scrape_token(keyed) -> None:
    settings, _, keys = keyed
    keys_mode(settings, metrics_token="scrape-token-1")
    with TestClient(create_app(settings)) as api:
        assert set(api.get("/health").json()) == {"status"}
        for path in ("/metrics", "/api/v1/system/health"):
            assert api.get(path).status_code == 401
            assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert api.get(path, headers={"X-API-Key": keys["read"]}).status_code == 200
            assert api.get(path, headers={"Authorization": "Bearer scrape-token-1"}).status_code == 200
        detail = api.get("/api/v1/system/health", headers={"X-API-Key": keys["read"]}).json()
        assert {"status", "engines", "backend", "version"} <= set(detail)
        assert "nautilus_http_requests_total" in api.get("/metrics", headers={"X-API-Key": keys["read"]}).text
        # the scrape token reads metrics and health, nothing else
        r = api.get("/api/v1/portfolio/accounts", headers={"Authorization": "Bearer scrape-token-1"})
        assert r.status_code == 401
        r = api.post("/api/v1/portfolio/accounts", headers={"Authorization": "Bearer scrape-token-1"}, json={})
        assert r.status_code == 401
        # an API key also works as a bearer token
        assert api.get("/api/v1/system/health",
                       headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200


REVOKE = """
import sys
from nautilus.storage.db import Database
db = Database.from_url(sys.argv[1])
db.revoke_api_key(int(sys.argv[2]))
db.dispose()
"""


def _revocation_is_immediate(settings, url: str, wait_s: float) -> float:
    import subprocess
    import sys

    keys_mode(settings, database_url=url)
    migrate(settings)
    db = Database.from_url(url)
    key_id = db.add_api_key("soon-revoked", "k-soon", "trade")
    db.add_api_key("other", "k-other", "read")
    lookups = []
    with TestClient(create_app(settings)) as api:
        original = api.app.state.db.find_api_key

        def counted(raw):
            lookups.append(raw)
            return original(raw)

        api.app.state.db.find_api_key = counted
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # PostgreSQL: the key listener connects in the background
            if api.app.state.key_checker.watch.version() is not None:
                break
            time.sleep(0.02)
        for _ in range(50):
            assert api.get(PROBE, headers={"X-API-Key": "k-soon"}).status_code == 200
        assert len(lookups) <= 2  # verified keys are cached: no database round trip per request
        subprocess.run([sys.executable, "-c", REVOKE, url, str(key_id)], check=True, timeout=60)
        t0 = time.monotonic()
        while True:
            r = api.get(PROBE, headers={"X-API-Key": "k-soon"})
            if r.status_code == 401 or time.monotonic() - t0 > wait_s:
                break
            time.sleep(0.005)
        took = time.monotonic() - t0
        assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key"
        assert api.get(PROBE, headers={"X-API-Key": "k-other"}).status_code == 200
    db.dispose()
    return took


def test_a_revoked_key_stops_at_once_across_processes_sqlite(settings) -> None:
    settings.ensure_dirs()
    # the very first request after another process's revocation is refused (no wait at all)
    assert _revocation_is_immediate(settings, str(settings.database_url), wait_s=0.0) == pytest.approx(0, abs=0.5)


def test_a_revoked_key_stops_at_once_across_processes_postgresql(settings, pg_url) -> None:
    settings.ensure_dirs()
    # PostgreSQL: the NOTIFY of the revoking transaction reaches the listener when it commits (milliseconds)
    assert _revocation_is_immediate(settings, pg_url.render_as_string(hide_password=False), wait_s=1.0) < 1.0


# Cross-site requests and DNS rebinding ---------------------------------------------------------------
EVIL = "http://evil.example:8000"


def test_host_allow_list_refuses_rebound_names(settings) -> None:
    settings.allowed_hosts = ["testserver", "nautilus.lan"]
    with TestClient(create_app(settings)) as api:
        for host in ("attacker.example", "attacker.example:8001", "127.0.0.1.nip.io", "nautilus.lan.evil"):
            for path in ("/api/v1/portfolio/accounts", "/health", "/metrics"):
                r = api.get(path, headers={"Host": host})
                assert r.status_code == 421, (host, path)
                assert r.json()["error"]["code"] == "misdirected_request" and r.json()["error"]["field"] == "Host"
        for host in ("localhost", "127.0.0.1:8001", "[::1]:8001", "LOCALHOST:1", "nautilus.lan:8001", "testserver"):
            assert api.get(PROBE, headers={"Host": host}).status_code == 200, host
        with pytest.raises(WebSocketDisconnect) as err, \
                api.websocket_connect("/ws", headers={"Host": "attacker.example"}) as ws:
            ws.receive_json()
        assert err.value.code == 4403


def test_origin_is_checked_on_state_changing_requests_and_ws(settings) -> None:
    settings.cors_origins = ["https://desk.example"]
    with TestClient(create_app(settings)) as api:
        account = {"name": "xs", "cash": 1000}
        for origin in (EVIL, "null", "http://127.0.0.1:1", settings.web_url + ".evil.example"):
            r = api.post("/api/v1/portfolio/accounts", json=account, headers={"Origin": origin})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin", origin
            assert api.delete("/api/v1/portfolio/accounts/xs", headers={"Origin": origin}).status_code == 403
            with pytest.raises(WebSocketDisconnect) as err, api.websocket_connect("/ws", headers={"Origin": origin}) as ws:
                ws.receive_json()
            assert err.value.code == 4403
        r = api.post("/api/v1/portfolio/accounts", json=account, headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        # reads are not state-changing (CORS keeps other origins from reading the answer)
        assert api.get(PROBE, headers={"Origin": EVIL}).status_code == 200
        assert "access-control-allow-origin" not in api.get(PROBE, headers={"Origin": EVIL}).headers
        # the dashboard, the configured origins and the gateway's own origin pass
        web_port = settings.web_url.rsplit(":", 1)[1]
        for origin in (settings.web_url, f"http://localhost:{web_port}", "https://desk.example", "http://testserver"):
            r = api.post("/api/v1/strategy/indicators", json={}, headers={"Origin": origin})
            assert r.status_code not in (403, 415), (origin, r.status_code)
            with api.websocket_connect("/ws", headers={"Origin": origin}) as ws:
                ws.send_json({"op": "ping", "id": 7})
                assert ws.receive_json()["type"] in ("pong", "heartbeat")


def test_json_routes_take_only_json_and_uploads_only_multipart(settings) -> None:
    with TestClient(create_app(settings)) as api:
        order = b'{"account": "main", "symbol": "AAPL", "side": "buy", "quantity": 1}'
        for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", None):
            headers = {} if ctype is None else {"Content-Type": ctype}
            r = api.post("/api/v1/portfolio/orders", content=order, headers=headers)
            assert r.status_code == 415, (ctype, r.status_code)
            assert r.json()["error"] == {"code": "unsupported_media_type", "field": "Content-Type",
                                         "message": r.json()["error"]["message"]}
        r = api.post("/api/v1/portfolio/orders", content=order, headers={"Content-Type": "application/json"})
        assert r.status_code != 415
        csv = b"ts,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n"
        files = {"file": ("x.csv", csv, "text/csv")}
        r = api.post("/api/v1/marketdata/ingest", files=files, data={"symbol": "XS1"})
        assert r.status_code not in (403, 415), r.text  # an upload route takes multipart
        r = api.post("/api/v1/marketdata/ingest", files=files, data={"symbol": "XS2"}, headers={"Origin": EVIL})
        assert r.status_code == 403  # ... but not cross-site
        r = api.post("/api/v1/marketdata/ingest", content=csv, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        assert api.post("/api/v1/stream/ticket").status_code == 201  # no body, no content type: fine


# The API description and the docs pages -----------------------------------------------------------------------
DOC_PAGES = ("/docs", "/redoc")


def test_api_description_needs_a_key_of_any_role_in_keys_mode(keyed) -> None:
    settings, db, keys = keyed
    settings.metrics_token = "scrape-token"
    with TestClient(create_app(settings)) as api:
        r = api.get("/openapi.json")
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized" and "paths" not in r.text
        assert api.get("/openapi.json", headers={"X-API-Key": "guess"}).status_code == 401
        # the scrape token reads metrics only, not the description
        assert api.get("/openapi.json", headers={"Authorization": "Bearer scrape-token"}).status_code == 401
        for role, raw in keys.items():
            r = api.get("/openapi.json", headers={"X-API-Key": raw})
            assert r.status_code == 200, (role, r.text)
            assert "/api/v1/risk/limits" in r.json()["paths"]
        r = api.get("/openapi.json", headers={"Authorization": f"Bearer {keys['read']}"})
        assert r.status_code == 200
        db.revoke_api_key(next(k["id"] for k in db.list_api_keys() if k["role"] == "read"))  # closed to it at once
        assert api.get("/openapi.json", headers={"X-API-Key": keys["read"]}).status_code == 401
        assert api.get("/api/v1/../openapi.json").status_code in (401, 404)


def test_docs_pages_hold_only_the_viewer_and_send_the_key_as_a_header(keyed) -> None:
    settings, _, keys = keyed
    with TestClient(create_app(settings)) as api:
        described = api.get("/openapi.json", headers={"X-API-Key": keys["read"]}).json()["paths"]
        for path in DOC_PAGES:
            r = api.get(path)  # a browser navigates without headers: the page loads and asks for the key
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
            page = r.text
            assert '"/openapi.json"' in page or "'/openapi.json'" in page
            assert '"X-API-Key": key' in page and 'type="password"' in page
            assert "sessionStorage" in page and "no-referrer" in page
            assert not any(route in page for route in described if route.startswith("/api/v1/")), path
            for leak in ("api_key=", "?key=", "&key=", keys["read"], keys["admin"]):
                assert leak not in page, (path, leak)
        assert "SwaggerUIBundle" in api.get("/docs").text and "requestInterceptor" in api.get("/docs").text
        assert "Redoc.init" in api.get("/redoc").text
        # FastAPI's own docs pages are not served beside ours
        assert api.get("/docs/oauth2-redirect").status_code == 404
        assert not any(p in described for p in (*DOC_PAGES, "/openapi.json"))


def test_open_mode_keeps_the_docs_open(settings) -> None:
    assert settings.auth_mode == "open"
    with TestClient(create_app(settings)) as api:
        r = api.get("/openapi.json")
        assert r.status_code == 200 and "/api/v1/risk/limits" in r.json()["paths"]
        for path in DOC_PAGES:
            assert api.get(path).status_code == 200


def _node() -> str:
    import shutil

    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed (the dashboard build needs it too)")
        pytest.skip("node is not installed")
    return node


# Runs a docs page's script in Node with a stub DOM, fetch and viewer: the page must fetch the description
# without a key first, show the key form on the 401, then fetch with the typed key as the X-API-Key header
# (never in the URL), hand the spec to the viewer, and Swagger UI's calls must carry the header.
_NODE_HARNESS = r"""
const fs = require("fs");
const script = fs.readFileSync(process.argv[2], "utf8");
const kind = process.argv[3];
const els = {};
function el(id) {
  if (!els[id]) els[id] = {id, hidden: id === "key" || id === "bar", textContent: "", value: "", listeners: {},
                           addEventListener(t, f) { this.listeners[t] = f; }};
  return els[id];
}
const store = () => { const m = new Map(); return {getItem: (k) => m.has(k) ? m.get(k) : null,
  setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k)}; };
const calls = [];
let rendered = null, interceptor = null;
const ctx = {
  document: {getElementById: el}, sessionStorage: store(), localStorage: store(), location: {reload() {}},
  console,
  fetch: async (url, opts) => {
    const headers = (opts && opts.headers) || {};
    calls.push({url, key: headers["X-API-Key"] || null});
    const ok = headers["X-API-Key"] === "the-key";
    return {ok, status: ok ? 200 : 401,
            json: async () => ok ? {openapi: "3.1.0", paths: {"/api/v1/x": {}}}
                                 : {error: {code: "unauthorized", message: "missing X-API-Key header"}}};
  },
  SwaggerUIBundle: Object.assign((cfg) => { rendered = cfg.spec; interceptor = cfg.requestInterceptor; },
                                 {presets: {apis: 1}, SwaggerUIStandalonePreset: 2}),
  Redoc: {init: (spec) => { rendered = spec; }},
};
const run = new Function(...Object.keys(ctx), script);
const tick = () => new Promise((r) => setTimeout(r, 10));
(async () => {
  run(...Object.values(ctx));
  await tick();
  const first = {calls: calls.slice(), formShown: !els.key.hidden, why: els.why.textContent, rendered};
  el("k").value = " the-key ";
  els.key.listeners.submit({preventDefault() {}});
  await tick();
  let intercepted = null;
  if (interceptor) intercepted = interceptor({url: "/api/v1/x", headers: {}}).headers;
  console.log(JSON.stringify({first, calls, rendered, formHidden: els.key.hidden, intercepted,
                              stored: ctx.sessionStorage.getItem("nautilus.apiKey")}));
})();
"""


@pytest.mark.parametrize("path", DOC_PAGES)
def test_docs_page_script_asks_for_the_key_and_sends_it_as_a_header(keyed, tmp_path, path) -> None:
    import json
    import re
    import subprocess

    node = _node()
    settings, _, _ = keyed
    with TestClient(create_app(settings)) as api:
        page = api.get(path).text
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    (tmp_path / "page.js").write_text(scripts[0])
    (tmp_path / "harness.js").write_text(_NODE_HARNESS)
    out = subprocess.run([node, str(tmp_path / "harness.js"), str(tmp_path / "page.js"), path], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    first = result["first"]
    assert first["calls"] == [{"url": "/openapi.json", "key": None}]
    assert first["formShown"] and first["why"] == "missing X-API-Key header" and first["rendered"] is None
    assert result["calls"][-1] == {"url": "/openapi.json", "key": "the-key"}
    assert all("the-key" not in c["url"] for c in result["calls"])
    assert result["rendered"] == {"openapi": "3.1.0", "paths": {"/api/v1/x": {}}}
    assert result["formHidden"] and result["stored"] == "the-key"
    if path == "/docs":
        assert result["intercepted"] == {"X-API-Key": "the-key"}
