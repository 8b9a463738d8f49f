"""Alembic environment for Nautilus.

Runs online only. Callers either pass an open connection in ``config.attributes["connection"]``
(what :func:`nautilus.storage.db.upgrade` does) or set ``sqlalchemy.url`` on the config; either way
every pending revision runs inside one transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

from nautilus.storage.connection import make_engine
from nautilus.storage.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic needs config.attributes['connection'] or the sqlalchemy.url option")
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
