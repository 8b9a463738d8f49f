"""SQL records of market data fetches (``fetch_runs``) and the corporate actions they bring.

A fetch run is created ``queued`` before any request, goes ``running``, and ends ``ok`` (its bars were
written), ``rejected`` (bad input found late, e.g. an unknown symbol) or ``failed`` (the source or the
network failed; the reason is kept). The ``ranges`` of ``ok`` runs are the coverage later fetches skip.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, update

from nautilus.adapters.base import CorporateAction
from nautilus.core.errors import NotFound
from nautilus.storage.db import Database
from nautilus.storage.models import CorporateActionRow, FetchRun, utcnow

FETCH_KEYS: Final = ("id", "source", "symbol", "source_symbol", "timeframe", "start_ns", "end_ns", "adjust",
                     "options", "status", "ranges", "rows", "requests", "error", "created_at", "finished_at",
                     "duration_s")
UNFINISHED: Final = ("queued", "running")


def owner() -> str:
    """This process as a run owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(run_owner: str | None) -> bool:
    """Whether the process that owns a run still exists (runs of other hosts count as alive)."""
    if not run_owner or ":" not in run_owner:
        return False
    host, _, pid = run_owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _as_dict(run: FetchRun) -> dict[str, Any]:
    return {k: getattr(run, k) for k in FETCH_KEYS}


class FetchStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(self, *, source: str, symbol: str, source_symbol: str, timeframe: str, start_ns: int, end_ns: int,
               adjust: str, options: dict[str, str]) -> dict[str, Any]:
        run = FetchRun(source=source, symbol=symbol, source_symbol=source_symbol, timeframe=timeframe,
                       start_ns=start_ns, end_ns=end_ns, adjust=adjust, options=dict(options), status="queued",
                       ranges=[], rows=0, requests=0, owner=owner())
        with self.db.sessions.begin() as session:
            session.add(run)
            session.flush()
            return _as_dict(run)

    def update(self, run_id: int, **values: Any) -> None:
        if values.get("status") in ("ok", "failed", "rejected"):
            values.setdefault("finished_at", utcnow())
        with self.db.sessions.begin() as session:
            if session.execute(update(FetchRun).where(FetchRun.id == run_id).values(**values)).rowcount == 0:
                raise NotFound(f"fetch {run_id} does not exist", field="job_id")

    def get(self, run_id: int) -> dict[str, Any]:
        with self.db.sessions.begin() as session:
            run = session.get(FetchRun, run_id)
            if run is None:
                raise NotFound(f"fetch {run_id} does not exist", field="job_id")
            return _as_dict(run)

    def list(self, limit: int = 50, symbol: str | None = None) -> list[dict[str, Any]]:
        query = select(FetchRun).order_by(FetchRun.id.desc()).limit(limit)
        if symbol is not None:
            query = query.where(FetchRun.symbol == symbol)
        with self.db.sessions.begin() as session:
            return [_as_dict(run) for run in session.scalars(query)]

    def covered(self, source: str, symbol: str, timeframe: str) -> list[tuple[int, int]]:
        """Every range the ``ok`` fetches of this series brought in (overlapping, unsorted)."""
        query = select(FetchRun.ranges).where(FetchRun.source == source, FetchRun.symbol == symbol,
                                              FetchRun.timeframe == timeframe, FetchRun.status == "ok")
        with self.db.sessions.begin() as session:
            return [(int(lo), int(hi)) for ranges in session.scalars(query) for lo, hi in ranges]

    def interrupt_orphans(self) -> int:
        """Mark runs left queued/running by a process that no longer exists as failed; returns how many."""
        with self.db.writing() as session:
            orphans = [run.id for run in session.scalars(select(FetchRun).where(FetchRun.status.in_(UNFINISHED)))
                       if not _alive(run.owner)]
            if orphans:
                session.execute(update(FetchRun).where(FetchRun.id.in_(orphans)).values(
                    status="failed", error="interrupted: the process running the fetch stopped", finished_at=utcnow()))
            return len(orphans)

    def requests_today(self, source: str) -> int:
        """Requests the runs of ``source`` created since 00:00 UTC made (quota bookkeeping across processes)."""
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        query = select(func.coalesce(func.sum(FetchRun.requests), 0)).where(
            FetchRun.source == source, FetchRun.created_at >= midnight, FetchRun.created_at < midnight + timedelta(1))
        with self.db.sessions.begin() as session:
            return int(session.execute(query).scalar_one())

    def update_targets(self) -> list[dict[str, Any]]:
        """The latest ``ok`` run of every (source, symbol, timeframe): what ``update --all`` refreshes."""
        latest = (select(func.max(FetchRun.id)).where(FetchRun.status == "ok")
                  .group_by(FetchRun.source, FetchRun.symbol, FetchRun.timeframe))
        query = select(FetchRun).where(FetchRun.id.in_(latest)).order_by(FetchRun.symbol, FetchRun.timeframe)
        with self.db.sessions.begin() as session:
            return [_as_dict(run) for run in session.scalars(query)]

    # Corporate actions ---------------------------------------------------------------------------------
    def save_actions(self, symbol: str, source: str, actions: Sequence[CorporateAction]) -> None:
        if not actions:
            return
        rows = [{"symbol": symbol, "ts": a.ts, "kind": a.kind, "value": a.value, "source": source} for a in actions]
        stmt = self.db.upsert(CorporateActionRow)
        stmt = stmt.on_conflict_do_update(index_elements=["symbol", "ts", "kind"],
                                          set_={"value": stmt.excluded.value, "source": stmt.excluded.source})
        with self.db.sessions.begin() as session:
            session.execute(stmt, rows)

    def actions(self, symbol: str) -> list[CorporateAction]:
        query = select(CorporateActionRow).where(CorporateActionRow.symbol == symbol).order_by(
            CorporateActionRow.ts, CorporateActionRow.kind)
        with self.db.sessions.begin() as session:
            return [CorporateAction(ts=r.ts, kind=r.kind, value=r.value) for r in session.scalars(query)]
