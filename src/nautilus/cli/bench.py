"""``nautilus bench``: baselines and our accelerated paths timed in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nautilus.cli.common import console, fail
from nautilus.cli.root import app
from nautilus.core.errors import InvalidInput


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
