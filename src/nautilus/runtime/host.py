"""The engine host: one engine's handlers served over a Unix socket and a TCP port.

Each accepted connection gets a thread running a blocking receive → dispatch → send loop. Blocking
sockets on both ends keep a round trip close to a raw AF_UNIX echo (see ``nautilus bench``); numpy
and numba release the GIL, so CPU-heavy handlers still overlap. Run one with
``nautilus engine run NAME`` (the supervisor does) or ``python -m nautilus.runtime.host NAME``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec

from nautilus.config import Settings, get_settings
from nautilus.core.errors import NautilusError, NotFound, database_outage
from nautilus.runtime import deadline
from nautilus.runtime.engine import Engine
from nautilus.runtime.protocol import (
    REPLY_ENCODER,
    REQUEST_DECODER,
    SHM_HELLO,
    Codec,
    ConnectionClosed,
    ErrorBody,
    FramedSocket,
    ReplyFrame,
    RequestFrame,
    ShmHello,
    ShmHelloReply,
)
from nautilus.runtime.shm import BadHandle, ShmPool, local_probe, peer_visible
from nautilus.runtime.stats import LatencyWindow

if TYPE_CHECKING:
    from nautilus.runtime.registry import EngineRegistry

log = logging.getLogger("nautilus.host")

PING = "__ping__"
HEALTH = "__health__"
MEMORY_CHECK_S = 0.2  # how often an engine compares its resident memory with engine_memory_mb
MEMORY_EXIT = 137  # the exit status of an engine stopped by its memory ceiling (as if SIGKILLed)
METRICS = "__metrics__"  # Prometheus text of the engine process (the gateway serves it at /metrics/engines/NAME)


class HealthInfo(msgspec.Struct):
    engine: str
    pid: int
    started_at: float
    uptime_s: float
    requests: int
    errors: int
    connections: int
    p50_us: float | None
    p99_us: float | None
    backend: str
    shm_used: int
    shm_size: int
    transports: list[str]


class _Connection:
    __slots__ = ("framed", "codec", "held")

    def __init__(self, framed: FramedSocket, codec: Codec) -> None:
        self.framed = framed
        self.codec = codec
        self.held: dict[int, int] = {}  # shared-memory blocks leased to this peer


class EngineHost:
    """Serves one engine instance over the configured socket transports."""

    def __init__(self, engine: Engine, settings: Settings, transports: tuple[str, ...] = ("unix", "tcp")):
        self.engine = engine
        self.settings = settings
        self.transports = transports
        self.methods = type(engine).methods()
        self.pool = ShmPool(settings.shm_pool_mb * 1024 * 1024)
        self.started_at = time.time()
        self.latency = LatencyWindow()
        self.requests = 0
        self.errors = 0
        self._listeners: list[socket.socket] = []
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.addresses: dict[str, Any] = {}

    # Lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.engine.on_fatal = self._fatal
        self.engine.start()
        if self.settings.engine_memory_mb > 0:
            threading.Thread(target=self._watch_memory, args=(self.settings.engine_memory_mb * 2**20,), daemon=True,
                             name=f"{self.engine.name}-memory").start()
        if "unix" in self.transports:
            path = self.settings.socket_path(self.engine.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(path))
            self._listen(sock, "unix")
            self.addresses["unix"] = str(path)
        if "tcp" in self.transports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.settings.listen_host, self.settings.engine_port(self.engine.name)))
            self._listen(sock, "tcp")
            self.addresses["tcp"] = sock.getsockname()

    def _listen(self, sock: socket.socket, transport: str) -> None:
        sock.listen(128)
        self._listeners.append(sock)
        threading.Thread(target=self._accept_loop, args=(sock, transport), daemon=True,
                         name=f"{self.engine.name}-{transport}-accept").start()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for sock in self._listeners:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.framed.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        path = self.addresses.get("unix")
        if path and os.path.exists(path):
            os.unlink(path)
        try:
            self.engine.close()
        finally:
            self.pool.close()

    def _watch_memory(self, ceiling: int) -> None:
        """Kill this process (the supervisor restarts it) once its resident memory passes ``ceiling`` bytes: a bug
        or a request that slipped past admission control must not take the machine down with it."""
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stopped.wait(MEMORY_CHECK_S):
            try:
                with open("/proc/self/statm", "rb") as fh:
                    rss = int(fh.read().split()[1]) * page
            except (OSError, ValueError, IndexError):  # not Linux: no ceiling
                return
            if rss > ceiling:
                log.critical("engine %s: resident memory %d MB passed its ceiling %d MB (engine_memory_mb); "
                             "stopping at once", self.engine.name, rss >> 20, ceiling >> 20)
                logging.shutdown()
                os._exit(MEMORY_EXIT)

    def _fatal(self, why: str) -> None:
        """The engine cannot go on (a newer writer took its lease): stop serving; the supervisor decides what
        comes next."""
        log.error("engine %s stops: %s", self.engine.name, why)
        self._stopped.set()

    def serve_forever(self) -> None:
        """Block until SIGTERM/SIGINT, then stop gracefully."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopped.set())
        self._stopped.wait()
        self._stopped.clear()
        self.stop()

    # Serving --------------------------------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket, transport: str) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if transport == "tcp":
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Arrays inline until the peer proves it shares our memory (its __shm__ hello)
            conn = _Connection(FramedSocket(sock), Codec(None, self.settings.shm_threshold_bytes))
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name=f"{self.engine.name}-{transport}-conn").start()

    def _serve(self, conn: _Connection) -> None:
        framed = conn.framed
        try:
            while True:
                framed.send(self.handle_frame(framed.recv(), conn))
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            for block, count in conn.held.items():
                for _ in range(count):
                    self.pool.decref(block)
            framed.close()

    def handle_frame(self, data: bytes | bytearray, conn: _Connection) -> bytes:
        t0 = time.monotonic()  # the start of the request's server time, and of its deadline's budget
        frame = REQUEST_DECODER.decode(data)
        held = conn.held
        for block in frame.release:  # the peer is done with these blocks of ours
            if held.get(block, 0) > 0:
                held[block] -= 1
                self.pool.decref(block)
        codec = conn.codec
        self.requests += 1
        # A reply frame is encoded in one pass as the tuple (id, body, None): the same msgpack array as a
        # ReplyFrame carrying the body encoded on its own, without encoding the body twice.
        try:
            method = self.methods.get(frame.method)
            if method is None:
                out: bytes = codec.encode((frame.id, self._runtime_method(frame, codec), None))
            else:
                args = ((self.engine, codec.decoders[method.request].decode(frame.body)) if method.takes_request
                        else (self.engine,))
                if frame.budget_ms > 0:  # the caller's remaining time: nested calls and long handlers honour it
                    token = deadline.enter(t0 + frame.budget_ms / 1000)
                    try:
                        result = method.func(*args)
                    finally:
                        deadline.leave(token)
                else:
                    result = method.func(*args)
                out = codec.encode((frame.id, result, None))
                for block in codec.leases:
                    held[block] = held.get(block, 0) + 1
            self.latency.add(time.monotonic() - t0)
            return out
        except NautilusError as exc:
            self.errors += 1
            reply = ReplyFrame(frame.id, error=ErrorBody(exc.code, exc.message, exc.field))
        except msgspec.ValidationError as exc:
            self.errors += 1
            reply = ReplyFrame(frame.id, error=ErrorBody("invalid_input", str(exc), _field_of(exc)))
        except BadHandle as exc:  # a handle on a connection without shared memory, or naming no block of a pool
            self.errors += 1
            reply = ReplyFrame(frame.id, error=ErrorBody("invalid_input", str(exc)))
        except MemoryError:
            self.errors += 1
            log.error("%s.%s ran out of memory", self.engine.name, frame.method)
            reply = ReplyFrame(frame.id, error=ErrorBody(
                "unavailable", f"{self.engine.name}.{frame.method} ran out of memory; ask for less work"))
        except Exception as exc:  # a bug in a handler, or the database gone: keep serving, report without internals
            self.errors += 1
            if database_outage(exc):
                log.warning("%s.%s: the database is unreachable: %s", self.engine.name, frame.method, exc)
                reply = ReplyFrame(frame.id, error=ErrorBody("unavailable", "the database is unreachable; retry later"))
            else:
                log.exception("handler %s.%s failed", self.engine.name, frame.method)
                reply = ReplyFrame(frame.id, error=ErrorBody(
                    "engine_error", f"{self.engine.name}.{frame.method} failed: {type(exc).__name__}"))
        out = REPLY_ENCODER.encode(reply)
        self.latency.add(time.monotonic() - t0)
        return out

    def _shm_hello(self, body: msgspec.Raw, codec: Codec) -> ShmHelloReply:
        """The peer's probe visible here with its nonce: we share ``/dev/shm``, so this connection's arrays may
        travel as handles from now on (the client closes the connection if it cannot see ours in turn)."""
        hello = msgspec.msgpack.decode(body, type=ShmHello)
        probe = local_probe() if self.settings.shm_threshold_bytes else None
        if probe is None or not peer_visible(hello.segment, hello.nonce):
            return ShmHelloReply(False)
        codec.pool = self.pool
        return ShmHelloReply(True, probe.name, probe.nonce)

    def _runtime_method(self, frame: RequestFrame, codec: Codec) -> Any:
        """The methods every host answers besides the engine's handlers."""
        if frame.method == PING:
            return frame.body
        if frame.method == SHM_HELLO:
            return self._shm_hello(frame.body, codec)
        if frame.method == HEALTH:
            return self.health()
        if frame.method == METRICS:
            return self.metrics_text()
        raise NotFound(f"engine {self.engine.name!r} has no method {frame.method!r}", field="method")

    def health(self) -> HealthInfo:
        p50, p99 = self.latency.percentiles_us(50, 99)
        return HealthInfo(
            engine=self.engine.name, pid=os.getpid(), started_at=self.started_at,
            uptime_s=round(time.time() - self.started_at, 3), requests=self.requests, errors=self.errors,
            connections=len(self._connections), p50_us=p50, p99_us=p99, backend=self.engine.backend(),
            shm_used=self.pool.used, shm_size=self.pool.size, transports=sorted(self.addresses),
        )


    def metrics_text(self) -> bytes:
        """This process's Prometheus exposition: host counters, process CPU/RSS and the engine's own gauges."""
        from prometheus_client import generate_latest

        from nautilus.runtime import metrics

        p50, p99 = self.latency.percentiles_us(50, 99)
        name = self.engine.name
        metrics.HOST_REQUESTS.labels(name).set(self.requests)
        metrics.HOST_ERRORS.labels(name).set(self.errors)
        metrics.HOST_CONNECTIONS.labels(name).set(len(self._connections))
        metrics.HOST_LATENCY_US.labels(name, "p50").set(p50 or 0.0)
        metrics.HOST_LATENCY_US.labels(name, "p99").set(p99 or 0.0)
        metrics.SHM_POOL_BYTES.labels("used").set(self.pool.used)
        metrics.SHM_POOL_BYTES.labels("size").set(self.pool.size)
        metrics.update_process_gpu_memory()
        self.engine.update_metrics()
        return generate_latest()


def _field_of(exc: msgspec.ValidationError) -> str | None:
    # msgspec messages end with "- at `$.field`"
    text = str(exc)
    marker = "at `$."
    if marker in text:
        return text.split(marker, 1)[1].rstrip("`").split("[")[0].split(".")[0]
    return None


def run_engine(name: str, settings: Settings | None = None, registry: EngineRegistry | None = None) -> None:
    """Start the named engine and serve until signalled (used by the CLI and supervisor); ``registry``
    resolves its class, by default the one installed in :mod:`nautilus.runtime.registry`."""
    from nautilus.runtime import registry as engine_registry

    settings = settings or get_settings()
    settings.ensure_dirs()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    engine_cls = (registry or engine_registry.registry()).engine_class(name)
    host = EngineHost(engine_cls(settings), settings)
    host.start()
    log.info("engine %s serving on %s", name, host.addresses)
    host.serve_forever()
    log.info("engine %s stopped", name)


if __name__ == "__main__":
    import sys

    run_engine(sys.argv[1])
