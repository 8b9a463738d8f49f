"""engine_roundtrip: one typed echo through EngineClient (unix, tcp, in-process) vs a raw AF_UNIX echo.

The baseline is the cheapest round trip a Python process can make to another one: a blocking
AF_UNIX socket carrying a 4-byte length and a small msgspec msgpack frame, echoed back by a plain
blocking loop (:mod:`nautilus.bench.servers`). Ours is the real runtime: an engine process started
with ``python -m nautilus.runtime.host analytics`` (stateless, so the in-process variant may run it beside
its process), called through ``EngineClient.call("echo", ...)``
(request frame, handler dispatch, reply frame, breaker and metrics bookkeeping included). The same
raw echo over loopback TCP is measured too, so the tcp row shows what the kernel's TCP path costs
by itself. All variants are timed in interleaved blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import msgspec

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import (
    bench_settings,
    engine_process,
    free_port_offset,
    free_tcp_port,
    pinned,
    python_module,
    running,
    spawn,
    temp_home,
    wait_until,
)
from nautilus.bench.servers import FrameClient
from nautilus.bench.stats import p50_p99_us, sample, sig
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import Echo

ENGINE = "analytics"  # stateless: a stateful engine (one writer) never runs in-process beside its process
TRANSPORTS = ("unix", "tcp", "inproc")
UNIX_TARGET = 1.5  # ours / raw p50 on the unix socket (issue 21: this machine kind, a 2-core Xeon)
MESSAGE = Echo(text="x", value=1.0)
BASELINE = "raw AF_UNIX echo (blocking, msgpack)"


def raw_echo(client: FrameClient) -> Callable[[], Echo]:
    encode = msgspec.msgpack.Encoder().encode
    decode = msgspec.msgpack.Decoder(Echo).decode
    return lambda: decode(client.call(encode(MESSAGE)))


def engine_echo(client: EngineClient) -> Callable[[], Echo]:
    return lambda: client.call("echo", MESSAGE)


def measure(ctx: BenchContext, raw: dict[str, FrameClient], engines: dict[str, EngineClient],
            server_pids: list[int]) -> list[Result]:
    calls = ctx.latency_calls
    warmup = calls // 5
    replies_ok = all(client.call("echo", MESSAGE) == MESSAGE for client in engines.values())
    ctx.step(f"{calls:,} calls per variant, interleaved")
    with pinned(server_pids) as on_two_cpus:  # the connections exist: every server thread gets pinned
        timings = sample({f"raw {kind}": raw_echo(client) for kind, client in raw.items()}
                         | {kind: engine_echo(client) for kind, client in engines.items()}, calls, warmup=warmup)
    raw_p50, raw_p99 = p50_p99_us(timings["raw unix"])
    raw_tcp_p50, _ = p50_p99_us(timings["raw tcp"])
    rows = []
    for transport in TRANSPORTS:
        p50, p99 = p50_p99_us(timings[transport])
        checks: dict[str, object] = {"p99_us": p99, "raw_p99_us": raw_p99, "ours_over_raw": sig(p50 / raw_p50)}
        if transport == "unix":
            checks |= {"target_ours_over_raw": UNIX_TARGET, "meets_target": p50 / raw_p50 <= UNIX_TARGET}
        if transport == "tcp":
            checks |= {"raw_tcp_p50_us": raw_tcp_p50, "ours_over_raw_tcp": sig(p50 / raw_tcp_p50)}
        checks["replies_equal"] = replies_ok
        checks["pinned"] = on_two_cpus
        rows.append(result(
            "us", (BASELINE, raw_p50), (f"EngineClient {transport}", p50),
            params={"transport": transport, "calls": calls, "warmup": warmup, "statistic": "p50",
                    "message": "Echo(text='x', value=1.0)"},
            checks=checks,
        ))
    return rows


@case("engine_roundtrip", "Echo round trip through EngineClient (unix/tcp/inproc) vs a raw AF_UNIX echo")
def engine_roundtrip(ctx: BenchContext) -> list[Result]:
    with temp_home("roundtrip") as home, ExitStack() as stack:
        settings = bench_settings(home, free_port_offset([ENGINE]))
        unix_path = home / "raw-echo.sock"
        addresses = {"unix": str(unix_path), "tcp": f"tcp:{free_tcp_port()}"}
        ctx.step(f"starting the raw echo servers and the {ENGINE} engine")
        servers = {kind: stack.enter_context(spawn(python_module("nautilus.bench.servers", "echo", address),
                                                   home / f"raw-{kind}.log"))
                   for kind, address in addresses.items()}
        engine = stack.enter_context(engine_process(settings, ENGINE))
        wait_until(unix_path.exists, "raw echo server", running(servers["unix"]))
        raw = {}
        for kind, address in addresses.items():
            raw[kind] = FrameClient(address)
            stack.callback(raw[kind].close)
        engines = {}
        for transport in TRANSPORTS:
            engines[transport] = EngineClient(ENGINE, settings, transports=(transport,), probe=False)
            stack.callback(engines[transport].close)
        return measure(ctx, raw, engines, [engine.pid, *(server.pid for server in servers.values())])
