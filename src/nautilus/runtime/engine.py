"""What an engine is: a plain class whose typed methods are marked with :func:`handler`.

```python
class MarketDataEngine(Engine):
    name = "marketdata"

    @handler
    def bars(self, req: BarsRequest) -> Bars: ...
```

Request and reply types are msgspec Structs read from the annotations. A handler raises
:class:`nautilus.core.errors.NautilusError` subclasses for bad input. Handlers may run
concurrently on several connection threads: guard shared mutable state. Arrays received from
another process are views into the sender's shared memory, valid until the handler returns:
copy what you keep.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, overload

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.errors import NotFound
from nautilus.runtime.backend import detect_backend
from nautilus.runtime.bus import Bus, make_bus
from nautilus.runtime.protocol import Empty

_MARK = "__nautilus_handler__"


@dataclass(frozen=True)
class Method:
    name: str
    func: Callable[[Any, Any], Any]
    request: type
    reply: Any
    idempotent: bool
    takes_request: bool

    def invoke(self, engine: Engine, request: Any) -> Any:
        return self.func(engine, request) if self.takes_request else self.func(engine)


F = TypeVar("F", bound=Callable[..., Any])


@overload
def handler(func: F, *, idempotent: bool = True) -> F: ...
@overload
def handler(func: None = None, *, idempotent: bool = True) -> Callable[[F], F]: ...


def handler(func: Callable | None = None, *, idempotent: bool = True) -> Any:
    """Mark an engine method as callable over the runtime. The method keeps its type, so a handle
    (``client.call(RiskEngine.var, req)``) gives the handler's reply type to a type checker.

    ``idempotent=False`` (state-changing calls) stops clients from retrying the call on the
    next transport once it may have been delivered.
    """

    def mark(f: F) -> F:
        setattr(f, _MARK, idempotent)
        return f

    return mark(func) if func is not None else mark


class Echo(msgspec.Struct):
    text: str = ""
    value: float = 0.0


class ArrayProbe(msgspec.Struct):
    array: np.ndarray


class ArrayInfo(msgspec.Struct):
    shape: list[int]
    dtype: str
    first: float
    last: float


class Engine:
    """Base class of every engine; subclasses set ``name`` and define handlers.

    Every engine also answers ``echo`` (a typed round trip, for latency checks) and
    ``describe_array``, which reads two elements of an array it receives: the runtime's tests and
    ``nautilus bench`` use them to measure the transport and prove zero-copy handoff.
    """

    name: ClassVar[str] = ""
    # A stateful engine owns state in memory that must have exactly one writer (a book, a job queue, a
    # registry): it never runs in-process in a caller, holds a writer lease on the database while it runs,
    # and callers wait a bounded time for it while it restarts.
    stateful: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._bus: Bus | None = None
        # Set by the host: called when the engine must stop serving (its writer lease was taken over).
        self.on_fatal: Callable[[str], None] | None = None

    @property
    def bus(self) -> Bus:
        """The message bus (in-memory, or Redis when configured), made on first use."""
        if self._bus is None:
            self._bus = make_bus(self.settings)
        return self._bus

    def start(self) -> None:
        """Open resources (called once before serving)."""

    def close(self) -> None:
        """Release resources (called once on shutdown)."""

    def update_metrics(self) -> None:
        """Refresh the engine's own Prometheus gauges just before a scrape (domain state: equity, VaR, ...)."""

    def backend(self) -> str:
        """Compute backend in use, reported in health."""
        return detect_backend(self.settings.compute_backend).name

    @handler
    def echo(self, req: Echo) -> Echo:
        return req

    @handler
    def describe_array(self, req: ArrayProbe) -> ArrayInfo:
        flat = req.array.reshape(-1)
        return ArrayInfo(list(req.array.shape), req.array.dtype.str, float(flat[0]), float(flat[-1]))

    @classmethod
    def methods(cls) -> dict[str, Method]:
        cached = cls.__dict__.get("_methods_cache")
        if cached is not None:
            return cached
        table: dict[str, Method] = {}
        for attr in dir(cls):
            func = getattr(cls, attr, None)
            if func is None or not hasattr(func, _MARK):
                continue
            hints = typing.get_type_hints(func)
            params = [p for p in hints if p != "return"]
            request = hints[params[0]] if params else Empty
            table[attr] = Method(
                attr, func, request, hints.get("return", Any), getattr(func, _MARK), bool(params)
            )
        cls._methods_cache = table  # type: ignore[attr-defined]
        return table

    @classmethod
    def method(cls, name: str) -> Method:
        try:
            return cls.methods()[name]
        except KeyError:
            raise NotFound(f"engine {cls.name!r} has no method {name!r}", field="method") from None
