"""Risk commands of the ``nautilus`` CLI: var, stress, var-backtest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nautilus.cli.common import (
    build_request,
    console,
    engine_client,
    fail,
    fmt_value,
    format_ts,
    parse_assignments,
    run_guarded,
)
from nautilus.cli.root import app
from nautilus.config import get_settings


def load_portfolio(path: Path) -> dict[str, Any]:
    """A JSON object {symbol: amount}, or {"positions": {...}, "option_positions": [...]}: request fields."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc}")
    legs = []
    if isinstance(data, dict) and isinstance(data.get("positions"), dict):
        legs = data.get("option_positions", [])
        data = data["positions"]
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        fail(f"{path} must hold a JSON object of symbol -> amount")
    if not isinstance(legs, list):
        fail(f"{path}: option_positions must be a list of option legs")
    return {"portfolio": {str(k): float(v) for k, v in data.items()}, "option_positions": legs}


PortfolioOpt = Annotated[Path, typer.Option(help='JSON file: {symbol: amount} or {"positions": {...}, '
                                                 '"option_positions": [{"underlying", "type", "strike", "expiry", '
                                                 '"quantity", "implied_vol"}, ...]}; expiry: years to expiry '
                                                 '(0.25) or the expiry date (YYYY-MM-DD, counted from the last '
                                                 'bar)')]
UnitsOpt = Annotated[str, typer.Option(help="value (currency exposures) or quantity (units at the last close)")]


@app.command()
def var(
    portfolio: PortfolioOpt,
    method: Annotated[str, typer.Option(help="historical, historical_ew, fhs, normal, t, cornish_fisher, mc")] = "historical",
    confidence: Annotated[float, typer.Option(help="Confidence in (0, 1)")] = 0.99,
    horizon: Annotated[int, typer.Option(help="Horizon in days")] = 1,
    lookback: Annotated[int, typer.Option(help="Returns of history")] = 500,
    units: UnitsOpt = "value",
    timeframe: Annotated[str, typer.Option(help="Bar length of the history")] = "1d",
    paths: Annotated[int | None, typer.Option(help="mc: simulated paths")] = None,
    option: Annotated[list[str] | None, typer.Option(help="Method option name=value, e.g. nu=4 (repeat)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Value at risk and expected shortfall of a portfolio, with per-position components."""
    from nautilus.engines.risk.engine import RiskEngine
    from nautilus.engines.risk.messages import VarRequest

    req = run_guarded(build_request, VarRequest, **load_portfolio(portfolio), method=method,
                      confidence=confidence, horizon=horizon, lookback=lookback, units=units, timeframe=timeframe,
                      options=parse_assignments(option, "option") | ({"paths": paths} if paths else {}))
    reply = run_guarded(engine_client("risk", get_settings()).call, RiskEngine.var, req)
    if as_json:
        import msgspec

        print(msgspec.json.encode(reply).decode())
        return
    table = Table(title=f"{reply.method} VaR {reply.confidence:.2%}, {reply.horizon}-day, {reply.observations} "
                        f"returns {format_ts(reply.first_ts)} .. {format_ts(reply.last_ts)}")
    for col in ("position", "exposure", "component VaR", "component CVaR"):
        table.add_column(col, justify="right")
    for sym, exp in zip(reply.symbols, reply.exposures, strict=True):
        comp = reply.components[sym]
        table.add_row(sym, fmt_value(exp), fmt_value(comp.get("component_var")), fmt_value(comp["component_cvar"]))
    for leg in reply.option_components:
        table.add_row(f"  option leg {leg['leg']} ({leg['underlying']} {leg['type']} {leg['strike']:g})", "",
                      fmt_value(leg.get("component_var")), fmt_value(leg.get("component_cvar")))
    table.add_row("[bold]portfolio", fmt_value(sum(reply.exposures)), f"[bold]{fmt_value(reply.var)}", f"[bold]{fmt_value(reply.cvar)}")
    console.print(table)
    if reply.allocation:
        console.print(f"allocation: VaR {reply.allocation.get('var')}, CVaR {reply.allocation.get('cvar')}; "
                      f"residual VaR {reply.var_residual:.3g}, CVaR {reply.cvar_residual:.3g}")


@app.command()
def stress(
    portfolio: PortfolioOpt,
    scenario: Annotated[str, typer.Option(help="historical, shock or reverse")] = "historical",
    window: Annotated[int, typer.Option(help="historical: bars per window")] = 5,
    count: Annotated[int, typer.Option(help="historical: worst windows")] = 3,
    shock: Annotated[list[str] | None, typer.Option(help="shock: SYMBOL=return, e.g. AAPL=-0.2 (repeat)")] = None,
    loss: Annotated[float | None, typer.Option(help="reverse: loss to reach")] = None,
    lookback: Annotated[int, typer.Option(help="Returns of history")] = 2_000,
    units: UnitsOpt = "value",
) -> None:
    """Stress a portfolio: worst historical windows, a user shock, or the smallest shock reaching a loss."""
    from nautilus.engines.risk.engine import RiskEngine
    from nautilus.engines.risk.messages import StressRequest

    req = run_guarded(build_request, StressRequest, **load_portfolio(portfolio), scenario=scenario, window=window,
                      count=count, shocks=parse_assignments(shock, "shock"), loss=loss, lookback=lookback, units=units)
    reply = run_guarded(engine_client("risk", get_settings()).call, RiskEngine.stress, req)
    for k, res in enumerate(reply.results, 1):
        title = f"{reply.scenario} #{k}: P&L {fmt_value(res['pnl'])}"
        if "start_ts" in res:
            title += f" ({format_ts(res['start_ts'])} .. {format_ts(res['end_ts'])})"
        if "mahalanobis" in res:
            title += f", {res['mahalanobis']:.2f} standard deviations"
        table = Table(title=title)
        table.add_column("position")
        if "shock" in res:
            table.add_column("shock", justify="right")
        table.add_column("P&L", justify="right")
        shocks = res.get("shock") or {}
        rows = res.get("rows") or [{"position": k, "pnl": v} for k, v in res.get("contributions", {}).items()]
        for row in rows:  # every position and every option leg: they add up to the total
            cells = [fmt_value(shocks.get(row["position"]))] if "shock" in res else []
            table.add_row(row["position"], *cells, fmt_value(row["pnl"]))
        table.add_row("[bold]total", *([""] if "shock" in res else []), f"[bold]{fmt_value(res['pnl'])}")
        console.print(table)
