"""Engine runtime: framing, codec, shared-memory pool, breaker, host + client in one process."""

from __future__ import annotations

import gc
import socket
import threading
import time

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.support.echo_engine import ArrayRequest, EchoEngine, EchoRequest, SleepRequest, StatefulEchoEngine

from nautilus.core.errors import (
    DeadlineExceeded,
    EngineRestarting,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    RemoteError,
)
from nautilus.runtime.breaker import CircuitBreaker
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import ArrayProbe
from nautilus.runtime.host import EngineHost
from nautilus.runtime.protocol import Codec, ConnectionClosed, FramedSocket
from nautilus.runtime.shm import BadHandle, PoolFull, ShmPool, attach


class WrongEcho(msgspec.Struct):
    text: str
    n: str


class Payload(msgspec.Struct):
    name: str
    values: np.ndarray
    scalar: float = 0.0


# Framing ------------------------------------------------------------------------------------------
def test_frames_small_and_big_cross_a_socket_pair_intact():
    a, b = socket.socketpair()
    left, right = FramedSocket(a), FramedSocket(b)
    big = np.random.default_rng(0).bytes(5_000_003)
    sender = threading.Thread(target=lambda: [left.send(b"abc"), left.send(big), left.send(b"")])
    sender.start()
    assert right.recv() == b"abc"
    assert bytes(right.recv()) == big
    assert right.recv() == b""
    sender.join()
    left.close()
    with pytest.raises(ConnectionClosed):
        right.recv()
    right.close()


def test_frames_arriving_together_split_or_around_the_buffer_end_come_out_one_by_one():
    a, b = socket.socketpair()
    left, right = FramedSocket(a), FramedSocket(b)
    frames = [bytes([i % 251]) * n for i, n in enumerate((1, 0, 3, 65_000, 700, 65_532, 12, 70_000, 5))]
    wire = b"".join(len(f).to_bytes(4, "little") + f for f in frames)

    def trickle() -> None:  # several frames per segment, and headers and bodies cut at odd places
        for start in range(0, len(wire), 4093):
            a.sendall(wire[start:start + 4093])

    sender = threading.Thread(target=trickle)
    sender.start()
    assert [bytes(right.recv()) for _ in frames] == frames
    sender.join()
    left.close()
    right.close()


def test_a_blocking_connection_sets_its_timeout_only_when_the_call_needs_another(monkeypatch):
    from nautilus.runtime import sockets

    a, b = socket.socketpair()
    conn = sockets._Conn(a, 1 << 16, 0)
    calls = []
    real = a.setsockopt
    monkeypatch.setattr(conn.framed, "sock", type("Spy", (), {
        "setsockopt": lambda self, *args: (calls.append(args[1]), real(*args))[1]})())
    conn.set_timeout(29.9999995)  # set once, rounded up to the step
    assert conn.timeout == pytest.approx(30.0) and len(calls) == 2
    conn.set_timeout(29.9999991)  # the next call's remaining time: within one step, kept
    conn.set_timeout(29.9995)
    assert len(calls) == 2
    conn.set_timeout(0.25)  # shorter: the socket must not wait longer than the call
    assert conn.timeout == pytest.approx(0.25) and len(calls) == 4
    conn.set_timeout(5.0)  # longer: the call must not be cut short
    assert conn.timeout == pytest.approx(5.0) and len(calls) == 6
    a.close()
    b.close()


def test_a_latency_window_keeps_the_last_samples_only():
    from nautilus.runtime.stats import LatencyWindow

    window = LatencyWindow(size=4)
    assert window.percentiles_us(50, 99) == [None, None]
    for us in (1, 2, 3, 4, 5, 6):
        window.add(us * 1e-6)
    assert window.percentiles_us(0, 50, 100) == [3.0, 4.5, 6.0]


