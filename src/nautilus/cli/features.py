"""Feature commands of the ``nautilus`` CLI: ``nautilus features list|show|compute``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, format_ts, parse_time_arg, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

features_app = typer.Typer(help="Point-in-time feature sets.", no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("list")
def list_sets() -> None:
    """Built-in and saved feature sets."""
    from nautilus.engines.features.engine import FeaturesEngine

    items = run_guarded(engine_client("features", get_settings()).call, FeaturesEngine.list_feature_sets).items
    table = Table(title=f"Feature sets ({len(items)})")
    for col in ("name", "builtin", "features", "targets", "description"):
        table.add_column(col)
    for item in items:
        table.add_row(item["name"], "yes" if item["builtin"] else "", str(item["features"]),
                      ", ".join(item["targets"]), item["description"])
    console.print(table)


@features_app.command("show")
def show(name: Annotated[str, typer.Argument(help="Feature set name")]) -> None:
    """A feature set's definition as YAML, with its lookback and horizon."""
    import yaml

    from nautilus.engines.features.engine import FeaturesEngine
    from nautilus.engines.features.messages import FeatureSetName

    client = engine_client("features", get_settings())
    info = run_guarded(client.call, FeaturesEngine.get_feature_set, FeatureSetName(name=name))
    console.print(f"# {info.name}{' (built-in)' if info.builtin else ''}: lookback {info.lookback} bars, "
                  f"horizon {info.horizon} bars, digest {info.digest}", highlight=False)
    console.print(yaml.safe_dump(info.definition, sort_keys=False), highlight=False, markup=False)


@features_app.command("compute")
def compute(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated symbols")],
    set_name: Annotated[str | None, typer.Option("--set", help="Saved or built-in feature set")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Feature set YAML/JSON file")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO start (inclusive)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO end (exclusive)")] = None,
    limit: Annotated[int | None, typer.Option(help="Last N bars per symbol")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write all rows to this Parquet file")] = None,
    rows: Annotated[int, typer.Option(help="Rows to preview")] = 10,
) -> None:
    """Compute a feature set over symbols' bars; preview the last rows, optionally save Parquet."""
    from nautilus.engines.features.engine import FeaturesEngine
    from nautilus.engines.features.messages import ComputeRequest
    from nautilus.features import load_feature_set

    if (set_name is None) == (file is None):
        fail("give exactly one of --set NAME or --file FILE")
    definition = None
    if file is not None:
        definition = run_guarded(load_feature_set, file).to_dict()
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    if not names:
        fail("--symbols needs at least one symbol")
    req = ComputeRequest(name=set_name, definition=definition, symbols=names, timeframe=timeframe,
                         start_ns=run_guarded(parse_time_arg, start, "start"),
                         end_ns=run_guarded(parse_time_arg, end, "end"), limit=limit)
    reply = run_guarded(engine_client("features", get_settings()).call, FeaturesEngine.compute, req)
    columns = [*reply.feature_names, *reply.target_names]
    values = np.hstack([reply.X, reply.y]) if len(reply.target_names) else reply.X
    row_symbols = np.repeat(np.array(reply.symbols, dtype=object), reply.counts)
    if out is not None:
        import pandas as pd

        frame = pd.DataFrame(values, columns=columns)
        frame.insert(0, "ts", pd.to_datetime(reply.ts, unit="ns", utc=True))
        frame.insert(0, "symbol", row_symbols)
        try:
            frame.to_parquet(out, index=False)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
    table = Table(title=f"{reply.feature_set}: {len(reply.ts)} rows x {len(reply.feature_names)} features"
                        f" + {len(reply.target_names)} targets ({reply.timeframe}; cache "
                        f"{', '.join(sorted(set(reply.cache.values())))})")
    for col in ("symbol", "ts", *columns):
        table.add_column(col, justify="right")
    for i in range(max(0, len(reply.ts) - rows), len(reply.ts)):
        table.add_row(str(row_symbols[i]), format_ts(int(reply.ts[i])),
                      *["-" if np.isnan(v) else f"{v:.4g}" for v in values[i]])
    console.print(table)
    if out is not None:
        console.print(f"wrote {len(reply.ts)} rows to {out}")
