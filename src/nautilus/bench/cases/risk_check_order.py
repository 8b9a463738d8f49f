"""risk_check_order: one pre-trade check of an order against 11 limits on a 100-instrument book.

In-process: ``nautilus.risk.limits.check_order`` (targets: p50 <= 20 us). Over the unix socket: the
Risk engine's ``check_order`` handler in its own process (validation, the check, the order-rate
commit and the audit entry queued for the background writer; target p50 <= 100 us). The baseline
row for each is the engine's ``echo`` round trip on the same transport, i.e. the floor any handler
pays, so the ratio shows how close to the floor a check is.
"""

from __future__ import annotations

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import bench_settings, engine_process, free_port_offset, temp_home
from nautilus.bench.stats import percentile, sample
from nautilus.engines.risk.messages import BookState, LimitsBody, OrderCheck, SetLimitsRequest
from nautilus.risk import limits
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import Echo

N = 100
LIMITS = dict(max_order_notional=1e5, max_position_units=1e4, max_position_notional=2e5, max_gross_exposure=5e6,
              max_net_exposure=2e6, max_concentration_pct=25.0, var_budget=1e5, daily_loss_halt=1e4,
              drawdown_halt=0.2, max_orders_per_window=10**9, rate_window_seconds=60.0)


def book() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    positions = {f"I{i}": float(i - 50) for i in range(N)}
    prices = {f"I{i}": 10.0 + i for i in range(N)}
    marginal = {k: 0.01 for k in positions}
    return positions, prices, marginal


@case("risk_check_order", "pre-trade check, 11 limits, 100-instrument book: in-process and over the unix socket")
def risk_check_order(ctx: BenchContext) -> list[Result]:
    positions, prices, marginal = book()
    state = limits.PortfolioState.from_positions(positions, prices, equity=1e6, daily_pnl=-100.0,
                                                 peak_equity=1.05e6, var=5_000.0, marginal_var=marginal)
    limit_set = limits.LimitSet(**LIMITS)
    orders = [limits.Order(f"I{i % N}", float((i % 7) - 3) or 1.0, 10.0 + i % N) for i in range(1_000)]
    it = iter(orders * 1_000)
    calls = ctx.latency_calls
    local = sample({"check": lambda: limits.check_order(next(it), state, limit_set, 10.0),
                    "noop": lambda: next(it)}, calls, warmup=100)
    rows = [result("us", ("a Python call that only takes the next order", percentile(local["noop"], 50) * 1e6),
                   ("limits.check_order in-process", percentile(local["check"], 50) * 1e6),
                   params={"limits": len(LIMITS), "instruments": N, "calls": calls, "statistic": "p50",
                           "target_us": 20},
                   checks={"p99_us": round(percentile(local["check"], 99) * 1e6, 2)})]
    with temp_home("riskcheck") as home:
        settings = bench_settings(home, free_port_offset(["risk"]))
        ctx.step("starting the risk engine")
        with engine_process(settings, "risk"):
            client = EngineClient("risk", settings, transports=("unix",), probe=False)
            try:
                client.call("set_limits", SetLimitsRequest(limits=LimitsBody(**LIMITS)))
                client.call("set_book", BookState(positions=positions, prices=prices, equity=1e6, daily_pnl=-100.0,
                                                  peak_equity=1.05e6, var=5_000.0, marginal_var=marginal))
                req = OrderCheck(instrument="I7", quantity=5.0, price=17.0)
                decision = client.call("check_order", req)
                echo = Echo("x", 1.0)
                ctx.step(f"{calls} checks and echoes, interleaved")
                remote = sample({"echo": lambda: client.call("echo", echo),
                                 "check": lambda: client.call("check_order", req)}, calls, warmup=200)
            finally:
                client.close()
    rows.append(result("us", ("engine echo round trip (unix)", percentile(remote["echo"], 50) * 1e6),
                       ("Risk engine check_order (unix)", percentile(remote["check"], 50) * 1e6),
                       params={"calls": calls, "statistic": "p50", "target_us": 100},
                       checks={"accepted": decision.accepted,
                               "p99_us": round(percentile(remote["check"], 99) * 1e6, 1)}))
    return rows
