"""Audit entries written by a background thread, so a hot path (a pre-trade check, an HTTP request) never
waits on the database."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from nautilus.storage.db import Database

log = logging.getLogger("nautilus.audit")
BATCH = 5_000
PAUSE_S = 0.2  # coalesce entries into few, large transactions: the writer then rarely holds the GIL
Entry = tuple[str, str, str | None, dict[str, Any]]


class AuditWriter:
    """Queue ``(actor, action, target, detail)`` entries; a daemon thread inserts them in batches."""

    def __init__(self, db: Database, name: str = "audit") -> None:
        self.db = db
        self._queue: queue.Queue[Entry] = queue.Queue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def write(self, actor: str, action: str, target: str | None, detail: dict[str, Any]) -> None:
        self._queue.put((actor, action, target, detail))

    def flush(self) -> None:
        """Block until every queued entry has been written (or logged as failed)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            time.sleep(PAUSE_S)
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.db.audit_many(batch)
            except Exception:  # keep the thread alive; the entries go to the log instead
                log.exception("could not write %d audit entries: %s", len(batch), batch[:3])
            finally:
                for _ in batch:
                    self._queue.task_done()
