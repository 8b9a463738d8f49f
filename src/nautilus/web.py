"""``python -m nautilus.web``: serve the dashboard's production build (``web/dist``) on :3000.

A static server with single-page-app fallback (unknown paths get ``index.html``), long cache lifetimes for
the hashed assets, and ``/config.json`` telling the dashboard where the gateway is (``apiBase`` and
``wsUrl``; ``NAUTILUS_WEB_API_BASE`` overrides it behind a reverse proxy); the gateway allows this origin
through CORS. The supervisor starts it with the gateway when
a build exists (``scripts/web.sh build``).
"""

from __future__ import annotations

import os
from pathlib import Path

from nautilus.config import Settings, get_settings


def dist_dir() -> Path:
    """The build to serve: ``NAUTILUS_WEB_DIST``, else ``web/dist`` of the source tree."""
    override = os.environ.get("NAUTILUS_WEB_DIST")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "web" / "dist"


def has_build() -> bool:
    return (dist_dir() / "index.html").is_file()


def create_web_app(settings: Settings, root: Path | None = None):
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    root = root or dist_dir()
    index = root / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"no dashboard build at {root} (run scripts/web.sh build)")
    # Behind a reverse proxy the browser reaches the API at the public origin (NAUTILUS_WEB_API_BASE).
    api_base = os.environ.get("NAUTILUS_WEB_API_BASE", "").rstrip("/") or settings.gateway_url
    ws_url = api_base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws"

    async def config(request):
        return JSONResponse({"apiBase": api_base, "wsUrl": ws_url})

    async def spa(request):
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    class Assets(StaticFiles):
        async def get_response(self, path, scope):
            try:
                response = await super().get_response(path, scope)
            except HTTPException as exc:
                if exc.status_code == 404:
                    return await spa(None)
                raise
            hashed = path.startswith("assets/")  # Vite's content-hashed files never change
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
            return response

    return Starlette(routes=[Route("/config.json", config), Mount("/", Assets(directory=root, html=True))])


def main() -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(create_web_app(settings), host=settings.listen_host, port=settings.web_port + settings.port_offset,
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
