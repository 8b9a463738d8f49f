"""portfolio_order_fill: a paper market order from submission to its fill acknowledged, on a real stack.

A supervisor runs the marketdata, risk and portfolio engines and the gateway on a temporary home (the Risk
engine sets the account's limits; it is not on the order path). Each round submits a market order
(``POST /api/v1/portfolio/orders``: validation, the pre-trade check in the Portfolio engine's process against
a 10-limit set revalidated by version in the order's transaction, the order's commit) and then feeds the next bar
(``POST /api/v1/portfolio/bars``: matching, the fill, position, cash and equity committed in one
transaction); the time is taken from the submission to the reply carrying the fill. The same round is
also timed straight over the engine's unix socket (no HTTP). The baseline row of each is the floor on
its path: two ``/health`` round trips through the gateway, two ``echo`` calls on the socket. HTTP requests
go over one keep-alive ``http.client`` connection (:mod:`nautilus.bench.keepalive`), so the client's own
cost stays small next to what is measured. Targets (issue 21): p50 through the gateway <= 2.5x the two
``/health`` round trips of the same run, and <= 1 ms over the unix socket.
"""

from __future__ import annotations

import itertools
import time

import msgspec

from nautilus.bench.cases.gateway_load import api_headers, stop_stack, wait_for_stack
from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.keepalive import KeepAlive
from nautilus.bench.procs import bench_settings, free_port_offset, temp_home
from nautilus.bench.stats import percentile, sig
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import GenerateRequest
from nautilus.engines.portfolio.engine import PortfolioEngine
from nautilus.engines.portfolio.messages import BarIn, BarsPush, OrderRequest
from nautilus.engines.risk.engine import RiskEngine
from nautilus.engines.risk.messages import LimitsBody, SetLimitsRequest
from nautilus.runtime import supervisor
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import Echo

ENGINES = ["marketdata", "risk", "portfolio"]
SYMBOL = "PAPER"
GATEWAY_TARGET = 2.5  # order -> fill through the gateway / two bare GET /health round trips (p50)
UNIX_TARGET_MS = 1.0  # order -> fill over the unix socket (p50)
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY
LIMITS = LimitsBody(max_order_notional=1e6, max_position_units=1e6, max_position_notional=1e8, max_gross_exposure=1e9,
                    max_net_exposure=1e9, max_concentration_pct=1e4, daily_loss_halt=1e9, drawdown_halt=0.99,
                    max_orders_per_window=10**9, rate_window_seconds=60.0)


def _bar(i: int) -> list[float]:
    px = 100.0 + (i % 10)
    return [T0 + i * DAY, px, px + 1.0, px - 1.0, px + 0.5, 1e9]


def _p(durations: list[float]) -> tuple[float, float]:
    return sig(percentile(durations, 50) * 1e3), sig(percentile(durations, 99) * 1e3)


@case("portfolio_order_fill", "paper market order: submit -> fill acknowledged on the next bar, gateway and unix")
def portfolio_order_fill(ctx: BenchContext) -> list[Result]:
    rounds = 300 if ctx.quick else 2_000
    headers = api_headers()
    with temp_home("paper") as home:
        settings = bench_settings(home, free_port_offset(ENGINES, gateway=True))
        ctx.step("starting marketdata, risk and portfolio engines and the gateway")
        pid = supervisor.start_detached(settings, ENGINES)
        try:
            wait_for_stack(settings, pid, headers, tuple(ENGINES))
            clients = {n: EngineClient(n, settings, transports=("unix",), probe=False) for n in ENGINES}
            clients["marketdata"].call(MarketDataEngine.generate, GenerateRequest(symbol=SYMBOL, n=10), timeout=60.0)
            clients["risk"].call(RiskEngine.set_limits, SetLimitsRequest(limits=LIMITS))
            step = itertools.count()
            http = KeepAlive(settings.host, settings.gateway_bind_port, headers)

            def via_gateway() -> float:
                i = next(step)
                t0 = time.perf_counter()
                order_id = http.post("/api/v1/portfolio/orders", {"symbol": SYMBOL, "side": "buy" if i % 2 else "sell",
                                                                  "quantity": 1})["order"]["id"]
                fills = http.post("/api/v1/portfolio/bars", {"symbol": SYMBOL, "bars": [_bar(i)]})["fills"]
                elapsed = time.perf_counter() - t0
                assert fills and fills[0]["order_id"] == order_id, fills
                return elapsed

            portfolio = clients["portfolio"]

            def via_unix() -> float:
                i = next(step)
                t0 = time.perf_counter()
                side = "buy" if i % 2 else "sell"
                order = portfolio.call(PortfolioEngine.submit_order, OrderRequest(symbol=SYMBOL, side=side,
                                                                                  quantity=1.0)).order
                bars = BarsPush(symbol=SYMBOL, bars=[msgspec.convert(_bar(i), BarIn)])
                reply = portfolio.call(PortfolioEngine.on_bars, bars)
                elapsed = time.perf_counter() - t0
                assert reply.fills and reply.fills[0].order_id == order.id, reply.fills
                return elapsed

            def health_twice() -> float:
                t0 = time.perf_counter()
                http.get("/health")
                http.get("/health")
                return time.perf_counter() - t0

            echo = Echo("x", 1.0)

            def echo_twice() -> float:
                t0 = time.perf_counter()
                portfolio.call("echo", echo)
                portfolio.call("echo", echo)
                return time.perf_counter() - t0

            ctx.step(f"{rounds} rounds through the gateway and over the unix socket")
            for fn in (via_gateway, via_unix, health_twice, echo_twice):  # warm-up
                for _ in range(50):
                    fn()
            times: dict[str, list[float]] = {"gateway": [], "unix": [], "health": [], "echo": []}
            for _ in range(5):  # interleaved blocks: a noisy neighbour slows every path alike
                for key, fn in (("gateway", via_gateway), ("unix", via_unix), ("health", health_twice),
                                ("echo", echo_twice)):
                    times[key] += [fn() for _ in range(rounds // 5)]
            http.close()
            for client in clients.values():
                client.close()
        finally:
            left = stop_stack(settings, pid)
    gw, unix, health, echo_ = (_p(times[k]) for k in ("gateway", "unix", "health", "echo"))
    params = {"rounds": rounds, "statistic": "p50", "limits": 10}
    return [
        result("ms", ("two gateway GET /health round trips", health[0]),
               ("POST order + POST next bar -> fill, through the gateway", gw[0]), params,
               {"p99_ms": gw[1], "over_health": sig(gw[0] / health[0]), "target_over_health": GATEWAY_TARGET,
                "meets_target": gw[0] <= GATEWAY_TARGET * health[0], "processes_left": left}),
        result("ms", ("two echo calls on the unix socket", echo_[0]),
               ("submit_order + on_bars -> fill, unix socket", unix[0]), params,
               {"p99_ms": unix[1], "target_ms": UNIX_TARGET_MS, "meets_target": unix[0] <= UNIX_TARGET_MS}),
    ]
