"""analytics_stats: the full statistics summary of 20 years of daily returns x 1,000 series.

Ours: ``nautilus.analytics.summary`` (numpy vectorised across columns plus parallel numba column kernels)
over the whole ``[5040, 1000]`` array with a benchmark. Baseline: empyrical (the reference the statistics
follow) called column by column for the same statistics (scipy for skew and kurtosis). Checks: the largest
absolute difference of Sharpe and of max drawdown between the two. Quick mode: 5 years x 200 series.
Target: ours <= 1 s on 2 cores.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from nautilus.bench.harness import BenchContext, Result, case, result
from nautilus.bench.stats import median, sig


def make_returns(n: int, k: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    returns = np.clip(rng.standard_t(4, size=(n, k)) * 0.01 + 0.0003, -0.5, 0.5)
    returns[: n // 10, ::7] = np.nan  # some series start later
    return returns, rng.normal(0.0003, 0.01, n)


def empyrical_loop(returns: np.ndarray, benchmark: np.ndarray) -> dict[str, np.ndarray]:
    """empyrical (and scipy) column by column; returns the Sharpe ratios and max drawdowns for the checks."""
    with warnings.catch_warnings():  # late-starting series make scipy warn about small samples
        warnings.simplefilter("ignore")
        return _empyrical_columns(returns, benchmark)


def _empyrical_columns(returns: np.ndarray, benchmark: np.ndarray) -> dict[str, np.ndarray]:
    import empyrical as ep
    import scipy.stats as ss

    k = returns.shape[1]
    names = ("sharpe", "max_drawdown")
    out = {name: np.empty(k) for name in names}
    for j in range(k):
        col = returns[:, j]
        first = int(np.argmax(~np.isnan(col)))
        r, b = col[first:], benchmark[first:]
        obs = r[~np.isnan(r)]
        ep.cum_returns_final(r)
        ep.annual_return(r)
        ep.annual_volatility(r)
        out["sharpe"][j] = ep.sharpe_ratio(r)
        ep.sortino_ratio(r)
        ep.calmar_ratio(r)
        ep.omega_ratio(r)
        out["max_drawdown"][j] = ep.max_drawdown(r)
        ep.stability_of_timeseries(r)
        ep.tail_ratio(r)
        ss.skew(obs)
        ss.kurtosis(obs)
        ep.value_at_risk(obs)
        ep.conditional_value_at_risk(r)
        ep.alpha_beta(r, b)
        ep.excess_sharpe(r, b)
    return out


@case("analytics_stats", "performance summary (17 statistics + alpha/beta/IR), 20y daily x 1,000 series")
def analytics_stats(ctx: BenchContext) -> list[Result]:
    from nautilus.analytics import summary

    n, k = (1260, 200) if ctx.quick else (5040, 1000)
    returns, benchmark = make_returns(n, k)
    ctx.step("warm-up")
    summary(returns[:300, :8], benchmark[:300])
    empyrical_loop(returns[:300, 1:3], benchmark[:300])
    ours_t, base_t = [], []
    ours_out = base_out = None
    for i in range(ctx.runs(3)):
        ctx.step(f"run {i + 1}: empyrical column loop")
        t0 = time.perf_counter()
        base_out = empyrical_loop(returns, benchmark)
        base_t.append(time.perf_counter() - t0)
        ctx.step(f"run {i + 1}: nautilus.analytics.summary")
        t0 = time.perf_counter()
        ours_out = summary(returns, benchmark)
        ours_t.append(time.perf_counter() - t0)
    assert ours_out is not None and base_out is not None
    checks = {f"max_abs_diff_{name}": sig(float(np.nanmax(np.abs(ours_out[name] - base_out[name]))), 3)
              for name in ("sharpe", "max_drawdown")}
    return [result("s", ("empyrical, looped over columns", median(base_t)),
                   ("nautilus.analytics.summary (numpy + numba, all columns)", median(ours_t)),
                   params={"periods": n, "series": k, "target_s": 1.0}, checks=checks)]