# Codec --------------------------------------------------------------------------------------------
def test_small_arrays_travel_inline_and_come_back_equal_and_writable():
    codec = Codec(pool=None)
    original = Payload("x", np.arange(10, dtype=np.int32), np.float64(2.5))
    decoded = codec.decode(codec.encode(original), Payload)
    assert decoded.name == "x" and decoded.scalar == 2.5
    assert decoded.values.dtype == np.int32
    np.testing.assert_array_equal(decoded.values, original.values)
    decoded.values[0] = 99  # a private copy, not a view of the frame
    assert codec.leases == []


def test_big_arrays_travel_by_shared_memory_handle():
    pool = ShmPool(4 * 2**20)
    try:
        codec = Codec(pool=pool, threshold=1024)
        values = np.linspace(0, 1, 100_000)
        frame = codec.encode(Payload("big", values))
        assert len(frame) < 200  # a handle, not 800 kB of data
        assert len(codec.leases) == 1 and pool.used >= values.nbytes
        with pytest.raises(BadHandle, match="did not prove"):  # a connection that did not pass the hello
            Codec().decode(frame, Payload)
        decoded = Codec(pool=pool).decode(frame, Payload)
        np.testing.assert_array_equal(decoded.values, values)
        for block in codec.leases:
            pool.decref(block)
        assert pool.used == 0
    finally:
        pool.close()


def test_object_arrays_are_refused():
    with pytest.raises(TypeError):
        Codec().encode(Payload("bad", np.array([object()])))


# Shared-memory pool ---------------------------------------------------------------------------------
def test_pool_arrays_are_shared_without_copy_and_freed_on_gc():
    pool = ShmPool(2**20)
    try:
        arr = pool.empty(1000)
        arr[:] = np.arange(1000)
        offset = pool.block_of(arr)[1]
        handle = pool.lease(arr)
        assert handle.offset == offset  # no copy: the handle points at the array itself
        view = attach(handle)
        view[5] = -1.0
        assert arr[5] == -1.0
        del arr, view
        gc.collect()
        assert pool.used > 0  # the lease still holds the block
        pool.decref(handle.block)
        assert pool.used == 0 and pool.blocks == 0
    finally:
        pool.close()


