"""``python -m nautilus.web``: serve the dashboard's production build (``web/dist``) on :3000.

A static server with single-page-app fallback (unknown paths get ``index.html``), long cache lifetimes for
the hashed assets, and ``/config.json`` telling the dashboard where the gateway is (``apiBase`` and
``wsUrl``; ``NAUTILUS_WEB_API_BASE`` overrides it behind a reverse proxy: a path such as ``/`` keeps the
dashboard on its own origin, the proxy's, which the browser resolves it against); the gateway allows this
origin through CORS. The supervisor starts it with the gateway when a build exists (``scripts/web.sh build``).

``scripts/web.sh build`` writes each build into a new ``web/builds/ID`` and then switches the ``web/dist``
symlink to it at once; a server resolves the link when it starts and serves that build directory for its
whole life (marking it in use under ``web/builds/.in-use``, so that later builds' clean-up keeps it), so a
build for another stack never changes the files a running one serves.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from nautilus.config import Settings, get_settings
from nautilus.runtime.supervisor import dashboard_built, dashboard_dir


def dist_dir() -> Path:
    """The build to serve: ``NAUTILUS_WEB_DIST``, else ``web/dist`` of the source tree (defined by the
    supervisor, which decides whether to start this server without importing it)."""
    return dashboard_dir()


def has_build() -> bool:
    return dashboard_built()


def mark_in_use(root: Path) -> Path | None:
    """Record that this process serves the build ``root`` (``builds/.in-use/ID.PID``) when it is one of
    ``web/builds``, so that ``scripts/web.sh build`` does not remove it; None otherwise or when the directory is
    not writable (an image's build, say)."""
    if root.parent.name != "builds":
        return None
    marker = root.parent / ".in-use" / f"{root.name}.{os.getpid()}"
    try:
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
    except OSError:
        return None
    return marker


def config_urls(api_base: str) -> tuple[str, str]:
    """``(apiBase, wsUrl)`` for ``/config.json``: an absolute base as it is, without a final slash, its
    WebSocket URL with ws(s); a path (``/``, ``/nautilus``) stays relative to the page's origin."""
    if api_base.startswith("/") and not api_base.startswith("//"):
        base = api_base.rstrip("/")
        return base or "/", base + "/ws"
    base = api_base.rstrip("/")
    return base, base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws"


def create_web_app(settings: Settings, root: Path | None = None):
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    root = (root or dist_dir()).resolve()  # this build for the server's life, whatever web/dist points to later
    index = root / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"no dashboard build at {root} (run scripts/web.sh build)")
    # Behind a reverse proxy the browser reaches the API through it (NAUTILUS_WEB_API_BASE, "/": same origin).
    api_base, ws_url = config_urls(os.environ.get("NAUTILUS_WEB_API_BASE", "").strip() or settings.gateway_url)

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
    root = dist_dir().resolve()  # resolved once: the build marked in use is the one served
    marker = mark_in_use(root)

    def terminated(signum, frame) -> None:  # uvicorn re-raises the SIGTERM it shut down on: leave no marker
        if marker is not None:
            marker.unlink(missing_ok=True)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        app = create_web_app(settings, root)
        uvicorn.run(app, host=settings.listen_host, port=settings.web_port + settings.port_offset,
                    access_log=False, log_level="warning")
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
