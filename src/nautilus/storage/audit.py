"""Audit entries written by a background thread, so a hot path (a pre-trade check, an HTTP request) never
waits on the database; none is ever dropped silently.

Each entry is stamped when it is written (:meth:`AuditWriter.write`), not when it reaches the database. A batch
the database refuses (read-only, disk full, unreachable, deleted) stays in memory and is retried with a
backoff (``retry_s`` doubling up to ``max_retry_s``); each failed attempt counts in
``nautilus_audit_write_failures_total`` and is logged. Past ``max_pending`` entries in memory the oldest go to a
local spill file (``<spill_dir>/audit-spill-<name>.jsonl``, one JSON object a line, appended under an exclusive
``flock`` and fsynced), and :meth:`AuditWriter.close` spills whatever is still pending. The spill file is
written to the database (one transaction, then emptied) before newer entries, by this process or the next one
that opens it, so entries arrive once each (a crash between that commit and the truncation would write the
file's entries again: the one window where an entry can be doubled, never lost). Without a ``spill_dir`` the
memory is the only store: entries beyond ``max_pending`` are dropped, counted and logged as errors.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from nautilus.storage.db import Database
from nautilus.storage.metrics import AUDIT_PENDING, AUDIT_SPILLED, AUDIT_WRITE_FAILURES
from nautilus.storage.models import utcnow

log = logging.getLogger("nautilus.audit")
BATCH = 5_000
PAUSE_S = 0.2  # coalesce entries into few, large transactions: the writer then rarely holds the GIL
MAX_PENDING = 100_000
Entry = tuple[str, str, str | None, dict[str, Any] | None, datetime]
_STOP = object()


class AuditWriter:
    """Queue ``(actor, action, target, detail)`` entries; a daemon thread inserts them in batches, keeping (and
    retrying, or spilling to ``spill_dir``) what the database refuses."""

    def __init__(self, db: Database, name: str = "audit", spill_dir: Path | None = None,
                 max_pending: int = MAX_PENDING, retry_s: float = 0.5, max_retry_s: float = 10.0) -> None:
        self.db = db
        self.name = name
        self.spill_path = None if spill_dir is None else Path(spill_dir) / f"audit-spill-{name}.jsonl"
        self.max_pending = max_pending
        self.retry_s, self.max_retry_s = retry_s, max_retry_s
        self.failures = 0  # failed attempts (batches or spill replays) since start
        self.dropped = 0  # entries lost for want of a spill file (only without spill_dir)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending: list[Entry] = []  # the writer thread's alone (and close()'s once it has stopped)
        self._spilled = 0  # entries in the spill file as far as this process knows
        self._backoff = retry_s
        self._next_try = 0.0
        self._cond = threading.Condition()
        self._queued = 0
        self._handled = 0
        self._spill_waiting = self.spill_path is not None and _nonempty(self.spill_path)  # left by an earlier run
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # callers -----------------------------------------------------------------------------------------
    def write(self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None) -> None:
        with self._cond:
            self._queued += 1
        self._queue.put((actor, action, target, detail, utcnow()))

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every entry written so far has been handled: stored in the database, or kept (memory or
        spill file) after a failed attempt. True when nothing is waiting for the database any more."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._queued
            while self._handled < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return not self._pending and not self._spill_waiting

    @property
    def pending(self) -> int:
        """Entries not in the database yet (in memory and in the spill file)."""
        return len(self._pending) + self._spilled

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after one last attempt; entries the database still refuses go to the spill file."""
        self.flush(timeout)
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover - a database call hung past the timeout
            log.error("audit writer %s did not stop; %d entries still in memory", self.name, len(self._pending))
            return
        while True:  # entries written after the flush
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._pending.append(item)
        self._next_try = 0.0
        if self._pending or self._spill_waiting:
            self._drain()
        if self._pending:
            self._overflow(keep=0)

    # the writer thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            waiting = bool(self._pending) or self._spill_waiting
            wait = max(0.0, self._next_try - time.monotonic()) if waiting else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                self._drain()
                continue
            if item is _STOP:
                return
            batch = [item]
            time.sleep(PAUSE_S)
            stop = False
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._pending.extend(batch)
            if time.monotonic() >= self._next_try:
                self._drain()
            elif len(self._pending) > self.max_pending:
                self._overflow(keep=self.max_pending)
            self._publish()
            with self._cond:
                self._handled += len(batch)
                self._cond.notify_all()
            if stop:
                return

    def _drain(self) -> None:
        """Write the spill file, then the pending entries, oldest first; on failure keep them and back off."""
        try:
            if self._spill_waiting:
                self._replay_spill()
            while self._pending:
                chunk = self._pending[:BATCH]
                self.db.audit_many(chunk)
                del self._pending[:len(chunk)]
        except Exception as exc:  # the database refused: keep everything, retry later, say so
            self.failures += 1
            AUDIT_WRITE_FAILURES.labels(self.name).inc()
            self._next_try = time.monotonic() + self._backoff
            log.warning("audit %s: could not write %d entries (%s); kept, retrying in %.1f s", self.name,
                        self.pending, getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}", self._backoff)
            self._backoff = min(self.max_retry_s, self._backoff * 2)
            if len(self._pending) > self.max_pending:
                self._overflow(keep=self.max_pending)
        else:
            if self._backoff != self.retry_s:
                log.warning("audit %s: the database takes entries again", self.name)
            self._backoff = self.retry_s
            self._next_try = 0.0
        self._publish()

    def _overflow(self, keep: int) -> None:
        """Move all but the newest ``keep`` pending entries to the spill file (or, without one, drop them loudly)."""
        excess = self._pending[:len(self._pending) - keep] if keep else list(self._pending)
        if not excess:
            return
        if self.spill_path is None:
            self.dropped += len(excess)
            log.error("audit %s: %d entries dropped (no spill directory and %d already waiting)", self.name,
                      len(excess), keep)
        else:
            try:
                self._append_spill(excess)
            except OSError as exc:  # the disk refuses too: they stay in memory, the bound gives way
                log.error("audit %s: could not spill %d entries to %s: %s", self.name, len(excess),
                          self.spill_path, exc)
                return
        del self._pending[:len(excess)]
        self._publish()

    # the spill file ----------------------------------------------------------------------------------
    def _append_spill(self, entries: list[Entry]) -> None:
        assert self.spill_path is not None
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({"actor": a, "action": b, "target": t, "detail": d, "ts": ts.isoformat()},
                                   default=str, separators=(",", ":")) + "\n" for a, b, t, d, ts in entries)
        with open(self.spill_path, "a", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())
        self._spilled += len(entries)
        self._spill_waiting = True
        AUDIT_SPILLED.labels(self.name).inc(len(entries))
        log.warning("audit %s: %d entries spilled to %s until the database takes them", self.name, len(entries),
                    self.spill_path)

    def _replay_spill(self) -> None:
        """Insert the spill file's entries in one transaction, then empty it (under its lock: one process at a
        time)."""
        assert self.spill_path is not None
        if not self.spill_path.exists():
            self._spill_waiting, self._spilled = False, 0
            return
        with open(self.spill_path, "r+", encoding="utf-8") as spill:
            fcntl.flock(spill, fcntl.LOCK_EX)
            entries: list[Entry] = []
            for number, line in enumerate(spill, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    entries.append((row["actor"], row["action"], row.get("target"), row.get("detail"),
                                    datetime.fromisoformat(row["ts"])))
                except (ValueError, KeyError, TypeError) as exc:  # a torn last line after a crash: keep it aside
                    log.error("audit %s: unreadable line %d of %s kept in %s.bad: %s", self.name, number,
                              self.spill_path, self.spill_path, exc)
                    with open(f"{self.spill_path}.bad", "a", encoding="utf-8") as bad:
                        bad.write(line if line.endswith("\n") else line + "\n")
            if entries:
                self.db.audit_many(entries)
            spill.seek(0)
            spill.truncate()
            spill.flush()
            os.fsync(spill.fileno())
        if entries:
            log.warning("audit %s: %d spilled entries written to the database", self.name, len(entries))
        self._spill_waiting, self._spilled = False, 0

    def _publish(self) -> None:
        AUDIT_PENDING.labels(self.name).set(self.pending)


def _nonempty(path: Path) -> bool:
    with contextlib.suppress(OSError):
        return path.stat().st_size > 0
    return False
