"""The dashboard's static server: SPA fallback, cached assets, /config.json pointing at the gateway; and the
gateway's CORS policy for the dashboard origin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nautilus.config import Settings
from nautilus.web import create_web_app


def test_static_server_serves_the_build_with_spa_fallback(tmp_path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>dashboard</html>")
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log(1)")
    client = TestClient(create_web_app(Settings(home=tmp_path / "h", port_offset=7), tmp_path))
    assert client.get("/config.json").json() == {"apiBase": "http://127.0.0.1:8008", "wsUrl": "ws://127.0.0.1:8008/ws"}
    for path in ("/", "/portfolio", "/risk/var"):
        r = client.get(path)
        assert r.status_code == 200 and "dashboard" in r.text and r.headers["cache-control"] == "no-cache"
    asset = client.get("/assets/app-1a2b.js")
    assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]


def test_gateway_allows_only_the_dashboard_origin(tmp_path) -> None:
    from nautilus.gateway.app import create_app

    settings = Settings(home=tmp_path / "h", port_offset=3)
    with TestClient(create_app(settings)) as api:
        ok = api.options("/api/v1/portfolio/orders", headers={
            "Origin": "http://127.0.0.1:3003", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key,content-type"})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://127.0.0.1:3003"
        evil = api.options("/api/v1/portfolio/orders", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in evil.headers
