"""Relational state: SQLAlchemy 2 declarative models, portable across SQLite and PostgreSQL.

Datetimes are timezone-aware UTC on the way in and out (:class:`UTCDateTime`); bar timestamps are
int64 nanoseconds (``BigInteger``). Constraint names follow :data:`NAMING_CONVENTION` so the
hand-written migrations name them identically on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES: Final = ("read", "trade", "admin")
RUN_STATUSES: Final = ("running", "ok", "rejected", "failed")
FINISHED_STATUSES: Final = RUN_STATUSES[1:]
MODEL_STAGES: Final = ("candidate", "production", "archived")
ORDER_STATUSES: Final = ("open", "partially_filled", "filled", "cancelled", "rejected", "expired")
OPEN_ORDER_STATUSES: Final = ORDER_STATUSES[:2]
ORDER_SIDES: Final = ("buy", "sell")
ORDER_TYPES: Final = ("market", "limit", "stop", "stop_limit")
TIME_IN_FORCE: Final = ("GTC", "DAY", "IOC", "FOK")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that rejects naive values and always returns aware UTC values.

    SQLite stores no offset, so values are normalised to UTC before binding and tagged UTC on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Instrument(Base):
    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    asset_class: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(16))
    exchange: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    series: Mapped[list[CatalogSeries]] = relationship(
        back_populates="instrument", order_by="CatalogSeries.timeframe", passive_deletes=True
    )


class CatalogSeries(Base):
    """One (symbol, timeframe) series of the Parquet catalog, mirrored so listings need no file scan."""

    __tablename__ = "catalog_series"
    __table_args__ = (
        UniqueConstraint("symbol", "timeframe"),
        CheckConstraint("rows >= 0", name="rows_nonnegative"),
        CheckConstraint("first_ts <= last_ts", name="ts_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), ForeignKey("instruments.symbol", ondelete="CASCADE"))
    timeframe: Mapped[str] = mapped_column(String(16))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    instrument: Mapped[Instrument] = relationship(back_populates="series")


class IngestRun(Base):
    __tablename__ = "ingest_runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    path: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ApiKey(Base):
    """An API key; only the sha256 hex digest of the raw key is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None]


class RiskLimits(Base):
    """An account's pre-trade limit set, owned by the Risk engine and read by every process that checks orders.

    ``version`` grows by one with every change of the account's row (set or reset), so a reader that cached a
    version knows with one primary-key read whether its copy is current. ``limits`` NULL: reset, the
    ``default_limits`` setting applies (the row stays so the version never goes back)."""

    __tablename__ = "risk_limits"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    limits: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BacktestRun(Base):
    """A saved backtest: inputs and statistics here, trades and equity curve in the artifact folder."""

    __tablename__ = "backtest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    strategy: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64), index=True)
    timeframe: Mapped[str] = mapped_column(String(16))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    bars: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict[str, Any]]
    config: Mapped[dict[str, Any]]
    stats: Mapped[dict[str, Any]]
    n_trades: Mapped[int] = mapped_column(BigInteger)
    artifact: Mapped[str | None] = mapped_column(Text)


