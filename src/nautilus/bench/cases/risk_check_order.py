"""risk_check_order: one pre-trade check of an order on a 100-instrument book, as the order path runs it.

Row 1, the pure check: ``nautilus.risk.limits.check_order`` against 11 limits (target: p50 <= 20 us), next
to a Python call that only takes the next order. Row 2, the Portfolio engine's check in its own process
(:class:`nautilus.engines.portfolio.pretrade.PreTrade`): the limits revalidated by version on an open order
transaction (one primary-key read on SQLite), the state built from the paper book, the check and the
order-rate window (target: p50 <= 100 us, what the Risk engine's check over its unix socket took before it
moved here); its baseline is the pure check of the same order against the same limits and state. Both rows
leave ``var_budget``'s history read out of row 2 (it reads stored bars of every held instrument, priced by
the ``risk_var`` cases), so row 2 checks the other 10 limits.
"""

from __future__ import annotations

from typing import NoReturn

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import bench_settings, free_port_offset, temp_home
from nautilus.bench.stats import percentile, sample
from nautilus.config import Settings
from nautilus.risk import limits

N = 100
LIMITS = dict(max_order_notional=1e5, max_position_units=1e4, max_position_notional=2e5, max_gross_exposure=5e6,
              max_net_exposure=2e6, max_concentration_pct=25.0, var_budget=1e5, daily_loss_halt=1e4,
              drawdown_halt=0.2, max_orders_per_window=10**9, rate_window_seconds=60.0)
BOOK_LIMITS = {k: v for k, v in LIMITS.items() if k != "var_budget"}


def book() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    positions = {f"I{i}": float(i - 50) for i in range(N)}
    prices = {f"I{i}": 10.0 + i for i in range(N)}
    marginal = {k: 0.01 for k in positions}
    return positions, prices, marginal


@case("risk_check_order", "pre-trade check, 100-instrument book: the pure check and the Portfolio engine's check")
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
        ctx.step("the Portfolio engine's check on a paper book, limits revalidated in the order's transaction")
        rows.append(_portfolio_check(bench_settings(home, free_port_offset(["risk"])), calls))
    return rows


def _no_catalog() -> NoReturn:
    raise AssertionError("no var_budget here: the check reads no bars")


def _portfolio_check(settings: Settings, calls: int) -> Result:
    import time

    from nautilus.engines.portfolio.pretrade import PreTrade
    from nautilus.engines.risk.pretrade import LimitsCache
    from nautilus.storage.bootstrap import migrate
    from nautilus.storage.db import Database
    from nautilus.storage.limits import LimitsStore
    from nautilus.trading.accounting import PositionState
    from nautilus.trading.book import Account, PaperBook
    from nautilus.trading.matching import FillConfig

    positions, prices, _ = book()
    settings.ensure_dirs()
    migrate(settings)
    db = Database.from_url(str(settings.database_url))
    try:
        store = LimitsStore(db)
        store.put("bench", BOOK_LIMITS)
        paper = PaperBook()
        # equity 1e6: cash so that cash + sum(position x mark) = 1e6; peak 1.05e6 and a day that lost 100
        exposure = sum(q * prices[s] for s, q in positions.items())
        account = Account(1, "bench", "USD", FillConfig(0.0, 0.0, 0.0, 0.0, None), {"USD": 1e6 - exposure},
                          peak_equity=1.05e6, day=0, day_start_equity=1e6 + 100.0)
        paper.accounts[1] = account
        for s, q in positions.items():
            paper.positions[(1, "", s)] = PositionState(q, prices[s])
            paper.marks.setdefault(1, {})[s] = (0, prices[s])
        pretrade = PreTrade(LimitsCache(store, settings), _no_catalog, 0, lambda _account, _since: [])
        state = pretrade.state(paper, account)
        pure = limits.LimitSet(**BOOK_LIMITS)
        orders = [(f"I{i % N}", float((i % 7) - 3) or 1.0, 10.0 + i % N) for i in range(1_000)]
        it = iter(orders * 1_000)
        with db.raw_transaction() as cur:  # the order's transaction: the revalidation reads on its cursor
            check = pretrade.check(paper, account, "I7", 5.0, 17.0, cur)

            def ours() -> None:
                symbol, quantity, price = next(it)
                pretrade.commit(account, pretrade.check(paper, account, symbol, quantity, price, cur))

            def baseline() -> None:
                symbol, quantity, price = next(it)
                limits.check_order(limits.Order(symbol, quantity, price), state, pure, time.time())

            times = sample({"pure": baseline, "ours": ours}, calls, warmup=200)
    finally:
        db.dispose()
    return result("us", ("limits.check_order, same order, limits and state", percentile(times["pure"], 50) * 1e6),
                  ("Portfolio engine pre-trade check (revalidate, state, check, rate)",
                   percentile(times["ours"], 50) * 1e6),
                  params={"limits": len(BOOK_LIMITS), "instruments": N, "calls": calls, "statistic": "p50",
                          "target_us": 100},
                  checks={"accepted": check.decision.accepted, "limits_version": check.limits.version,
                          "p99_us": round(percentile(times["ours"], 99) * 1e6, 1)})
