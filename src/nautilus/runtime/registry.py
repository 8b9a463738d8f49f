"""What the runtime is given and never imports: the engine registry and the bus's forwarding sink.

The runtime (hosts, clients, the supervisor, the bus) knows engines only by name. Which class serves a name,
which names exist and where the bus forwards its messages are *installed* here by the package that owns the
engines (:mod:`nautilus.engines` does it when imported), or passed explicitly (``EngineClient(...,
registry=...)``, ``run_engine(..., registry=...)``, ``Supervisor(...)`` takes its engine names from its caller).

So that ``EngineClient("marketdata", settings)`` keeps working in a process that never imported the engines,
the first look-up with nothing installed imports the *provider* module by name: ``NAUTILUS_ENGINE_PROVIDER``,
else :data:`DEFAULT_PROVIDER`. That is a plugin point (a module name, like an entry point), not an import
edge: the layering contracts (``.importlinter``) check that no runtime module imports the engines.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nautilus.config import Settings

PROVIDER_ENV = "NAUTILUS_ENGINE_PROVIDER"
DEFAULT_PROVIDER = "nautilus.engines"  # installs its registry and the WebSocket hub's sink on import


class EngineRegistry(Protocol):
    """Name → engine class (a :class:`nautilus.runtime.engine.Engine` subclass; typed ``type[Any]`` so that
    this module imports nothing of the runtime and stays out of its import cycles), and the known names."""

    def engine_class(self, name: str) -> type[Any]: ...

    def engine_names(self) -> list[str]: ...


class ForwardSink(Protocol):
    """Where one process's bus forwards its messages (the WebSocket hub); called from one daemon thread."""

    def send(self, batch: list[tuple[str, dict[str, Any]]], timeout: float) -> None: ...

    def close(self) -> None: ...


class ForwardSinkFactory(Protocol):
    def __call__(self, settings: Settings) -> ForwardSink: ...


_registry: EngineRegistry | None = None
_sink_factory: ForwardSinkFactory | None = None
_lock = threading.RLock()


def install(registry: EngineRegistry | None = None, forward_sink: ForwardSinkFactory | None = None) -> None:
    """Give the runtime its engine registry and/or its bus forwarding sink (a later call replaces them)."""
    global _registry, _sink_factory
    with _lock:
        if registry is not None:
            _registry = registry
        if forward_sink is not None:
            _sink_factory = forward_sink


def _load_provider() -> None:
    with _lock:
        if _registry is None or _sink_factory is None:
            importlib.import_module(os.environ.get(PROVIDER_ENV) or DEFAULT_PROVIDER)


def registry() -> EngineRegistry:
    """The installed engine registry (loading the provider on first use when none is)."""
    if _registry is None:
        _load_provider()
    if _registry is None:
        raise RuntimeError("no engine registry installed: call nautilus.runtime.registry.install(registry=...)")
    return _registry


def forward_sink(settings: Settings) -> ForwardSink:
    """A new forwarding sink for ``settings`` from the installed factory (loading the provider when none is)."""
    if _sink_factory is None:
        _load_provider()
    if _sink_factory is None:
        raise RuntimeError("no bus forwarding sink installed: call nautilus.runtime.registry.install(forward_sink=...)")
    return _sink_factory(settings)


def engine_class(name: str) -> type[Any]:
    return registry().engine_class(name)


def engine_names() -> list[str]:
    return registry().engine_names()
