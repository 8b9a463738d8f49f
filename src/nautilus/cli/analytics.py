"""Analytics commands of the ``nautilus`` CLI: ``report RUN_ID`` (HTML tear sheet) and ``analytics stats FILE``."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

analytics_app = typer.Typer(help="Performance statistics and tear sheets.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")

DATE_COLUMNS = ("date", "datetime", "time", "timestamp", "ts")
_PCT = {"total_return", "annual_return", "annual_volatility", "max_drawdown", "value_at_risk",
        "conditional_value_at_risk", "alpha"}


R = TypeVar("R")


def _call(method: Callable[..., R], req: Any = None) -> R:
    """Call the handler ``method`` (e.g. ``AnalyticsEngine.stats``); platform errors become exit codes."""
    client = engine_client("analytics", get_settings())
    try:
        return run_guarded(client.call, method, req)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


@app.command("report")
def report(
    run_id: Annotated[int, typer.Argument(help="Saved backtest id")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file (default report-<id>.html)")] = None,
    benchmark: Annotated[str | None, typer.Option(help="Benchmark symbol from the catalog")] = None,
) -> None:
    """Write the HTML tear sheet of a saved backtest and print its path."""
    from nautilus.engines.analytics.engine import AnalyticsEngine
    from nautilus.engines.analytics.messages import BenchmarkBody, StatsRequest

    if run_id < 1:
        fail("RUN_ID must be a positive backtest id")
    req = StatsRequest(backtest_id=run_id, benchmark=BenchmarkBody(symbol=benchmark) if benchmark else None)
    reply = _call(AnalyticsEngine.report, req)
    path = out or Path(f"report-{run_id}.html")
    try:
        path.write_text(reply.html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    console.print(str(path), highlight=False, soft_wrap=True)


def _read_csv(file: Path) -> tuple[list[str], dict[str, list[float | None]]]:
    import pandas as pd

    try:
        frame = pd.read_csv(file)
    except FileNotFoundError:
        fail(f"no such file: {file}")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        fail(f"cannot read {file} as CSV: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if frame.shape[1] < 2:
        fail(f"{file} needs a date column and at least one return or equity column")
    lower = {str(c).lower(): c for c in frame.columns}
    date_col = next((lower[c] for c in DATE_COLUMNS if c in lower), frame.columns[0])
    try:
        times = pd.to_datetime(frame[date_col], utc=True)
    except (ValueError, TypeError):
        fail(f"column {date_col!r} of {file} is not dates")
    ts = [t.isoformat() for t in times]
    series: dict[str, list[float | None]] = {}
    for col in frame.columns:
        if col == date_col:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().all():
            fail(f"column {col!r} of {file} has no numbers")
        series[str(col)] = [None if math.isnan(v) else float(v) for v in values.to_numpy(dtype=float)]
    return ts, series


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name in _PCT:
        return f"{value * 100:.2f}%"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}"


@analytics_app.command("stats")
def stats(
    file: Annotated[Path, typer.Argument(help="CSV: a date column and one or more return (or equity) columns")],
    equity: Annotated[bool, typer.Option("--equity", help="The columns are equity curves, not returns")] = False,
    timeframe: Annotated[str | None, typer.Option(help="Bar timeframe of the rows (default 1d)")] = None,
    calendar: Annotated[str | None, typer.Option(help="Trading calendar: XNYS (default), 24/7, 24/5, ...")] = None,
    periods_per_year: Annotated[float | None, typer.Option(
        help="Periods per year (default: from the calendar and timeframe)")] = None,
    quantile_method: Annotated[str, typer.Option(
        help="VaR/CVaR: inverted_cdf (k-th worst, default) or linear (empyrical)")] = "inverted_cdf",
    risk_free: Annotated[float, typer.Option(help="Risk-free return per period")] = 0.0,
    benchmark: Annotated[str | None, typer.Option(help="Benchmark symbol from the catalog")] = None,
) -> None:
    """Print the statistics of each series in a CSV file."""
    from nautilus.engines.analytics.engine import AnalyticsEngine
    from nautilus.engines.analytics.messages import BenchmarkBody, SeriesBody, StatsRequest

    ts, columns = _read_csv(file)
    body = [SeriesBody(name=name, equity=values) if equity else SeriesBody(name=name, returns=values)
            for name, values in columns.items()]
    req = StatsRequest(ts=ts, series=body, periods_per_year=periods_per_year, risk_free=risk_free,
                       timeframe=timeframe, calendar=calendar, quantile_method=quantile_method,
                       benchmark=BenchmarkBody(symbol=benchmark) if benchmark else None)
    reply = _call(AnalyticsEngine.stats, req)
    source = reply.periods_per_year_source if reply.periods_per_year_source == "given" else (
        f"{reply.calendar} {reply.timeframe}")
    table = Table(title=f"{file.name}: {reply.n} periods, {reply.periods_per_year:g} per year ({source})")
    table.add_column("statistic")
    for item in reply.series:
        table.add_column(item.name, justify="right")
    for name in reply.series[0].stats:
        table.add_row(name.replace("_", " "), *(_fmt(name, item.stats.get(name)) for item in reply.series))
    console.print(table)
