"""paper_fencing: what the single-writer fence costs on the paper order path (issue 18: at most 10%).

Two Portfolio engines run in this process on their own databases, each with the same in-process risk check:
one takes its writer lease as a stateful engine does (every write transaction checks the lease's epoch just
before COMMIT), the other is the same engine with the lease left out. A round is one market order submitted
and the next bar processed (its fill, position, cash and equity committed), called on the engine directly so
that nothing but the engine's own work is timed; rounds alternate between the two (``stats.sample``). SQLite
always; PostgreSQL too when the local server at ``NAUTILUS_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) answers, in two throw-away schemas.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import bench_settings, free_port_offset, temp_home
from nautilus.bench.stats import percentile, sample, sig
from nautilus.config import Settings
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import GenerateRequest
from nautilus.engines.portfolio.engine import PortfolioEngine
from nautilus.engines.portfolio.messages import BarIn, BarsPush, OrderRequest

SYMBOL = "FENCE"
DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY
PG_URL = os.environ.get("NAUTILUS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class UnfencedPortfolioEngine(PortfolioEngine):
    """The Portfolio engine without its writer lease: the baseline."""

    stateful = False


def _round(engine: PortfolioEngine) -> Callable[[], None]:
    steps = itertools.count()

    def go() -> None:
        i = next(steps)
        engine.submit_order(OrderRequest(symbol=SYMBOL, side="buy" if i % 2 else "sell", quantity=1.0))
        px = 100.0 + (i % 10)
        engine.on_bars(BarsPush(symbol=SYMBOL, bars=[BarIn(ts=T0 + i * DAY, open=px, high=px + 1, low=px - 1,
                                                           close=px + 0.5, volume=1e9)]))
    return go


@contextmanager
def _engine(cls: type[PortfolioEngine], settings: Settings) -> Iterator[PortfolioEngine]:
    settings.ensure_dirs()
    md = MarketDataEngine(settings)
    md.start()
    md.generate(GenerateRequest(symbol=SYMBOL, n=30))
    md.close()
    engine = cls(settings)
    engine.start()
    try:
        yield engine
    finally:
        engine.close()


@contextmanager
def _pg_schemas(n: int) -> Iterator[list[str] | None]:
    """``n`` database URLs, each in a fresh schema of the local PostgreSQL (dropped after), or None."""
    from sqlalchemy import text

    from nautilus.storage.connection import make_engine

    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as c:
            names = [f"bench_fence_{uuid.uuid4().hex[:10]}" for _ in range(n)]
            for name in names:
                c.execute(text(f"CREATE SCHEMA {name}"))
    except Exception:
        admin.dispose()
        yield None
        return
    try:
        yield [f"{PG_URL}?options=-csearch_path%3D{name}" for name in names]
    finally:
        with admin.connect() as c:
            for name in names:
                c.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def _measure(ctx: BenchContext, settings: tuple[Settings, Settings], label: str) -> Result:
    rounds = 300 if ctx.quick else 2_000
    with ExitStack() as stack:
        plain = stack.enter_context(_engine(UnfencedPortfolioEngine, settings[0]))
        fenced = stack.enter_context(_engine(PortfolioEngine, settings[1]))
        assert fenced.lease is not None and plain.lease is None
        times = sample({"plain": _round(plain), "fenced": _round(fenced)}, rounds, warmup=50)
    p50 = {k: sig(percentile(v, 50) * 1e6) for k, v in times.items()}
    return result("us", ("order + bar, no writer lease", p50["plain"]), ("order + bar, fenced", p50["fenced"]),
                  params={"database": label, "rounds": rounds, "statistic": "p50", "target_ratio": 0.9},
                  checks={"slowdown_pct": round((p50["fenced"] / p50["plain"] - 1) * 100, 1),
                          "p99_plain_us": sig(percentile(times["plain"], 99) * 1e6),
                          "p99_fenced_us": sig(percentile(times["fenced"], 99) * 1e6)})


@case("paper_fencing", "paper order + fill with the single-writer fence vs without (SQLite, PostgreSQL)")
def paper_fencing(ctx: BenchContext) -> list[Result]:
    rows = []
    with temp_home("fencing") as home:
        homes = (Path(home) / "plain", Path(home) / "fenced")
        offset = free_port_offset(["risk", "portfolio"])  # no engine of a running stack answers these clients
        ctx.step("SQLite: fenced and plain paper books")
        rows.append(_measure(ctx, (bench_settings(homes[0], offset), bench_settings(homes[1], offset)), "sqlite"))
        with _pg_schemas(2) as urls:
            if urls is not None:
                ctx.step("PostgreSQL: fenced and plain paper books")
                pg = tuple(bench_settings(h / "pg", offset).model_copy(update={"database_url": u})
                           for h, u in zip(homes, urls, strict=True))
                rows.append(_measure(ctx, pg, "postgresql"))
    return rows
