"""``summary``: every headline statistic of k return series at once (see :mod:`nautilus.analytics.stats`
for the conventions; each entry equals the single-statistic function of the same name). No I/O."""

from __future__ import annotations

from typing import Any

import numpy as np

from nautilus.analytics import stats as s

SUMMARY_NAMES = ("observations", "periods", "total_return", "annual_return", "annual_volatility", "sharpe", "sortino",
                 "calmar", "omega", "max_drawdown", "max_drawdown_duration", "current_drawdown_duration",
                 "stability", "tail_ratio", "skew", "excess_kurtosis", "skew_biased", "excess_kurtosis_biased",
                 "value_at_risk", "conditional_value_at_risk")
BENCHMARK_NAMES = ("alpha", "beta", "information_ratio")


def summary(returns: Any, benchmark: Any = None, *, risk_free: float = 0.0, required_return: float = 0.0,
            periods_per_year: float = s.DAILY, cutoff: float = 0.05,
            quantile_method: str = s.QUANTILE_METHOD) -> dict[str, Any]:
    """Statistic name → ``[k]`` array (a float for a 1-D input). With ``benchmark`` (``[n]`` or ``[n, k]``)
    also ``alpha``, ``beta`` and ``information_ratio`` (empyrical's ``excess_sharpe``). ``risk_free`` applies
    to Sharpe, Omega and alpha; ``required_return`` is Sortino's per-period target and Omega's annual one.
    ``observations`` counts the non-NaN returns, ``periods`` the rows CAGR compounds over (empyrical's
    ``len``); ``quantile_method`` picks VaR/CVaR's definition (see :func:`nautilus.analytics.stats.value_at_risk`).
    Empty input gives NaN statistics (no exception)."""
    r, one = s.as_2d(returns)
    r = np.asfortranarray(r)  # the column kernels walk down columns
    ppy = periods_per_year
    cs = s.column_stats(r, benchmark, risk_free=risk_free, required_return=required_return,
                        threshold=s._omega_threshold(required_return, ppy))
    st = s.moment_statistics(cs, ppy)
    mdd = s.max_drawdown_nb(r)
    ann = st["annual_return"]
    with np.errstate(divide="ignore", invalid="ignore"):
        calmar = np.where(mdd < 0, ann / np.abs(mdd), np.nan)
    calmar = np.where(np.isfinite(calmar), calmar, np.nan)
    longest, current = s.drawdown_durations_nb(r)
    srt, cnt = s._sorted_valid(r)
    p95, p5 = s._percentile_sorted(srt, cnt, 95.0), s._percentile_sorted(srt, cnt, 5.0)
    out: dict[str, Any] = {
        "observations": st["observations"],
        "periods": st["periods"],
        "total_return": st["total_return"],
        "annual_return": ann,
        "annual_volatility": st["annual_volatility"],
        "sharpe": st["sharpe"],
        "sortino": st["sortino"],
        "calmar": calmar,
        "omega": st["omega"],
        "max_drawdown": mdd,
        "max_drawdown_duration": longest.astype(np.float64),
        "current_drawdown_duration": current.astype(np.float64),
        "stability": s.stability_nb(r),
        "tail_ratio": s._div(np.abs(p95), np.abs(p5)),
        "skew": st["skew"],
        "excess_kurtosis": st["excess_kurtosis"],
        "skew_biased": st["skew_biased"],
        "excess_kurtosis_biased": st["excess_kurtosis_biased"],
        "value_at_risk": s._var_sorted(srt, cnt, cutoff, quantile_method),
        "conditional_value_at_risk": s._cvar_sorted(srt, cnt, cutoff, quantile_method),
    }
    if benchmark is not None:
        out["alpha"], out["beta"] = st["alpha"], st["beta"]
        out["information_ratio"] = st["information_ratio"]
    if one:
        return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in out.items()}
    return out


def warm(n: int = 300) -> None:
    """Compile (or load from numba's cache) the column kernels of :mod:`nautilus.analytics.stats` for the array
    layouts ``summary`` passes them: ``[n, k]`` Fortran-ordered columns and one series as ``[n, 1]``, with a
    ``[n]`` benchmark."""
    r = np.random.default_rng(0).normal(0.0003, 0.01, (n, 2))
    summary(r, r[:, 0])
    summary(r[:, 1], r[:, 0])
