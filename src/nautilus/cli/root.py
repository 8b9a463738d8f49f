"""The ``nautilus`` command: one subcommand for every user job.

Bad input prints one line and exits with status 2; an unreachable service exits with 1.

Every command resolves the stack running at its home (``--home``, else ``NAUTILUS_HOME``, else
``~/.nautilus``): the database, bus, directories and ports recorded by that stack's supervisor in
``HOME/stack.json`` win over the caller's environment (see :mod:`nautilus.config`), so ``nautilus keys add``
from any shell writes where the stack reads. When the environment explicitly names another database, bus or
data directory than the running stack's, commands that may write refuse (exit 2, naming both) and read-only
ones warn. ``nautilus config`` shows what was resolved and from where.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from nautilus.config import STORE_FIELDS, Settings, get_settings
from nautilus.core.errors import InvalidInput, NautilusError


class _Commands(TyperGroup):
    """The top-level group; notes which command (``keys add``, ``status``) runs, for :func:`main`'s check."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        path = [cmd.name if cmd is not None and cmd.name else str(name)]
        if isinstance(cmd, TyperGroup):
            sub = next((a for a in rest if not a.startswith("-")), None)
            if sub is not None:
                path.append(sub)
        ctx.meta["nautilus.command"] = " ".join(path)
        ctx.meta["nautilus.help"] = any(a in ("--help", "-h") for a in rest)
        return name, cmd, rest


app = typer.Typer(help="Nautilus: quantitative research, risk and paper trading.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=_Commands)
engine_app = typer.Typer(help="Run or inspect single engines.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (stored hashed).", no_args_is_help=True)
app.add_typer(engine_app, name="engine")
app.add_typer(keys_app, name="keys")

console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# Commands that only read (or stop the stack): they run beside an environment that names another store than the
# running stack's, with a warning. Every other command may write and refuses (fail closed: a new command is a
# writer until listed here).
READ_ONLY_COMMANDS = frozenset({
    "status", "config", "down", "engine list", "keys list", "db identity", "bars", "instruments", "sources",
    "fetches", "factor list", "features list", "features show", "model tasks", "model list", "model show",
    "paper accounts", "paper orders", "paper positions", "paper fills", "backtests list", "backtests show",
    "stream list", "replay list", "watch", "var", "stress", "indicators", "patterns", "scan",
})
ORIGIN_LABEL = {"init": "explicit", "env": "environment", "default": "default"}


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", help="The stack's home (default: NAUTILUS_HOME, else ~/.nautilus); a stack running there "
                       "decides the database, bus and ports", show_default=False)] = None,
) -> None:
    """Nautilus: quantitative research, risk and paper trading."""
    if home is not None:
        os.environ["NAUTILUS_HOME"] = str(home.expanduser().absolute())  # and to the processes it starts
        get_settings.cache_clear()
    if ctx.resilient_parsing or ctx.meta.get("nautilus.help"):
        return
    check_stack(get_settings(), ctx.meta.get("nautilus.command", ""))


def origin_text(settings: Settings, name: str) -> str:
    """Where a setting came from, in words."""
    origin = settings.origin(name)
    if origin == "stack":
        stack = settings.running_stack or {}
        return f"running stack, supervisor pid {stack.get('pid')}"
    return ORIGIN_LABEL.get(origin, origin)


def check_stack(settings: Settings, command: str) -> None:
    """Refuse a command that may write while the environment names another store than the running stack's
    (exit 2, naming both); warn about every other difference (the stack's value is the one in effect)."""
    conflicts = settings.stack_conflicts()
    if not conflicts:
        return
    resolved = settings.resolution()["conflicts"]
    pid = (settings.running_stack or {}).get("pid")
    where = f"the stack running at {settings.home} (supervisor pid {pid})"
    stores = [f for f in conflicts if f in STORE_FIELDS]
    if stores and command not in READ_ONLY_COMMANDS:
        named = "; ".join(f"NAUTILUS_{f.upper()} is {resolved[f]['environment']} but {where} uses "
                          f"{resolved[f]['stack']}" for f in stores)
        fail(f"refusing `nautilus {command}`: {named}. Unset NAUTILUS_{stores[0].upper()} to act on the running "
             "stack, or stop it first (`nautilus down`) to use another one")
    for name in conflicts:
        err.print(f"[yellow]warning:[/yellow] NAUTILUS_{name.upper()}={resolved[name]['environment']} is "
                  f"ignored: {where} uses {resolved[name]['stack']}", highlight=False, soft_wrap=True)


