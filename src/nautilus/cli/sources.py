"""Market data source commands of the ``nautilus`` CLI: ``fetch``, ``update``, ``sources``, ``fetches`` and
``stream start|list|stop``.

``fetch`` and ``update`` start jobs in the MarketData engine (in this process when no engine runs) and
follow them with progress bars until they end; a failed job prints the source's reason and exits 1, a
rejected one (unknown symbol, bad option) exits 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, format_ts, parse_time_arg, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

stream_app = typer.Typer(help="Live bars from a source (IB 5-second bars, ccxt polling) into the catalog and "
                              "onto channel bars.<symbol>.", no_args_is_help=True)
app.add_typer(stream_app, name="stream")

POLL_S = 0.2


R = TypeVar("R")


def _call(method: Callable[..., R], req: Any = None) -> R:
    """Call the handler ``method`` (e.g. ``MarketDataEngine.update``); platform errors become exit codes."""
    return run_guarded(engine_client("marketdata", get_settings()).call, method, req)


def _options(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"option {pair!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def follow(jobs: list[Any]) -> list[Any]:
    """Progress bars for ``jobs`` until every one ended; returns their final states."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import FetchJobRequest

    final: dict[int, Any] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[note]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {j.id: progress.add_task(f"{j.source} {j.source_symbol} {j.timeframe}", total=None, note="queued")
                 for j in jobs}
        while len(final) < len(jobs):
            for job_id, task in tasks.items():
                if job_id in final:
                    continue
                job = _call(MarketDataEngine.fetch_job, FetchJobRequest(job_id=job_id))
                note = job.error or job.message or job.status
                if job.status in ("queued", "running"):
                    progress.update(task, total=job.total, completed=job.done, note=note)
                else:
                    progress.update(task, total=1, completed=1, note=f"{job.status}: {note}")
                    final[job_id] = job
            time.sleep(POLL_S)
    return [final[j.id] for j in jobs]


def _report(jobs: list[Any]) -> None:
    worst = 0
    for job in jobs:
        if job.status == "ok":
            console.print(f"{job.symbol}/{job.timeframe}: {job.rows:,} bars from {job.source} "
                          f"({job.requests} requests, {job.duration_s or 0:.1f} s)")
        else:
            console.print(f"[red]{job.symbol}/{job.timeframe} {job.status}:[/red] {job.error}", highlight=False)
            worst = max(worst, 2 if job.status == "rejected" else 1)
    if worst:
        raise typer.Exit(worst)


