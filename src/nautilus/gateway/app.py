"""Builds the FastAPI application: health, metrics, docs and the versioned engine routers.

``/health`` is public liveness and says only ``{"status"}``; the detailed health (engines, pids, transports,
backend) is ``GET /api/v1/system/health`` and, like ``/metrics`` and ``/metrics/engines/{name}``, needs a key
(read role) or the scrape token in keys mode (see :mod:`nautilus.gateway.auth`).

API documentation: in keys mode the API description (``/openapi.json``) needs a key of any role, like the API
it describes. ``/docs`` (Swagger UI) and ``/redoc`` are static pages holding nothing but the viewer: a browser
cannot send a header when it navigates, and a key in a query string would land in logs, history and Referer
headers, so the page itself loads without a key, asks for one (a password field; kept in this tab's
sessionStorage, or the dashboard's key when served from the same origin, as through NGINX) and fetches the
description with it as ``X-API-Key``; Swagger UI's "Try it out" calls send the same header. In open mode the
description loads at once."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any

import anyio
import msgspec
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import nautilus
from nautilus.config import Settings, get_settings
from nautilus.engines import engine_class, engine_names
from nautilus.gateway import errors, logfilter, websocket
from nautilus.gateway.auth import DETAILED_HEALTH, OPENAPI, AuthMiddleware, KeyChecker, TicketBook
from nautilus.gateway.guard import GuardMiddleware, allowed_host_names, allowed_origins
from nautilus.gateway.metrics import MetricsMiddleware
from nautilus.gateway.routers import analytics, factors, marketdata, ml, portfolio, risk, strategy, stream
from nautilus.gateway.routers import features as features_router
from nautilus.runtime import metrics as runtime_metrics
from nautilus.runtime import supervisor
from nautilus.runtime.backend import detect_backend
from nautilus.runtime.client import EngineClient
from nautilus.runtime.host import METRICS, EngineHost
from nautilus.runtime.shm import process_pool
from nautilus.runtime.sockets import SocketTransport
from nautilus.storage.audit import AuditWriter
from nautilus.storage.bootstrap import migrate
from nautilus.storage.db import Database

HEALTH_CACHE_S = 0.2
OPENAPI_URL = OPENAPI  # needs a key in keys mode (auth.protected)
SWAGGER_JS = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

# The docs pages: the viewer only. The key is asked for in the page and sent as a header, never put in a URL.
_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nautilus API - {title}</title>
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
{head}
<style>#key{{font:14px sans-serif;max-width:46em;margin:2em auto;padding:1em;border:1px solid #ccc}}
#key input{{width:28em}}#bar{{font:12px sans-serif;text-align:right;padding:4px 1em}}</style></head>
<body>
<form id="key" hidden><p id="why"></p>
<label>API key (sent as the X-API-Key header) <input id="k" type="password" autocomplete="off" required></label>
<button type="submit">Open</button></form>
<div id="bar" hidden><button id="forget" type="button">Forget key</button></div>
<div id="ui"></div>
<script src="{script}"></script>
<script>
"use strict";
const SPEC = {spec!r};
const STORE = "nautilus.apiKey";  // the dashboard keeps its key under this name (same origin through NGINX)
function getKey() {{
  try {{ return sessionStorage.getItem(STORE) || localStorage.getItem(STORE) || ""; }} catch (e) {{ return ""; }}
}}
function setKey(k) {{
  try {{ if (k) sessionStorage.setItem(STORE, k); else sessionStorage.removeItem(STORE); }} catch (e) {{}}
}}
function ask(message) {{
  document.getElementById("why").textContent = message;
  document.getElementById("key").hidden = false;
}}
async function load() {{
  const key = getKey();
  let r;
  try {{
    r = await fetch(SPEC, {{headers: key ? {{"X-API-Key": key}} : {{}}, cache: "no-store", credentials: "omit"}});
  }} catch (e) {{ ask("The gateway did not answer: " + e); return; }}
  if (r.status === 401 || r.status === 403) {{
    let message = "An API key is needed to read this API's description.";
    try {{ message = (await r.json()).error.message || message; }} catch (e) {{}}
    ask(message);
    return;
  }}
  if (!r.ok) {{ ask("Could not load " + SPEC + ": HTTP " + r.status); return; }}
  const spec = await r.json();
  document.getElementById("key").hidden = true;
  document.getElementById("bar").hidden = !key;
  render(spec);
}}
{render}
document.getElementById("key").addEventListener("submit", (e) => {{
  e.preventDefault();
  const input = document.getElementById("k");
  setKey(input.value.trim());
  input.value = "";
  load();
}});
document.getElementById("forget").addEventListener("click", () => {{ setKey(""); location.reload(); }});
load();
</script></body></html>
"""
_SWAGGER_RENDER = """function render(spec) {
  SwaggerUIBundle({spec: spec, dom_id: "#ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset], layout: "BaseLayout",
    requestInterceptor: (req) => { const k = getKey(); if (k && !req.headers["X-API-Key"]) req.headers["X-API-Key"] = k; return req; }});
}"""
_REDOC_RENDER = """function render(spec) { Redoc.init(spec, {}, document.getElementById("ui")); }"""


