"""Stack commands of the ``nautilus`` CLI: up, down, status, config, gateway, web and ``engine run|list``."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from nautilus.cli.common import console, fail, origin_text, run_guarded
from nautilus.cli.root import app
from nautilus.config import Settings, get_settings

engine_app = typer.Typer(help="Run or inspect single engines.", no_args_is_help=True)

app.add_typer(engine_app, name="engine")


@app.command()
def up(
    engines: Annotated[str | None, typer.Option(help="Comma-separated engines (default: all)")] = None,
    foreground: Annotated[bool, typer.Option(help="Run the supervisor in this terminal")] = False,
    no_gateway: Annotated[bool, typer.Option("--no-gateway", help="Engines only")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for health")] = 90.0,
) -> None:
    """Start the engines and the gateway under a supervisor (idempotent)."""
    from nautilus.engines import engine_names
    from nautilus.runtime import supervisor
    from nautilus.storage.bootstrap import migrate

    settings = get_settings()
    names = engine_names() if not engines else [e.strip() for e in engines.split(",") if e.strip()]
    unknown = [n for n in names if n not in engine_names()]
    if unknown:
        fail(f"unknown engine(s): {', '.join(unknown)}; known: {', '.join(engine_names())}")
    if not no_gateway and settings.auth_mode == "open" and not _loopback(settings.listen_host):
        fail(f"NAUTILUS_AUTH_MODE=open (no API keys) refuses to listen on {settings.listen_host!r}, which is not a "
             "loopback address: bind to 127.0.0.1 or use keys (`nautilus keys add NAME --role admin`)")
    settings.ensure_dirs()
    run_guarded(migrate, settings)  # a missing or replaced database: one line naming the way out, exit 1
    if foreground:
        supervisor.Supervisor(settings, names, gateway=not no_gateway).run()
        return
    pid = supervisor.running_supervisor(settings)
    if pid is not None:
        console.print(f"Nautilus is already running (supervisor pid {pid}).")
    else:
        pid = supervisor.start_detached(settings, names, gateway=not no_gateway)
        console.print(f"Started supervisor pid {pid}; logs in {supervisor.log_dir(settings)}")
    if not wait_healthy(settings, names, not no_gateway, wait):
        fail(f"services did not become healthy within {wait:.0f}s; see {supervisor.log_dir(settings)}", 1)
    console.print(f"[green]ready[/green]  gateway {settings.gateway_url}  docs {settings.gateway_url}/docs  "
                  f"health {settings.gateway_url}/health")


def _loopback(host: str) -> bool:
    from nautilus.gateway.auth import is_loopback

    return is_loopback(host)


def wait_healthy(settings: Settings, engines: list[str], gateway: bool, timeout: float) -> bool:
    import httpx

    from nautilus.runtime.sockets import SocketTransport

    deadline = time.time() + timeout
    pending = set(engines) | ({"gateway"} if gateway else set())
    with console.status("waiting for services ...") as status:
        while pending and time.time() < deadline:
            for name in sorted(pending):
                try:
                    if name == "gateway":
                        ok = httpx.get(f"{settings.gateway_url}/health", timeout=1.0).status_code == 200
                    else:
                        SocketTransport("unix", name, settings).ping(1.0)
                        ok = True
                except Exception:
                    ok = False
                if ok:
                    pending.discard(name)
            status.update(f"waiting for {', '.join(sorted(pending))} ...")
            if pending:
                time.sleep(0.2)
    return not pending


@app.command()
def down(timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 30.0) -> None:
    """Stop every service gracefully."""
    from nautilus.config import live_stack_record, remove_stack_record
    from nautilus.runtime import supervisor

    settings = get_settings()
    if supervisor.running_supervisor(settings) is None:
        if live_stack_record(settings.home) is None and remove_stack_record(settings.home):
            console.print("removed the record of a stack that is no longer running")
        console.print("Nautilus is not running.")
        return
    if not supervisor.stop(settings, timeout):
        fail(f"supervisor did not stop within {timeout:.0f}s", 1)
    console.print("stopped")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """Table of services: pid, transport, health, uptime, restarts, p50/p99 round trip."""
    settings = get_settings()
    rows = collect_status(settings)
    rows["resolved"] = settings.resolution()
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title="Nautilus services")
    for col in ("service", "pid", "transport", "health", "uptime", "restarts", "p50 µs", "p99 µs", "requests"):
        table.add_column(col, no_wrap=True,
                         justify="left" if col in ("service", "transport", "health") else "right")
    for r in rows["services"]:
        colour = {"up": "green", "down": "red"}.get(r["health"], "yellow")
        table.add_row(r["name"], str(r["pid"] or "-"), r["transport"] or "-", f"[{colour}]{r['health']}[/]",
                      _duration(r["uptime_s"]), str(r["restarts"]), _num(r["p50_us"]), _num(r["p99_us"]),
                      "-" if r.get("requests") is None else f"{r['requests']:,}")
    console.print(table)
    if not rows["supervisor_pid"]:
        console.print("supervisor: not running")
    resolved = rows["resolved"]
    console.print(f"profile {resolved['profile']}  database {resolved['database_url']}  "
                  f"({origin_text(settings, 'database_url')})", highlight=False, soft_wrap=True)


@app.command("config")
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    get: Annotated[str | None, typer.Option(help="Print one setting's value only (e.g. profile)")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Every setting, by group, with its environment name "
                                                         "(secrets shown only as set)")] = False,
) -> None:
    """The settings this CLI resolved (profile, database, bus, auth, directories) and where each came from."""
    from nautilus.config import settings_by_group, stack_fields

    settings = get_settings()
    if show_all:
        _print_all_settings(settings_by_group(settings), as_json)
        return
    resolved = settings.resolution()
    if get is not None:
        name = get.replace("-", "_")
        if name in resolved and not isinstance(resolved[name], dict):
            value = resolved[name]
        elif name in stack_fields() or name in ("gateway_url", "web_url"):
            value = getattr(settings, name)
            value = json.dumps(value) if isinstance(value, dict) else value
        else:
            fail(f"unknown setting {get!r}; one of: {', '.join(sorted({*stack_fields(), 'gateway_url', 'home'}))}")
        print("" if value is None else value)
        return
    if as_json:
        print(json.dumps(resolved, indent=1))
        return
    for label, name in (("home", "home"), ("profile", "profile"), ("database", "database_url"),
                        ("bus", "redis_url"), ("auth", "auth_mode"), ("ports", "port_offset"),
                        ("data", "data_dir"), ("runtime", "runtime_dir")):
        value = resolved[name]
        if name == "redis_url" and value is None:
            value = "in-memory"
        if name == "port_offset":
            value = f"offset {value}, gateway {settings.gateway_url}"
        source = "" if name == "home" else f"  ({origin_text(settings, name)})"
        console.print(f"{label:<9}{value}{source}", highlight=False, soft_wrap=True)
    stack = resolved["stack"]
    console.print(f"{'stack':<9}" + (f"running, supervisor pid {stack['pid']} (record {stack['record']})"
                                     if stack else "none running at this home: settings from this environment"),
                  highlight=False, soft_wrap=True)


def _print_all_settings(groups: dict[str, dict[str, dict[str, object]]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(groups, indent=1))
        return
    from rich.table import Table

    for group, rows in groups.items():
        table = Table(title=group, title_justify="left", show_edge=False, expand=False)
        for column in ("setting", "value", "environment", "what it does"):
            table.add_column(column, overflow="fold")
        for name, row in rows.items():
            value = row["value"]
            shown = "-" if value is None else json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(name, shown, str(row["env"]), str(row["description"]))
        console.print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def collect_status(settings: Settings, pings: int = 200) -> dict[str, Any]:
    import numpy as np

    from nautilus.engines import engine_names
    from nautilus.runtime import supervisor
    from nautilus.runtime.host import HEALTH, HealthInfo
    from nautilus.runtime.sockets import SocketTransport

    state = supervisor.read_state(settings) or {}
    services = state.get("services", {})
    rows = []
    for name in engine_names():
        svc = services.get(name, {})
        row = {"name": name, "pid": svc.get("pid"), "transport": None, "health": "down",
               "uptime_s": None, "restarts": svc.get("restarts", 0), "p50_us": None, "p99_us": None,
               "requests": None}
        for kind in ("unix", "tcp"):
            transport = SocketTransport(kind, name, settings)
            try:
                info: HealthInfo = transport.call(HEALTH, None, HealthInfo, 1.0)
                samples = []
                for _ in range(pings):
                    t0 = time.perf_counter()
                    transport.ping(1.0)
                    samples.append(time.perf_counter() - t0)
            except Exception:
                continue
            finally:
                transport.reset()
            p50, p99 = np.percentile(samples, [50, 99]) * 1e6
            row.update(pid=info.pid, transport=kind, health="up", uptime_s=info.uptime_s,
                       p50_us=round(float(p50), 1), p99_us=round(float(p99), 1), requests=info.requests)
            break
        rows.append(row)
    if "gateway" in services:
        gw = services["gateway"]
        row = {"name": "gateway", "pid": gw.get("pid"), "transport": "http", "health": "down",
               "uptime_s": None, "restarts": gw.get("restarts", 0), "p50_us": None, "p99_us": None,
               "requests": None}
        try:
            import httpx

            if httpx.get(f"{settings.gateway_url}/health", timeout=1.0).status_code == 200:
                row["health"] = "up"
                row["uptime_s"] = time.time() - (gw.get("started_at") or time.time())
        except Exception:
            pass
        rows.append(row)
    return {"supervisor_pid": supervisor.running_supervisor(settings), "services": rows}


@engine_app.command("run")
def engine_run(name: Annotated[str, typer.Argument(help="Engine name")]) -> None:
    """Run one engine in the foreground (unix socket + tcp port)."""
    from nautilus.engines import engine_names
    from nautilus.runtime.host import run_engine

    if name not in engine_names():
        fail(f"unknown engine {name!r}; known: {', '.join(engine_names())}")
    run_engine(name)


@app.command("gateway")
def gateway() -> None:
    """Serve the HTTP gateway in the foreground (containers; `up` starts it for you)."""
    from nautilus.gateway.__main__ import main

    main()


@app.command("web")
def web() -> None:
    """Serve the dashboard's build in the foreground (containers; `up` starts it for you)."""
    from nautilus.web import has_build, main

    if not has_build():
        fail("no dashboard build: run scripts/web.sh build (or set NAUTILUS_WEB_DIST)")
    main()


@engine_app.command("list")
def engine_list() -> None:
    """Registered engines with their ports and sockets."""
    from nautilus.engines import REGISTRY

    settings = get_settings()
    table = Table()
    for col in ("engine", "tcp port", "unix socket", "what it does"):
        table.add_column(col)
    for spec in REGISTRY.values():
        table.add_row(spec.name, str(settings.engine_port(spec.name)), str(settings.socket_path(spec.name)),
                      spec.summary)
    console.print(table)
