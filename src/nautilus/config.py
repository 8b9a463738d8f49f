"""One settings object for the whole platform (env prefix ``NAUTILUS_``, ``.env`` supported).

Every process (CLI, supervisor, engines, gateway) builds its settings with :func:`get_settings`;
children inherit the environment, so one ``NAUTILUS_HOME`` (or ``nautilus --home``) points a whole stack
at one set of directories.

A running stack is found by its home, not by the caller's environment: the supervisor records the settings
that decide which database, bus, directories and ports the stack uses (:data:`STACK_FIELDS`) in
``HOME/stack.json`` (mode 600, written atomically, removed when it stops), and every :class:`Settings` built
for that home while that supervisor lives takes those fields from the record. Precedence of those fields:
explicit keyword arguments > the running stack's record > environment (and ``.env``) > defaults. So
``nautilus keys add`` from a plain shell writes to the database the stack reads (PostgreSQL in the production
profile), whatever that shell exports. An environment that names another store than the stack's is recorded
as a conflict (:meth:`Settings.stack_conflicts`); the CLI refuses write commands on it (exit 2). A record whose
supervisor is gone (pid dead, or reused by another process) is ignored. ``NAUTILUS_STACK_RECORD=false``
turns the lookup off for one process.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ComputeBackend = Literal["auto", "cpu", "cuda", "mps"]

# Default TCP port of each engine (ARCHITECTURE.md); the registry in nautilus.engines uses these.
DEFAULT_ENGINE_PORTS: dict[str, int] = {
    "analytics": 8100,
    "risk": 8200,
    "factor": 8300,
    "ml": 8400,
    "features": 8500,
    "websocket": 8600,
    "strategy": 8700,
    "marketdata": 8800,
    "portfolio": 8900,
}


# Settings by concern -------------------------------------------------------------------------------------
# Each group is one concern's fields; Settings is all of them (flat: the environment names NAUTILUS_<FIELD>
# and keyword arguments stay one namespace). A component may annotate the group it reads.

class HomeSettings(BaseModel):
    """Where a stack keeps its state, and which stack a process belongs to."""

    home: Path = Field(default=Path.home() / ".nautilus", description="Root of data and runtime dirs")
    profile: Literal["embedded", "production"] = Field(default="embedded", description="Which profile started "
                                                       "the stack (start.sh: NAUTILUS_PROFILE); recorded with it")
    stack_record: bool = Field(default=True, description="Take the identity settings (STACK_FIELDS) of a stack "
                               "running at this home from its HOME/stack.json (false: this process's own)")
    data_dir: Path | None = Field(default=None, description="Catalog and SQLite file (default HOME/data)")
    runtime_dir: Path | None = Field(
        default=None, description="Sockets, pid files, supervisor state (default HOME/run)"
    )


class StorageSettings(BaseModel):
    """The SQL database and the bar catalog's memory."""

    database_url: str | None = Field(default=None, description="SQLAlchemy URL (default SQLite in data_dir)")
    catalog_cache_mb: int = Field(default=256, ge=0, description="Decoded row groups kept in memory per process")


