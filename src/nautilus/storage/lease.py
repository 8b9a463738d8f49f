"""Exactly one writer per stateful engine, enforced by the database: a lease with a fencing epoch.

A stateful engine (the paper book, a job queue, a registry held in memory) takes its lease when it
starts: :meth:`WriterLease.acquire` bumps the row's ``epoch`` in ``writer_leases`` and remembers the new
value. From then on every write transaction on that :class:`~nautilus.storage.db.Database` checks, as its
last statement before ``COMMIT``, that the row still holds this epoch:

- PostgreSQL reads the row ``FOR SHARE``: a takeover's ``UPDATE`` waits for the writer's open
  transaction, or the writer's check waits for the takeover and then sees the new epoch. Either the
  write commits before the takeover (and the new writer, which loads its book after taking over, sees
  it) or it fails.
- SQLite holds the database's write lock from a transaction's first write to its commit, so the check
  reads the current row; a takeover cannot commit in between.

A check that finds another epoch raises :class:`~nautilus.core.errors.FencedOut` from the commit (the
transaction rolls back) and calls ``on_lost`` once: the engine host stops the process, and callers reach
the new writer. Correctness rests on the fence alone. Liveness uses the holder's identity: a new
writer takes over at once from a holder on this host whose process is gone (the supervisor's restart
after a crash), and otherwise only once the holder stopped renewing for ``ttl_s`` (another host).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import event, insert, select, update

from nautilus.core.errors import FencedOut, Unavailable
from nautilus.storage.db import Database
from nautilus.storage.models import WriterLease as LeaseRow

log = logging.getLogger("nautilus.lease")

WROTE: Final = "nautilus_wrote"  # Connection.info flag: this transaction changed something
RENEW_S: Final = 2.0
TTL_S: Final = 10.0


def this_holder() -> str:
    """``host:pid:start`` of this process (the start time tells a reused pid from the holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def _start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()  # field 22: start time in clock ticks
    except (OSError, IndexError):
        return "?"


def holder_gone(holder: str) -> bool:
    """Whether ``holder`` names a process of this host that no longer runs (False when unsure)."""
    host, _, rest = holder.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    if _is_zombie(pid):
        return True
    return ticks not in ("", "?") and _start_ticks(pid) != ticks


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class WriterLease:
    """The lease of ``engine`` on ``db``; :meth:`acquire` it, then every write transaction on ``db`` is fenced."""

    def __init__(self, db: Database, engine: str, *, ttl_s: float = TTL_S,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.engine = engine
        self.ttl_s = ttl_s
        self.on_lost = on_lost
        self.holder = this_holder()
        self.epoch: int | None = None
        self.lost: str | None = None
        dialect = db.engine.dialect
        self._postgres = dialect.name == "postgresql"
        mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        lock = " FOR SHARE" if self._postgres else ""
        self._check_sql = f"SELECT epoch FROM writer_leases WHERE engine = {mark}{lock}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._installed = False

    # Taking the lease -------------------------------------------------------------------------------
    def acquire(self, wait_s: float = 30.0) -> int:
        """Take the lease (bumping its epoch) once its holder is gone or silent for ``ttl_s``; install the
        fence and start renewing. Raises :class:`Unavailable` when a live holder keeps it past ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            epoch, blocker = self._try_take()
            if epoch is not None:
                break
            if time.monotonic() >= deadline:
                raise Unavailable(f"the {self.engine} engine's writer lease is held by {blocker}, which is alive; "
                                  "stop it first (one writer per stateful engine)")
            time.sleep(0.2)
        self.epoch, self.lost = epoch, None
        if not self._installed:
            event.listen(self.db.engine, "before_cursor_execute", _mark_write)
            event.listen(self.db.engine, "commit", self._on_commit)
            event.listen(self.db.engine, "rollback", _clear_write)
            self.db.fence = self.check
            self._installed = True
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name=f"lease-{self.engine}")
            self._renewer.start()
        log.info("%s: writer lease taken, epoch %d (%s)", self.engine, epoch, self.holder)
        return epoch

    def _try_take(self) -> tuple[int | None, str | None]:
        now = datetime.now(UTC)
        with self.db.writing() as session:
            row = session.execute(select(LeaseRow).where(LeaseRow.engine == self.engine)
                                  .with_for_update()).scalar_one_or_none()
            if row is None:
                session.execute(insert(LeaseRow).values(engine=self.engine, epoch=1, holder=self.holder,
                                                           renewed_at=now))
                return 1, None
            free = (row.holder == self.holder or holder_gone(row.holder)
                    or now - row.renewed_at > timedelta(seconds=self.ttl_s))
            if not free:
                return None, row.holder
            epoch = row.epoch + 1
            session.execute(update(LeaseRow).where(LeaseRow.engine == self.engine)
                            .values(epoch=epoch, holder=self.holder, renewed_at=now))
            return epoch, None

    def _renew_loop(self) -> None:
        """Refresh ``renewed_at`` while the lease is ours (a silent holder on another host can be replaced)."""
        failures = 0
        while not self._stop.wait(min(RENEW_S, self.ttl_s / 3)):
            if self.lost is not None:
                return
            try:
                with self.db.engine.connect() as c, c.begin():
                    done = c.execute(update(LeaseRow).where(LeaseRow.engine == self.engine,
                                                               LeaseRow.epoch == self.epoch)
                                     .values(renewed_at=datetime.now(UTC))).rowcount
            except FencedOut:
                return
            except Exception as exc:  # the database is away: the fence still guards every write
                failures += 1
                if failures == 1 or failures % 30 == 0:  # the first, then about once a minute
                    log.warning("%s: lease renewal failed (%d in a row): %s", self.engine, failures, exc)
                continue
            failures = 0
            if done == 0:
                self._lose(f"the {self.engine} engine's writer lease was taken over by a newer writer")
                return

    def release(self) -> None:
        """Stop renewing and give the lease up (a clean shutdown: the next writer need not wait)."""
        self._stop.set()
        if self.epoch is None or self.lost is not None:
            return
        try:
            with self.db.engine.connect() as c, c.begin():
                c.execute(update(LeaseRow).where(LeaseRow.engine == self.engine, LeaseRow.epoch == self.epoch)
                          .values(renewed_at=datetime(1970, 1, 1, tzinfo=UTC)))
        except Exception as exc:
            log.warning("%s: could not release the writer lease: %s", self.engine, exc)

    # The fence --------------------------------------------------------------------------------------
    def check(self, cursor: Any) -> None:
        """Raise :class:`FencedOut` unless the lease row still holds our epoch (run inside the transaction,
        just before its commit, on its DBAPI cursor)."""
        if self.lost is not None:
            raise FencedOut(self.lost)
        cursor.execute(self._check_sql, (self.engine,))
        row = cursor.fetchone()
        if row is None or row[0] != self.epoch:
            self._lose(f"the {self.engine} engine's writer lease moved to epoch "
                       f"{None if row is None else row[0]} (ours {self.epoch}): this writer is stale")
            raise FencedOut(self.lost or "stale writer")

    def verify(self) -> None:
        """Raise :class:`FencedOut` unless the lease is still ours, now: for writes outside the database (the
        bar catalog's files), checked just before they are made visible. The database's own writes need not
        call it: their commit checks."""
        if self.epoch is None:
            return
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                self.check(cursor)
            finally:
                cursor.close()
            raw.rollback()
        finally:
            raw.close()

    def _on_commit(self, conn: Any) -> None:
        if conn.info.pop(WROTE, False):
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                self.check(cursor)
            finally:
                cursor.close()

    def _lose(self, why: str) -> None:
        if self.lost is not None:
            return
        self.lost = why
        log.error("%s", why)
        if self.on_lost is not None:
            self.on_lost(why)


def _mark_write(conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
    changes = context is not None and (context.isinsert or context.isupdate or context.isdelete or context.isddl)
    if changes or not statement.lstrip()[:6].upper().startswith(("SELECT", "PRAGMA", "BEGIN", "WITH")):
        conn.info[WROTE] = True


def _clear_write(conn: Any) -> None:
    conn.info.pop(WROTE, None)