class MLModel(Base):
    """A registered model version: what it learned from and how it scored here, its files in ``artifact``."""

    __tablename__ = "ml_models"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint(_one_of("stage", MODEL_STAGES), name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    task: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    feature_set: Mapped[dict[str, Any]]
    feature_names: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    folds: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    symbols: Mapped[list[str]] = mapped_column(JSON)
    timeframe: Mapped[str] = mapped_column(String(16))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    n_rows: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    promoted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    artifact: Mapped[str] = mapped_column(Text)


# Paper trading ---------------------------------------------------------------------------------------
class PaperAccount(Base):
    """A paper-trading account: its fill simulation settings; cash lives in :class:`PaperCash`."""

    __tablename__ = "paper_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    base_currency: Mapped[str] = mapped_column(String(16))
    slippage_bps: Mapped[float] = mapped_column(Double)
    fee_bps: Mapped[float] = mapped_column(Double)
    fixed_fee: Mapped[float] = mapped_column(Double)
    latency_ms: Mapped[float] = mapped_column(Double)
    max_participation: Mapped[float | None] = mapped_column(Double, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperCash(Base):
    __tablename__ = "paper_cash"

    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[float] = mapped_column(Double)
    deposits: Mapped[float] = mapped_column(Double)  # net external cash in (initial cash, deposits, withdrawals)


class PaperOrder(Base):
    """An order of a paper account; ``client_order_id`` is the idempotency key (unique per account)."""

    __tablename__ = "paper_orders"
    __table_args__ = (
        UniqueConstraint("account_id", "client_order_id"),
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status_known"),
        CheckConstraint(_one_of("side", ORDER_SIDES), name="side_known"),
        CheckConstraint(_one_of("type", ORDER_TYPES), name="type_known"),
        CheckConstraint(_one_of("tif", TIME_IN_FORCE), name="tif_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), index=True)
    client_order_id: Mapped[str | None] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128), default="")
    symbol: Mapped[str] = mapped_column(String(64), index=True)
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(16))
    tif: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Double)
    equity_pct: Mapped[float | None] = mapped_column(Double)
    limit_price: Mapped[float | None] = mapped_column(Double)
    stop_price: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(20))
    filled: Mapped[float] = mapped_column(Double, default=0.0)
    avg_fill_price: Mapped[float | None] = mapped_column(Double)
    fees: Mapped[float] = mapped_column(Double, default=0.0)
    triggered: Mapped[bool] = mapped_column(Boolean, default=False)
    eligible_ns: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    risk: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperFill(Base):
    """One fill; at most one per order and bar, so a re-delivered bar can never fill twice."""

    __tablename__ = "paper_fills"
    __table_args__ = (UniqueConstraint("order_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("paper_orders.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), index=True)
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[float] = mapped_column(Double)  # signed
    price: Mapped[float] = mapped_column(Double)
    fee: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperPosition(Base):
    __tablename__ = "paper_positions"

    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[float] = mapped_column(Double)
    avg_price: Mapped[float] = mapped_column(Double)
    realised_pnl: Mapped[float] = mapped_column(Double)
    fees: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperMark(Base):
    """An account's feed clock and last price per instrument: the open time of the last bar it processed, its close."""

    __tablename__ = "paper_marks"

    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[float] = mapped_column(Double)


class PaperEquity(Base):
    """An account's equity (in its base currency) after each bar that moved it."""

    __tablename__ = "paper_equity"

    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    equity: Mapped[float] = mapped_column(Double)
    cash: Mapped[float] = mapped_column(Double)
    unrealised: Mapped[float] = mapped_column(Double)
    realised: Mapped[float] = mapped_column(Double)
    fees: Mapped[float] = mapped_column(Double)


FETCH_STATUSES: Final = ("queued", "running", "ok", "failed", "rejected")
ACTION_KINDS: Final = ("split", "dividend")


class FetchRun(Base):
    """One fetch of bars from an external source: what was asked, what was fetched, how it went.

    ``ranges`` lists the ``[start_ns, end_ns)`` windows requested from the source (the missing ones) with
    their ends capped at the last complete bar; the ``ok`` runs' ranges are what later fetches skip.
    """

    __tablename__ = "fetch_runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", FETCH_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64), index=True)
    source_symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    start_ns: Mapped[int] = mapped_column(BigInteger)
    end_ns: Mapped[int] = mapped_column(BigInteger)
    adjust: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    ranges: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(128))  # "host:pid" of the process running it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Double)


class CorporateActionRow(Base):
    """A split (``value`` = new shares per old share) or cash dividend (per share) of an instrument."""

    __tablename__ = "corporate_actions"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ACTION_KINDS), name="kind_known"),
    )

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(32))


class DatabaseIdentity(Base):
    """The database's one identity row (``id`` is always 1), made with the schema; see migration 0006."""

    __tablename__ = "database_identity"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    db_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WriterLease(Base):
    """The single-writer lease of a stateful engine: taking it over bumps ``epoch``; every write transaction of
    the holder checks that its epoch is still the current one (fencing)."""

    __tablename__ = "writer_leases"

    engine: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(255))
    renewed_at: Mapped[datetime]  # when the holder took or last renewed it
