"""The runtime: engine hosts, clients (unix → tcp → in-process), the supervisor, the bus, shared memory.

It sits below the engines and knows none of them: an engine is a name here. The engine registry (name →
class, the list of names) and the bus's forwarding sink (to the WebSocket hub) are injected through
:mod:`nautilus.runtime.registry`: :mod:`nautilus.engines` installs both when imported, callers may pass a
registry explicitly (``EngineClient(..., registry=...)``, ``run_engine(..., registry=...)``, the supervisor's
engine list), and a process that never imported the engines gets them on first look-up, the provider module
being imported by name (``NAUTILUS_ENGINE_PROVIDER``, default ``nautilus.engines``), so
``EngineClient("marketdata", settings)`` works anywhere unchanged. The supervisor starts the gateway and
the dashboard as ``python -m`` commands and imports neither. ``.importlinter`` checks this layering in CI.
"""