class BusSettings(BaseModel):
    """The bus: in-process by default, Redis pub/sub with a per-stack prefix and signed messages
    (nautilus.runtime.bus)."""

    redis_url: str | None = Field(default=None, description="Redis URL; unset means the in-memory bus")
    redis_username: str | None = Field(default=None, description="Redis ACL user (or in the URL: redis://user:pass@host)")
    redis_password_file: Path | None = Field(default=None, description="File holding the Redis password (first "
                                             "line), so that it is neither in the URL nor in the environment")
    bus_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Namespace of this "
                                   "stack's Redis channels: topic T travels on channel '<prefix>:T'. Default: "
                                   "'nautilus-' + 12 hex digits of SHA-256 of the resolved home path, so stacks with "
                                   "different homes on one Redis never see each other; set the same value on every "
                                   "process of a stack whose processes see different home paths")
    bus_sign: bool = Field(default=True, description="Sign every Redis bus message with HMAC-SHA256 under the stack "
                           "secret and drop received ones without a valid signature")
    bus_secret: SecretStr | None = Field(default=None, description="The stack's bus secret (default: read from "
                                         "bus_secret_file, created with mode 600 on first use)")
    bus_secret_file: Path | None = Field(default=None, description="File of the bus secret (default HOME/bus.key)")
    bus_max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Larger Redis bus messages "
                                       "are dropped on receipt (counted in nautilus_bus_rejected_total)")
    bus_publish_timeout_s: float = Field(default=1.0, gt=0, description="Longest a Redis publish (or connect) may "
                                         "take before the bus falls back to the in-process bus")
    ws_forward: bool = Field(default=True, description="In-memory bus forwards publishes to the hub engine")
    ws_forward_queue: int = Field(default=10_000, ge=1, description="Forwarder queue; overflow counts drops")


class NetworkSettings(BaseModel):
    """Addresses and ports of the gateway, the dashboard and every engine."""

    host: str = "127.0.0.1"
    bind_host: str | None = Field(default=None, description="Address servers listen on (default: host; 0.0.0.0 "
                                                            "in containers)")
    engine_hosts: dict[str, str] = Field(default_factory=dict, description="Host of an engine's TCP port when it "
                                         "is not `host` (containers: {\"risk\": \"risk\", ...})")
    gateway_port: int = 8001
    web_port: int = Field(default=3000, description="The dashboard (web/dist) served by `nautilus up`")
    port_offset: int = Field(default=0, description="Added to every TCP port (side-by-side stacks)")
    engine_ports: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_ENGINE_PORTS))


class GatewaySettings(BaseModel):
    """What the HTTP edge accepts: body and query sizes, rate limits, origins and host names."""

    max_body_mb: int = Field(default=256, ge=1, description="Largest request body the gateway accepts (uploads)")
    max_query_bytes: int = Field(default=8192, ge=256, description="Longest query string the gateway accepts")
    rate_limit_per_s: float = Field(default=500.0, description="Requests per second per API key (<= 0: no limit)")
    rate_limit_burst: float = Field(default=1000.0, gt=0, description="Burst size of the per-key rate limit")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra origins allowed to call the gateway (the dashboard's is always)"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names the gateway answers besides loopback ones (DNS rebinding)")


class AuthSettings(BaseModel):
    """Authentication: fails closed; `open` (no key needed) is an explicit choice, never inferred."""

    auth_mode: Literal["keys", "open"] = Field(default="keys", description="keys: every /api call needs a key "
                                               "(none exist: refused); open: local mode without keys")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted X-API-Key values; empty disables auth"
    )
    metrics_token: str | None = Field(default=None, description="Bearer token Prometheus may scrape /metrics with "
                                      "(besides an API key)")
    ws_ticket_ttl_s: float = Field(default=30.0, gt=0, le=600, description="Lifetime of a one-use /ws ticket")


class EngineCallSettings(BaseModel):
    """How callers reach engines (nautilus.runtime.client): deadlines, circuit breakers, health probes, the
    in-process fallback, waiting for a restarting writer, shared memory."""

    call_timeout_s: float = Field(default=10.0, gt=0, description="Per-call timeout of engine clients")
    connect_timeout_s: float = Field(default=0.5, gt=0)
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open a circuit")
    breaker_cooldown_s: float = Field(default=2.0, gt=0)
    health_interval_s: float = Field(default=1.0, gt=0, description="Health probe period of clients")
    in_process_fallback: bool = True
    writer_wait_s: float = Field(default=10.0, ge=0, description="How long a call waits for a restarting "
                                 "stateful engine (one writer) before 503 with Retry-After")
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After of a 503 while an engine restarts")
    shm_pool_mb: int = Field(default=64, ge=1, description="Shared-memory pool per process, MB")
    shm_threshold_bytes: int = Field(
        default=64 * 1024, ge=0, description="Arrays at least this big travel by shared-memory handle"
    )


