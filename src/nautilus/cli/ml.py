"""Model commands of the ``nautilus`` CLI: model tasks|train|list|show|promote|rollback|predict."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, format_ts, parse_assignments, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

model_app = typer.Typer(help="Train, register, promote and query ML models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _client() -> Any:
    return engine_client("ml", get_settings())


R = TypeVar("R")


def _call(method: Callable[..., R], req: Any = None) -> R:
    """Call the handler ``method`` (e.g. ``MLEngine.predict``); platform errors become exit codes."""
    return run_guarded(_client().call, method, req)


def _symbols(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    if not out:
        fail("give at least one symbol (--symbols A,B)")
    return out


def _metric_text(metrics: dict[str, Any] | None) -> str:
    """The headline: out-of-sample (walk-forward test) metrics only."""
    head = (metrics or {}).get("headline") or {}
    return ", ".join(f"{k} {v:.4f}" for k, v in head.items() if isinstance(v, float)) or "-"


@model_app.command("tasks")
def tasks() -> None:
    """Built-in tasks with their feature set, target and default model."""
    from nautilus.engines.ml.engine import MLEngine

    table = Table(title="ML tasks")
    for col in ("task", "feature set", "target", "objective", "description"):
        table.add_column(col)
    for t in _call(MLEngine.list_tasks).items:
        table.add_row(t["name"], t["feature_set"], t["target"], t["objective"], t["description"])
    console.print(table)


@model_app.command("train")
def train(
    task: Annotated[str | None, typer.Argument(help="direction, volatility or regime")] = None,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols")] = "",
    name: Annotated[str | None, typer.Option(help="Registry name (default: the task's)")] = None,
    feature_set: Annotated[str | None, typer.Option(help="Feature set name (without a task)")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (without a task)")] = None,
    kind: Annotated[str | None, typer.Option(help="lightgbm, mlp, lstm or tcn")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Model parameter name=value (repeat)")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    folds: Annotated[int, typer.Option(help="Walk-forward folds")] = 5,
    promote: Annotated[bool, typer.Option(help="Promote the new version to production")] = False,
) -> None:
    """Train a model with walk-forward validation and register it (progress until it is done)."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import JobId, ModelBody, ModelRef, TrainRequest

    model = ModelBody(kind=kind, params=parse_assignments(param, "param") or None, seed=seed)
    req = TrainRequest(task=task, symbols=_symbols(symbols), name=name, feature_set=feature_set, target=target,
                       model=model, timeframe=timeframe, n_folds=folds)
    job = _call(MLEngine.train, req)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            handle = bar.add_task(job.message, total=1.0)
            while job.status in ("queued", "running"):
                time.sleep(0.25)
                job = _call(MLEngine.job, JobId(id=job.id))
                bar.update(handle, completed=job.progress, description=job.message)
    except KeyboardInterrupt:
        _call(MLEngine.cancel_job, JobId(id=job.id))
        fail("cancelled", code=1)
    if job.status != "done":
        fail(f"training {job.status}: {job.message}", code=2 if job.error and job.error.get("field") else 1)
    m = job.model
    console.print(f"registered [bold]{m['name']}[/bold] v{m['version']} ({m['kind']}, {m['n_rows']:,} rows)")
    _print_metrics(m)
    if promote:
        _call(MLEngine.promote, ModelRef(name=m["name"], version=m["version"]))
        console.print(f"promoted {m['name']} v{m['version']} to production")


def _print_metrics(m: dict[str, Any]) -> None:
    metrics = m.get("metrics") or {}
    table = Table(title="headline: out-of-sample (walk-forward test rows, pooled over folds)")
    table.add_column("metric")
    table.add_column("model (out-of-sample)", justify="right")
    table.add_column("baseline (out-of-sample)", justify="right")
    table.add_column("model (in-sample, for comparison)", justify="right")
    head = metrics.get("headline") or {}
    base = (metrics.get("baseline") or {}).get("pooled") or {}
    inside = metrics.get("in_sample") or {}
    inside = {**(inside.get("pooled") or {}), **({"hit_rate": inside["hit_rate"]} if "hit_rate" in inside else {})}

    def text(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, (int, float)) else "-"

    for key, value in head.items():
        if isinstance(value, (int, float)):
            table.add_row(key, text(value), text(base.get(key)), text(inside.get(key)))
    console.print(table)


@model_app.command("list")
def list_models(name: Annotated[str | None, typer.Option(help="Only this model")] = None) -> None:
    """Registered model versions, newest first."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import ModelsRequest

    table = Table(title="models")
    for col in ("name", "version", "stage", "kind", "target", "rows", "out-of-sample headline", "created"):
        table.add_column(col)
    for m in _call(MLEngine.models, ModelsRequest(name=name)).items:
        table.add_row(m["name"], str(m["version"]), m["stage"], m["kind"], m["target"], f"{m['n_rows']:,}",
                      _metric_text(m["metrics"]), str(m["created_at"])[:19])
    console.print(table)


@model_app.command("show")
def show(name: str, version: Annotated[int | None, typer.Option(help="Version (default production/latest)")] = None,
         as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """A model version: data, parameters, folds and metrics."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import ModelRef

    m = _call(MLEngine.model, ModelRef(name=name, version=version)).model
    if as_json:
        print(json.dumps(m, indent=2, default=str))
        return
    console.print(f"[bold]{m['name']}[/bold] v{m['version']} [{m['stage']}] {m['kind']} {m['objective']} -> "
                  f"{m['target']}, {len(m['symbols'])} symbols {m['timeframe']}, "
                  f"{format_ts(m['first_ts'])} .. {format_ts(m['last_ts'])}, {m['n_rows']:,} rows")
    console.print(f"features: {', '.join(m['feature_names'])}")
    _print_metrics(m)


@model_app.command("promote")
def promote_cmd(name: str, version: int) -> None:
    """Make a version the production version (the previous one is archived)."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import ModelRef

    m = _call(MLEngine.promote, ModelRef(name=name, version=version)).model
    console.print(f"{m['name']} v{m['version']} is in production")


@model_app.command("rollback")
def rollback_cmd(name: str) -> None:
    """Restore the version that was in production before the current one."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import ModelRef

    m = _call(MLEngine.rollback, ModelRef(name=name)).model
    console.print(f"{m['name']} v{m['version']} is in production again")


@model_app.command("predict")
def predict(name: str, symbols: Annotated[str, typer.Option(help="Comma-separated symbols")],
            version: Annotated[int | None, typer.Option(help="Version (default production/latest)")] = None) -> None:
    """Predictions for the latest bar of each symbol."""
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import PredictRequest

    reply = _call(MLEngine.predict, PredictRequest(name=name, version=version, symbols=_symbols(symbols)))
    table = Table(title=f"{reply.name} v{reply.version}")
    for col in ("symbol", "bar", "prediction"):
        table.add_column(col)
    for sym, ts, pred in zip(reply.symbols or [], reply.ts if reply.ts is not None else [], reply.predictions,
                             strict=False):
        value = ", ".join(f"{p:.4f}" for p in pred) if getattr(pred, "ndim", 0) else f"{float(pred):.4f}"
        table.add_row(sym, format_ts(int(ts)), value)
    console.print(table)
