"""Paper-trading commands of the ``nautilus`` CLI: ``nautilus paper accounts|create|order|cancel|orders|positions|
fills|deploy|reconcile|limits``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nautilus.cli.common import (
    console,
    engine_client,
    fail,
    format_ts,
    parse_assignments,
    parse_time_arg,
    run_guarded,
)
from nautilus.cli.root import app
from nautilus.config import get_settings

paper_app = typer.Typer(help="Paper trading: accounts, orders, positions, strategy deployments.", no_args_is_help=True)
app.add_typer(paper_app, name="paper")
ACCOUNT = Annotated[str, typer.Option(help="Paper account")]


R = TypeVar("R")


def _call(method: Callable[..., R], req: Any = None) -> R:
    """Call the handler ``method`` (e.g. ``PortfolioEngine.orders``); platform errors become exit codes."""
    return run_guarded(engine_client("portfolio", get_settings()).call, method, req)


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


@paper_app.command("accounts")
def accounts() -> None:
    """Paper accounts with cash, equity and P&L."""
    from nautilus.engines.portfolio.engine import PortfolioEngine

    table = Table(title="paper accounts")
    for col in ("account", "cash", "equity", "unrealised", "realised", "fees", "open orders"):
        table.add_column(col, justify="left" if col in ("account", "cash") else "right")
    for a in _call(PortfolioEngine.accounts).items:
        cash = ", ".join(f"{ccy} {_money(v)}" for ccy, v in a["cash"].items())
        table.add_row(a["name"], cash, _money(a["equity"]), _money(a["unrealised_pnl"]), _money(a["realised_pnl"]),
                      _money(a["fees"]), str(a["open_orders"]))
    console.print(table)


@paper_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Account name")],
    cash: Annotated[float, typer.Option(help="Starting cash in the base currency")] = 100_000.0,
    currency: Annotated[str, typer.Option(help="Base currency")] = "USD",
    fee_bps: Annotated[float, typer.Option(help="Fee per fill, basis points of notional")] = 0.0,
    fixed_fee: Annotated[float, typer.Option(help="Fixed fee per order")] = 0.0,
    slippage_bps: Annotated[float, typer.Option(help="Slippage of market fills, basis points")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Order latency in the feed's clock")] = 0.0,
    max_participation: Annotated[float | None, typer.Option(help="Max fraction of a bar's volume")] = None,
) -> None:
    """Create a paper account."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import AccountCreate

    reply = _call(PortfolioEngine.create_account, AccountCreate(
        name=name, cash=cash, base_currency=currency, fee_bps=fee_bps, fixed_fee=fixed_fee,
        slippage_bps=slippage_bps, latency_ms=latency_ms, max_participation=max_participation))
    console.print(f"created account [bold]{reply.account['name']}[/bold] with {_money(reply.account['equity'])} "
                  f"{reply.account['base_currency']}")


@paper_app.command("order")
def order(
    symbol: Annotated[str, typer.Argument(help="Instrument")],
    side: Annotated[str, typer.Argument(help="buy or sell")],
    quantity: Annotated[float, typer.Argument(help="Units")],
    type_: Annotated[str, typer.Option("--type", help="market, limit, stop or stop_limit")] = "market",
    limit: Annotated[float | None, typer.Option(help="Limit price")] = None,
    stop: Annotated[float | None, typer.Option(help="Stop (trigger) price")] = None,
    tif: Annotated[str, typer.Option(help="GTC, DAY, IOC or FOK")] = "GTC",
    account: ACCOUNT = "default",
    key: Annotated[str | None, typer.Option(help="Idempotency key (client order id)")] = None,
) -> None:
    """Submit an order (pre-trade checked against the account's limits; it fills on later bars)."""
    import msgspec

    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import OrderRequest

    try:
        req = msgspec.convert({"symbol": symbol, "side": side, "quantity": quantity, "type": type_,
                               "limit_price": limit, "stop_price": stop, "tif": tif, "account": account,
                               "client_order_id": key}, OrderRequest)
    except msgspec.ValidationError as exc:
        fail(str(exc))
    o = _call(PortfolioEngine.submit_order, req).order
    if o.status == "rejected":
        fail(f"order {o.id} rejected: {o.reason}")
    console.print(f"order [bold]{o.id}[/bold] {o.status}: {o.side} {o.quantity:g} {o.symbol} {o.type} {o.tif}")


