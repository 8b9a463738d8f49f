"""Fixtures for integration tests: PostgreSQL in a fresh schema per test.

PostgreSQL (``NAUTILUS_TEST_PG_URL``, default ``postgres@127.0.0.1:5432/test``, also tried as user
``root``): when unreachable the tests skip, except with ``CI`` set, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.exc import OperationalError
from tests.support.services import service_missing

from nautilus.storage.connection import make_engine

PG_URL = make_url(os.environ.get("NAUTILUS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
PG_USERS = ("postgres", "root")


def _reachable_pg_url() -> URL | None:
    for user in PG_USERS:
        engine = make_engine(PG_URL.set(username=user), connect_args={"connect_timeout": 5})
        try:
            with engine.connect():
                return PG_URL.set(username=user)
        except OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@pytest.fixture(scope="module")
def pg_admin_url() -> URL:
    url = _reachable_pg_url()
    if url is None:
        service_missing(f"PostgreSQL unreachable at {PG_URL.render_as_string()} as any of {PG_USERS}")
    return url


@pytest.fixture
def pg_url(pg_admin_url: URL) -> Iterator[URL]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    schema = f"nautilus_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


