"""What every command family of the ``nautilus`` CLI shares: output, errors and exit codes, engine clients,
time and value parsing, number formatting.

Bad input prints one line and exits with status 2; an unreachable service exits with 1.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console

from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NautilusError
from nautilus.core.timeparse import parse_time

console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
ORIGIN_LABEL = {"init": "explicit", "env": "environment", "default": "default"}


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run_guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Map platform errors to exit codes: 4xx-type → 2, unavailable/other → 1."""
    try:
        return fn(*args, **kwargs)
    except NautilusError as exc:
        fail(exc.message, 2 if 400 <= exc.status < 500 else 1)


_CLIENTS: dict[tuple[str, int], Any] = {}


def engine_client(name: str, settings: Settings):
    """One client per engine and settings object for the command's life: without a running engine it hosts the
    engine in-process, and a job started by one call (training, a deployment) is the one later calls see."""
    from nautilus.runtime.client import EngineClient, no_stack_running

    key = (name, id(settings))
    if key not in _CLIENTS:
        client = EngineClient(name, settings, probe=False, inproc_writer=no_stack_running(settings))
        _CLIENTS[key] = (client, settings)  # the pair keeps the id unique
    return _CLIENTS[key][0]


def parse_time_arg(value: str | None, field: str) -> int | None:
    """An ISO 8601 option value → int ns (None when absent); bad text raises InvalidInput naming the option."""
    return parse_time(value, field)


def format_ts(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M")


def origin_text(settings: Settings, name: str) -> str:
    """Where a setting came from, in words."""
    origin = settings.origin(name)
    if origin == "stack":
        stack = settings.running_stack or {}
        return f"running stack, supervisor pid {stack.get('pid')}"
    return ORIGIN_LABEL.get(origin, origin)


def build_request(kind: type, **fields: Any) -> Any:
    """An engine request of ``kind`` from keyword fields; a field that does not fit raises InvalidInput."""
    import msgspec

    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc)) from None


def parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_assignments(items: list[str] | None, what: str) -> dict[str, Any]:
    """Repeated ``--WHAT name=value`` options → {name: value}; exit 2 naming the option otherwise."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--{what} expects name=value, got {item!r}")
        out[name.strip()] = parse_value(value)
    return out


def fmt_value(value: Any) -> str:
    """A table cell: "-" for None, floats with four decimals (thousands separated; none from a million on)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)
