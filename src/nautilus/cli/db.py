"""Database commands of the ``nautilus`` CLI: ``nautilus db identity|reset-identity``.

A database that is not the one recorded beside the data (missing, emptied, replaced) is refused by every
process (see :mod:`nautilus.storage.identity`). The way out is to restore it, or to accept the database that is
there now, explicitly, with ``nautilus db reset-identity --yes`` while the stack is stopped.
"""

from __future__ import annotations

from typing import Annotated

import typer

from nautilus.cli.common import console, fail, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

db_app = typer.Typer(help="The SQL database's identity.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("identity")
def show_identity() -> None:
    """The database id recorded beside the data and the one the database holds."""
    from nautilus.storage import identity

    settings = get_settings()
    url = str(settings.database_url)
    recorded = run_guarded(identity.recorded_id, settings.data_dir, url)
    try:
        actual = identity.read_database_id(url)
    except Exception as exc:  # unreachable: say so, the record is still worth showing
        actual = f"unreadable ({type(exc).__name__})"
    console.print(f"database  {identity.url_key(url)}")
    console.print(f"recorded  {recorded or '-'}  ({identity.identity_file(settings.data_dir)})")
    console.print(f"database  {actual or '- (no identity row)'}")
    if recorded is not None and actual != recorded:
        fail("the database is not the recorded one: restore it, or accept it with "
             f"`{identity.RESET_HINT}`", 1)


@db_app.command("reset-identity")
def reset_identity(
    yes: Annotated[bool, typer.Option("--yes", help="Accept the database that is there now (required)")] = False,
) -> None:
    """Forget the recorded database id and accept the database at the URL as it is now (a missing SQLite file
    becomes a new, empty database: its data and API keys are not the old ones). Run it with the stack stopped."""
    from nautilus.runtime import supervisor
    from nautilus.storage import identity
    from nautilus.storage.bootstrap import migrate
    from nautilus.storage.db import Database

    settings = get_settings()
    url = str(settings.database_url)
    if not yes:
        fail("this accepts the database at the URL as it is now, whatever it holds; confirm with --yes")
    if supervisor.running_supervisor(settings) is not None:
        fail("Nautilus is running; stop it first (`nautilus down`)", 1)
    old = run_guarded(identity.forget_id, settings.data_dir, url)
    new = run_guarded(migrate, settings)
    db = Database.from_url(url)
    try:
        keys = run_guarded(db.has_active_api_keys)
    finally:
        db.dispose()
    console.print(f"database {identity.url_key(url)}: recorded id {old or '-'} -> {new}")
    if not keys:
        console.print("it has no API keys: create one with `nautilus keys add NAME --role admin`")
