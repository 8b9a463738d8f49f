"""Strategy commands of the ``nautilus`` CLI: indicators, patterns, scan, backtest(s), sweep."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nautilus.cli.common import (
    console,
    engine_client,
    fail,
    fmt_value,
    format_ts,
    parse_assignments,
    parse_time_arg,
    parse_value,
    run_guarded,
)
from nautilus.cli.root import app
from nautilus.config import get_settings

backtests_app = typer.Typer(help="Saved backtests.", no_args_is_help=True)
app.add_typer(backtests_app, name="backtests")

OP_RE = re.compile(r"\s*(<=|>=|<|>|crosses_above|crosses_below)\s*")




def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """``fast=5:50:5`` (inclusive range) or ``slow=20,50,100``."""
    out: dict[str, list[Any]] = {}
    for item in items or []:
        name, sep, spec = item.partition("=")
        if not sep:
            fail(f"--grid expects name=values, got {item!r}")
        if ":" in spec:
            parts = [parse_value(p) for p in spec.split(":")]
            if len(parts) not in (2, 3) or not all(isinstance(p, (int, float)) for p in parts):
                fail(f"--grid range must be low:high[:step], got {spec!r}")
            lo, hi, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
            if step <= 0 or hi < lo:
                fail(f"--grid range {spec!r} is empty")
            values = np.arange(lo, hi + step / 2, step)
            out[name.strip()] = [int(v) if all(isinstance(p, int) for p in parts) else float(v) for v in values]
        else:
            out[name.strip()] = [parse_value(v) for v in spec.split(",") if v.strip()]
    return out


def parse_condition(text: str) -> dict[str, Any]:
    """``rsi(14) < 30``, ``close > sma(200)``, ``sma(10) crosses_above sma(50)``."""
    parts = OP_RE.split(text.strip(), maxsplit=1)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        fail(f"condition {text!r} must look like 'rsi(14) < 30' or 'sma(10) crosses_above sma(50)'")
    left, op, right = parts
    value = parse_value(right)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"indicator": left, "op": op, "value": float(value)}
    return {"indicator": left, "op": op, "other": right}


def _names(text: str | None) -> list[str] | None:
    if text is None or text.lower() == "all":
        return None
    if text.lower() == "none":
        return []
    return [t.strip() for t in text.split(",") if t.strip()]



@app.command()
def warmup() -> None:
    """Compile (or load from cache) the numba kernels so first requests are fast."""
    import time

    from nautilus.warmup import warm

    t0 = time.perf_counter()
    with console.status("compiling kernels") as status:
        warm(lambda name: status.update(f"compiling {name}"))
    console.print(f"kernels ready in {time.perf_counter() - t0:.1f} s")


@app.command()
def indicators(
    symbol: Annotated[str | None, typer.Argument(help="Instrument symbol")] = None,
    ind: Annotated[list[str] | None, typer.Option("--ind", "-i", help="Indicator spec, e.g. 'rsi(14)' (repeat)")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO 8601 start")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the last N bars")] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the indicator catalogue")] = False,
    output: Annotated[str, typer.Option(help="table, csv or json")] = "table",
) -> None:
    """Compute indicators over a symbol's bars (or list the catalogue)."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import IndicatorsRequest

    client = engine_client("strategy", get_settings())
    if list_all:
        items = run_guarded(client.call, StrategyEngine.list_indicators).items
        table = Table(title=f"Indicators ({len(items)})")
        for col in ("name", "group", "params", "outputs"):
            table.add_column(col)
        for it in items:
            params = ", ".join(f"{p['name']}={p.get('default')}" for p in it.get("params", []))
            table.add_row(it["name"], it.get("group", ""), params, ", ".join(it.get("outputs", [])))
        console.print(table)
        return
    if not symbol or not ind:
        fail("give a SYMBOL and at least one --ind (or --list)")
    req = IndicatorsRequest(symbol=symbol, timeframe=timeframe, start_ns=run_guarded(parse_time_arg, start, "start"),
                            end_ns=run_guarded(parse_time_arg, end, "end"), limit=limit, indicators=list(ind))
    reply = run_guarded(client.call, StrategyEngine.indicators, req)
    import pandas as pd

    frame = pd.DataFrame(reply.columns, index=pd.to_datetime(reply.ts, utc=True))
    if output == "json":
        print(frame.to_json(orient="split", date_unit="ms"))
    elif output == "csv":
        sys.stdout.write(frame.to_csv(index_label="ts"))
    else:
        table = Table(title=f"{reply.symbol} {reply.timeframe}")
        table.add_column("ts")
        for col in frame.columns:
            table.add_column(col, justify="right")
        for ts, row in frame.iloc[-30:].iterrows():
            table.add_row(ts.strftime("%Y-%m-%d %H:%M"), *[fmt_value(None if np.isnan(v) else float(v)) for v in row])
        console.print(table)


