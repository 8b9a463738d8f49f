"""production_path: the stack's idle memory, and an engine-backed query through NGINX under load.

A supervisor runs every engine, the gateway (and the dashboard server when built) on a temporary home with
the embedded defaults. Memory: the resident set of the supervisor and all its children once the stack is
up and has answered a request on every engine (target: <= 1.5 GB for 9 engines + gateway); the row's
checks break it down per service (``rss_mb_<service>``, helper processes summed as ``rss_mb_other``). NGINX (Debian's,
with the production profile's rendered config) then fronts the gateway, and a one-month daily bars query
is driven through it with 4 keep-alive connections (``wrk`` when installed, else the Python load generator):
targets p50 < 2 ms, p99 < 5 ms, >= 2,000 requests/s; the same load straight at the gateway is the baseline.

The production profile's memory is measured the same way on a second stack whose state is in PostgreSQL
(database ``nautilus_bench`` on 127.0.0.1:5432) and whose bus is Redis (127.0.0.1:6379), with Prometheus
scraping it and NGINX in front: the stack plus NGINX and Prometheus. PostgreSQL and Redis are shared system
services: the checks report the RSS of the PostgreSQL backends serving the stack's connections apart
(``pg_backends_mb``; each one's RSS counts the shared buffers it touched). It needs nginx and prometheus
(scripts/production.sh installs them) and the two services; without them the row is left out.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import httpx
import psutil

from nautilus.bench.cases.gateway_load import bars_query, load_sample, stop_stack, wait_for_stack
from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.loadgen import drive
from nautilus.bench.procs import bench_settings, free_port_offset, temp_home, wait_until
from nautilus.config import DEFAULT_ENGINE_PORTS
from nautilus.production import render
from nautilus.runtime import supervisor

CONNECTIONS = 4
TARGETS = {"p50_ms": 2.0, "p99_ms": 5.0, "rps": 2000.0}
MEMORY_TARGET_MB = 1536.0
PG_URL = "postgresql://postgres@127.0.0.1:5432/nautilus_bench"
REDIS_URL = "redis://127.0.0.1:6379/0"
READS = ("/api/v1/marketdata/instruments", "/api/v1/risk/decisions", "/api/v1/strategy/strategies",
         "/api/v1/features/sets", "/api/v1/factors", "/api/v1/ml/tasks", "/api/v1/stream/channels",
         "/api/v1/portfolio/accounts", "/api/v1/analytics/backtests/1/stats")


def _service_name(cmdline: list[str]) -> str:
    """The service a stack process runs, from its ``python -m MODULE [ENGINE]`` command line.

    Engines are named by their engine, the rest by the module's last part (gateway, web, supervisor);
    anything else (multiprocessing's resource trackers) is 'other'."""
    if "-m" not in cmdline:
        return "other"
    args = cmdline[cmdline.index("-m") + 1:]
    if args[:1] == ["nautilus.runtime.host"] and len(args) > 1:
        return args[1]
    if args[:1] in (["nautilus.gateway"], ["nautilus.web"], ["nautilus.runtime.supervisor"]):
        return args[0].rsplit(".", 1)[1]
    return "other"


def _stack_rss_mb(pid: int) -> tuple[float, int, dict[str, float]]:
    """The stack's summed RSS in MB, its process count and the RSS of each service (helpers summed as 'other')."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    per_service: dict[str, float] = {}
    for proc in procs:
        try:
            rss, name = proc.memory_info().rss / 2**20, _service_name(proc.cmdline())
        except psutil.Error:
            continue
        per_service[name] = per_service.get(name, 0.0) + rss
    return sum(per_service.values()), len(procs), {k: round(v) for k, v in sorted(per_service.items())}


def _idle_rss(settings, pid: int) -> tuple[float, int, dict[str, float]]:
    """RSS once the stack has loaded the sample data and answered a request on every engine."""
    with httpx.Client(base_url=settings.gateway_url, timeout=30.0) as http:
        for path in READS:  # every engine has answered once: imports done, caches warm
            http.get(path)
    time.sleep(2.0)
    return _stack_rss_mb(pid)


def _pg_backends_mb(url: str) -> float:
    from sqlalchemy import text

    from nautilus.storage.connection import make_engine, normalize_url

    admin = make_engine(normalize_url(url).set(database="postgres"))
    try:
        with admin.connect() as c:
            pids = [r[0] for r in c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = 'nautilus_bench'"))]
    finally:
        admin.dispose()
    total = 0.0
    for pg_pid in pids:
        try:
            total += psutil.Process(pg_pid).memory_info().rss / 2**20
        except psutil.Error:
            continue
    return round(total)


def _production_memory(ctx: BenchContext, home) -> Result | None:
    """Idle RSS of the production profile: PostgreSQL state, Redis bus, Prometheus and NGINX running."""
    from nautilus.production import ensure_database

    nginx, prometheus = shutil.which("nginx"), shutil.which("prometheus")
    if nginx is None or prometheus is None:
        ctx.step("nginx or prometheus is not installed: skipping the production-profile memory row")
        return None
    try:
        ensure_database(PG_URL)
    except Exception as exc:  # PostgreSQL not running here
        ctx.step(f"PostgreSQL unreachable ({type(exc).__name__}): skipping the production-profile memory row")
        return None
    engines = sorted(DEFAULT_ENGINE_PORTS)
    settings = bench_settings(home / "stack", free_port_offset(engines, gateway=True))
    settings.database_url, settings.redis_url = PG_URL, REDIS_URL
    ctx.step("production profile: every engine on PostgreSQL + Redis, Prometheus and NGINX")
    pid = supervisor.start_detached(settings, engines)
    extra: list[subprocess.Popen] = []
    try:
        wait_for_stack(settings, pid, {}, tuple(engines))
        load_sample(settings)
        port, prom_port = _free_port(), _free_port()
        files = render(settings, home / "prod", port, prom_port)
        extra.append(subprocess.Popen([nginx, "-c", str(files["nginx"]), "-g", "daemon off;"]))
        extra.append(subprocess.Popen([prometheus, f"--config.file={files['prometheus']}",
                                       f"--storage.tsdb.path={home / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        rss, processes, per_service = _idle_rss(settings, pid)
        time.sleep(3.0)  # Prometheus has scraped once
        for proc in extra:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            mb = sum(p.memory_info().rss for p in tree) / 2**20
            name = "nginx" if proc is extra[0] else "prometheus"
            per_service[name] = round(mb)
            rss += mb
            processes += len(tree)
        return result("MB", ("target", MEMORY_TARGET_MB), ("whole stack idle RSS, production profile (+NGINX, "
                                                              "Prometheus)", round(rss)),
                      {"engines": len(engines), "processes": processes, "database": "postgresql", "bus": "redis"},
                      {"meets_target": rss <= MEMORY_TARGET_MB, "pg_backends_mb": _pg_backends_mb(PG_URL)}
                      | {f"rss_mb_{name}": mb for name, mb in per_service.items()})
    finally:
        for proc in extra:
            proc.terminate()
            proc.wait(10)
        stop_stack(settings, pid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@case("production_path", "whole-stack idle RSS, and a bars query through NGINX under load (p50/p99/rps)")
def production_path(ctx: BenchContext) -> list[Result]:
    duration_s = 2 if ctx.quick else 5
    engines = sorted(DEFAULT_ENGINE_PORTS)
    rows: list[Result] = []
    with temp_home("prodpath") as home:
        settings = bench_settings(home, free_port_offset(engines, gateway=True))
        ctx.step("starting every engine and the gateway")
        pid = supervisor.start_detached(settings, engines)
        nginx = None
        try:
            wait_for_stack(settings, pid, {}, tuple(engines))
            query = bars_query(load_sample(settings))
            rss, processes, per_service = _idle_rss(settings, pid)
            rows.append(result("MB", ("target", MEMORY_TARGET_MB), ("whole stack idle RSS, embedded profile", rss),
                               {"engines": len(engines), "processes": processes},
                               {"meets_target": rss <= MEMORY_TARGET_MB}
                               | {f"rss_mb_{name}": mb for name, mb in per_service.items()}))
            binary = shutil.which("nginx")
            if binary is None:
                ctx.step("nginx is not installed: skipping the NGINX rows (scripts/production.sh installs it)")
                return rows
            port = _free_port()
            files = render(settings, home / "prod", port, _free_port())
            nginx = subprocess.Popen([binary, "-c", str(files["nginx"]), "-g", "daemon off;"])

            def served() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(served, "nginx")
            loads = {}
            for name, base in (("direct", settings.gateway_url), ("nginx", f"http://127.0.0.1:{port}")):
                url = f"{base}/api/v1/marketdata/bars?{query}"
                ctx.step(f"{name}: 1s warm-up, {duration_s}s of load")
                drive(url, CONNECTIONS, 1, {})
                loads[name] = drive(url, CONNECTIONS, duration_s, {})
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
            left = stop_stack(settings, pid)
    params = {"connections": CONNECTIONS, "duration_s": duration_s, "tool": loads["nginx"]["tool"],
              "query": query}
    for stat, target in TARGETS.items():
        ours = loads["nginx"][stat]
        meets = ours >= target if stat == "rps" else ours < target
        rows.append(result("req/s" if stat == "rps" else "ms", (f"straight to the gateway {stat}", loads["direct"][stat]),
                           (f"through NGINX {stat}", ours), params | {"statistic": stat, "target": target},
                           {"meets_target": meets, "errors": loads["nginx"]["errors"], "processes_left": left}))
    with temp_home("prodmem") as home:
        production = _production_memory(ctx, home)
    if production is not None:
        rows.append(production)
    return rows