class SupervisionSettings(BaseModel):
    """Engine processes under the supervisor: restarts, memory ceilings, the writer lease of stateful engines
    (one writer, fenced by the database)."""

    restart_backoff_s: float = Field(default=0.5, gt=0, description="First restart delay; doubles")
    restart_backoff_max_s: float = Field(default=30.0, gt=0)
    engine_memory_mb: int = Field(default=4096, ge=0, description="Resident-memory ceiling per engine process: "
                                  "passed, the engine stops at once and is restarted (0: none)")
    writer_lease_ttl_s: float = Field(default=10.0, gt=0, description="A writer lease not renewed this long may "
                                      "be taken over (a holder on this host whose process is gone: at once)")
    host_stateful_engines: bool = Field(default=False, description="Single-process mode (tests, notebooks): the "
                                        "gateway itself hosts the stateful engines as their one writer, on their unix "
                                        "sockets; never with a supervisor")


class ComputeSettings(BaseModel):
    """Where heavy computation runs."""

    compute_backend: ComputeBackend = "auto"
    dask_scheduler: str | None = Field(default=None, description="Dask scheduler address for sweeps and Monte "
                                       "Carlo (default: a local cluster); never taken from a request")


class StreamSettings(BaseModel):
    """Live updates over /ws (the WebSocket hub's rings and queues)."""

    ws_ring_size: int = Field(default=10_000, ge=1, description="Hub-wide message ring (what /ws pollers read)")
    ws_channel_ring_size: int = Field(default=1_000, ge=1, description="Per-channel ring (resume/replay depth)")
    ws_queue_size: int = Field(default=1_000, ge=1, description="Per-connection send queue; overflow drops it")
    ws_heartbeat_s: float = Field(default=15.0, gt=0, description="Heartbeat frame period on /ws")
    ws_poll_timeout_s: float = Field(default=1.0, gt=0, le=30, description="Long-poll wait of the /ws poller")


class SourceSettings(BaseModel):
    """Market data sources (nautilus.adapters), the daily update and the sample data."""

    alphavantage_api_key: str | None = Field(default=None, description="Alpha Vantage API key")
    alphavantage_per_minute: float = Field(default=5.0, gt=0, description="Alpha Vantage requests per minute")
    alphavantage_per_day: int = Field(default=25, ge=1, description="Alpha Vantage requests per UTC day (free tier)")
    fred_api_key: str | None = Field(default=None, description="FRED API key (without one: the keyless CSV endpoint)")
    ib_host: str = Field(default="127.0.0.1", description="TWS / IB Gateway host")
    ib_port: int = Field(default=7497, description="TWS / IB Gateway API port (7497 paper TWS, 4002 paper Gateway)")
    ib_client_id: int = Field(default=17, description="API client id Nautilus connects with")
    ccxt_exchange: str = Field(default="binance", description="Default ccxt exchange id of the crypto source")
    source_urls: dict[str, str] = Field(default_factory=dict, description="Base URL per web source replacing its "
                                        "public one (a mirror, a proxy, a recorded-response server in tests)")
    source_timeout_s: float = Field(default=20.0, gt=0, description="Per-request timeout of data sources")
    source_retries: int = Field(default=4, ge=0, description="Retries of a failed source request (backoff+jitter)")
    source_backoff_s: float = Field(default=1.0, ge=0, description="First retry delay; doubles, with full jitter")
    source_backoff_max_s: float = Field(default=60.0, ge=0, description="Longest retry delay")
    update_time: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                    description="HH:MM UTC: the MarketData engine runs `update --all` daily")
    sample_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "SPY", "BTCUSD", "EURUSD"]
    )