@app.command()
def patterns(
    symbol: Annotated[str, typer.Argument(help="Instrument symbol")],
    candles: Annotated[str | None, typer.Option(help="Comma-separated CDL names, 'all' or 'none'")] = "all",
    chart: Annotated[str | None, typer.Option(help="Comma-separated chart pattern kinds, 'all' or 'none'")] = "all",
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    limit: Annotated[int | None, typer.Option(help="Only the last N bars")] = 500,
    backend: Annotated[str, typer.Option(help="numba or talib")] = "numba",
    last: Annotated[int, typer.Option(help="Show the last N candlestick hits")] = 30,
) -> None:
    """Candlestick and chart patterns found in a symbol's recent bars."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import PatternsRequest

    if backend not in ("numba", "talib"):
        fail("backend must be numba or talib")
    req = PatternsRequest(symbol=symbol, timeframe=timeframe, limit=limit, candles=_names(candles),
                          chart=_names(chart), backend=backend)  # type: ignore[arg-type]
    reply = run_guarded(engine_client("strategy", get_settings()).call, StrategyEngine.patterns, req)
    table = Table(title=f"{reply.symbol} {reply.timeframe}: candlestick patterns ({len(reply.candles)} hits)")
    for col in ("ts", "pattern", "value"):
        table.add_column(col)
    for hit in reply.candles[-last:]:
        table.add_row(format_ts(hit.ts), hit.pattern, f"{hit.value:+d}")
    console.print(table)
    if reply.chart:
        ct = Table(title="Chart patterns")
        for col in ("kind", "start", "end", "confidence", "breakout", "target", "confirmed"):
            ct.add_column(col)
        for p in reply.chart:
            ct.add_row(p["kind"], format_ts(p["start_ts"]), format_ts(p["end_ts"]), fmt_value(p.get("confidence")),
                       fmt_value(p.get("breakout_price")), fmt_value(p.get("target_price")), str(p.get("confirmed")))
        console.print(ct)


@app.command()
def scan(
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols (default: all)")] = None,
    pattern: Annotated[list[str] | None, typer.Option("--pattern", "-p", help="Candlestick pattern (repeat)")] = None,
    chart: Annotated[list[str] | None, typer.Option(help="Chart pattern kind (repeat)")] = None,
    condition: Annotated[list[str] | None, typer.Option("--condition", "-c", help="e.g. 'rsi(14) < 30' (repeat)")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    within: Annotated[int, typer.Option(help="Patterns count when they fired in the last N bars")] = 1,
    history: Annotated[int, typer.Option(help="Bars per symbol")] = 500,
    show_all: Annotated[bool, typer.Option("--all", help="Show non-matching symbols too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Scan a universe for candlestick/chart patterns and indicator conditions."""
    import msgspec

    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import Condition, ScanRequest

    conds = [msgspec.convert(parse_condition(c), Condition) for c in condition or []]
    req = ScanRequest(symbols=_names(symbols), timeframe=timeframe, patterns=list(pattern or []),
                      chart=list(chart or []), conditions=conds, within=within, history=history)
    reply = run_guarded(engine_client("strategy", get_settings()).call, StrategyEngine.scan, req)
    if as_json:
        print(msgspec.json.encode(reply).decode())
        return
    table = Table(title=f"Scan {reply.timeframe}: {reply.matched} of {reply.symbols} symbols match "
                        f"({reply.mode}, {reply.elapsed_ms:.1f} ms)")
    for col in ("symbol", "last bar", "close", "patterns", "chart", "conditions"):
        table.add_column(col)
    for row in reply.rows:
        if not (row.matched or show_all):
            continue
        pats = ", ".join(f"{k}{v:+d}" for k, v in row.patterns.items())
        conds_txt = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in row.conditions.items())
        table.add_row(row.symbol, format_ts(row.ts), fmt_value(row.close), pats, ", ".join(row.chart), conds_txt)
    console.print(table)


