"""The bench harness: a registry of cases, the run loop with progress, and the report.

A case is a function registered with :func:`case` that takes a :class:`BenchContext` and returns one
result dict (or a list of them, one per variant) built with :func:`result`. The harness adds the case
name and ``ratio = baseline / ours`` (higher is better) and renders the rows as a rich table, as JSON
(``{"machine": {...}, "cases": [...]}``, see ARCHITECTURE.md "Measuring") and as a markdown table
next to the JSON. Cases start their own processes and temp dirs and must clean them up themselves;
after each case the harness closes this process's shared-memory pool and reports leftovers.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from nautilus.bench.procs import restore, snapshot
from nautilus.bench.stats import sig
from nautilus.core.errors import InvalidInput

Result = dict[str, Any]
CaseFunc = Callable[["BenchContext"], Result | list[Result]]

QUICK_RUNS = 3
LATENCY_CALLS = 10_000
QUICK_LATENCY_CALLS = 2_000


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    func: CaseFunc


CASES: dict[str, Case] = {}


def case(name: str, description: str) -> Callable[[CaseFunc], CaseFunc]:
    """Register a bench case under ``name`` (names are unique)."""

    def register(func: CaseFunc) -> CaseFunc:
        if name in CASES:
            raise ValueError(f"bench case {name!r} is registered twice")
        CASES[name] = Case(name, description, func)
        return func

    return register


def result(
    unit: str,
    baseline: tuple[str, float],
    ours: tuple[str, float],
    params: dict[str, Any] | None = None,
    checks: dict[str, Any] | None = None,
) -> Result:
    """One row of a case: ``baseline`` and ``ours`` are (name, value) in ``unit`` (lower is better)."""
    return {
        "unit": unit,
        "baseline": {"name": baseline[0], "value": baseline[1]},
        "ours": {"name": ours[0], "value": ours[1]},
        "params": params or {},
        "checks": checks or {},
    }


@dataclass
class BenchContext:
    """What a case may ask of the harness: the mode, repetition counts and a progress line."""

    quick: bool = False
    step: Callable[[str], None] = field(default=lambda text: None)

    @property
    def latency_calls(self) -> int:
        """Calls per latency measurement (p50/p99 are taken over these)."""
        return QUICK_LATENCY_CALLS if self.quick else LATENCY_CALLS

    def runs(self, full: int) -> int:
        """Timed repetitions of a whole operation: ``full`` normally, 3 in quick mode."""
        return QUICK_RUNS if self.quick else max(QUICK_RUNS, full)


def load_cases() -> dict[str, Case]:
    importlib.import_module("nautilus.bench.cases")
    return CASES


def select(only: Sequence[str] | None) -> list[Case]:
    """The cases to run, in registry order; an unknown name is an :class:`InvalidInput`."""
    cases = load_cases()
    if not only:
        return list(cases.values())
    names = [name.strip() for name in only if name.strip()]
    unknown = [name for name in names if name not in cases]
    if unknown:
        raise InvalidInput(f"unknown bench case(s): {', '.join(unknown)}; known: {', '.join(cases)}",
                           field="only")
    return [cases[name] for name in dict.fromkeys(names)]


def run_bench(
    quick: bool = False,
    only: Sequence[str] | None = None,
    json_path: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the selected cases, print the table, write JSON (+ .md) when ``json_path`` is given.

    Returns the report. A case that raises is listed under ``"failed"`` and, once everything else
    has run and been written, ends the command with exit status 1.
    """
    console = console or Console()
    cases = select(only)
    report: dict[str, Any] = {"machine": machine_info(quick), "cases": []}
    failed: list[dict[str, str]] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        for bench_case in cases:
            task = progress.add_task(f"{bench_case.name}: starting")

            def step(text: str, task: Any = task, name: str = bench_case.name) -> None:
                progress.update(task, description=f"{name}: {text}")

            before = snapshot()
            try:
                rows = run_case(bench_case, BenchContext(quick, step))
            except Exception as exc:
                failed.append({"case": bench_case.name, "error": f"{type(exc).__name__}: {exc}"})
            else:
                report["cases"].extend(rows)
            finally:
                progress.remove_task(task)
            for leftover in restore(before):
                console.print(f"[yellow]warning:[/yellow] {bench_case.name} left {leftover} behind")
    if failed:
        report["failed"] = failed
    console.print(render_table(report["cases"]))
    for failure in failed:
        console.print(f"[red]failed:[/red] {failure['case']}: {failure['error']}", highlight=False)
    if json_path is not None:
        write_report(report, Path(json_path))
        console.print(f"wrote {json_path} and {Path(json_path).with_suffix('.md')}")
    if failed:
        raise SystemExit(1)
    return report


def run_case(bench_case: Case, ctx: BenchContext) -> list[Result]:
    """Call a case and complete its rows (case name first, ratio computed)."""
    out = bench_case.func(ctx)
    rows = out if isinstance(out, list) else [out]
    return [complete_row(bench_case.name, row) for row in rows]


def complete_row(name: str, row: Result) -> Result:
    missing = {"unit", "baseline", "ours"} - row.keys()
    if missing:
        raise ValueError(f"case {name} returned a row without {', '.join(sorted(missing))}")
    baseline, ours = row["baseline"], row["ours"]
    ratio = sig(baseline["value"] / ours["value"]) if baseline["value"] and ours["value"] else None
    return {
        "case": row.get("case", name),
        "unit": row["unit"],
        "baseline": {"name": baseline["name"], "value": sig(baseline["value"])},
        "ours": {"name": ours["name"], "value": sig(ours["value"])},
        "ratio": ratio,
        "params": row.get("params", {}),
        "checks": row.get("checks", {}),
    }


# Machine ------------------------------------------------------------------------------------------
def machine_info(quick: bool) -> dict[str, Any]:
    import msgspec
    import numpy
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "backend": compute_backend(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu model": cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
        "msgspec": msgspec.__version__,
        "quick": quick,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compute_backend() -> str:
    """The backend engines pick for the configured preference (CUDA > MPS > CPU for auto)."""
    from nautilus.runtime.backend import configured_backend

    return configured_backend().name


# Report -------------------------------------------------------------------------------------------
COLUMNS = ("case", "unit", "baseline", "ours", "ratio", "checks")


def cells(row: Result, sep: str = ", ") -> list[str]:
    """The table cells of a row; ``sep`` joins the checks."""
    return [
        row["case"],
        row["unit"],
        f"{row['baseline']['name']}: {_num(row['baseline']['value'])}",
        f"{row['ours']['name']}: {_num(row['ours']['value'])}",
        "-" if row["ratio"] is None else f"{row['ratio']:g}",
        sep.join(f"{k}={_num(v)}" for k, v in row["checks"].items()),
    ]


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def render_table(rows: list[Result]) -> Table:
    table = Table(title="nautilus bench (ratio = baseline / ours, higher is better)", show_lines=True)
    for col in COLUMNS:
        table.add_column(col, justify="right" if col == "ratio" else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in cells(row, sep="\n")))
    return table


def render_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# nautilus bench",
        "",
        f"{machine['cpu model']}, {machine['cores']} cores, backend {machine['backend']}, "
        f"Python {machine['python']}, {machine['platform']}{' (quick)' if machine['quick'] else ''}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" if col == "ratio" else "---" for col in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |" for row in report["cases"]]
    for failure in report.get("failed", []):
        lines.append(f"\n**failed:** {failure['case']}: {failure['error']}")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], json_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    json_path.with_suffix(".md").write_text(render_markdown(report))