class AdmissionSettings(BaseModel):
    """Caps on the work one request may ask for (422 naming the field and the cap)."""

    max_mc_cells: int = Field(default=1_000_000_000, ge=1, description="Monte Carlo paths x assets x horizon steps")
    max_mc_paths: int = Field(default=10_000_000, ge=1, description="Monte Carlo paths per request")
    max_bars_per_request: int = Field(default=5_000_000, ge=1, description="Bars one request may read or return")
    max_sweep_size: int = Field(default=10_000, ge=1, description="Parameter combinations per sweep")
    max_matrix_cells: int = Field(default=200_000_000, ge=1, description="rows x columns of a matrix one request "
                                  "may build: features, factor panels, ML inputs, sweep sets x bars, VaR history")


class TradingSettings(BaseModel):
    """Paper trading and the code a request may name: default pre-trade limits, user strategies."""

    default_limits: dict[str, float | None] = Field(
        default_factory=lambda: {"max_order_equity_pct": 100.0, "max_concentration_pct": 100.0, "min_cash": 0.0},
        description="Limits of an account without its own: order notional and position as % of equity, cash "
                    "left after a buy (0 = no margin); {} checks nothing")
    strategies_dir: Path | None = Field(default=None, description="Where user strategies load from (default "
                                        "HOME/strategies); requests name only modules found here")
    strategy_packages: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Installed packages an admin allows user strategies to come from")

GROUPS: tuple[type[BaseModel], ...] = (HomeSettings, StorageSettings, BusSettings, NetworkSettings, GatewaySettings, AuthSettings, EngineCallSettings, SupervisionSettings, ComputeSettings, StreamSettings, SourceSettings, AdmissionSettings, TradingSettings)


