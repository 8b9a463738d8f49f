"""marketdata_update: the daily refresh of a universe of daily series fetched from a source.

A local server answers like Yahoo's chart endpoint (:mod:`nautilus.bench.sourceserver`, deterministic
per-day synthetic prices, so every answer agrees on shared days); the source's pacing is lifted (it is not
Yahoo). Each run starts from a fresh catalog holding 10 years of daily bars of every symbol, fetched up to
three days ago. Ours: ``update`` (the MarketData engine plans the missing days from its fetch records and
fetches only those). Baseline: what a cron script without records does: fetch each symbol's whole history
again (``force``) and merge it. Both run through the same fetch jobs (2 workers) and end with the same
catalog: the check is the largest difference of the two catalogs' closes and the bars each fetched.
Quick mode: 10 symbols instead of 50.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.procs import temp_home
from nautilus.bench.sourceserver import SourceServer
from nautilus.bench.stats import median

YEARS = 10


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def _wait(engine, jobs) -> list:
    from nautilus.engines.marketdata.messages import FetchJobRequest

    done = []
    for job in jobs:
        while (state := engine.fetch_job(FetchJobRequest(job_id=job.id))).status in ("queued", "running"):
            time.sleep(0.005)
        if state.status != "ok":
            raise RuntimeError(f"bench fetch failed: {state.error}")
        done.append(state)
    return done


def _fresh_engine(home, url: str, symbols: list[str], start: int, end: int):
    from nautilus.adapters.ratelimit import RateLimiter, limiter_for, reset_limiters
    from nautilus.config import Settings
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import FetchRequest

    reset_limiters()
    limiter_for("yahoo", lambda: RateLimiter("yahoo", 10_000, burst=10_000))
    engine = MarketDataEngine(Settings(home=home, source_urls={"yahoo": url}, ws_forward=False))
    engine.start()
    _wait(engine, [engine.fetch_start(FetchRequest(source="yahoo", symbol=s, start_ns=start, end_ns=end))
                   for s in symbols])
    return engine


@case("marketdata_update", "daily refresh of 50 daily series: incremental update vs refetching history")
def marketdata_update(ctx: BenchContext) -> list[Result]:
    from nautilus.engines.marketdata.messages import FetchRequest, UpdateRequest

    symbols = [f"SYM{i:03d}" for i in range(10 if ctx.quick else 50)]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, stale = _ns(today - timedelta(days=365 * YEARS)), _ns(today - timedelta(days=3))
    ours_t, base_t = [], []
    ours_rows = base_rows = 0
    diff = 0.0
    with SourceServer(synthetic=tuple(symbols)) as server:
        for i in range(ctx.runs(3)):
            with temp_home("update-ours") as home_a, temp_home("update-base") as home_b:
                ctx.step(f"run {i + 1}: seeding two catalogs with {YEARS} years x {len(symbols)} symbols")
                ours = _fresh_engine(home_a, server.url, symbols, start, stale)
                base = _fresh_engine(home_b, server.url, symbols, start, stale)
                try:
                    ctx.step(f"run {i + 1}: update (missing days only)")
                    t0 = time.perf_counter()
                    done = _wait(ours, ours.update(UpdateRequest()).fetches)
                    ours_t.append(time.perf_counter() - t0)
                    ours_rows = sum(j.rows for j in done)
                    ctx.step(f"run {i + 1}: refetch every history (force)")
                    now = _ns(datetime.now(UTC))
                    t0 = time.perf_counter()
                    done = _wait(base, [base.fetch_start(FetchRequest(source="yahoo", symbol=s, start_ns=start,
                                                                      end_ns=now, force=True)) for s in symbols])
                    base_t.append(time.perf_counter() - t0)
                    base_rows = sum(j.rows for j in done)
                    diff = max(float(np.max(np.abs(ours.catalog.read(s, "1d").close - base.catalog.read(s, "1d").close)))
                               for s in symbols)
                finally:
                    ours.close()
                    base.close()
    return [result("s", ("refetch each history, merge (no fetch records)", median(base_t)),
                   ("nautilus update (missing ranges from the fetch records)", median(ours_t)),
                   params={"symbols": len(symbols), "years": YEARS, "timeframe": "1d", "source": "yahoo-shaped local"},
                   checks={"max_abs_diff_close": diff, "bars_fetched_ours": ours_rows, "bars_fetched_baseline": base_rows})]
