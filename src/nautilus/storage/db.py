"""Migrations and the repository API the engines use.

The SQL engine under it comes from :func:`nautilus.storage.connection.make_engine`: SQLite (the default) gets
WAL, foreign keys, a busy timeout and real transactions (``BEGIN`` on every transaction, so DDL and reads are
transactional too); PostgreSQL goes through psycopg 3. Every :class:`Database` method runs in its own
transaction: it commits whole or leaves nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from nautilus.core.errors import Conflict, DatabaseUnavailable, InvalidInput, NotFound, database_outage_kind
from nautilus.core.timeframe import validate_timeframe
from nautilus.storage.connection import SQLITE_WRITE, driver_message, make_engine, normalize_url
from nautilus.storage.identity import IdentityGuard
from nautilus.storage.models import (
    FINISHED_STATUSES,
    ROLES,
    ApiKey,
    AuditLog,
    BacktestRun,
    Base,
    CatalogSeries,
    IngestRun,
    Instrument,
    MLModel,
    utcnow,
)
from nautilus.storage.prepared import dbapi_error

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
INSTRUMENT_FIELDS: Final = frozenset({"name", "asset_class", "currency", "exchange"})
_UPSERTS: Final = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


# Sessions --------------------------------------------------------------------------------------
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# Migrations ------------------------------------------------------------------------------------
def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config for the packaged migrations; ``url`` sets ``sqlalchemy.url`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` in one transaction."""
    _migrate(command.upgrade, url, revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision`` in one transaction."""
    _migrate(command.downgrade, url, revision)


def _migrate(step: Callable[[Config, str], None], url: str | URL, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        engine.dispose()


# Repository ------------------------------------------------------------------------------------
def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def _notify_key_change(session: Session) -> None:
    """PostgreSQL: tell every gateway's key listener (``nautilus.gateway.auth``) that the key table changed; the
    notification is delivered when this transaction commits. SQLite gateways see commits by themselves."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SELECT pg_notify('nautilus_api_keys', '')")


def _require_text(value: str, field: str) -> None:
    if not value or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)


def _require_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        raise InvalidInput(f"{field} {value!r} is not one of {', '.join(choices)}", field=field)