def _stats_table(title: str, stats: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        table.add_row(key, fmt_value(value))
    return table


@app.command()
def backtest(
    strategy: Annotated[str, typer.Option(help="Built-in strategy, e.g. sma_cross")],
    symbol: Annotated[str, typer.Option(help="Instrument symbol")],
    param: Annotated[list[str] | None, typer.Option(help="Strategy parameter name=value (repeat)")] = None,
    config: Annotated[list[str] | None, typer.Option(help="Backtest setting name=value, e.g. fees_bps=5")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO 8601 start")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    save: Annotated[bool, typer.Option(help="Save the run")] = True,
    plot: Annotated[Path | None, typer.Option(help="Write the equity and drawdown chart (PNG)")] = None,
    model: Annotated[str | None, typer.Option(help="model_signal: a registered model whose predictions over "
                                                   "these bars are the signal")] = None,
    model_version: Annotated[int | None, typer.Option(help="model_signal: the model's version (default: "
                                                           "production, else the latest)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Backtest a built-in strategy on one symbol; prints the statistics (model_signal: give --model)."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import BacktestRequest

    req = BacktestRequest(symbol=symbol, timeframe=timeframe, start_ns=run_guarded(parse_time_arg, start, "start"),
                          end_ns=run_guarded(parse_time_arg, end, "end"), strategy=strategy,
                          params=parse_assignments(param, "param"), config=parse_assignments(config, "config"),
                          save=save, include_equity=plot is not None, model=model, model_version=model_version)
    reply = run_guarded(engine_client("strategy", get_settings()).call, StrategyEngine.backtest, req)
    if as_json:
        print(json.dumps({"id": reply.id, "stats": reply.stats, "params": reply.params, "config": reply.config,
                          "trades": len(reply.trades)}, default=str))
    else:
        params = ", ".join(f"{k}={v}" for k, v in reply.params.items())
        saved = f" saved as #{reply.id}" if reply.id is not None else ""
        console.print(_stats_table(f"{reply.strategy}({params}) on {reply.symbol} {reply.timeframe}{saved}",
                                   reply.stats))
    if plot is not None and reply.equity is not None:
        from nautilus.strategy.plots import equity_chart

        equity_chart(reply.ts, reply.equity, str(plot), title=f"{reply.strategy} on {reply.symbol}")
        console.print(f"chart written to {plot}")


@backtests_app.command("list")
def backtests_list(
    limit: Annotated[int, typer.Option(help="How many")] = 20,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol")] = None,
    strategy: Annotated[str | None, typer.Option(help="Only this strategy")] = None,
) -> None:
    """Saved backtests, newest first."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import BacktestListRequest

    req = BacktestListRequest(limit=limit, symbol=symbol, strategy=strategy)
    items = run_guarded(engine_client("strategy", get_settings()).call, StrategyEngine.backtests, req).items
    table = Table(title="Backtests")
    for col in ("id", "when", "strategy", "symbol", "params", "total return", "sharpe", "max dd", "trades"):
        table.add_column(col)
    for it in items:
        st = it["stats"]
        table.add_row(str(it["id"]), it["created_at"].strftime("%Y-%m-%d %H:%M"), it["strategy"],
                      f"{it['symbol']} {it['timeframe']}", ", ".join(f"{k}={v}" for k, v in it["params"].items()),
                      fmt_value(st.get("total_return")), fmt_value(st.get("sharpe")), fmt_value(st.get("max_drawdown")),
                      str(it["n_trades"]))
    console.print(table)


@backtests_app.command("show")
def backtests_show(run_id: Annotated[int, typer.Argument(help="Backtest id")],
                   trades: Annotated[int, typer.Option(help="Show the last N trades")] = 20) -> None:
    """Statistics and last trades of a saved backtest."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import BacktestId

    client = engine_client("strategy", get_settings())
    reply = run_guarded(client.call, StrategyEngine.get_backtest, BacktestId(id=run_id))
    console.print(_stats_table(f"#{reply.id} {reply.strategy} on {reply.symbol} {reply.timeframe}", reply.stats))
    if reply.trades:
        table = Table(title=f"Trades (last {min(trades, len(reply.trades))} of {len(reply.trades)})")
        keys = list(reply.trades[0])
        for k in keys:
            table.add_column(k)
        for t in reply.trades[-trades:]:
            table.add_row(*[fmt_value(t[k]) for k in keys])
        console.print(table)


@backtests_app.command("delete")
def backtests_delete(run_id: Annotated[int, typer.Argument(help="Backtest id")]) -> None:
    """Delete a saved backtest and its artifacts."""
    from nautilus.engines.strategy.engine import StrategyEngine
    from nautilus.engines.strategy.messages import BacktestId

    run_guarded(engine_client("strategy", get_settings()).call, StrategyEngine.delete_backtest, BacktestId(id=run_id))
    console.print(f"deleted backtest {run_id}")


@app.command()
def sweep(
    strategy: Annotated[str, typer.Option(help="Built-in strategy")],
    symbol: Annotated[str, typer.Option(help="Instrument symbol")],
    grid: Annotated[list[str] | None, typer.Option(help="name=low:high[:step] or name=a,b,c (repeat)")] = None,
    space: Annotated[list[str] | None, typer.Option(help="Random search: name=low:high (repeat)")] = None,
    samples: Annotated[int, typer.Option(help="Random search draws")] = 200,
    seed: Annotated[int, typer.Option(help="Random search seed")] = 0,
    config: Annotated[list[str] | None, typer.Option(help="Backtest setting name=value (repeat)")] = None,
    metric: Annotated[str, typer.Option(help="Ranking statistic")] = "sharpe",
    top: Annotated[int, typer.Option(help="Rows to show")] = 15,
    walk_forward: Annotated[int, typer.Option(help="Walk-forward folds (0 = off)")] = 0,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO 8601 start")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address for this run (the sweep runs here; "
                                                 "default: NAUTILUS_DASK_SCHEDULER, else a local cluster)")] = None,
    executor: Annotated[str, typer.Option(help="auto, local or dask")] = "auto",
    chunk: Annotated[int, typer.Option(help="Parameter sets per task")] = 256,
    plot: Annotated[Path | None, typer.Option(help="Heatmap PNG of the metric over the first two parameters")] = None,
    results: Annotated[Path | None, typer.Option(help="Write every row as CSV")] = None,
) -> None:
    """Grid or random parameter sweep with a progress bar, results table and heatmap."""
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import BarsRequest
    from nautilus.strategy import sweep as sw
    from nautilus.strategy.backtest.config import config_for

    if executor not in ("auto", "local", "dask"):
        fail("executor must be auto, local or dask")
    g, s = parse_grid(grid), parse_grid(space)
    if bool(g) == bool(s):
        fail("give --grid or --space (not both)")
    settings = get_settings()
    req = BarsRequest(symbol=symbol, timeframe=timeframe, start_ns=run_guarded(parse_time_arg, start, "start"),
                      end_ns=run_guarded(parse_time_arg, end, "end"))
    marketdata = engine_client("marketdata", settings)
    bars = run_guarded(marketdata.call, MarketDataEngine.bars, req)
    cfg = run_guarded(config_for, parse_assignments(config, "config"), timeframe, symbol)
    space_bounds = {k: [min(v), max(v)] for k, v in s.items()} if s else None
    # the signals warm up on the bars before the range (never traded): values do not depend on --start
    need = sw.sets_warmup(strategy, run_guarded(sw.param_sets, strategy, g or None, space_bounds, samples, seed))
    skip = 0
    if len(bars) and need != 0:
        from nautilus.core.bars import concat_bars

        earlier = BarsRequest(symbol=symbol, timeframe=timeframe, end_ns=int(bars.ts[0]), limit=need)
        before = run_guarded(marketdata.call, MarketDataEngine.bars, earlier)
        skip = len(before)
        bars = concat_bars([before, bars], bars.symbol, bars.timeframe)
    with Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("sweep", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = run_guarded(sw.run_sweep, bars, strategy, cfg, grid=g or None, space=space_bounds, samples=samples,
                             seed=seed, metric=metric, top=top, chunk=chunk, executor=executor,
                             scheduler=scheduler or settings.dask_scheduler,
                             walk_forward={"folds": walk_forward, "train_fraction": 0.7} if walk_forward else None,
                             progress=on_progress, warmup=skip)
    table = Table(title=f"{strategy} on {bars.symbol} {timeframe}: {result.evaluated} sets in "
                        f"{result.elapsed_s:.2f} s ({result.backend}), top {len(result.rows)} by {metric}")
    shown = result.params + [c for c in ("total_return", "sharpe", "max_drawdown", "n_trades") if c != metric] + [metric]
    for col in shown:
        table.add_column(col, justify="right")
    for row in result.rows:
        table.add_row(*[fmt_value(row.get(c)) for c in shown])
    console.print(table)
    if result.walk_forward:
        wt = Table(title="Walk-forward: in-sample optimum vs out-of-sample")
        for col in ("fold", "in sample", "out of sample", "params", f"IS {metric}", f"OOS {metric}"):
            wt.add_column(col)
        for f in result.walk_forward:
            wt.add_row(str(f["fold"]), f"{format_ts(f['in_sample'][0])} .. {format_ts(f['in_sample'][1])}",
                       f"{format_ts(f['out_of_sample'][0])} .. {format_ts(f['out_of_sample'][1])}",
                       ", ".join(f"{k}={v}" for k, v in f["params"].items()),
                       fmt_value(f["in_sample_metric"]), fmt_value(f["out_of_sample_metric"]))
        console.print(wt)
    if results is not None:
        result.table.to_csv(results, index=False)
        console.print(f"all rows written to {results}")
    if plot is not None:
        if len(result.params) < 2:
            fail("a heatmap needs a sweep over at least two parameters")
        run_guarded(sw.heatmap, result.table, result.params[0], result.params[1], metric, str(plot))
        console.print(f"heatmap written to {plot}")
