"""Factor commands of the ``nautilus`` CLI: ``nautilus factor list`` and ``nautilus factor research``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from nautilus.cli.common import build_request, console, engine_client, fail, parse_time_arg, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

factor_app = typer.Typer(help="Cross-sectional factor research.", no_args_is_help=True)
app.add_typer(factor_app, name="factor")


@factor_app.command("list")
def factor_list() -> None:
    """The factor library with parameters, and what an expression may use."""
    from nautilus.engines.factor.engine import FactorEngine

    reply = run_guarded(engine_client("factor", get_settings()).call, FactorEngine.list_factors)
    table = Table(title="factor library")
    for col in ("factor", "parameters", "description"):
        table.add_column(col)
    for item in reply.items:
        params = ", ".join(f"{k}={v}" for k, v in item["params"].items())
        table.add_row(item["name"], params, escape(item["doc"].replace("``", "")))
    console.print(table)
    console.print(f"expression columns: {', '.join(reply.columns)}")
    console.print(f"expression functions: {', '.join(reply.functions)}")


def parse_ints(text: str, field: str) -> list[int]:
    """``"1,5,20"`` -> [1, 5, 20]; exit 2 naming the option otherwise."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"--{field} expects comma-separated integers, got {text!r}")
    if not values:
        fail(f"--{field} needs at least one value")
    return values


def parse_step(text: str) -> dict[str, Any]:
    """``zscore``, ``rank``, ``rank:centered``, ``winsorize``, ``winsorize:mad``, ``neutralize:beta,volatility``."""
    op, _, arg = text.partition(":")
    op = op.strip()
    if op == "winsorize":
        return {"op": op, "method": arg.strip() or "quantile"}
    if op == "rank":
        return {"op": op, "centered": arg.strip() == "centered"}
    if op == "zscore":
        return {"op": op}
    if op == "neutralize":
        against = [a.strip() for a in arg.split(";" if ";" in arg else ",") if a.strip()]
        if not against:
            fail("--step neutralize needs factors, e.g. neutralize:beta,volatility")
        return {"op": op, "against": against}
    fail(f"--step must be winsorize[:mad], zscore, rank[:centered] or neutralize:FACTORS, got {text!r}")
    return {}


@factor_app.command("research")
def factor_research(
    factor: Annotated[str | None, typer.Argument(help="Library factor spec, e.g. momentum or 'momentum(126, 21)'")]
    = None,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols (the cross-section)")] = "",
    expr: Annotated[str | None, typer.Option(help="Expression instead of a library factor")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    start: Annotated[str | None, typer.Option(help="First date (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option(help="End date, exclusive (ISO 8601)")] = None,
    horizons: Annotated[str, typer.Option(help="Forward-return horizons in bars, comma-separated")] = "1,5,20",
    quantiles: Annotated[int, typer.Option(help="Quantile portfolios")] = 5,
    method: Annotated[str, typer.Option(help="IC method: spearman or pearson")] = "spearman",
    step: Annotated[list[str] | None, typer.Option(
        help="Processing step, in order (repeat): winsorize[:mad], zscore, rank[:centered], neutralize:F1,F2")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the tear-sheet chart (PNG)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tear sheet as JSON")] = False,
) -> None:
    """IC by horizon, IC decay, quantile returns and turnover of a factor over a set of symbols."""
    from nautilus.engines.factor.engine import FactorEngine
    from nautilus.engines.factor.messages import ResearchRequest

    names = [s.strip() for s in symbols.split(",") if s.strip()]
    if not names:
        fail("--symbols needs at least one symbol")
    if (factor is None) == (expr is None):
        fail("give a factor name or --expr (one of them)")
    req = run_guarded(build_request, ResearchRequest, symbols=names, factor=factor, expr=expr, timeframe=timeframe,
                      start_ns=parse_time_arg(start, "start"), end_ns=parse_time_arg(end, "end"),
                      horizons=parse_ints(horizons, "horizons"), quantiles=quantiles, method=method,
                      steps=[parse_step(s) for s in step or []])
    reply = run_guarded(engine_client("factor", get_settings()).call, FactorEngine.research, req)
    sheet = reply.tearsheet
    if as_json:
        import msgspec

        print(msgspec.json.encode(sheet).decode())
    else:
        print_summary(sheet, reply.symbols)
    if plot is not None:
        from nautilus.factor.research import plot_tearsheet

        plot_tearsheet(sheet, str(plot))
        console.print(f"tear sheet written to {plot}")


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_summary(sheet: dict[str, Any], symbols: list[str]) -> None:
    table = Table(title=f"{escape(sheet['factor'])}: {sheet['method']} IC over {len(symbols)} symbols, "
                        f"{len(sheet['t'])} dates")
    for col in ("horizon", "IC mean", "IC std", "IR", "t-stat", "hit rate", "dates", "Q spread"):
        table.add_column(col, justify="right")
    for row, qrow in zip(sheet["ic"], sheet["quantiles"], strict=True):
        table.add_row(str(row["horizon"]), _num(row["mean"]), _num(row["std"]), _num(row["ir"], 3),
                      _num(row["t_stat"], 2), _num(row["hit_rate"], 3), str(row["n"]), _num(qrow["spread_mean"], 5))
    console.print(table)
    q = sheet["n_quantiles"]
    qt = Table(title="mean forward return by quantile (Q1 = lowest factor)")
    qt.add_column("horizon", justify="right")
    for k in range(q):
        qt.add_column(f"Q{k + 1}", justify="right")
    for row in sheet["quantiles"]:
        qt.add_row(str(row["horizon"]), *(_num(v, 5) for v in row["mean_returns"]))
    console.print(qt)
    turn = sheet["turnover"]
    console.print(f"turnover: {_num(turn['changed_mean'], 3)} of names change quantile per bar; "
                  f"rank autocorrelation {_num(turn['rank_autocorr_mean'], 3)}")
    decay = ", ".join(f"{row['horizon']}: {_num(row['mean'])}" for row in sheet["ic_decay"])
    console.print(f"IC decay (horizon: mean IC): {decay}")