def _as_dict(row: Base, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


_INSTRUMENT_KEYS: Final = ("id", "symbol", "name", "asset_class", "currency", "exchange", "created_at")
_SERIES_KEYS: Final = ("timeframe", "first_ts", "last_ts", "rows", "updated_at")
_MODEL_KEYS: Final = (
    "id", "name", "version", "created_at", "task", "kind", "objective", "target", "feature_set", "feature_names",
    "params", "metrics", "folds", "symbols", "timeframe", "first_ts", "last_ts", "n_rows", "stage", "promoted_at",
    "artifact",
)
_BACKTEST_KEYS: Final = (
    "id", "created_at", "name", "strategy", "symbol", "timeframe", "first_ts", "last_ts", "bars", "params",
    "config", "stats", "n_trades", "artifact",
)
_RUN_KEYS: Final = (
    "id", "symbol", "timeframe", "source", "path", "rows", "status", "error", "started_at", "finished_at",
)


class Database:
    """Repository over the SQL state; build it with :meth:`from_url` after :func:`upgrade`."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in _UPSERTS:
            raise InvalidInput(f"database {engine.dialect.name!r} is not supported (sqlite, postgresql)",
                               field="database_url")
        self.engine = engine
        self.sessions = session_factory(engine)
        self.upsert = _UPSERTS[engine.dialect.name]  # the dialect's INSERT with ON CONFLICT (the stores use it too)
        # The writer-lease check of a stateful engine (storage.lease): run on a raw transaction's cursor just
        # before its commit; transactions through SQLAlchemy connections are checked by the lease's commit hook.
        self.fence: Callable[[Any], None] | None = None
        self.guard: IdentityGuard | None = None

    def watch(self, db_id: str, interval_s: float = 1.0, row_interval_s: float = 5.0) -> Database:
        """Refuse every connection (503 naming the cause) while this is not database ``db_id`` any more: the
        SQLite file deleted or replaced under the process, the identity row gone or changed (see
        :mod:`nautilus.storage.identity`). :func:`nautilus.storage.bootstrap.open_database` calls it."""
        if self.guard is None:
            self.guard = IdentityGuard(self.engine, db_id, interval_s, row_interval_s)
        return self

    def health(self) -> dict[str, Any]:
        """``{"ok", "cause", "id"}``: whether the database is reachable and still the one opened (never blocks on
        the database: a watched one is probed in the background; an unwatched one reports only its id as None)."""
        if self.guard is None:
            return {"ok": True, "cause": None, "id": None}
        return self.guard.health()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction reads and then writes (on SQLite it holds the write lock from BEGIN, so
        it waits for other writers instead of failing when one commits between its read and its write)."""
        with self.sessions.begin() as session:
            session.connection(execution_options={SQLITE_WRITE: True})
            yield session

    @contextmanager
    def raw_transaction(self) -> Iterator[Any]:
        """One transaction on a pooled DBAPI connection; yields its cursor (for :mod:`nautilus.storage.prepared`).

        Commits when the block ends, rolls back on any exception and always returns the connection to the
        pool (a lost one is invalidated instead). SQLite takes the write lock at ``BEGIN IMMEDIATE`` (the
        connect hook turned the driver's own BEGIN off); psycopg begins implicitly. DBAPI errors surface as
        SQLAlchemy's exception classes, as through a ``Connection``.
        """
        dialect = self.engine.dialect
        driver_error = dialect.loaded_dbapi.Error
        hide = self.engine.hide_parameters
        try:
            raw = self.engine.raw_connection()
        except driver_error as exc:
            wrapped = dbapi_error(dialect, exc, None, None, None, hide)
            kind = database_outage_kind(wrapped)
            if kind is not None:
                raise DatabaseUnavailable(kind.cause, driver_message(exc)) from exc
            raise wrapped from exc
        cursor = None
        try:
            cursor = raw.cursor()
            if dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            if self.fence is not None:
                self.fence(cursor)
            cursor.close()
            cursor = None
            raw.commit()
        except BaseException as exc:
            lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
            if isinstance(exc, driver_error):
                wrapped = dbapi_error(dialect, exc, None, None, raw.dbapi_connection, hide)
                lost = isinstance(wrapped, DBAPIError) and wrapped.connection_invalidated
            else:
                wrapped = exc
            kind = database_outage_kind(wrapped)  # as _on_database_error does for Connection's statements
            if kind is not None and kind.recycle:
                lost = True
            try:
                if cursor is not None:
                    cursor.close()
                if not lost:
                    raw.rollback()
            except driver_error:
                lost = True
            if lost:
                raw.invalidate(exc if isinstance(exc, Exception) else None)
            if kind is not None and kind.recycle:
                self.engine.dispose(close=False)  # every connection opened before the outage goes
            if kind is not None and not isinstance(wrapped, DatabaseUnavailable):
                raise DatabaseUnavailable(kind.cause, driver_message(getattr(wrapped, "orig", None) or exc)) \
                    from exc
            if wrapped is exc:
                raise
            raise wrapped from exc
        finally:
            raw.close()

    @classmethod
    def from_url(cls, url: str | URL, **engine_kwargs: Any) -> Database:
        return cls(make_engine(url, **engine_kwargs))

    def dispose(self) -> None:
        self.engine.dispose()

    # Instruments and catalog series ---------------------------------------------------------------
    def upsert_instrument(self, symbol: str, **fields: str | None) -> int:
        """Insert ``symbol`` or update the given fields of it; returns the instrument id."""
        _require_text(symbol, "symbol")
        unknown = sorted(set(fields) - INSTRUMENT_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown instrument field(s): {', '.join(unknown)}", field=unknown[0])
        stmt = self.upsert(Instrument).values(symbol=symbol, **fields)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Instrument.symbol], set_=fields or {"symbol": stmt.excluded.symbol}
        ).returning(Instrument.id)
        with self.sessions.begin() as session:
            return session.execute(stmt).scalar_one()

    def list_instruments(self) -> list[dict[str, Any]]:
        """Every instrument with its catalog series, ordered by symbol then timeframe."""
        query = select(Instrument).options(selectinload(Instrument.series)).order_by(Instrument.symbol)
        with self.sessions.begin() as session:
            return [
                _as_dict(instrument, _INSTRUMENT_KEYS)
                | {"series": [_as_dict(series, _SERIES_KEYS) for series in instrument.series]}
                for instrument in session.scalars(query)
            ]

    def record_series(self, symbol: str, timeframe: str, first_ts: int, last_ts: int, rows: int) -> None:
        """Mirror a catalog series' extent (creating its instrument if needed)."""
        _require_text(symbol, "symbol")
        validate_timeframe(timeframe)
        if rows < 0:
            raise InvalidInput(f"rows must be >= 0, got {rows}", field="rows")
        if first_ts > last_ts:
            raise InvalidInput(f"first_ts {first_ts} is after last_ts {last_ts}", field="first_ts")
        values = {"first_ts": int(first_ts), "last_ts": int(last_ts), "rows": int(rows), "updated_at": utcnow()}
        new_instrument = self.upsert(Instrument).values(symbol=symbol).on_conflict_do_nothing(
            index_elements=[Instrument.symbol]
        )
        series = self.upsert(CatalogSeries).values(symbol=symbol, timeframe=timeframe, **values)
        series = series.on_conflict_do_update(
            index_elements=[CatalogSeries.symbol, CatalogSeries.timeframe], set_=values
        )
        with self.sessions.begin() as session:
            session.execute(new_instrument)
            session.execute(series)

    def delete_series(self, symbol: str, timeframe: str | None = None) -> int:
        """Forget one series (or every series of ``symbol``); returns how many rows went."""
        stmt = delete(CatalogSeries).where(CatalogSeries.symbol == symbol)
        if timeframe is not None:
            stmt = stmt.where(CatalogSeries.timeframe == timeframe)
        with self.sessions.begin() as session:
            return session.execute(stmt).rowcount

    # Ingest runs ----------------------------------------------------------------------------------
    def start_ingest_run(self, symbol: str, timeframe: str, source: str, path: str | None = None) -> int:
        """Record a run in status ``running``; returns its id for :meth:`finish_ingest_run`."""
        _require_text(symbol, "symbol")
        _require_text(source, "source")
        run = IngestRun(symbol=symbol, timeframe=timeframe, source=source, path=path)
        with self.sessions.begin() as session:
            session.add(run)
        return run.id

    def finish_ingest_run(self, run_id: int, status: str, rows: int = 0, error: str | None = None) -> None:
        _require_choice(status, FINISHED_STATUSES, "status")
        stmt = (
            update(IngestRun)
            .where(IngestRun.id == run_id)
            .values(status=status, rows=rows, error=error, finished_at=utcnow())
        )
        with self.sessions.begin() as session:
            if session.execute(stmt).rowcount == 0:
                raise NotFound(f"ingest run {run_id} does not exist", field="run_id")

    def list_ingest_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The ``limit`` most recent runs, newest first."""
        if limit < 1:
            raise InvalidInput(f"limit must be >= 1, got {limit}", field="limit")
        query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
        with self.sessions.begin() as session:
            return [_as_dict(run, _RUN_KEYS) for run in session.scalars(query)]

    # Audit log ------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str | None = None,
              detail: dict[str, Any] | None = None) -> int:
        _require_text(actor, "actor")
        _require_text(action, "action")
        entry = AuditLog(actor=actor, action=action, target=target, detail=detail)
        with self.sessions.begin() as session:
            session.add(entry)
        return entry.id

    # API keys -------------------------------------------------------------------------------------
    def add_api_key(self, name: str, raw_key: str, role: str = "read") -> int:
        """Store the sha256 of ``raw_key`` (never the key itself); returns the key id."""
        _require_text(name, "name")
        _require_text(raw_key, "raw_key")
        _require_choice(role, ROLES, "role")
        key = ApiKey(name=name, key_hash=hash_api_key(raw_key), role=role)
        try:
            with self.sessions.begin() as session:
                session.add(key)
                _notify_key_change(session)
        except IntegrityError as exc:
            raise Conflict("an API key with this value already exists", field="raw_key") from exc
        return key.id

    def verify_api_key(self, raw_key: str) -> str | None:
        """The role of an unrevoked key matching ``raw_key``, else None."""
        row = self.find_api_key(raw_key)
        return None if row is None else row["role"]

    def find_api_key(self, raw_key: str) -> dict[str, Any] | None:
        """``{id, name, role}`` of the unrevoked key matching ``raw_key``, else None."""
        query = select(ApiKey.id, ApiKey.name, ApiKey.role).where(ApiKey.key_hash == hash_api_key(raw_key),
                                                                  ApiKey.revoked_at.is_(None))
        with self.sessions.begin() as session:
            row = session.execute(query).first()
            return None if row is None else dict(row._mapping)

    def list_api_keys(self) -> list[dict[str, Any]]:
        """Every key (never the key itself), newest first."""
        query = select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.created_at, ApiKey.revoked_at).order_by(
            ApiKey.id.desc())
        with self.sessions.begin() as session:
            return [dict(r._mapping) for r in session.execute(query)]

    def has_active_api_keys(self) -> bool:
        """Whether any unrevoked key exists (the gateway enables auth only then)."""
        query = select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)
        with self.sessions.begin() as session:
            return session.scalar(query) is not None

    def revoke_api_key(self, key_id: int) -> None:
        """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
        with self.writing() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                raise NotFound(f"API key {key_id} does not exist", field="key_id")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                _notify_key_change(session)

    # Backtests ------------------------------------------------------------------------------------
    def add_backtest(self, **fields: Any) -> int:
        """Insert a saved backtest (see :class:`BacktestRun` for the fields); returns its id."""
        run = BacktestRun(**fields)
        with self.sessions.begin() as session:
            session.add(run)
        return run.id

    def set_backtest_artifact(self, run_id: int, artifact: str) -> None:
        with self.writing() as session:
            run = session.get(BacktestRun, run_id)
            if run is None:
                raise NotFound(f"backtest {run_id} does not exist", field="id")
            run.artifact = artifact

    def list_backtests(self, limit: int = 50, symbol: str | None = None,
                       strategy: str | None = None) -> list[dict[str, Any]]:
        """The ``limit`` most recent saved backtests, newest first."""
        if limit < 1:
            raise InvalidInput(f"limit must be >= 1, got {limit}", field="limit")
        query = select(BacktestRun).order_by(BacktestRun.id.desc()).limit(limit)
        if symbol:
            query = query.where(BacktestRun.symbol == symbol)
        if strategy:
            query = query.where(BacktestRun.strategy == strategy)
        with self.sessions.begin() as session:
            return [_as_dict(run, _BACKTEST_KEYS) for run in session.scalars(query)]

    def get_backtest(self, run_id: int) -> dict[str, Any]:
        with self.sessions.begin() as session:
            run = session.get(BacktestRun, run_id)
            if run is None:
                raise NotFound(f"backtest {run_id} does not exist", field="id")
            return _as_dict(run, _BACKTEST_KEYS)

    def delete_backtest(self, run_id: int) -> dict[str, Any]:
        with self.writing() as session:
            run = session.get(BacktestRun, run_id)
            if run is None:
                raise NotFound(f"backtest {run_id} does not exist", field="id")
            row = _as_dict(run, _BACKTEST_KEYS)
            session.delete(run)
            return row

    # Model registry -------------------------------------------------------------------------------
    def add_model(self, **fields: Any) -> dict[str, Any]:
        """Register the next version of ``fields["name"]`` (see :class:`MLModel`); returns the row."""
        for _ in range(3):  # two writers racing for the same version number: retry with the next one
            try:
                with self.writing() as session:
                    latest = session.scalar(select(MLModel.version).where(MLModel.name == fields["name"])
                                            .order_by(MLModel.version.desc()).limit(1))
                    row = MLModel(**fields, version=(latest or 0) + 1, stage="candidate")
                    session.add(row)
                    session.flush()
                    return _as_dict(row, _MODEL_KEYS)
            except IntegrityError:
                continue
        raise Conflict(f"could not allocate a version of model {fields['name']!r}", field="name")

    def list_models(self, name: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Registered versions, newest first (of one model when ``name`` is given)."""
        query = select(MLModel).order_by(MLModel.id.desc()).limit(limit)
        if name:
            query = query.where(MLModel.name == name)
        with self.sessions.begin() as session:
            return [_as_dict(m, _MODEL_KEYS) for m in session.scalars(query)]

    def _model(self, session: Session, name: str, version: int | None) -> MLModel:
        query = select(MLModel).where(MLModel.name == name)
        if version is not None:
            found = session.scalar(query.where(MLModel.version == version))
            if found is None:
                raise NotFound(f"model {name!r} has no version {version}", field="version")
            return found
        found = session.scalar(query.where(MLModel.stage == "production")) or session.scalar(
            query.order_by(MLModel.version.desc()).limit(1))
        if found is None:
            raise NotFound(f"no model named {name!r}", field="name")
        return found

    def get_model(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A version; without one, the production version, else the latest."""
        with self.sessions.begin() as session:
            return _as_dict(self._model(session, name, version), _MODEL_KEYS)

    def promote_model(self, name: str, version: int) -> dict[str, Any]:
        """Make ``version`` the production version; the previous one is archived (one transaction)."""
        with self.writing() as session:
            row = self._model(session, name, version)
            if row.stage == "production":
                return _as_dict(row, _MODEL_KEYS)
            session.execute(update(MLModel).where(MLModel.name == name, MLModel.stage == "production")
                            .values(stage="archived"))
            row.stage, row.promoted_at = "production", utcnow()
            session.flush()
            return _as_dict(row, _MODEL_KEYS)

    def rollback_model(self, name: str) -> dict[str, Any]:
        """Archive the production version and restore the one promoted before it."""
        with self.writing() as session:
            current = session.scalar(select(MLModel).where(MLModel.name == name, MLModel.stage == "production"))
            if current is None:
                raise Conflict(f"model {name!r} has no production version to roll back", field="name")
            previous = session.scalar(
                select(MLModel).where(MLModel.name == name, MLModel.stage == "archived",
                                      MLModel.promoted_at.is_not(None), MLModel.id != current.id)
                .order_by(MLModel.promoted_at.desc()).limit(1))
            if previous is None:
                raise Conflict(f"model {name!r} has no earlier production version", field="name")
            current.stage = "archived"
            session.flush()
            previous.stage, previous.promoted_at = "production", utcnow()
            session.flush()
            return _as_dict(previous, _MODEL_KEYS)

    def delete_model(self, name: str, version: int) -> dict[str, Any]:
        with self.writing() as session:
            row = self._model(session, name, version)
            if row.stage == "production":
                raise Conflict(f"model {name!r} version {version} is in production; promote another first",
                               field="version")
            out = _as_dict(row, _MODEL_KEYS)
            session.delete(row)
            return out

    def audit_many(self, entries: Sequence[tuple[Any, ...]]) -> None:
        """Insert several ``(actor, action, target, detail)`` entries, each optionally with a fifth element, its
        time (an aware datetime; default now), in one transaction."""
        now = utcnow()
        rows = [{"ts": e[4] if len(e) > 4 and e[4] is not None else now, "actor": e[0], "action": e[1],
                 "target": e[2], "detail": e[3]} for e in entries]
        with self.engine.begin() as connection:
            connection.execute(insert(AuditLog), rows)

    def list_audit(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        """The ``limit`` most recent audit entries (optionally of one action), newest first."""
        query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
        if action:
            query = query.where(AuditLog.action == action)
        with self.sessions.begin() as session:
            return [_as_dict(e, ("id", "ts", "actor", "action", "target", "detail")) for e in session.scalars(query)]