def docs_page(kind: str) -> str:
    """The ``/docs`` (``swagger``) or ``/redoc`` (``redoc``) page."""
    if kind == "swagger":
        return _DOCS_PAGE.format(title="Swagger UI", head=f'<link rel="stylesheet" href="{SWAGGER_CSS}">',
                                 script=SWAGGER_JS, spec=OPENAPI_URL, render=_SWAGGER_RENDER)
    return _DOCS_PAGE.format(title="ReDoc", head="", script=REDOC_JS, spec=OPENAPI_URL, render=_REDOC_RENDER)


class Engines:
    """One EngineClient per registered engine, shared by all routes."""

    def __init__(self, settings: Settings, names: list[str]) -> None:
        self.settings = settings
        self.clients = {name: EngineClient(name, settings) for name in names}
        self._health: tuple[float, dict[str, Any]] | None = None
        self.database: Database | None = None  # the gateway's own database: its "database" health entry

    def __getitem__(self, name: str) -> EngineClient:
        return self.clients[name]

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._health is None or now - self._health[0] > HEALTH_CACHE_S:
            engines = {name: client.health() for name, client in self.clients.items()}
            services = (supervisor.read_state(self.settings) or {}).get("services", {})
            for name, info in engines.items():  # restarts as the supervisor counts them (None: not supervised)
                info["restarts"] = services.get(name, {}).get("restarts")
                runtime_metrics.ENGINE_RESTARTS.labels(name).set(info["restarts"] or 0)
            states = {e["status"] for e in engines.values()}
            database = None if self.database is None else self.database.health()  # {"ok", "cause", "id"}
            status = "ok" if states <= {"up"} and (database is None or database["ok"]) else "degraded"
            backend = detect_backend(self.settings.compute_backend)
            self._health = (now, {"status": status, "version": nautilus.__version__,
                                  "backend": msgspec.structs.asdict(backend), "engines": engines,
                                  "database": database})
        return self._health[1]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _answers(settings: Settings, engine: str) -> bool:
    transport = SocketTransport("unix", engine, settings)
    try:
        transport.ping(0.5)
        return True
    except Exception:
        return False
    finally:
        transport.reset()