@paper_app.command("cancel")
def cancel(order_id: Annotated[int, typer.Argument(help="Order id")]) -> None:
    """Cancel a working order."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import OrderRef

    o = _call(PortfolioEngine.cancel_order, OrderRef(order_id=order_id)).order
    console.print(f"order {o.id} {o.status}")


@paper_app.command("orders")
def orders(account: ACCOUNT = "default",
           status: Annotated[str | None, typer.Option(help="A status, or 'working'")] = None,
           limit: Annotated[int, typer.Option(help="How many")] = 50) -> None:
    """Orders, newest first."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import OrdersQuery

    table = Table(title=f"orders of {account}")
    for col in ("id", "symbol", "side", "type", "qty", "filled", "avg price", "status", "reason"):
        table.add_column(col)
    for o in _call(PortfolioEngine.orders, OrdersQuery(account=account, status=status, limit=limit)).items:
        table.add_row(str(o.id), o.symbol, o.side, o.type, f"{o.quantity:g}", f"{o.filled:g}",
                      _money(o.avg_fill_price), o.status, o.reason or "")
    console.print(table)


@paper_app.command("positions")
def positions(account: ACCOUNT = "default") -> None:
    """Net positions, marked to the last bar."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import AccountRef

    table = Table(title=f"positions of {account}")
    for col in ("symbol", "quantity", "mark", "market value", "unrealised", "realised"):
        table.add_column(col, justify="left" if col == "symbol" else "right")
    for p in _call(PortfolioEngine.positions, AccountRef(account=account)).items[0]["net"]:
        table.add_row(p["symbol"], f"{p['quantity']:g}", _money(p["mark"]), _money(p["market_value"]),
                      _money(p["unrealised_pnl"]), _money(p["realised_pnl"]))
    console.print(table)


@paper_app.command("fills")
def fills(account: ACCOUNT = "default", limit: Annotated[int, typer.Option(help="How many")] = 50) -> None:
    """The latest fills, oldest first."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import FillsQuery

    table = Table(title=f"fills of {account}")
    for col in ("bar", "order", "symbol", "quantity", "price", "fee", "strategy"):
        table.add_column(col)
    for f in _call(PortfolioEngine.fills, FillsQuery(account=account, limit=limit)).items:
        table.add_row(format_ts(f["ts"]), str(f["order_id"]), f["symbol"], f"{f['quantity']:g}", _money(f["price"]),
                      _money(f["fee"]), f["strategy"])
    console.print(table)


@paper_app.command("reconcile")
def reconcile(account: ACCOUNT = "default") -> None:
    """Rebuild positions and cash from the fills and compare with the stored state (exit 1 on a difference)."""
    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import AccountRef

    check = _call(PortfolioEngine.reconcile, AccountRef(account=account)).account
    if not check["ok"]:
        for diff in check["differences"]:
            console.print(diff)
        fail(f"{account}: {len(check['differences'])} difference(s)", code=1)
    console.print(f"{account}: {check['fills']} fills reconcile with the stored positions and cash")


