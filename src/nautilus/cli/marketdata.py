"""Market data commands of the ``nautilus`` CLI: ingest, bars, instruments, sample, generate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, format_ts, parse_time_arg, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings
from nautilus.core.errors import InvalidInput


def parse_columns(text: str | None) -> dict[str, str] | None:
    """``--columns`` JSON → {canonical name: file column}; InvalidInput (exit 2) when it is not such an object."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("columns must be a JSON object of canonical → file column names", field="columns") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput("columns must map strings to strings", field="columns")
    return value


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
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import IngestRequest

    if not file.is_file():
        fail(f"file {str(file)!r} does not exist")
    if timestamp_unit not in (None, "s", "ms", "us", "ns"):
        fail("timestamp-unit must be one of s, ms, us, ns")
    settings = get_settings()
    fmt = "parquet" if file.suffix.lower() in (".parquet", ".pq") else "csv"
    req = IngestRequest(symbol=symbol, timeframe=timeframe, data=file.read_bytes(), fmt=fmt,
                        columns=run_guarded(parse_columns, columns), tz=tz, timestamp_unit=timestamp_unit,  # type: ignore[arg-type]
                        datetime_format=datetime_format, mode="replace" if replace else "merge",
                        filename=file.name, source=fmt)
    summary = run_guarded(engine_client("marketdata", settings).call, MarketDataEngine.ingest, req)
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
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import BarsRequest

    if output not in ("table", "csv", "json"):
        fail("output must be table, csv or json")
    settings = get_settings()
    req = BarsRequest(symbol=symbol, timeframe=timeframe, start_ns=run_guarded(parse_time_arg, start, "start"),
                      end_ns=run_guarded(parse_time_arg, end, "end"), limit=limit)
    result = run_guarded(engine_client("marketdata", settings).call, MarketDataEngine.bars, req)
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
    from nautilus.engines.marketdata.engine import MarketDataEngine

    result = run_guarded(engine_client("marketdata", get_settings()).call, MarketDataEngine.instruments)
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
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import SampleRequest

    client = engine_client("marketdata", get_settings())
    if if_empty and run_guarded(client.call, MarketDataEngine.instruments).instruments:
        console.print("sample data already present")
        return
    reply = run_guarded(client.call, MarketDataEngine.load_sample, SampleRequest(seed=seed))
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
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import GenerateRequest

    if model not in ("gbm", "garch"):
        fail("model must be gbm or garch")
    req = GenerateRequest(symbol=symbol, timeframe=timeframe, model=model, n=n,  # type: ignore[arg-type]
                          start_ns=run_guarded(parse_time_arg, start, "start") or 0, seed=seed, sigma=sigma, mu=mu,
                          sessions=calendar)
    s = run_guarded(engine_client("marketdata", get_settings()).call, MarketDataEngine.generate, req)
    console.print(f"generated {s.rows_written:,} {s.timeframe} bars for {s.symbol} (calendar {s.calendar or '-'})")