def host_stateful_engines(settings: Settings) -> list[EngineHost]:
    """Single-process mode: this process hosts every stateful engine as its one writer (lease taken, book loaded)
    on its unix socket, and the gateway reaches it there like any engine. Refused beside a running supervisor."""
    if supervisor.running_supervisor(settings) is not None:
        raise RuntimeError("host_stateful_engines is set but a supervisor already runs this home's engines")
    hosts = []
    for name in engine_names():
        engine_cls = engine_class(name)
        if engine_cls.stateful and not _answers(settings, name):  # an engine process already serves it: use it
            host = EngineHost(engine_cls(settings), settings, transports=("unix",))
            host.start()
            hosts.append(host)
    return hosts


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        logfilter.install()  # after uvicorn set its logging up: no query string (tickets, keys) in its lines
        settings.ensure_dirs()
        app.state.db.watch(migrate(settings))  # refuses a missing or replaced database; watched while running
        backend = detect_backend(settings.compute_backend)
        runtime_metrics.COMPUTE_BACKEND.labels(backend.name, backend.device).set(1)
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 64
        writers = host_stateful_engines(settings) if settings.host_stateful_engines else []
        app.state.writers = {host.engine.name: host for host in writers}
        yield
        for host in writers:
            host.stop()
        app.state.key_checker.close()
        app.state.engines.close()
        app.state.audit.close()  # what the database cannot take now waits in the spill file
        app.state.db.dispose()

    # Metrics are Prometheus's (/metrics); FastAPI's native OpenTelemetry hooks would look up three global
    # providers on every request for nothing.
    # The docs pages are ours (docs_page): they fetch /openapi.json with the key the reader gives.
    app = FastAPI(title="Nautilus", version=nautilus.__version__, lifespan=lifespan,
                  description="Quantitative research, risk and paper trading. All data routes live under /api/v1.",
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engines = Engines(settings, engine_names())
    app.state.db = Database.from_url(str(settings.database_url))
    app.state.engines.database = app.state.db
    app.state.audit = AuditWriter(app.state.db, "http-audit", spill_dir=settings.runtime_dir)
    checker = app.state.key_checker = KeyChecker(settings.api_keys, app.state.db, settings.rate_limit_per_s,
                                                 settings.rate_limit_burst, mode=settings.auth_mode,
                                                 metrics_token=settings.metrics_token)
    app.state.ws_tickets = TicketBook(settings.ws_ticket_ttl_s)
    origins = allowed_origins(settings.web_url, settings.cors_origins)
    errors.install(app)
    app.add_middleware(AuthMiddleware, checker=checker)  # inside the guard: its audit entries name the actor
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_mb * 2**20,
                       max_query_bytes=settings.max_query_bytes, audit=app.state.audit,
                       hosts=allowed_host_names([settings.host, *settings.allowed_hosts]), origins=origins,
                       upload_paths=frozenset({"/api/v1/marketdata/ingest"}))
    app.add_middleware(MetricsMiddleware)
    # The dashboard is served from its own origin (:3000); browsers may call the API from there only.
    app.add_middleware(CORSMiddleware, allow_origins=origins,
                       allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       allow_headers=["X-API-Key", "Content-Type", "Authorization"], max_age=600)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page("swagger"), headers={"Cache-Control": "no-cache"})

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(docs_page("redoc"), headers={"Cache-Control": "no-cache"})

    @app.get("/health", tags=["system"], summary="Liveness: the overall status only (public)")
    async def health(request: Request) -> Response:
        status = request.app.state.engines.health()["status"]
        return Response(msgspec.json.encode({"status": status}), media_type="application/json")

    @app.get(DETAILED_HEALTH, tags=["system"], summary="Detailed health: engines, pids, transports, backend "
                                                       "(a key, or the metrics token)")
    async def detailed_health(request: Request) -> Response:
        return Response(msgspec.json.encode(request.app.state.engines.health()), media_type="application/json")

    @app.get("/metrics", tags=["system"])
    def metrics() -> Response:
        pool = process_pool(settings)
        runtime_metrics.SHM_POOL_BYTES.labels("used").set(pool.used)
        runtime_metrics.SHM_POOL_BYTES.labels("size").set(pool.size)
        runtime_metrics.update_gpu_metrics()  # the machine's GPUs, once per scrape of the gateway
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/metrics/engines/{name}", tags=["system"])
    def engine_metrics(name: str) -> Response:
        """An engine process's own metrics (CPU, RSS, requests, domain gauges), read over its socket."""
        engines = app.state.engines.clients
        if name not in engines:
            return errors.error_response(404, "not_found", f"unknown engine {name!r}", "name")
        failures = []
        for transport in engines[name].transports.values():
            if transport.kind == "inproc":
                continue
            try:
                body = transport.call(METRICS, None, bytes, 2.0)
            except Exception as exc:  # the scrape fails: Prometheus records the engine as down
                failures.append(f"{transport.kind}: {exc}")
                continue
            return Response(body, media_type=CONTENT_TYPE_LATEST)
        return errors.error_response(503, "engine_unavailable", f"engine {name} is unreachable: {failures}", None)

    for router in (marketdata.router, strategy.router, risk.router, factors.router, features_router.router,
                   ml.router, analytics.router, portfolio.router, stream.router):
        app.include_router(router)
    app.include_router(websocket.router)  # authenticates in the handshake itself
    return app