def run_guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Map platform errors to exit codes: 4xx-type → 2, unavailable/other → 1."""
    try:
        return fn(*args, **kwargs)
    except NautilusError as exc:
        fail(exc.message, 2 if 400 <= exc.status < 500 else 1)


_CLIENTS: dict[tuple[str, int], Any] = {}


def engine_client(name: str, settings: Settings):
    """One client per engine and settings object for the command's life: without a running engine it hosts the
    engine in-process, and a job started by one call (training, a deployment) is the one later calls see."""
    from nautilus.runtime.client import EngineClient, no_stack_running

    key = (name, id(settings))
    if key not in _CLIENTS:
        client = EngineClient(name, settings, probe=False, inproc_writer=no_stack_running(settings))
        _CLIENTS[key] = (client, settings)  # the pair keeps the id unique
    return _CLIENTS[key][0]


def parse_time_arg(value: str | None, field: str) -> int | None:
    from nautilus.gateway.routers import parse_time

    return parse_time(value, field)


def format_ts(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M")


# Stack lifecycle ------------------------------------------------------------------------------------
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

    from nautilus.runtime.client import SocketTransport

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
) -> None:
    """The settings this CLI resolved (profile, database, bus, auth, directories) and where each came from."""
    from nautilus.config import stack_fields

    settings = get_settings()
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
    from nautilus.runtime.client import HEALTH, HealthInfo, SocketTransport

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


# Market data --------------------------------------------------------------------------------------
@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars")],
    symbol: Annotated[str, typer.Option(help="Instrument symbol")],
    timeframe: Annotated[str, typer.Option(help="Bar length, e.g. 1m, 1h, 1d")] = "1d",
    tz: Annotated[str, typer.Option(help="Time zone of naive timestamps (daily and longer bars keep the file's "
                                         "dates: they are stamped 00:00 UTC of their session date)")] = "UTC",
    columns: Annotated[str | None, typer.Option(help='Column mapping as JSON, e.g. {"ts":"Date"}')] = None,
    timestamp_unit: Annotated[str | None, typer.Option(help="Epoch unit: s, ms, us or ns")] = None,
    datetime_format: Annotated[str | None, typer.Option(help="strftime format of timestamps")] = None,
    replace: Annotated[bool, typer.Option(help="Replace the covered range instead of merging")] = False,
) -> None:
    """Import bars from a file; a bad file is rejected whole (exit 2)."""
    from nautilus.engines.marketdata.messages import IngestRequest
    from nautilus.gateway.routers.marketdata import _columns

    if not file.is_file():
        fail(f"file {str(file)!r} does not exist")
    if timestamp_unit not in (None, "s", "ms", "us", "ns"):
        fail("timestamp-unit must be one of s, ms, us, ns")
    settings = get_settings()
    fmt = "parquet" if file.suffix.lower() in (".parquet", ".pq") else "csv"
    req = IngestRequest(symbol=symbol, timeframe=timeframe, data=file.read_bytes(), fmt=fmt,
                        columns=run_guarded(_columns, columns), tz=tz, timestamp_unit=timestamp_unit,  # type: ignore[arg-type]
                        datetime_format=datetime_format, mode="replace" if replace else "merge",
                        filename=file.name, source=fmt)
    summary = run_guarded(engine_client("marketdata", settings).call, "ingest", req)
    console.print(f"imported {summary.rows_written:,} bars into {summary.symbol}/{summary.timeframe} "
                  f"({format_ts(summary.first_ts)} → {format_ts(summary.last_ts)}, {summary.total_rows:,} stored; "
                  f"stamps: {summary.time_convention or '-'}, calendar {summary.calendar or '-'})")


@app.command()
def bars(
    symbol: Annotated[str, typer.Argument(help="Instrument symbol")],
    timeframe: Annotated[str, typer.Option(help="Bar length (resampled from finer bars if needed)")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO 8601 start (inclusive)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the last N bars")] = None,
    output: Annotated[str, typer.Option(help="table, csv or json")] = "table",
) -> None:
    """Print bars of one symbol."""
    from nautilus.engines.marketdata.messages import BarsRequest

    if output not in ("table", "csv", "json"):
        fail("output must be table, csv or json")
    settings = get_settings()
    req = BarsRequest(symbol=symbol, timeframe=timeframe, start_ns=run_guarded(parse_time_arg, start, "start"),
                      end_ns=run_guarded(parse_time_arg, end, "end"), limit=limit)
    result = run_guarded(engine_client("marketdata", settings).call, "bars", req)
    if output == "json":
        print(result.to_json().decode())
        return
    frame = result.to_pandas()
    if output == "csv":
        sys.stdout.write(frame.to_csv(index_label="ts"))
        return
    table = Table(title=f"{result.symbol} {result.timeframe} ({len(result):,} bars)")
    for col in ("ts", "open", "high", "low", "close", "volume"):
        table.add_column(col, justify="right")
    shown = frame if len(frame) <= 60 else frame.iloc[-60:]
    for ts, row in shown.iterrows():
        table.add_row(ts.strftime("%Y-%m-%d %H:%M"), f"{row.open:.4f}", f"{row.high:.4f}", f"{row.low:.4f}",
                      f"{row.close:.4f}", f"{row.volume:,.0f}")
    console.print(table)
    if len(frame) > 60:
        console.print(f"(last 60 of {len(frame):,}; use --output csv for all)")


@app.command()
def instruments() -> None:
    """Instruments and their stored series."""
    result = run_guarded(engine_client("marketdata", get_settings()).call, "instruments")
    table = Table(title="Instruments")
    for col in ("symbol", "timeframe", "first", "last", "rows"):
        table.add_column(col)
    for inst in result.instruments:
        for s in inst.series:
            table.add_row(inst.symbol, s.timeframe, format_ts(s.first_ts), format_ts(s.last_ts), f"{s.rows:,}")
    console.print(table)


@app.command()
def sample(
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    if_empty: Annotated[bool, typer.Option(help="Only when the catalog holds no bars")] = False,
) -> None:
    """Load the synthetic sample universe (deterministic by seed)."""
    from nautilus.engines.marketdata.messages import SampleRequest

    client = engine_client("marketdata", get_settings())
    if if_empty and run_guarded(client.call, "instruments").instruments:
        console.print("sample data already present")
        return
    reply = run_guarded(client.call, "load_sample", SampleRequest(seed=seed))
    for s in reply.series:
        console.print(f"  {s.symbol:<8} {s.timeframe:<4} {s.total_rows:>8,} bars "
                      f"{format_ts(s.first_ts)} → {format_ts(s.last_ts)}")


@app.command()
def generate(
    symbol: Annotated[str, typer.Argument(help="Symbol to create")],
    timeframe: Annotated[str, typer.Option()] = "1d",
    model: Annotated[str, typer.Option(help="gbm or garch")] = "gbm",
    n: Annotated[int, typer.Option(help="Number of bars")] = 1000,
    start: Annotated[str, typer.Option(help="First bar (ISO 8601)")] = "2020-01-01",
    seed: Annotated[int, typer.Option()] = 1,
    sigma: Annotated[float, typer.Option(help="Annualised volatility")] = 0.2,
    mu: Annotated[float, typer.Option(help="Annualised drift")] = 0.05,
    calendar: Annotated[str | None, typer.Option(help="Trading calendar (XNYS, XLON, 24/7, 24/5, ...; default: "
                                                      "the instrument's)")] = None,
) -> None:
    """Generate a synthetic series into the catalog, on the instrument's trading calendar."""
    from nautilus.engines.marketdata.messages import GenerateRequest

    if model not in ("gbm", "garch"):
        fail("model must be gbm or garch")
    req = GenerateRequest(symbol=symbol, timeframe=timeframe, model=model, n=n,  # type: ignore[arg-type]
                          start_ns=run_guarded(parse_time_arg, start, "start") or 0, seed=seed, sigma=sigma, mu=mu,
                          sessions=calendar)
    s = run_guarded(engine_client("marketdata", get_settings()).call, "generate", req)
    console.print(f"generated {s.rows_written:,} {s.timeframe} bars for {s.symbol} (calendar {s.calendar or '-'})")