@paper_app.command("deploy")
def deploy(
    strategy: Annotated[str, typer.Argument(help="Built-in strategy, or module:attr from "
                                                    "NAUTILUS_STRATEGIES_DIR / NAUTILUS_STRATEGY_PACKAGES")],
    symbol: Annotated[str, typer.Argument(help="Instrument to replay")],
    param: Annotated[list[str] | None, typer.Option(help="Strategy parameter name=value (repeat)")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    account: ACCOUNT = "default",
    start: Annotated[str | None, typer.Option(help="ISO start of the replay")] = None,
    end: Annotated[str | None, typer.Option(help="ISO end of the replay")] = None,
    size: Annotated[float, typer.Option(help="Fraction of equity per entry")] = 1.0,
    direction: Annotated[str, typer.Option(help="long, short or both")] = "long",
    bars_per_second: Annotated[float, typer.Option(help="Replay pace (0 = as fast as possible)")] = 0.0,
) -> None:
    """Backtest, risk-validate and paper-trade a strategy on a replay of stored bars (progress until done)."""
    import msgspec

    from nautilus.engines.portfolio.engine import PortfolioEngine
    from nautilus.engines.portfolio.messages import DeploymentRef, DeployRequest

    try:
        req = msgspec.convert({"strategy": strategy, "symbol": symbol, "params": parse_assignments(param, "param"),
                               "timeframe": timeframe, "account": account, "size": size, "direction": direction,
                               "bars_per_second": bars_per_second, "start_ns": parse_time_arg(start, "start"),
                               "end_ns": parse_time_arg(end, "end")}, DeployRequest)
    except msgspec.ValidationError as exc:
        fail(str(exc))
    dep = _call(PortfolioEngine.deploy, req).deployment
    for warning in dep.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} bars"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        handle = bar.add_task(dep["stage"], total=dep["bars"])
        while dep["status"] == "running":
            time.sleep(0.2)
            dep = _call(PortfolioEngine.deployment, DeploymentRef(id=dep["id"])).deployment
            bar.update(handle, completed=dep["processed"], description=dep["stage"])
    if dep["status"] != "done":
        fail(f"deployment {dep['id']} {dep['status']}: {dep['error']}", code=2 if dep["status"] == "rejected" else 1)
    trades = dep.get("trades") or []
    closed = [t for t in trades if t["exit_ts"] is not None]
    pnl = sum(t["pnl"] for t in closed)
    console.print(f"deployment [bold]{dep['id']}[/bold] done: {dep['processed']} bars, {dep['orders']} orders, "
                  f"{len(closed)} closed trades, P&L {_money(pnl)}")
    if dep.get("backtest"):
        expected = [t for t in dep["backtest"]["trades"] if t["exit_reason"] != "open"]
        console.print(f"backtest on the same bars: {len(expected)} closed trades, "
                      f"P&L {_money(sum(t['pnl'] for t in expected))}")


@paper_app.command("limits")
def limits(
    account: ACCOUNT = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Limit name=value (repeat), e.g. min_cash=-50000 "
                                                                 "(a margin line), max_order_equity_pct=25; "
                                                                 "name=none drops one")] = None,
    reset: Annotated[bool, typer.Option(help="Drop the account's own limits: the defaults apply again")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Show the account's pre-trade limits (its own, else the defaults every new account gets), or change them."""
    import msgspec

    from nautilus.engines.risk.engine import RiskEngine
    from nautilus.engines.risk.messages import AccountRequest, LimitsBody, SetLimitsRequest

    client = engine_client("risk", get_settings())
    ref = AccountRequest(account=account)
    if reset:
        body = run_guarded(client.call, RiskEngine.reset_limits, ref)
    else:
        body = run_guarded(client.call, RiskEngine.get_limits, ref)
    if set_:
        merged = {k: v for k, v in msgspec.to_builtins(body).items() if k != "source"}
        for name, value in parse_assignments(set_, "set").items():
            if value is None or (isinstance(value, str) and value.lower() == "none"):
                merged.pop(name, None)
            else:
                merged[name] = value
        try:
            new = msgspec.convert(merged, LimitsBody)
        except msgspec.ValidationError as exc:
            fail(f"invalid limits: {exc}")
        body = run_guarded(client.call, RiskEngine.set_limits, SetLimitsRequest(account=account, limits=new))
    shown = msgspec.to_builtins(body)
    if as_json:
        print(msgspec.json.encode(shown).decode())
        return
    source = shown.pop("source", None)
    table = Table(title=f"limits of {account} ({'defaults: none of its own' if source == 'default' else 'its own'})")
    table.add_column("limit")
    table.add_column("value", justify="right")
    for name, value in shown.items():
        table.add_row(name, str(value))
    if not shown:
        table.add_row("(none)", "nothing is checked")
    console.print(table)
