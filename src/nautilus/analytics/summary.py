"""``summary``: every headline statistic of k return series at once (see :mod:`nautilus.analytics.stats`
for the conventions; each entry equals the single-statistic function of the same name). No I/O."""

from __future__ import annotations

from typing import Any

import numpy as np

from nautilus.analytics import stats as s

SUMMARY_NAMES = ("observations", "total_return", "annual_return", "annual_volatility", "sharpe", "sortino",
                 "calmar", "omega", "max_drawdown", "max_drawdown_duration", "current_drawdown_duration",
                 "stability", "tail_ratio", "skew", "excess_kurtosis", "value_at_risk", "conditional_value_at_risk")
BENCHMARK_NAMES = ("alpha", "beta", "information_ratio")


def summary(returns: Any, benchmark: Any = None, *, risk_free: float = 0.0, required_return: float = 0.0,
            periods_per_year: float = s.DAILY, cutoff: float = 0.05) -> dict[str, Any]:
    """Statistic name → ``[k]`` array (a float for a 1-D input). With ``benchmark`` (``[n]`` or ``[n, k]``)
    also ``alpha``, ``beta`` and ``information_ratio`` (empyrical's ``excess_sharpe``). ``risk_free`` applies
    to Sharpe, Omega and alpha; ``required_return`` is Sortino's per-period target and Omega's annual one."""
    r, one = s.as_2d(returns)
    r = np.asfortranarray(r)  # the column kernels walk down columns
    ppy = periods_per_year
    n_obs = s.observations(r)
    mdd = s.max_drawdown(r)
    ann = s.annual_return(r, ppy)
    with np.errstate(divide="ignore", invalid="ignore"):
        calmar = np.where(mdd < 0, ann / np.abs(mdd), np.nan)
    calmar = np.where(np.isfinite(calmar), calmar, np.nan)
    longest, current = s.drawdown_durations_nb(r)
    srt, cnt = s._sorted_valid(r)
    p95, p5 = s._percentile_sorted(srt, cnt, 95.0), s._percentile_sorted(srt, cnt, 5.0)
    out: dict[str, Any] = {
        "observations": n_obs.astype(np.float64),
        "total_return": s.cum_returns_final(r),
        "annual_return": ann,
        "annual_volatility": s.annual_volatility(r, ppy),
        "sharpe": s.sharpe_ratio(r, risk_free, ppy),
        "sortino": s.sortino_ratio(r, required_return, ppy),
        "calmar": calmar,
        "omega": s.omega_ratio(r, risk_free, required_return, ppy),
        "max_drawdown": mdd,
        "max_drawdown_duration": longest.astype(np.float64),
        "current_drawdown_duration": current.astype(np.float64),
        "stability": s.stability(r),
        "tail_ratio": s._div(np.abs(p95), np.abs(p5)),
        "skew": s.skew(r),
        "excess_kurtosis": s.excess_kurtosis(r),
        "value_at_risk": s._percentile_sorted(srt, cnt, 100 * cutoff),
        "conditional_value_at_risk": s._cvar_sorted(srt, cnt, cutoff),
    }
    if benchmark is not None:
        a, b = s.alpha_beta(r, benchmark, risk_free, ppy)
        out["alpha"], out["beta"] = a, b
        out["information_ratio"] = s.information_ratio(r, benchmark)
    if one:
        return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in out.items()}
    return out