# API keys -----------------------------------------------------------------------------------------
@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for")],
    role: Annotated[str, typer.Option(help="read, trade or admin")] = "read",
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    import secrets

    from nautilus.storage.bootstrap import open_database

    if role not in ("read", "trade", "admin"):
        fail("role must be read, trade or admin")
    settings = get_settings()
    db = run_guarded(open_database, settings)  # refuses a missing or replaced database
    raw = "nk_" + secrets.token_urlsafe(32)
    key_id = run_guarded(db.add_api_key, name, raw, role)
    console.print(f"key {key_id} for {name} ({role}): [bold]{raw}[/bold]")


@keys_app.command("list")
def keys_list() -> None:
    """Keys with their role and state (the keys themselves are never stored)."""
    from nautilus.storage.bootstrap import open_database

    settings = get_settings()
    db = run_guarded(open_database, settings)
    table = Table(title="API keys")
    for col in ("id", "name", "role", "created", "revoked"):
        table.add_column(col)
    for k in run_guarded(db.list_api_keys):
        table.add_row(str(k["id"]), k["name"], k["role"], k["created_at"].strftime("%Y-%m-%d %H:%M"),
                      k["revoked_at"].strftime("%Y-%m-%d %H:%M") if k["revoked_at"] else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id")]) -> None:
    """Revoke a key."""
    from nautilus.storage.bootstrap import open_database

    run_guarded(run_guarded(open_database, get_settings()).revoke_api_key, key_id)
    console.print(f"revoked key {key_id}")


# Benchmarks ---------------------------------------------------------------------------------------
@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Fewer repetitions, smaller data")] = False,
    only: Annotated[str | None, typer.Option(help="Comma-separated case names")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON (and .md beside)")] = None,
) -> None:
    """Time baselines and our accelerated paths in the same run; report ratios."""
    from nautilus.bench.harness import run_bench

    try:
        run_bench(quick=quick, only=only.split(",") if only else None, json_path=json_out, console=console)
    except InvalidInput as exc:
        fail(exc.message)


from nautilus import (  # noqa: E402,F401  (register their commands)
    cli_analytics,
    cli_db,
    cli_factor,
    cli_features,
    cli_ml,
    cli_portfolio,
    cli_risk,
    cli_sources,
    cli_strategy,
    cli_stream,
)

if __name__ == "__main__":
    app()
