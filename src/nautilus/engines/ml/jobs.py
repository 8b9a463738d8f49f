"""Background training jobs: one thread each, progress, cancellation, and events on the bus.

A job's progress goes to ``ml.job.<id>`` on the bus (the WebSocket engine streams it) and is kept
for polling. With a ``record`` callable (the engine's: a row in SQL) each state change of a job (queued,
running, its end) is recorded, the first before ``submit`` returns, so an acknowledged job is never lost;
:meth:`JobManager.restore` rebuilds the jobs of the last process from those records, and a job that was
queued or running when that process stopped (a crash, a kill) ends ``failed`` with the error code
``interrupted``, never ``running`` forever (its progress is not resumed: train again).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from nautilus.core.errors import NautilusError, NotFound
from nautilus.runtime.bus import Bus

MAX_KEPT = 200
UNFINISHED = ("queued", "running")
INTERRUPTED = "interrupted: the ML engine stopped while the job was queued or running (killed or restarted); train again"
log = logging.getLogger("nautilus.ml.jobs")


class Job:
    def __init__(self, name: str) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.name = name
        self.status = "queued"
        self.progress = 0.0
        self.message = "queued"
        self.created = time.time()
        self.finished: float | None = None
        self.model: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.cancel = threading.Event()
        self.done = threading.Event()

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> Job:
        job = cls(snap["name"])
        job.id, job.status, job.progress, job.message = snap["id"], snap["status"], snap["progress"], snap["message"]
        job.created, job.finished, job.model, job.error = snap["created"], snap["finished"], snap["model"], snap["error"]
        if job.status not in UNFINISHED:
            job.done.set()
        return job

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "progress": round(self.progress, 4), "message": self.message,
                "name": self.name, "created": self.created, "finished": self.finished, "model": self.model,
                "error": self.error}


class JobManager:
    def __init__(self, bus: Callable[[], Bus], record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._bus = bus
        self._record = record
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(1)  # one training at a time: models use every core

    def _publish(self, job: Job) -> None:
        try:
            self._bus().publish(f"ml.job.{job.id}", job.snapshot())
        except Exception:  # a bus outage must not fail the training
            pass

    def _save(self, job: Job) -> None:
        """Record a state change of a job's thread (a failure is logged: the job goes on)."""
        if self._record is not None:
            try:
                self._record(job.snapshot())
            except Exception:
                log.exception("training job %s: its %s state was not recorded", job.id, job.status)

    def restore(self, snapshots: list[dict[str, Any]]) -> int:
        """Take the jobs of a stopped process (newest record of each); those it left queued or running end
        ``failed`` (code ``interrupted``), recorded so. Returns how many were interrupted."""
        interrupted = 0
        for snap in snapshots:
            job = Job.from_snapshot(snap)
            if job.status in UNFINISHED:
                job.status, job.message, job.finished = "failed", INTERRUPTED, time.time()
                job.error = {"code": "interrupted", "message": INTERRUPTED, "field": None}
                job.done.set()
                if self._record is not None:
                    self._record(job.snapshot())
                interrupted += 1
            with self._lock:
                self._jobs[job.id] = job
        return interrupted

    def submit(self, name: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        job = Job(name)
        if self._record is not None:  # recorded before it is acknowledged (a failure here fails the call)
            self._record(job.snapshot())
        with self._lock:
            self._jobs[job.id] = job
            if len(self._jobs) > MAX_KEPT:
                for old in [j for j in self._jobs.values() if j.done.is_set()][: len(self._jobs) - MAX_KEPT]:
                    del self._jobs[old.id]

        def run() -> None:
            from nautilus.ml.training import Cancelled

            with self._slots:
                if job.cancel.is_set():
                    job.status, job.message = "cancelled", "cancelled before it started"
                else:
                    job.status, job.message = "running", "starting"
                    self._save(job)
                    self._publish(job)
                    try:
                        job.model = work(job)
                        job.status, job.progress, job.message = "done", 1.0, "done"
                    except Cancelled:
                        job.status, job.message = "cancelled", "cancelled"
                    except NautilusError as exc:
                        job.status, job.message, job.error = "failed", exc.message, exc.to_dict()
                    except Exception as exc:  # reported on the job, never raised into a request
                        job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
                        job.error = {"code": "error", "message": job.message, "field": None}
            job.finished = time.time()
            self._save(job)
            job.done.set()
            self._publish(job)

        threading.Thread(target=run, name=f"ml-job-{job.id}", daemon=True).start()
        return job

    def report(self, job: Job, fraction: float, message: str) -> None:
        job.progress, job.message = max(job.progress, min(1.0, fraction)), message
        self._publish(job)

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no training job {job_id!r}", field="id")
        return job

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def cancel_all(self) -> None:
        for job in self._jobs.values():
            job.cancel.set()
