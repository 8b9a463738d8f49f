"""One settings object for the whole platform (env prefix ``NAUTILUS_``, ``.env`` supported).

Every process (CLI, supervisor, engines, gateway) builds its settings with :func:`get_settings`;
children inherit the environment, so one ``NAUTILUS_HOME`` (or ``--home``) points a whole stack
at one set of directories.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NAUTILUS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path.home() / ".nautilus", description="Root of data and runtime dirs")
    data_dir: Path | None = Field(default=None, description="Catalog and SQLite file (default HOME/data)")
    runtime_dir: Path | None = Field(
        default=None, description="Sockets, pid files, supervisor state (default HOME/run)"
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL (default SQLite in data_dir)")
    redis_url: str | None = Field(default=None, description="Redis URL; unset means the in-memory bus")

    host: str = "127.0.0.1"
    bind_host: str | None = Field(default=None, description="Address servers listen on (default: host; 0.0.0.0 "
                                                            "in containers)")
    engine_hosts: dict[str, str] = Field(default_factory=dict, description="Host of an engine's TCP port when it "
                                         "is not `host` (containers: {\"risk\": \"risk\", ...})")
    gateway_port: int = 8001
    web_port: int = Field(default=3000, description="The dashboard (web/dist) served by `nautilus up`")
    max_body_mb: int = Field(default=256, ge=1, description="Largest request body the gateway accepts (uploads)")
    max_query_bytes: int = Field(default=8192, ge=256, description="Longest query string the gateway accepts")
    rate_limit_per_s: float = Field(default=500.0, description="Requests per second per API key (<= 0: no limit)")
    rate_limit_burst: float = Field(default=1000.0, gt=0, description="Burst size of the per-key rate limit")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra origins allowed to call the gateway (the dashboard's is always)"
    )
    port_offset: int = Field(default=0, description="Added to every TCP port (side-by-side stacks)")
    engine_ports: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_ENGINE_PORTS))

    shm_pool_mb: int = Field(default=64, ge=1, description="Shared-memory pool per process, MB")
    shm_threshold_bytes: int = Field(
        default=64 * 1024, ge=0, description="Arrays at least this big travel by shared-memory handle"
    )
    compute_backend: ComputeBackend = "auto"
    catalog_cache_mb: int = Field(default=256, ge=0, description="Decoded row groups kept in memory per process")

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted X-API-Key values; empty disables auth"
    )

    call_timeout_s: float = Field(default=10.0, gt=0, description="Per-call timeout of engine clients")
    connect_timeout_s: float = Field(default=0.5, gt=0)
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open a circuit")
    breaker_cooldown_s: float = Field(default=2.0, gt=0)
    health_interval_s: float = Field(default=1.0, gt=0, description="Health probe period of clients")
    in_process_fallback: bool = True

    restart_backoff_s: float = Field(default=0.5, gt=0, description="First restart delay; doubles")
    restart_backoff_max_s: float = Field(default=30.0, gt=0)

    sample_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "SPY", "BTCUSD", "EURUSD"]
    )

    ws_ring_size: int = Field(default=10_000, ge=1, description="Hub-wide message ring (what /ws pollers read)")
    ws_channel_ring_size: int = Field(default=1_000, ge=1, description="Per-channel ring (resume/replay depth)")
    ws_queue_size: int = Field(default=1_000, ge=1, description="Per-connection send queue; overflow drops it")
    ws_heartbeat_s: float = Field(default=15.0, gt=0, description="Heartbeat frame period on /ws")
    ws_poll_timeout_s: float = Field(default=1.0, gt=0, le=30, description="Long-poll wait of the /ws poller")
    ws_forward: bool = Field(default=True, description="In-memory bus forwards publishes to the hub engine")
    ws_forward_queue: int = Field(default=10_000, ge=1, description="Forwarder queue; overflow counts drops")

    # Market data sources (nautilus.adapters) ----------------------------------------------------
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

    # Safety under faults and hostile input (issue 18) ---------------------------------------------
    # Stateful engines: one writer, fenced by the database; callers wait this long for a restarted writer.
    writer_wait_s: float = Field(default=10.0, ge=0, description="How long a call waits for a restarting "
                                 "stateful engine (one writer) before 503 with Retry-After")
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After of a 503 while an engine restarts")
    writer_lease_ttl_s: float = Field(default=10.0, gt=0, description="A writer lease not renewed this long may "
                                      "be taken over (a holder on this host whose process is gone: at once)")
    host_stateful_engines: bool = Field(default=False, description="Single-process mode (tests, notebooks): the "
                                        "gateway itself hosts the stateful engines as their one writer, on their unix "
                                        "sockets; never with a supervisor")
    # Authentication: fails closed. `open` (no key needed) is an explicit choice, never inferred.
    auth_mode: Literal["keys", "open"] = Field(default="keys", description="keys: every /api call needs a key "
                                               "(none exist: refused); open: local mode without keys")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names the gateway answers besides loopback ones (DNS rebinding)")
    metrics_token: str | None = Field(default=None, description="Bearer token Prometheus may scrape /metrics with "
                                      "(besides an API key)")
    ws_ticket_ttl_s: float = Field(default=30.0, gt=0, le=600, description="Lifetime of a one-use /ws ticket")
    # Admission control: caps on the work one request may ask for (422 naming the field and the cap).
    max_mc_cells: int = Field(default=1_000_000_000, ge=1, description="Monte Carlo paths x assets x horizon steps")
    max_mc_paths: int = Field(default=10_000_000, ge=1, description="Monte Carlo paths per request")
    max_bars_per_request: int = Field(default=5_000_000, ge=1, description="Bars one request may read or return")
    max_sweep_size: int = Field(default=10_000, ge=1, description="Parameter combinations per sweep")
    max_matrix_cells: int = Field(default=200_000_000, ge=1, description="rows x columns of a matrix one request "
                                  "may build: features, factor panels, ML inputs, sweep sets x bars, VaR history")
    engine_memory_mb: int = Field(default=4096, ge=0, description="Resident-memory ceiling per engine process: "
                                  "passed, the engine stops at once and is restarted (0: none)")
    # Code and hosts a request may not name.
    strategies_dir: Path | None = Field(default=None, description="Where user strategies load from (default "
                                        "HOME/strategies); requests name only modules found here")
    strategy_packages: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Installed packages an admin allows user strategies to come from")
    dask_scheduler: str | None = Field(default=None, description="Dask scheduler address for sweeps and Monte "
                                       "Carlo (default: a local cluster); never taken from a request")

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
