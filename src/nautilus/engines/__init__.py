"""The engine registry: adding an engine is a package under engines/ and one line here.

Each entry names the engine's class as ``module:Class``; its TCP port comes from
:data:`nautilus.config.DEFAULT_ENGINE_PORTS` (overridable in settings) and its Unix socket is
``<runtime_dir>/<name>.sock``.

The runtime never imports this package: importing it installs this registry (the module itself:
:func:`engine_class`, :func:`engine_names`) and the bus's forwarding sink (:class:`HubSink`, publishing to
the WebSocket hub) into :mod:`nautilus.runtime.registry`, which imports it by name on first use otherwise.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nautilus.core.errors import NotFound
from nautilus.runtime import registry as _runtime_registry

if TYPE_CHECKING:  # the registry itself stays cheap: the supervisor reads names without loading engines
    from nautilus.config import Settings
    from nautilus.runtime.client import EngineClient
    from nautilus.runtime.engine import Engine


@dataclass(frozen=True)
class EngineSpec:
    name: str
    target: str  # "package.module:Class"
    summary: str


REGISTRY: dict[str, EngineSpec] = {
    spec.name: spec
    for spec in (
        EngineSpec("marketdata", "nautilus.engines.marketdata.engine:MarketDataEngine",
                   "bars: import, synthetic data, resampling, range queries"),
        EngineSpec("risk", "nautilus.engines.risk.engine:RiskEngine",
                   "VaR/CVaR with components, stress tests, VaR backtests"),
        EngineSpec("strategy", "nautilus.engines.strategy.engine:StrategyEngine",
                   "indicators, candlestick/chart patterns, scanner, backtests, sweeps"),
        EngineSpec("features", "nautilus.engines.features.engine:FeaturesEngine",
                   "point-in-time feature sets: definitions, cached and incremental computation"),
        EngineSpec("factor", "nautilus.engines.factor.engine:FactorEngine",
                   "factor library, expressions, cross-sectional processing, IC and quantile tear sheets"),
        EngineSpec("ml", "nautilus.engines.ml.engine:MLEngine",
                   "model training with walk-forward validation, registry, warm low-latency serving"),
        EngineSpec("analytics", "nautilus.engines.analytics.engine:AnalyticsEngine",
                   "performance and risk statistics, tear sheets"),
        EngineSpec("websocket", "nautilus.engines.websocket.engine:WebSocketEngine",
                   "message hub for /ws: channels, sequence numbers, resume buffers, bar replay"),
        EngineSpec("portfolio", "nautilus.engines.portfolio.engine:PortfolioEngine",
                   "paper trading: orders, simulated fills, positions, PnL, optimisation, strategy runner"),
    )
}


def register(spec: EngineSpec) -> None:
    """Add an engine at run time (plugins, tests); prefer a line in REGISTRY for built-ins."""
    REGISTRY[spec.name] = spec


def engine_names() -> list[str]:
    return list(REGISTRY)


def engine_class(name: str) -> type[Engine]:
    spec = REGISTRY.get(name)
    if spec is None:
        raise NotFound(f"unknown engine {name!r}; known: {', '.join(REGISTRY)}", field="engine")
    module, _, attr = spec.target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create_engine(name: str, settings: Settings) -> Engine:
    return engine_class(name)(settings)


class HubSink:
    """The bus's forwarding sink: batches published to the WebSocket engine (``publish``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: EngineClient | None = None

    def send(self, batch: list[tuple[str, dict[str, Any]]], timeout: float) -> None:
        from nautilus.engines.websocket.engine import WebSocketEngine
        from nautilus.engines.websocket.messages import BusMessage, PublishBatch
        from nautilus.runtime.client import EngineClient, no_stack_running

        if self._client is None:
            self._client = EngineClient("websocket", self.settings, probe=False,
                                        inproc_writer=no_stack_running(self.settings))
        self._client.call(WebSocketEngine.publish, PublishBatch([BusMessage(t, d) for t, d in batch]), timeout=timeout)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


_runtime_registry.install(registry=sys.modules[__name__], forward_sink=HubSink)
