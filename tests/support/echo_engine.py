"""A tiny engine for runtime tests: echoes, sums arrays, fails on demand, sleeps."""

from __future__ import annotations

import time

import msgspec
import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.engines import EngineSpec, register
from nautilus.runtime.engine import Engine, handler


class EchoRequest(msgspec.Struct):
    text: str
    n: int = 0


class EchoReply(msgspec.Struct):
    text: str
    n: int
    pid: int


class ArrayRequest(msgspec.Struct):
    values: np.ndarray
    scale: float = 1.0


class ArrayReply(msgspec.Struct):
    total: float
    scaled: np.ndarray


class SleepRequest(msgspec.Struct):
    seconds: float


class Counter(msgspec.Struct):
    value: int


class Remaining(msgspec.Struct):
    seconds: float | None


class EchoEngine(Engine):
    name = "echo"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.counter = 0

    @handler
    def echo(self, req: EchoRequest) -> EchoReply:
        import os

        if req.n < 0:
            raise InvalidInput("n must be >= 0", field="n")
        return EchoReply(req.text, req.n, os.getpid())

    @handler
    def scale(self, req: ArrayRequest) -> ArrayReply:
        return ArrayReply(float(req.values.sum()), req.values * req.scale)

    @handler
    def sleep(self, req: SleepRequest) -> Counter:
        time.sleep(req.seconds)
        return Counter(0)

    @handler(idempotent=False)
    def increment(self) -> Counter:
        self.counter += 1
        return Counter(self.counter)

    @handler(idempotent=False)
    def slow_increment(self, req: SleepRequest) -> Counter:
        time.sleep(req.seconds)
        self.counter += 1
        return Counter(self.counter)

    @handler
    def crash(self) -> Counter:
        raise RuntimeError("boom")

    @handler
    def hog(self, req: EchoRequest) -> Counter:
        """Touch ``req.n`` MB and hold them for a second (the memory-ceiling test)."""
        held = np.ones(req.n * 2**17)  # n MB of float64, every page written
        time.sleep(1.0)
        return Counter(int(held[-1]))

    @handler
    def remaining(self) -> Remaining:
        """The time left of the caller's deadline, as this handler sees it."""
        from nautilus.runtime import deadline

        return Remaining(deadline.remaining())


class StatefulEchoEngine(EchoEngine):
    """The echo engine as a stateful one (one writer): clients never run it in-process."""

    name = "echo_writer"
    stateful = True


register(EngineSpec("echo", "tests.support.echo_engine:EchoEngine", "runtime test engine"))
register(EngineSpec("echo_writer", "tests.support.echo_engine:StatefulEchoEngine", "stateful runtime test engine"))
