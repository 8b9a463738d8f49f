"""The ``nautilus`` command: one subcommand for every user job.

Bad input prints one line and exits with status 2; an unreachable service exits with 1.

Every command resolves the stack running at its home (``--home``, else ``NAUTILUS_HOME``, else
``~/.nautilus``): the database, bus, directories and ports recorded by that stack's supervisor in
``HOME/stack.json`` win over the caller's environment (see :mod:`nautilus.config`), so ``nautilus keys add``
from any shell writes where the stack reads. When the environment explicitly names another database, bus or
data directory than the running stack's, commands that may write refuse (exit 2, naming both) and read-only
ones warn. ``nautilus config`` shows what was resolved and from where.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from nautilus.cli.common import err, fail
from nautilus.config import STORE_FIELDS, Settings, get_settings


class _Commands(TyperGroup):
    """The top-level group; notes which command (``keys add``, ``status``) runs, for :func:`main`'s check."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        path = [cmd.name if cmd is not None and cmd.name else str(name)]
        if isinstance(cmd, TyperGroup):
            sub = next((a for a in rest if not a.startswith("-")), None)
            if sub is not None:
                path.append(sub)
        ctx.meta["nautilus.command"] = " ".join(path)
        ctx.meta["nautilus.help"] = any(a in ("--help", "-h") for a in rest)
        return name, cmd, rest


app = typer.Typer(help="Nautilus: quantitative research, risk and paper trading.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=_Commands)


# Commands that only read (or stop the stack): they run beside an environment that names another store than the
# running stack's, with a warning. Every other command may write and refuses (fail closed: a new command is a
# writer until listed here).
READ_ONLY_COMMANDS = frozenset({
    "status", "config", "down", "engine list", "keys list", "db identity", "bars", "instruments", "sources",
    "fetches", "factor list", "features list", "features show", "model tasks", "model list", "model show",
    "paper accounts", "paper orders", "paper positions", "paper fills", "backtests list", "backtests show",
    "stream list", "replay list", "watch", "var", "stress", "indicators", "patterns", "scan",
})


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", help="The stack's home (default: NAUTILUS_HOME, else ~/.nautilus); a stack running there "
                       "decides the database, bus and ports", show_default=False)] = None,
) -> None:
    """Nautilus: quantitative research, risk and paper trading."""
    if home is not None:
        os.environ["NAUTILUS_HOME"] = str(home.expanduser().absolute())  # and to the processes it starts
        get_settings.cache_clear()
    if ctx.resilient_parsing or ctx.meta.get("nautilus.help"):
        return
    check_stack(get_settings(), ctx.meta.get("nautilus.command", ""))


def check_stack(settings: Settings, command: str) -> None:
    """Refuse a command that may write while the environment names another store than the running stack's
    (exit 2, naming both); warn about every other difference (the stack's value is the one in effect)."""
    conflicts = settings.stack_conflicts()
    if not conflicts:
        return
    resolved = settings.resolution()["conflicts"]
    pid = (settings.running_stack or {}).get("pid")
    where = f"the stack running at {settings.home} (supervisor pid {pid})"
    stores = [f for f in conflicts if f in STORE_FIELDS]
    if stores and command not in READ_ONLY_COMMANDS:
        named = "; ".join(f"NAUTILUS_{f.upper()} is {resolved[f]['environment']} but {where} uses "
                          f"{resolved[f]['stack']}" for f in stores)
        fail(f"refusing `nautilus {command}`: {named}. Unset NAUTILUS_{stores[0].upper()} to act on the running "
             "stack, or stop it first (`nautilus down`) to use another one")
    for name in conflicts:
        err.print(f"[yellow]warning:[/yellow] NAUTILUS_{name.upper()}={resolved[name]['environment']} is "
                  f"ignored: {where} uses {resolved[name]['stack']}", highlight=False, soft_wrap=True)
