"""The single-writer lease with its fencing epoch, on SQLite and on the real PostgreSQL.

Oracle: the rule itself. After a takeover the stale writer's commits fail (nothing of them is stored) on
every write path (ORM sessions, Core connections, the paper book's raw prepared transactions); a write
that was in flight when the takeover began either commits before it (and the new writer sees it) or
fails; a live holder on another host is not robbed before its lease expires.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import URL, func, insert, select, update

from nautilus.core.errors import FencedOut, Unavailable
from nautilus.storage.db import Database, upgrade
from nautilus.storage.lease import WriterLease, holder_gone, this_holder
from nautilus.storage.models import AuditLog
from nautilus.storage.models import WriterLease as LeaseRow

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str | URL:
    if request.param == "sqlite":
        value: str | URL = f"sqlite:///{tmp_path / 'lease.db'}"
    else:
        value = request.getfixturevalue("pg_url")
    upgrade(value)
    return value


@pytest.fixture
def dbs(url: str | URL) -> Iterator[tuple[Database, Database]]:
    a, b = Database.from_url(url), Database.from_url(url)
    yield a, b
    a.dispose()
    b.dispose()


def _audits(db: Database) -> int:
    with db.engine.connect() as c:
        return c.execute(select(func.count()).select_from(AuditLog)).scalar_one()


def test_takeover_fences_every_write_path_of_the_stale_writer(dbs: tuple[Database, Database]) -> None:
    a, b = dbs
    lost: list[str] = []
    old = WriterLease(a, "portfolio", on_lost=lost.append)
    assert old.acquire() == 1
    a.audit("t", "before")  # the holder writes through a session
    new = WriterLease(b, "portfolio")
    assert new.acquire() == 2  # same process holder: taken over at once
    with pytest.raises(FencedOut):
        a.audit("t", "stale-session")
    assert len(lost) == 1 and "stale" in lost[0]
    with pytest.raises(FencedOut), a.engine.begin() as c:  # a Core connection
        c.execute(insert(AuditLog).values(ts=datetime.now(UTC), actor="t", action="stale-core"))
    with pytest.raises(FencedOut):  # writes outside the database (the bar catalog) ask before they land
        old.verify()
    new.verify()
    with pytest.raises(FencedOut), a.raw_transaction() as cur:  # the paper book's raw path
        cur.execute("INSERT INTO audit_log (ts, actor, action) VALUES (CURRENT_TIMESTAMP, 't', 'stale-raw')")
    b.audit("t", "after")  # the new writer writes
    with b.engine.connect() as c:
        actions = sorted(c.execute(select(AuditLog.action)).scalars())
    assert actions == ["after", "before"]
    new.release()
    old.release()


def test_reads_of_a_stale_writer_are_not_writes(dbs: tuple[Database, Database]) -> None:
    a, b = dbs
    WriterLease(a, "ml").acquire()
    WriterLease(b, "ml").acquire()
    assert _audits(a) == 0  # a read-only transaction commits without the check


def test_a_write_in_flight_during_a_takeover_commits_first_or_not_at_all(dbs: tuple[Database, Database]) -> None:
    a, b = dbs
    old = WriterLease(a, "portfolio")
    old.acquire()
    took: list[float] = []
    committed = True
    try:
        with a.writing() as session:
            session.add(AuditLog(actor="t", action="in-flight"))
            session.flush()  # SQLite: holds the write lock; PostgreSQL: the row is written, not yet checked
            thread = threading.Thread(target=lambda: took.append(WriterLease(b, "portfolio").acquire()))
            thread.start()
            time.sleep(0.5)
    except FencedOut:
        committed = False
    thread.join(20)
    assert took == [2]
    with b.engine.connect() as c:
        stored = c.execute(select(AuditLog.action)).scalars().all()
    # Either the write committed before the takeover (SQLite: the takeover waited for its lock) and the new
    # writer sees it, or the takeover came first (PostgreSQL: the check runs at commit) and nothing is stored.
    assert stored == (["in-flight"] if committed else [])
    assert committed == (a.engine.dialect.name == "sqlite")
    with pytest.raises(FencedOut):
        a.audit("t", "late")


def test_a_live_holder_on_another_host_keeps_its_fresh_lease(dbs: tuple[Database, Database]) -> None:
    a, _ = dbs
    with a.engine.begin() as c:
        c.execute(insert(LeaseRow).values(engine="portfolio", epoch=7, holder="elsewhere:1:1",
                                          renewed_at=datetime.now(UTC)))
    with pytest.raises(Unavailable, match="elsewhere"):
        WriterLease(a, "portfolio", ttl_s=30).acquire(wait_s=0.3)
    with a.engine.begin() as c:  # silent for longer than the TTL: taken over
        c.execute(update(LeaseRow).values(renewed_at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert WriterLease(a, "portfolio", ttl_s=30).acquire(wait_s=0.3) == 8


def test_holder_identity() -> None:
    host = socket.gethostname()
    assert not holder_gone(this_holder())
    assert not holder_gone("other-host:1:1")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert holder_gone(f"{host}:{child.pid}:1")  # exited
    assert holder_gone(f"{host}:{os.getppid()}:0")  # a live pid whose start time differs: a reused pid
