"""EngineClient: calls an engine over unix socket → tcp → in-process, whichever answers first.

Every transport has a circuit breaker (``breaker_failures`` consecutive failures open it for
``breaker_cooldown_s``, then one trial call) and a background health probe that pings it every
``health_interval_s``, so a dead engine is skipped without waiting for timeouts and taken back as
soon as it answers again. A call that may already have reached the engine is only retried on the
next transport when its handler is idempotent. The in-process transport instantiates the engine
inside the caller (same data directories), so reads keep working while the engine restarts.

The transports live beside it: :mod:`~nautilus.runtime.sockets` (unix and tcp, blocking and asyncio),
:mod:`~nautilus.runtime.inproc`; the breaker in :mod:`~nautilus.runtime.breaker`, and what a failed transport
reports in :mod:`~nautilus.runtime.delivery`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from nautilus.config import Settings, get_settings
from nautilus.core.errors import (
    DeadlineExceeded,
    EngineRestarting,
    EngineUnavailable,
    NautilusError,
    Unavailable,
    database_outage,
)
from nautilus.runtime import callmetrics, inproc, metrics
from nautilus.runtime import deadline as deadlines
from nautilus.runtime import registry as engine_registry
from nautilus.runtime.breaker import CircuitBreaker
from nautilus.runtime.delivery import MaybeDelivered, NotDelivered, TimedOut
from nautilus.runtime.engine import Engine, Method
from nautilus.runtime.host import HEALTH, HealthInfo
from nautilus.runtime.inproc import InProcessTransport
from nautilus.runtime.sockets import SocketTransport
from nautilus.runtime.stats import LatencyWindow

log = logging.getLogger("nautilus.client")

TRANSPORTS = ("unix", "tcp", "inproc")
INPROC_IDLE_S = 10.0  # an in-process stand-in unused this long, with the engine back on a socket, is released

Q = TypeVar("Q")
R = TypeVar("R")
# What a call names: the engine's method itself (``MarketDataEngine.bars_json``: typed, and "go to definition"
# reaches the handler), or its name for the methods every engine has (``"echo"``) and generic tools.
Handle = Callable[..., Any] | str


def method_name(handle: Handle) -> str:
    """The wire name of an engine method handle."""
    if isinstance(handle, str):
        return handle
    name = getattr(handle, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"not an engine method: {handle!r}")
    return name


def no_stack_running(settings: Settings) -> bool:
    """Whether no supervisor serves this home's engines: a caller may then host a stateful engine in-process
    (it is the only writer; the lease still fences it should a stack start)."""
    from nautilus.runtime.supervisor import running_supervisor

    return running_supervisor(settings) is None


@dataclass
class TransportState:
    name: str
    breaker: CircuitBreaker
    up: bool | None = None  # None: not probed yet
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    latency: LatencyWindow = field(default_factory=LatencyWindow)


class EngineClient:
    """Calls one engine with fallback, breakers, probes and metrics."""

    def __init__(
        self,
        engine: str,
        settings: Settings | None = None,
        transports: tuple[str, ...] | None = None,
        probe: bool = True,
        inproc_writer: bool = False,
        registry: engine_registry.EngineRegistry | None = None,
    ) -> None:
        """``transports`` defaults to unix, tcp and (for stateless engines, when settings allow) in-process. A
        stateful engine (one writer) runs in-process only where ``inproc_writer`` says no engine process serves
        it (the CLI without a running stack); otherwise callers wait for its restart (``writer_wait_s``).
        ``registry`` resolves the engine's class; by default the one installed in :mod:`nautilus.runtime.registry`."""
        self.settings = settings or get_settings()
        self.engine = engine
        self.engine_cls: type[Engine] = (registry or engine_registry.registry()).engine_class(engine)
        self.stateful = bool(getattr(self.engine_cls, "stateful", False))
        inproc = self.settings.in_process_fallback and (inproc_writer or not self.stateful)
        names = transports or (TRANSPORTS if inproc else TRANSPORTS[:2])
        if transports is None and engine in self.settings.engine_hosts:
            # served from another host or container: its unix socket is not ours to reach, and TCP is the normal
            # path there, not a fallback (so the fallback metrics and alert stay true in containers)
            names = tuple(n for n in names if n != "unix")
        self.transports: dict[str, SocketTransport | InProcessTransport] = {}
        for name in names:
            if name == "inproc":
                self.transports[name] = InProcessTransport(engine, self.settings, self.engine_cls)
            else:
                self.transports[name] = SocketTransport(name, engine, self.settings)
        s = self.settings
        self.states = {n: TransportState(n, CircuitBreaker(s.breaker_failures, s.breaker_cooldown_s))
                       for n in names}
        self.last_transport: str | None = None
        self.fallbacks = 0
        self.remote_health: HealthInfo | None = None
        self._methods = self.engine_cls.methods()
        self._counters: dict[tuple[str, str, str], callmetrics.CallCounter] = {}
        self._stop = threading.Event()
        self._probe_thread: threading.Thread | None = None
        if probe:
            self.start_probes()

    # Calls ----------------------------------------------------------------------------------------
    # One deadline per call (the caller's timeout, or the enclosing request's deadline if earlier); each
    # transport gets only what remains. A call goes on to the next transport only when the last one provably
    # did not get it (connect failed, circuit open) or, for idempotent handlers, when its connection died;
    # never after a timeout. A stateful engine has no in-process stand-in: when no socket answers, the call
    # waits (up to ``writer_wait_s``, within the deadline) for the restarted writer, else EngineRestarting.
    def _late(self, method: str) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.engine}.{method}: the request's deadline passed before it was sent")

    def _spec(self, handle: Handle) -> Method:
        """The method a handle names (NotFound for a name the engine does not have; TypeError for another
        engine's method of the same name, e.g. ``FeaturesEngine.compute`` on the Factor engine's client)."""
        spec = self.engine_cls.method(method_name(handle))
        if not isinstance(handle, str) and getattr(handle, "__func__", handle) is not spec.func:
            raise TypeError(f"{getattr(handle, '__qualname__', handle)!s} is not a handler of the {self.engine} "
                            f"engine ({self.engine_cls.__name__})")
        return spec

    def _allowed(self, name: str, state: TransportState, waiting: bool) -> bool:
        """Whether an open (or half-open) breaker lets this call through (a closed one always does: callers
        skip this). While waiting for a restarting writer the breakers are ignored: connecting is the probe."""
        return (waiting and name != "inproc") or state.breaker.allow()

    def _unreached(self, method: str, errors: list[str], deadline: float, wait_until: float | None) -> float:
        """After a pass that reached nothing: raise, or return how long to sleep before the next pass."""
        if not self.stateful:
            raise EngineUnavailable(f"engine {self.engine} unreachable ({'; '.join(errors)})")
        now = time.monotonic()
        assert wait_until is not None
        if now >= wait_until:
            if wait_until >= deadline:
                raise DeadlineExceeded(f"{self.engine}.{method}: the {self.engine} engine did not come back "
                                       "before the request's deadline")
            raise EngineRestarting(f"the {self.engine} engine is restarting (one writer; not reachable for "
                                   f"{self.settings.writer_wait_s:g}s); retry in a few seconds")
        return min(0.05, wait_until - now)

    @overload
    def call(self, method: Callable[[Any], R], request: None = None, *, timeout: float | None = None) -> R: ...
    @overload
    def call(self, method: Callable[[Any, Q], R], request: Q, *, timeout: float | None = None) -> R: ...
    @overload
    def call(self, method: str, request: Any = None, *, timeout: float | None = None) -> Any: ...

    def call(self, method: Handle, request: Any = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` (the engine's method, e.g. ``RiskEngine.check_order``) with ``request`` (a Struct, or
        None for no-argument handlers)."""
        spec = self._methods.get(method) if isinstance(method, str) else None
        if spec is None:
            spec = self._spec(method)
        method = spec.name
        deadline = time.monotonic() + (timeout or self.settings.call_timeout_s)
        outer = deadlines.current()  # the enclosing request's deadline, when earlier
        if outer is not None and outer < deadline:
            deadline = outer
        wait_until: float | None = None
        while True:
            errors: list[str] = []
            for name, transport in self.transports.items():
                state = self.states[name]
                if state.breaker.opened_at is not None and not self._allowed(name, state, wait_until is not None):
                    errors.append(f"{name}: circuit open")
                    continue
                t0 = time.monotonic()  # also the start of this transport's latency
                left = deadline - t0
                if left <= 0:
                    raise self._late(method)
                try:
                    if isinstance(transport, InProcessTransport):
                        result = self._inproc(transport, spec, request, deadline, left)
                    else:
                        result = transport.call(method, request, spec.reply, left)
                except Exception as exc:
                    self._handle_error(name, state, spec, exc, errors, t0)
                    continue
                self._record(name, state, method, "ok", t0)
                return result
            if wait_until is None:
                wait_until = min(deadline, time.monotonic() + self.settings.writer_wait_s)
            time.sleep(self._unreached(method, errors, deadline, wait_until))

    def _inproc(self, transport: InProcessTransport, spec: Method, request: Any, deadline: float,
                left: float) -> Any:
        if len(self.transports) == 1:  # an in-process client: the handler runs in this thread, under the deadline
            return transport.call(spec, request, deadline)
        future = inproc.executor().submit(transport.call, spec, request, deadline)
        try:
            return future.result(timeout=left)
        except concurrent.futures.TimeoutError:
            raise TimedOut(f"inproc call timed out after {left:.3g}s") from None

    @staticmethod
    async def _ainproc(transport: InProcessTransport, spec: Method, request: Any, deadline: float,
                       left: float) -> Any:
        from starlette.concurrency import run_in_threadpool

        try:
            return await asyncio.wait_for(run_in_threadpool(transport.call, spec, request, deadline), left)
        except TimeoutError:
            raise TimedOut(f"inproc call timed out after {left:.3g}s") from None

    @overload
    async def acall(self, method: Callable[[Any], R], request: None = None, *, timeout: float | None = None) -> R: ...
    @overload
    async def acall(self, method: Callable[[Any, Q], R], request: Q, *, timeout: float | None = None) -> R: ...
    @overload
    async def acall(self, method: str, request: Any = None, *, timeout: float | None = None) -> Any: ...

    async def acall(self, method: Handle, request: Any = None, *, timeout: float | None = None) -> Any:
        """:meth:`call` from an event loop: socket transports answer on the loop itself (no thread hop), the
        in-process fallback runs in the thread pool (it does the engine's work) and is awaited until the
        deadline only."""
        spec = self._methods.get(method) if isinstance(method, str) else None
        if spec is None:
            spec = self._spec(method)
        method = spec.name
        deadline = time.monotonic() + (timeout or self.settings.call_timeout_s)
        outer = deadlines.current()  # the enclosing request's deadline, when earlier
        if outer is not None and outer < deadline:
            deadline = outer
        wait_until: float | None = None
        while True:
            errors: list[str] = []
            for name, transport in self.transports.items():
                state = self.states[name]
                if state.breaker.opened_at is not None and not self._allowed(name, state, wait_until is not None):
                    errors.append(f"{name}: circuit open")
                    continue
                t0 = time.monotonic()  # also the start of this transport's latency
                left = deadline - t0
                if left <= 0:
                    raise self._late(method)
                try:
                    if isinstance(transport, InProcessTransport):
                        result = await self._ainproc(transport, spec, request, deadline, left)
                    else:
                        result = await transport.acall(method, request, spec.reply, left)
                except Exception as exc:
                    self._handle_error(name, state, spec, exc, errors, t0)
                    continue
                self._record(name, state, method, "ok", t0)
                return result
            if wait_until is None:
                wait_until = min(deadline, time.monotonic() + self.settings.writer_wait_s)
            await asyncio.sleep(self._unreached(method, errors, deadline, wait_until))

    def _handle_error(self, name: str, state: TransportState, spec: Method, exc: Exception, errors: list[str],
                t0: float) -> None:
        """Raise what the caller must see, or return to try the next transport."""
        method = spec.name
        if isinstance(exc, NautilusError):  # the engine answered: its error is the answer
            state.breaker.success()
            self._record(name, state, method, "error", t0)
            raise exc
        if isinstance(exc, NotDelivered):
            self._fail(name, state, method, exc, errors)
            return
        if isinstance(exc, TimedOut):  # the engine may still be at it: never run it again elsewhere
            self._record(name, state, method, "timeout", t0)
            if isinstance(self.transports[name], SocketTransport):
                self.transports[name].reset()
            raise DeadlineExceeded(f"{self.engine}.{method} did not answer before the deadline ({exc}); "
                                   "not retried") from None
        if isinstance(exc, MaybeDelivered):
            self._fail(name, state, method, exc, errors)
            if not spec.idempotent:
                raise EngineUnavailable(
                    f"{self.engine}.{method} outcome unknown ({exc}); not retried because it changes state"
                ) from None
            return
        if name != "inproc":
            raise exc
        if database_outage(exc):
            log.warning("in-process %s.%s: the database is unreachable: %s", self.engine, method, exc)
            raise Unavailable("the database is unreachable; retry later") from exc
        log.exception("in-process %s.%s failed", self.engine, method, exc_info=exc)
        self._fail(name, state, method, exc, errors)
        raise EngineUnavailable(f"{self.engine}.{method} failed in-process: {exc}") from exc

    def _record(self, transport: str, state: TransportState, method: str, outcome: str, t0: float) -> None:
        """Count a call that reached the engine (``t0``: when it started on this transport); a success also closes
        the transport's breaker and marks it up."""
        seconds = time.monotonic() - t0
        if outcome == "ok":
            breaker = state.breaker
            if breaker.failures or breaker.opened_at is not None:
                breaker.success()
            state.up = True
        state.calls += 1
        state.latency.add(seconds)
        if self.last_transport != transport:
            if self.last_transport is not None:
                metrics.ENGINE_TRANSPORT.labels(self.engine, self.last_transport).set(0)
            metrics.ENGINE_TRANSPORT.labels(self.engine, transport).set(1)
            self.last_transport = transport
        counter = self._counters.get((method, transport, outcome))
        if counter is None:
            counter = self._counter(method, transport, outcome)
        counter.record(seconds)

    def _counter(self, method: str, transport: str, outcome: str) -> callmetrics.CallCounter:
        key = (method, transport, outcome)
        found = self._counters.get(key)
        if found is None:
            found = self._counters[key] = callmetrics.counter(self.engine, method, transport, outcome)
        return found

    def _fail(self, name: str, state: TransportState, method: str, exc: Exception, errors: list[str]) -> None:
        state.failures += 1
        state.up = False
        state.last_error = str(exc)
        state.breaker.failure()
        errors.append(f"{name}: {exc}")
        self.fallbacks += 1
        metrics.ENGINE_FALLBACKS.labels(self.engine, name).inc()
        self._counter(method, name, "unreachable").count()
        transport = self.transports[name]
        if isinstance(transport, SocketTransport):
            transport.reset()

    # Health -----------------------------------------------------------------------------------------
    def probe_once(self) -> None:
        """Ping every socket transport; update breakers, up-gauges and the engine's own health."""
        timeout = min(1.0, self.settings.call_timeout_s)
        for name, transport in self.transports.items():
            if not isinstance(transport, SocketTransport):
                continue
            state = self.states[name]
            try:
                transport.ping(timeout)
            except (NotDelivered, MaybeDelivered, NautilusError) as exc:
                if state.up is not False:
                    log.warning("engine %s down on %s: %s", self.engine, name, exc)
                state.up = False
                state.last_error = str(exc)
                state.breaker.trip()
                transport.reset()
            else:
                state.up = True
                state.breaker.success()
            metrics.ENGINE_UP.labels(self.engine, name).set(1 if state.up else 0)
        first = next((t for n, t in self.transports.items()
                      if isinstance(t, SocketTransport) and self.states[n].up), None)
        inproc = self.transports.get("inproc")
        if first is not None and isinstance(inproc, InProcessTransport) and inproc.release_if_idle(INPROC_IDLE_S):
            log.info("engine %s is back on %s: its in-process stand-in was released", self.engine, first.kind)
        self.remote_health = None
        if first is not None:
            try:
                self.remote_health = first.call(HEALTH, None, HealthInfo, timeout)
            except (NotDelivered, MaybeDelivered, NautilusError):
                pass

    def start_probes(self) -> None:
        if self._probe_thread is None:
            self._probe_thread = threading.Thread(target=self._probe_loop, daemon=True,
                                                  name=f"probe-{self.engine}")
            self._probe_thread.start()

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:  # never let the prober die
                log.exception("health probe of %s failed", self.engine)
            self._stop.wait(self.settings.health_interval_s)

    def health(self) -> dict[str, Any]:
        """State for /health and `nautilus status`."""
        sockets_up = [n for n, s in self.states.items() if n != "inproc" and s.up]
        if sockets_up:
            status = "up"
        elif "inproc" in self.transports and not self.stateful:
            status = "degraded"
        else:
            status = "down"
        remote = self.remote_health
        return {
            "engine": self.engine,
            "status": status,
            "stateful": self.stateful,
            "path": sockets_up[0] if sockets_up else ("inproc" if "inproc" in self.transports else None),
            "last_transport": self.last_transport,
            "fallbacks": self.fallbacks,
            "pid": remote.pid if remote else None,
            "uptime_s": remote.uptime_s if remote else None,
            "server_p50_us": remote.p50_us if remote else None,
            "server_p99_us": remote.p99_us if remote else None,
            "backend": remote.backend if remote else None,
            "transports": {
                n: {
                    "up": s.up if n != "inproc" else True,
                    "breaker": s.breaker.state,
                    "calls": s.calls,
                    "failures": s.failures,
                    "p50_us": s.latency.percentiles_us(50)[0],
                    "p99_us": s.latency.percentiles_us(99)[0],
                    "last_error": s.last_error,
                }
                for n, s in self.states.items()
            },
        }

    def close(self) -> None:
        self._stop.set()
        for transport in self.transports.values():
            if isinstance(transport, SocketTransport):
                transport.reset()
            else:
                transport.close()
