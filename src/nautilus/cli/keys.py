"""API key commands of the ``nautilus`` CLI: ``keys add|list|revoke``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nautilus.cli.common import console, fail, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

keys_app = typer.Typer(help="Manage API keys (stored hashed).", no_args_is_help=True)

app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for")],
    role: Annotated[str, typer.Option(help="read, trade or admin")] = "read",
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    import secrets

    from nautilus.storage.bootstrap import open_database

    if role not in ("read", "trade", "admin"):
        fail("role must be read, trade or admin")
    settings = get_settings()
    db = run_guarded(open_database, settings)  # refuses a missing or replaced database
    raw = "nk_" + secrets.token_urlsafe(32)
    key_id = run_guarded(db.add_api_key, name, raw, role)
    console.print(f"key {key_id} for {name} ({role}): [bold]{raw}[/bold]")


@keys_app.command("list")
def keys_list() -> None:
    """Keys with their role and state (the keys themselves are never stored)."""
    from nautilus.storage.bootstrap import open_database

    settings = get_settings()
    db = run_guarded(open_database, settings)
    table = Table(title="API keys")
    for col in ("id", "name", "role", "created", "revoked"):
        table.add_column(col)
    for k in run_guarded(db.list_api_keys):
        table.add_row(str(k["id"]), k["name"], k["role"], k["created_at"].strftime("%Y-%m-%d %H:%M"),
                      k["revoked_at"].strftime("%Y-%m-%d %H:%M") if k["revoked_at"] else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id")]) -> None:
    """Revoke a key."""
    from nautilus.storage.bootstrap import open_database

    run_guarded(run_guarded(open_database, get_settings()).revoke_api_key, key_id)
    console.print(f"revoked key {key_id}")
