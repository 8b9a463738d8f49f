"""Background training jobs: one thread each, progress, cancellation, and events on the bus.

A job's progress goes to ``ml.job.<id>`` on the bus (the WebSocket engine streams it) and is kept
for polling. Jobs live in the engine process; a restart forgets finished and running ones alike
(their registered models stay in the registry).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from nautilus.core.errors import NautilusError, NotFound
from nautilus.runtime.bus import Bus

MAX_KEPT = 200


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

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "progress": round(self.progress, 4), "message": self.message,
                "name": self.name, "created": self.created, "finished": self.finished, "model": self.model,
                "error": self.error}


class JobManager:
    def __init__(self, bus: Callable[[], Bus]) -> None:
        self._bus = bus
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(1)  # one training at a time: models use every core

    def _publish(self, job: Job) -> None:
        try:
            self._bus().publish(f"ml.job.{job.id}", job.snapshot())
        except Exception:  # a bus outage must not fail the training
            pass

    def submit(self, name: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        job = Job(name)
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