@app.command()
def fetch(
    source: Annotated[str, typer.Argument(help="yahoo, fred, alphavantage, ib or ccxt")],
    symbol: Annotated[str, typer.Argument(help="The source's spelling: AAPL, DGS10, EUR/USD, BTC/USDT")],
    start: Annotated[str | None, typer.Option(help="ISO start (inclusive); omit to continue a fetched series")] = None,
    end: Annotated[str | None, typer.Option(help="ISO end (exclusive); default now")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length: 1m .. 1h, 1d, 1w, 1mo, 1q, 1y (per source)")] = "1d",
    as_symbol: Annotated[str | None, typer.Option("--as", help="Catalog name (default: symbol without / and :)")] = None,
    adjust: Annotated[str, typer.Option(help="With splits/dividends: total, splits or none")] = "total",
    option: Annotated[list[str] | None, typer.Option(help="Source option KEY=VALUE (e.g. exchange=kraken)")] = None,
    force: Annotated[bool, typer.Option(help="Fetch the whole range even where it was fetched before")] = False,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends")] = True,
) -> None:
    """Fetch bars from a source into the catalog (only the ranges not fetched before)."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import FetchRequest

    if adjust not in ("total", "splits", "none"):
        fail("adjust must be total, splits or none")
    req = FetchRequest(source=source, symbol=symbol, timeframe=timeframe, start_ns=parse_time_arg(start, "start"),
                       end_ns=parse_time_arg(end, "end"), as_symbol=as_symbol, adjust=adjust,  # type: ignore[arg-type]
                       options=_options(option), force=force)
    job = _call(MarketDataEngine.fetch_start, req)
    if not wait:
        console.print(f"fetch job {job.id} started ({job.symbol}/{job.timeframe})")
        return
    _report(follow([job]))


@app.command()
def update(
    symbols: Annotated[list[str] | None, typer.Argument(help="Catalog symbols to refresh")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every series fetched from a source before")] = False,
) -> None:
    """Fetch every fetched series (or SYMBOLS) up to now; the MarketData engine also runs this daily at
    NAUTILUS_UPDATE_TIME (HH:MM UTC)."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import UpdateRequest

    if not all_ and not symbols:
        fail("name symbols or pass --all")
    jobs = _call(MarketDataEngine.update, UpdateRequest(symbols=None if all_ else symbols)).fetches
    if not jobs:
        console.print("nothing to update (no series was fetched from a source yet, or all are running)")
        return
    _report(follow(jobs))


@app.command()
def sources() -> None:
    """Market data sources: timeframes, live streams, whether the settings let them work."""
    from nautilus.engines.marketdata.engine import MarketDataEngine

    table = Table(title="Sources")
    for col in ("name", "title", "timeframes", "live", "ready"):
        table.add_column(col)
    for s in _call(MarketDataEngine.sources).sources:
        table.add_row(s.name, s.title, " ".join(s.timeframes), "yes" if s.live else "-",
                      "yes" if s.configured else f"[yellow]{s.note}[/yellow]")
    console.print(table)


@app.command()
def fetches(
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 20,
    symbol: Annotated[str | None, typer.Option(help="Only this catalog symbol")] = None,
) -> None:
    """Recent fetch jobs: status, range, rows, requests, duration, error."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import FetchListRequest

    table = Table(title="Fetches")
    for col in ("id", "source", "symbol", "tf", "from", "to", "status", "rows", "req", "s", "error"):
        table.add_column(col)
    req = FetchListRequest(limit=limit, symbol=symbol.upper() if symbol else None)
    for j in _call(MarketDataEngine.fetches_list, req).fetches:
        table.add_row(str(j.id), j.source, j.symbol, j.timeframe, format_ts(j.start_ns), format_ts(j.end_ns), j.status,
                      f"{j.rows:,}", str(j.requests), f"{j.duration_s:.1f}" if j.duration_s is not None else "-",
                      j.error or "")
    console.print(table)


@stream_app.command("start")
def stream_start(
    source: Annotated[str, typer.Argument(help="ib or ccxt")],
    symbol: Annotated[str, typer.Argument(help="The source's spelling")],
    timeframe: Annotated[str, typer.Option(help="5s for IB real-time bars; the bar length for ccxt")] = "1m",
    as_symbol: Annotated[str | None, typer.Option("--as", help="Catalog name")] = None,
    option: Annotated[list[str] | None, typer.Option(help="Source option KEY=VALUE")] = None,
    wait: Annotated[bool, typer.Option(help="Follow it here until Ctrl-C (then stop it)")] = True,
) -> None:
    """Start a live stream; each bar is stored and published on bars.<symbol>."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import StreamRequest, StreamStopRequest

    req = StreamRequest(source=source, symbol=symbol, timeframe=timeframe, as_symbol=as_symbol, options=_options(option))
    info = _call(MarketDataEngine.stream_start, req)
    console.print(f"stream {info.id}: {info.source} {info.source_symbol} → bars.{info.symbol} ({info.timeframe})")
    if not wait:
        return
    seen = 0
    try:
        while info.status == "running":
            time.sleep(1.0)
            info = next(s for s in _call(MarketDataEngine.streams_list).streams if s.id == info.id)
            if info.bars != seen:
                console.print(f"{info.bars} bars, last {format_ts(info.last_ts)}")
                seen = info.bars
    except KeyboardInterrupt:
        info = _call(MarketDataEngine.stream_stop, StreamStopRequest(stream_id=info.id))
    console.print(f"stream {info.id} {info.status}: {info.bars} bars" + (f" ({info.error})" if info.error else ""))
    if info.status == "failed":
        raise typer.Exit(1)


@stream_app.command("list")
def stream_list() -> None:
    """Live streams of the MarketData engine."""
    from nautilus.engines.marketdata.engine import MarketDataEngine

    table = Table(title="Streams")
    for col in ("id", "source", "symbol", "timeframe", "status", "bars", "last bar", "error"):
        table.add_column(col)
    for s in _call(MarketDataEngine.streams_list).streams:
        table.add_row(str(s.id), s.source, s.symbol, s.timeframe, s.status, str(s.bars), format_ts(s.last_ts),
                      s.error or "")
    console.print(table)


@stream_app.command("stop")
def stream_stop(stream_id: Annotated[int, typer.Argument(help="Stream id")]) -> None:
    """Stop a live stream."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import StreamStopRequest

    info = _call(MarketDataEngine.stream_stop, StreamStopRequest(stream_id=stream_id))
    console.print(f"stream {info.id} {info.status}: {info.bars} bars")