def test_pool_full_raises_and_foreign_arrays_are_copied_in():
    pool = ShmPool(4096)
    try:
        with pytest.raises(PoolFull):
            pool.empty(1024)  # 8 kB > 4 kB
        outside = np.arange(8.0)
        handle = pool.lease(outside)
        np.testing.assert_array_equal(attach(handle), outside)
        pool.decref(handle.block)
        assert pool.used == 0
    finally:
        pool.close()


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5000)), min_size=1, max_size=60))
def test_allocator_never_overlaps_and_coalesces_back_to_one_run(ops):
    pool = ShmPool(64 * 1024)
    live: list[tuple[int, int, int]] = []  # (block, offset, size)
    try:
        for alloc, size in ops:
            if alloc or not live:
                try:
                    block, offset = pool._allocate(size)
                except PoolFull:
                    continue
                pool.incref(block)
                live.append((block, offset, -(-size // 64) * 64))
            else:
                block, _, _ = live.pop(len(live) // 2)
                pool.decref(block)
            spans = sorted((o, o + s) for _, o, s in live)
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
            assert pool.used == sum(s for _, _, s in live)
        for block, _, _ in live:
            pool.decref(block)
        assert pool._free == [(0, pool.size)] and pool.used == 0
    finally:
        pool.close()


# Circuit breaker ----------------------------------------------------------------------------------
def test_breaker_opens_after_threshold_then_allows_one_trial(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    breaker = CircuitBreaker(failures=2, cooldown_s=1.0)
    breaker.failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] += 1.5
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # exactly one trial
    breaker.failure()
    assert breaker.state == "open"
    now[0] += 1.5
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


# Host + client in one process ----------------------------------------------------------------------
@pytest.fixture
def host(settings):
    h = EngineHost(EchoEngine(settings), settings)
    h.start()
    yield h
    h.stop()


def test_typed_calls_over_unix_and_tcp(host, settings):
    for transport in ("unix", "tcp"):
        client = EngineClient("echo", settings, transports=(transport,), probe=False)
        reply = client.call("echo", EchoRequest("hello", 3))
        assert (reply.text, reply.n) == ("hello", 3)
        assert client.last_transport == transport
        client.close()


def test_builtin_echo_and_describe_array_exist_on_every_engine(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    # `echo` is overridden by the test engine; describe_array comes from the base class
    info = client.call("describe_array", ArrayProbe(np.arange(12.0).reshape(3, 4)))
    assert info.shape == [3, 4] and info.first == 0.0 and info.last == 11.0
    client.close()


def test_errors_keep_their_code_and_field(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    with pytest.raises(InvalidInput) as bad:
        client.call("echo", EchoRequest("x", -1))
    assert bad.value.field == "n"
    with pytest.raises(RemoteError, match="echo.crash failed: RuntimeError"):
        client.call("crash")
    with pytest.raises(NotFound):
        client.call("no_such_method")
    with pytest.raises(InvalidInput) as wrong:  # wrong type for a field: validated by the engine
        client.call("echo", WrongEcho(text="x", n="three"))
    assert wrong.value.field == "n"
    client.close()


def test_big_arrays_both_ways_and_leases_are_released(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    values = np.random.default_rng(1).normal(size=300_000)
    reply = client.call("scale", ArrayRequest(values, 3.0))
    assert reply.total == pytest.approx(values.sum())
    np.testing.assert_allclose(reply.scaled, values * 3.0)
    assert host.pool.used > 0  # the reply array is leased to us
    del reply
    gc.collect()
    client.call("echo", EchoRequest("release", 0))  # carries the release
    assert host.pool.used == 0
    client.close()


def test_fallback_to_in_process_when_the_host_is_gone(host, settings):
    client = EngineClient("echo", settings, probe=False)
    assert client.call("echo", EchoRequest("a", 1)).text == "a"
    assert client.last_transport == "unix"
    host.stop()
    reply = client.call("echo", EchoRequest("b", 2))
    assert reply.text == "b" and client.last_transport == "inproc"
    assert client.fallbacks >= 2  # unix and tcp both skipped
    client.close()


def test_state_changing_call_is_not_retried_when_outcome_unknown(host, settings):
    client = EngineClient("echo", settings, transports=("unix", "inproc"), probe=False)
    with pytest.raises(DeadlineExceeded, match="not retried"):
        client.call("slow_increment", SleepRequest(0.5), timeout=0.1)
    assert client.transports["inproc"]._engine is None  # never executed a second time
    time.sleep(0.5)
    assert host.engine.counter == 1
    client.close()


def test_a_timed_out_call_is_never_run_again_elsewhere(host, settings):
    """Idempotent or not: after a timeout the engine may still be working on it; a second run elsewhere would
    double the work (and the caller's wait)."""
    client = EngineClient("echo", settings, transports=("unix", "inproc"), probe=False)
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client.call("sleep", SleepRequest(0.6), timeout=0.1)
    assert time.monotonic() - t0 < 0.5
    assert client.transports["inproc"]._engine is None
    client.close()


def test_the_deadline_travels_with_the_call(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    seen = client.call("remaining", timeout=2.0).seconds
    assert seen is not None and 1.0 < seen <= 2.0
    from nautilus.runtime import deadline

    with deadline.scope(time.monotonic() + 0.5):  # inside a request with 0.5 s left: the nested call gets that
        nested = client.call("remaining", timeout=5.0).seconds
    assert nested is not None and 0 < nested <= 0.5
    with deadline.scope(time.monotonic() - 1), pytest.raises(DeadlineExceeded):
        client.call("echo", EchoRequest("late", 1))
    client.close()


def test_in_process_fallback_honours_the_deadline(settings):
    client = EngineClient("echo", settings, transports=("unix", "inproc"), probe=False)  # no host: falls back
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client.call("sleep", SleepRequest(1.0), timeout=0.2)
    assert time.monotonic() - t0 < 0.8
    assert client.call("remaining", timeout=3.0).seconds <= 3.0  # the handler runs under the deadline
    client.close()


def test_a_stateful_engine_never_runs_in_process_and_callers_wait_for_its_restart(settings):
    settings.writer_wait_s = 3.0
    assert "inproc" not in EngineClient("echo_writer", settings, probe=False).transports  # by default
    client = EngineClient("echo_writer", settings, transports=("unix",), probe=False)

    host = EngineHost(StatefulEchoEngine(settings), settings, transports=("unix",))
    starter = threading.Timer(0.5, host.start)
    starter.start()  # the "restarted" writer comes up while the call waits
    t0 = time.monotonic()
    try:
        assert client.call("increment", timeout=5.0).value == 1
        assert 0.4 < time.monotonic() - t0 < 3.0
        assert client.last_transport == "unix"
    finally:
        starter.join()
        host.stop()
    settings.writer_wait_s = 0.3
    t0 = time.monotonic()
    with pytest.raises(EngineRestarting, match="restarting"):
        client.call("increment")
    assert time.monotonic() - t0 < 1.5
    client.close()


def test_a_stateful_engine_waits_on_the_event_loop_too(settings):
    settings.writer_wait_s = 0.3
    client = EngineClient("echo_writer", settings, transports=("unix",), probe=False)

    async def go():
        with pytest.raises(EngineRestarting) as info:
            await client.acall("increment")
        return info.value

    assert run_async(go()).status == 503
    client.close()


def test_unreachable_everywhere_raises_engine_unavailable(settings):
    client = EngineClient("echo", settings, transports=("unix", "tcp"), probe=False)
    with pytest.raises(EngineUnavailable, match="unreachable"):
        client.call("echo", EchoRequest("x", 1))
    client.close()


def test_a_tcp_self_connect_counts_as_nobody_listening(settings, monkeypatch):
    """With no listener on a port in the ephemeral range, Linux may connect a socket to itself; the request
    would then come back as its reply. The client must see a refused connection and fall through."""
    import nautilus.runtime.sockets as sockets_module

    class SelfConnecting(socket.socket):
        def connect(self, address):  # what the kernel does when it picks the target port as the source port
            if self.family == socket.AF_INET:
                self.bind(address)
            return super().connect(address)

    monkeypatch.setattr(sockets_module.socket, "socket", SelfConnecting)
    client = EngineClient("echo", settings, transports=("tcp", "inproc"), probe=False)
    assert client.call("echo", EchoRequest("x", 1)).text == "x"
    assert client.last_transport == "inproc" and client.fallbacks == 1
    client.close()


def test_probe_marks_transports_down_and_up(host, settings):
    client = EngineClient("echo", settings, transports=("unix", "tcp"), probe=False)
    client.probe_once()
    health = client.health()
    assert health["status"] == "up" and health["pid"] is not None
    assert health["transports"]["unix"]["up"] is True
    host.stop()
    client.probe_once()
    health = client.health()
    assert health["status"] == "down"
    assert health["transports"]["unix"]["breaker"] == "open"
    client.close()


# Compute backend --------------------------------------------------------------------------------------
def test_backend_auto_is_cpu_without_torch_and_explicit_gpu_is_an_error(monkeypatch):
    import importlib.util

    from nautilus.runtime import backend

    backend.detect_backend.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    try:
        assert backend.detect_backend("auto").name == "cpu"
        assert backend.detect_backend("cpu").name == "cpu"
        for wanted in ("cuda", "mps"):
            with pytest.raises(InvalidInput, match="not installed") as err:
                backend.detect_backend(wanted)
            assert err.value.field == "compute_backend"
        with pytest.raises(InvalidInput):
            backend.detect_backend("tpu")
    finally:
        backend.detect_backend.cache_clear()


def test_auto_backend_does_not_import_torch_where_no_gpu_can_exist() -> None:
    """torch costs ~250 MB per process: with no NVIDIA driver and not on macOS, auto answers CPU without it."""
    import subprocess
    import sys

    from nautilus.runtime import backend

    if backend._accelerator_possible():
        pytest.skip("this machine could have a GPU")
    code = ("import sys; from nautilus.runtime.backend import detect_backend; b = detect_backend('auto'); "
            "print(b.name, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]


# Async calls (the gateway's event loop) --------------------------------------------------------------
def run_async(coro):
    import asyncio

    return asyncio.run(coro)


def test_async_calls_over_unix_and_tcp_reuse_one_connection(host, settings):
    async def calls(client):
        replies = [await client.acall("echo", EchoRequest(f"m{i}", i)) for i in range(5)]
        return replies, len(client.transports[client.last_transport]._aidle)

    for transport in ("unix", "tcp"):
        client = EngineClient("echo", settings, transports=(transport,), probe=False)
        replies, idle = run_async(calls(client))
        assert [(r.text, r.n) for r in replies] == [(f"m{i}", i) for i in range(5)]
        assert client.last_transport == transport and idle == 1
        client.close()


def test_async_errors_and_big_arrays_match_the_blocking_path(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    values = np.random.default_rng(2).normal(size=300_000)

    async def go():
        with pytest.raises(InvalidInput) as bad:
            await client.acall("echo", EchoRequest("x", -1))
        assert bad.value.field == "n"
        with pytest.raises(RemoteError, match="echo.crash failed: RuntimeError"):
            await client.acall("crash")
        reply = await client.acall("scale", ArrayRequest(values, 3.0))
        np.testing.assert_allclose(reply.scaled, values * 3.0)
        assert host.pool.used > 0
        del reply
        gc.collect()
        await client.acall("echo", EchoRequest("release", 0))  # carries the release

    run_async(go())
    assert host.pool.used == 0
    client.close()


def test_async_reply_timeouts_share_one_timer_per_connection_and_still_fire(host, settings):
    client = EngineClient("echo", settings, transports=("unix",), probe=False)
    transport = client.transports["unix"]

    async def go():
        await client.acall("sleep", SleepRequest(0.0), timeout=0.2)  # arms the connection's timer 0.2 s ahead
        timer = transport._aidle[-1].timer
        for i in range(3):  # due later than the armed timer: no new timer
            await client.acall("echo", EchoRequest("x", i), timeout=30)
        assert transport._aidle[-1].timer is timer
        # slower than the armed timer but within its own timeout: the timer fires early, re-arms, the reply comes
        assert (await client.acall("sleep", SleepRequest(0.4), timeout=5)).value == 0
        with pytest.raises(DeadlineExceeded):  # due before the armed timer: re-armed for it
            await client.acall("sleep", SleepRequest(0.5), timeout=0.1)

    run_async(go())
    client.close()


def test_async_fallback_when_the_host_is_gone_and_no_retry_of_unknown_outcomes(host, settings):
    client = EngineClient("echo", settings, probe=False)

    async def before():
        return await client.acall("echo", EchoRequest("a", 1))

    assert run_async(before()).text == "a" and client.last_transport == "unix"
    guarded = EngineClient("echo", settings, transports=("unix", "inproc"), probe=False)

    async def timed_out():
        with pytest.raises(DeadlineExceeded, match="not retried"):
            await guarded.acall("slow_increment", SleepRequest(0.5), timeout=0.1)
        with pytest.raises(DeadlineExceeded):  # idempotent too: a timeout is never re-run elsewhere
            await guarded.acall("sleep", SleepRequest(0.4), timeout=0.1)

    run_async(timed_out())
    assert guarded.transports["inproc"]._engine is None
    time.sleep(0.5)
    assert host.engine.counter == 1  # slow_increment ran once, on the host only
    guarded.close()
    host.stop()

    async def after():
        return await client.acall("echo", EchoRequest("b", 2))

    assert run_async(after()).text == "b" and client.last_transport == "inproc"
    client.close()


def test_async_tcp_self_connect_counts_as_nobody_listening(settings):
    import asyncio

    async def go():
        loop = asyncio.get_running_loop()
        real = loop.create_connection

        async def self_connect(factory, host, port):  # what the kernel does when it picks the target port as source
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((host, port))
            await loop.sock_connect(sock, (host, port))
            return await real(factory, sock=sock)

        loop.create_connection = self_connect
        try:
            client = EngineClient("echo", settings, transports=("tcp", "inproc"), probe=False)
            reply = await client.acall("echo", EchoRequest("x", 1))
        finally:
            del loop.create_connection
        return client, reply

    client, reply = run_async(go())
    assert reply.text == "x" and client.last_transport == "inproc" and client.fallbacks == 1
    client.close()


def test_frame_protocol_reassembles_replies_and_fails_the_waiter_on_trouble():
    import asyncio

    from nautilus.runtime.protocol import HEADER, MAX_FRAME
    from nautilus.runtime.sockets import _FrameProtocol

    class FakeTransport:
        closed = False

        def close(self):
            self.closed = True

    async def go():
        loop = asyncio.get_running_loop()
        proto = _FrameProtocol()
        proto.connection_made(FakeTransport())
        frame = HEADER.pack(5) + b"hello"
        proto.waiter = waiter = loop.create_future()
        for i in range(len(frame)):  # one byte at a time
            assert not waiter.done()
            proto.data_received(frame[i:i + 1])
        assert waiter.result() == b"hello" and not proto.buffer and not proto.transport.closed

        proto.waiter = waiter = loop.create_future()
        proto.data_received(HEADER.pack(2) + b"ab" + HEADER.pack(1))  # a second frame behind the reply
        assert isinstance(waiter.exception(), ConnectionError) and proto.transport.closed

        for trouble in ("unasked", "oversize", "lost"):
            proto = _FrameProtocol()
            proto.connection_made(FakeTransport())
            if trouble == "unasked":
                proto.data_received(HEADER.pack(1) + b"x")
                assert proto.transport.closed
                continue
            proto.waiter = waiter = loop.create_future()
            if trouble == "oversize":
                proto.data_received(HEADER.pack(MAX_FRAME + 1))
                assert proto.transport.closed
            else:
                proto.connection_lost(None)
                assert proto.lost
            with pytest.raises(ConnectionError):
                waiter.result()

    run_async(go())


def test_the_in_process_stand_in_is_released_once_the_engine_is_back(settings, monkeypatch):
    """After a fallback the gateway does not keep an engine's worth of memory: once the engine answers on its
    socket again and the stand-in has been idle, the probe drops it."""
    import nautilus.runtime.client as client_module

    monkeypatch.setattr(client_module, "INPROC_IDLE_S", 0.0)
    client = EngineClient("echo", settings, transports=("unix", "inproc"), probe=False)
    assert client.call("echo", EchoRequest("down", 1)).text == "down"  # no host: the stand-in answers
    assert client.last_transport == "inproc" and client.transports["inproc"]._engine is not None
    client.probe_once()  # still no host: kept
    assert client.transports["inproc"]._engine is not None
    host = EngineHost(EchoEngine(settings), settings, transports=("unix",))
    host.start()
    try:
        client.probe_once()
        assert client.transports["inproc"]._engine is None  # released
        assert client.call("echo", EchoRequest("up", 2)).text == "up" and client.last_transport == "unix"
    finally:
        host.stop()
        client.close()
