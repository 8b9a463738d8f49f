"""shm_handoff: a big float64 array handed to an engine process by shared memory vs sent as bytes.

Ours: the array is allocated in this process's shared-memory pool (``process_pool(settings).empty``),
filled, and passed to the engine's ``describe_array`` handler, which reads its first and last
element; the request carries a handle, so the cost does not depend on the size. The baseline is what
one writes without the runtime: ``pickle.dumps(arr)`` sent over a blocking AF_UNIX socket to a process
that unpickles it and replies with ``arr[0]``.

A last row prices the shared-memory hello (both ends read each other's probe before a connection passes
handles): connect + one ping with the hello, against the same without it (a client whose threshold is 0).
"""

from __future__ import annotations

import pickle

import numpy as np

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import (
    bench_settings,
    engine_process,
    free_port_offset,
    python_module,
    running,
    spawn,
    temp_home,
    wait_until,
)
from nautilus.bench.servers import FLOAT, FrameClient
from nautilus.bench.stats import median, sample, sig
from nautilus.config import Settings
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import ArrayInfo, ArrayProbe
from nautilus.runtime.shm import process_pool
from nautilus.runtime.sockets import SocketTransport

SIZES_MB = (8, 64)
POOL_MB = 2 * max(SIZES_MB)  # room for both arrays at once
BASELINE = "pickle.dumps over AF_UNIX, unpickled by the receiver"
OURS = "EngineClient unix, shared-memory handle"
CONNECT_BASELINE = "connect + ping, no shared-memory hello"
CONNECT_OURS = "connect + hello (probes read both ways) + ping"


def connect_and_ping(settings: Settings) -> bool:
    transport = SocketTransport("unix", "marketdata", settings)
    try:
        transport.ping(5.0)
        return transport._idle[-1].shared
    finally:
        transport.reset()


def measure_hello(ctx: BenchContext, settings: Settings) -> Result:
    inline = settings.model_copy(update={"shm_threshold_bytes": 0})
    calls = ctx.latency_calls // 20
    ctx.step(f"the hello: {calls} fresh connections each way, interleaved")
    times = sample({"hello": lambda: connect_and_ping(settings), "plain": lambda: connect_and_ping(inline)},
                   calls, warmup=5)
    return result("us", (CONNECT_BASELINE, median(times["plain"]) * 1e6), (CONNECT_OURS, median(times["hello"]) * 1e6),
                  params={"transport": "unix", "calls": calls, "statistic": "median"},
                  checks={"hello_shares_memory": connect_and_ping(settings),
                          "plain_shares_memory": connect_and_ping(inline)})


def measure(ctx: BenchContext, settings: Settings, engine: EngineClient, receiver: FrameClient) -> list[Result]:
    pool = process_pool(settings)
    if pool.size < POOL_MB * 2**20:
        raise RuntimeError(f"this process's shared-memory pool has {pool.size >> 20} MB; the case needs {POOL_MB}")
    arrays = {}
    for size_mb in SIZES_MB:
        n = size_mb * 2**20 // 8
        arrays[size_mb] = pool.empty(n)
        arrays[size_mb][:] = np.linspace(1.0, 2.0, n)
    probes = {size_mb: ArrayProbe(array) for size_mb, array in arrays.items()}
    runs, calls = ctx.runs(15), ctx.latency_calls // 10  # ours takes microseconds: many more calls
    ctx.step(f"baseline: {runs} runs per size")
    baseline = sample({str(mb): lambda a=a: receiver.call(pickle.dumps(a)) for mb, a in arrays.items()},
                      runs, warmup=1, rounds=runs)
    ctx.step(f"ours: {calls} calls per size, interleaved")
    ours = sample({str(mb): lambda p=p: engine.call("describe_array", p) for mb, p in probes.items()},
                  calls, warmup=10)
    rows = []
    for size_mb, array in arrays.items():
        info: ArrayInfo = engine.call("describe_array", probes[size_mb])
        echoed_first = FLOAT.unpack(receiver.call(pickle.dumps(array)))[0]
        rows.append(result(
            "ms", (BASELINE, median(baseline[str(size_mb)]) * 1e3), (OURS, median(ours[str(size_mb)]) * 1e3),
            params={"size_mb": size_mb, "elements": array.size, "dtype": "float64", "baseline_runs": runs,
                    "ours_calls": calls, "statistic": "median", "pool_mb": POOL_MB,
                    "pickle_protocol": pickle.DEFAULT_PROTOCOL},
            checks={
                "max_abs_diff": max(abs(info.first - array[0]), abs(info.last - array[-1])),
                "baseline_abs_diff": abs(echoed_first - array[0]),
                "shape_ok": info.shape == [array.size],
            },
        ))
    return rows


@case("shm_handoff", "8 and 64 MB float64 arrays to an engine process: shared-memory handle vs pickled bytes")
def shm_handoff(ctx: BenchContext) -> list[Result]:
    with temp_home("shm") as home:
        settings = bench_settings(home, free_port_offset(["marketdata"]), shm_pool_mb=POOL_MB)
        pickle_path = home / "pickle.sock"
        ctx.step("starting the pickle receiver and the marketdata engine")
        with spawn(python_module("nautilus.bench.servers", "pickle", str(pickle_path)), home / "pickle.log") \
                as receiver_proc, engine_process(settings):
            wait_until(pickle_path.exists, "pickle receiver", running(receiver_proc))
            receiver = FrameClient(str(pickle_path))
            engine = EngineClient("marketdata", settings, transports=("unix",), probe=False)
            try:
                rows = measure(ctx, settings, engine, receiver)
                rows[-1]["checks"]["handles_used"] = engine.transports["unix"]._idle[-1].shared
                hello = measure_hello(ctx, settings)
            finally:
                receiver.close()
                engine.close()
    small, big = (row["ours"]["value"] for row in rows)
    rows[-1]["checks"]["ours_64mb_over_8mb"] = sig(big / small)
    return rows + [hello]
