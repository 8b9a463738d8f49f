"""The Portfolio engine killed with SIGKILL mid-stream loses no acknowledged order or fill and counts
nothing twice: after a restart the client retries with the same idempotency keys and bars, and the
stored positions and cash reconcile exactly with the fills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nautilus.bench.procs import engine_answers
from nautilus.core.errors import NautilusError
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import GenerateRequest
from nautilus.engines.portfolio.messages import (
    AccountRef,
    BarIn,
    BarsPush,
    FillsQuery,
    OrderRequest,
    OrdersQuery,
)
from nautilus.runtime.client import EngineClient

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY


def _start(settings, env) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", "portfolio"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not engine_answers(settings, "portfolio")():
        assert proc.poll() is None and time.time() < deadline, "the portfolio engine did not start"
        time.sleep(0.05)
    return proc


def test_sigkill_mid_stream_then_restart_reconciles(settings, stack_env) -> None:
    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    md.generate(GenerateRequest(symbol="KIL", n=20))
    md.close()
    env = stack_env  # no Risk engine process: the engine checks orders with an in-process one
    proc = _start(settings, env)
    client = EngineClient("portfolio", settings, transports=("unix",), probe=False)
    acked_orders: set[int] = set()
    acked_fills: set[tuple[int, int]] = set()
    state = {"i": 0}
    stop = threading.Event()

    def stream() -> None:
        """Order i, then bar i (which fills order i-1's market order at its open); retry the same step on failure."""
        while not stop.is_set() and state["i"] < 400:
            i = state["i"]
            side = "buy" if i % 3 else "sell"
            try:
                reply = client.call("submit_order", OrderRequest(symbol="KIL", side=side, quantity=1 + i % 5,
                                                                 client_order_id=f"c{i}"), timeout=2.0)
                assert reply.order.status != "rejected", reply.order
                acked_orders.add(reply.order.id)
                px = 100.0 + (i % 7)
                bars = client.call("on_bars", BarsPush(symbol="KIL", bars=[BarIn(ts=T0 + i * DAY, open=px,
                                   high=px + 1, low=px - 1, close=px + 0.5, volume=1e6)]), timeout=2.0)
                acked_fills.update((f.order_id, f.ts) for f in bars.fills)
                state["i"] = i + 1
            except NautilusError:
                client.transports["unix"].reset()
                time.sleep(0.02)

    worker = threading.Thread(target=stream, daemon=True)
    worker.start()

    def advance(steps: int) -> None:
        target, deadline = state["i"] + steps, time.time() + 120
        while state["i"] < target:
            assert worker.is_alive() and time.time() < deadline, "the order stream stopped"
            time.sleep(0.01)

    try:
        for _ in range(2):  # two crashes at different points
            advance(40)
            time.sleep(0.003 * (os.getpid() % 7))  # land somewhere inside a call
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            proc = _start(settings, env)
        advance(30)
        stop.set()
        worker.join(30)
        stored_orders = {o.id for o in client.call("orders", OrdersQuery(limit=10_000)).items}
        fills = client.call("fills", FillsQuery(limit=100_000)).items
        stored_fills = [(f["order_id"], f["ts"]) for f in fills]
        assert acked_orders <= stored_orders, "an acknowledged order was lost"
        assert acked_fills <= set(stored_fills), "an acknowledged fill was lost"
        assert len(stored_fills) == len(set(stored_fills)), "a fill was recorded twice"
        assert len(stored_orders) == state["i"], "a retried submission created a second order"
        check = client.call("reconcile", AccountRef()).account
        assert check["ok"], check["differences"]
        assert check["fills"] == len(stored_fills) >= state["i"] - 2
    finally:
        stop.set()
        client.close()
        proc.terminate()
        proc.wait(10)