class Settings(HomeSettings, StorageSettings, BusSettings, NetworkSettings, GatewaySettings, AuthSettings, EngineCallSettings, SupervisionSettings, ComputeSettings, StreamSettings, SourceSettings, AdmissionSettings, TradingSettings, BaseSettings):
    """Every setting, grouped by concern in the classes it inherits (:data:`GROUPS`)."""

    model_config = SettingsConfigDict(
        env_prefix="NAUTILUS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )
    # Where each STACK_FIELDS value came from ("init", "stack", "env", "default"), the running stack's record
    # that was applied (None: none), and the fields whose environment value differs from the stack's.
    _origins: dict = {}
    _stack: dict | None = None
    _conflicts: dict = {}

    def __init__(self, **values: object) -> None:
        super().__init__(**values)  # type: ignore[arg-type]
        given = {k for k in values if not k.startswith("_")}
        from_env = _environment_fields(self.model_config.get("env_file"))
        origins = {f: "init" if f in given else "env" if f in from_env else "default" for f in stack_fields()}
        record = live_stack_record(self.home) if self.stack_record else None
        conflicts: dict[str, tuple[object, object]] = {}
        if record is not None:
            recorded = record.get("settings", {})
            overlay = {f: recorded[f] for f in stack_fields() if f in recorded and f not in given}
            mine = self.model_dump(include=set(overlay))
            super().__init__(**values, **overlay)  # type: ignore[arg-type]
            theirs = self.model_dump(include=set(overlay))
            for name in overlay:
                origins[name] = "stack"
                if name in from_env and not _same(name, mine.get(name), theirs.get(name)):
                    conflicts[name] = (mine.get(name), theirs.get(name))
        self._origins, self._stack, self._conflicts = origins, record, conflicts

    @field_validator("api_keys", "sample_symbols", "cors_origins", "allowed_hosts", "strategy_packages",
                     mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.home = self.home.expanduser()
        if self.data_dir is None:
            self.data_dir = self.home / "data"
        if self.runtime_dir is None:
            self.runtime_dir = self.home / "run"
        if self.strategies_dir is None:
            self.strategies_dir = self.home / "strategies"
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'nautilus.db'}"
        merged = dict(DEFAULT_ENGINE_PORTS)
        merged.update(self.engine_ports)
        self.engine_ports = merged
        return self

    # Derived locations -------------------------------------------------------------------------
    @property
    def catalog_dir(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "catalog"

    def socket_path(self, engine: str) -> Path:
        assert self.runtime_dir is not None
        return self.runtime_dir / f"{engine}.sock"

    @property
    def listen_host(self) -> str:
        return self.bind_host or self.host

    def engine_host(self, engine: str) -> str:
        return self.engine_hosts.get(engine, self.host)

    def engine_port(self, engine: str) -> int:
        if engine not in self.engine_ports:
            raise KeyError(f"no TCP port configured for engine {engine!r} (NAUTILUS_ENGINE_PORTS)")
        return self.engine_ports[engine] + self.port_offset

    @property
    def gateway_bind_port(self) -> int:
        return self.gateway_port + self.port_offset

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_bind_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port + self.port_offset}"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.runtime_dir, self.catalog_dir):
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)

    # The running stack these settings resolved to ------------------------------------------------------
    @property
    def running_stack(self) -> dict | None:
        """The record (``HOME/stack.json``) of the live stack whose settings were applied, or None."""
        return self._stack

    def origin(self, name: str) -> str:
        """Where a STACK_FIELDS value came from: init, stack, env or default."""
        return self._origins.get(name, "default")

    def stack_conflicts(self, fields: tuple[str, ...] | None = None) -> dict[str, tuple[object, object]]:
        """``{field: (environment value, running stack's value)}`` where the environment explicitly names a
        value the running stack does not use (the stack's is the one in effect)."""
        return {k: v for k, v in self._conflicts.items() if fields is None or k in fields}

    def resolution(self) -> dict:
        """What a CLI resolved and from where (passwords masked): for ``nautilus config`` and ``status``."""
        stack = self._stack
        return {
            "home": str(self.home), "profile": self.profile, "database_url": mask_url(self.database_url),
            "redis_url": mask_url(self.redis_url), "auth_mode": self.auth_mode, "port_offset": self.port_offset,
            "gateway_url": self.gateway_url, "runtime_dir": str(self.runtime_dir), "data_dir": str(self.data_dir),
            "origins": {f: self.origin(f) for f in ("profile", "database_url", "redis_url", "auth_mode",
                                                    "port_offset", "data_dir", "runtime_dir")},
            "stack": None if stack is None else {"pid": stack.get("pid"), "started_at": stack.get("started_at"),
                                                 "record": str(stack_record_path(self.home))},
            "conflicts": {f: {"environment": mask_url(a) if f.endswith("_url") else str(a),
                              "stack": mask_url(b) if f.endswith("_url") else str(b)}
                          for f, (a, b) in self._conflicts.items()},
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """This process's settings (cached): the environment, with a stack running at its home applied on top."""
    return Settings()


SECRET_FIELDS = ("bus_secret", "api_keys", "metrics_token", "alphavantage_api_key", "fred_api_key")


def group_name(group: type[BaseModel]) -> str:
    """``EngineCallSettings`` -> ``engine_call``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", group.__name__.removesuffix("Settings")).lower()


def settings_by_group(settings: Settings) -> dict[str, dict[str, dict[str, object]]]:
    """Every setting under its group: value (secrets shown as set or not, URLs without passwords), environment
    name and description. For ``nautilus config --all``."""
    values = settings.model_dump(mode="json")
    out: dict[str, dict[str, dict[str, object]]] = {}
    for group in GROUPS:
        rows: dict[str, dict[str, object]] = {}
        for name, info in group.model_fields.items():
            value = values[name]
            if name in SECRET_FIELDS:
                value = "(set)" if value else None
            elif name.endswith("_url"):
                value = mask_url(value)
            rows[name] = {"value": value, "env": f"NAUTILUS_{name.upper()}", "description": info.description or ""}
        out[group_name(group)] = rows
    return out


# The running stack's record (HOME/stack.json) ---------------------------------------------------------------
STACK_RECORD = "stack.json"
# Settings that decide which database, bus, directories and ports a process talks to (what a CLI must share
# with the stack it runs beside). Secrets are never recorded: API keys, the metrics token and the bus secret
# are re-read by each process from the environment or their files.
STACK_FIELDS = ("profile", "data_dir", "runtime_dir", "database_url", "redis_url", "redis_username",
                "redis_password_file", "bus_prefix", "bus_sign", "bus_secret_file", "auth_mode", "port_offset",
                "host", "bind_host", "engine_hosts", "gateway_port", "web_port", "engine_ports")
# The stores among them: an environment naming another one than the running stack's makes writes refuse.
STORE_FIELDS = ("database_url", "redis_url", "data_dir")


def stack_fields() -> tuple[str, ...]:
    return tuple(f for f in STACK_FIELDS if f in Settings.model_fields)


def stack_record_path(home: Path) -> Path:
    return Path(home).expanduser() / STACK_RECORD


def process_token(pid: int) -> str | None:
    """An id of the live process ``pid`` that a reused pid does not share (its start time in clock ticks since
    boot, from /proc; "alive" where there is no /proc); None when it is not running (or a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    except (OSError, OverflowError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return "alive"
    return None if fields[0] in ("Z", "X") else fields[19]


def write_stack_record(settings: Settings, pid: int | None = None) -> Path:
    """Record ``settings``' STACK_FIELDS as the stack of process ``pid`` (default: this one) at its home:
    atomically, mode 600 (a database URL may hold a password)."""
    import time

    pid = os.getpid() if pid is None else pid
    record = {"version": 1, "pid": pid, "process": process_token(pid), "home": str(settings.home),
              "started_at": time.time(),
              "settings": settings.model_dump(mode="json", include=set(stack_fields()))}
    path = stack_record_path(settings.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{pid}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(record, indent=1).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_stack_record(home: Path) -> dict | None:
    """The record at ``home`` as written, live or not (None: none, or unreadable)."""
    try:
        record = json.loads(stack_record_path(home).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("settings"), dict) else None


def live_stack_record(home: Path) -> dict | None:
    """The record at ``home`` when the process that wrote it still runs (same pid, same start), else None."""
    record = read_stack_record(home)
    if record is None or not isinstance(record.get("pid"), int):
        return None
    token = process_token(record["pid"])
    if token is None or (token != "alive" and record.get("process") not in (None, token)):
        return None
    return record


def remove_stack_record(home: Path, pid: int | None = None) -> bool:
    """Remove the record at ``home`` (only process ``pid``'s, when given); True when one was removed."""
    record = read_stack_record(home)
    if pid is not None and record is not None and record.get("pid") != pid:
        return False
    try:
        stack_record_path(home).unlink()
    except FileNotFoundError:
        return False
    return True


def mask_url(url: object) -> str | None:
    """A URL with its password replaced by ***."""
    if url is None:
        return None
    text = str(url)
    try:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    except Exception:
        return text


def _environment_fields(env_file: object) -> set[str]:
    """Settings fields this process's environment (or its .env file) sets explicitly."""
    prefix = "NAUTILUS_"
    names = {k.upper() for k in os.environ}
    if isinstance(env_file, str | Path) and Path(env_file).is_file():
        try:
            from dotenv import dotenv_values

            names |= {k.upper() for k in dotenv_values(env_file)}
        except Exception:
            pass
    return {f for f in Settings.model_fields if f"{prefix}{f.upper()}" in names}


def _same(name: str, a: object, b: object) -> bool:
    """Whether two values of a STACK_FIELDS field name the same thing (URLs without the driver, paths
    resolved)."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    if name.endswith("_url"):
        try:
            from sqlalchemy.engine import make_url

            ua, ub = make_url(str(a)), make_url(str(b))
            return ua.set(drivername=ua.get_backend_name()) == ub.set(drivername=ub.get_backend_name())
        except Exception:
            return False
    if name.endswith(("_dir", "_file")):
        return Path(str(a)).expanduser().resolve() == Path(str(b)).expanduser().resolve()
    return False
