"""Statistics of return series, vectorised over columns, with empyrical's conventions.

Contract
--------
- ``returns`` is a float array ``[n]`` (one series) or ``[n, k]`` (k series, one per column) of simple
  per-period returns; NaN means "no observation". A 1-D input gives scalars, a 2-D input ``[k]`` arrays.
- NaNs (leading or interior) are treated exactly as empyrical treats them: ignored by means, deviations and
  quantiles, a zero return for compounding, and counted as periods by :func:`annual_return` (empyrical's
  ``len(returns)``: every row, so ``[nan, .01, .10, -.04, .02, .03, .02, .01, -.10]`` compounds over 9
  periods). Column ``j`` of a matrix equals empyrical applied to ``returns[:, j]``. A column with no
  observation at all has NaN statistics (empyrical answers 0 for a few of them).
- Empty and degenerate inputs give NaN, never an exception (an empty series, no observation, a total loss
  for :func:`stability`, an infinite return for :func:`tail_ratio`; see ``docs/conventions.md``).
- ``periods_per_year`` is empyrical's ``annualization`` (252 daily, 52 weekly, 12 monthly; see
  :func:`periods_per_year_for` for intraday bars). ``risk_free`` is a constant per-period return.
- Undefined results are NaN (too few points, zero dispersion of 0/0); a ratio over a zero deviation is
  ±inf exactly as in empyrical (callers serialising to JSON map non-finite numbers to null).
- Deliberate differences from empyrical, all documented per function (and each offering empyrical's rule):

  * :func:`value_at_risk` and :func:`conditional_value_at_risk` default to the platform's historical VaR,
    the *lower empirical quantile* (``quantile_method="inverted_cdf"``: the ``k = ceil(m * cutoff)``-th worst
    of ``m`` observed returns, CVaR the mean of those ``k``), the Risk engine's definition;
    ``quantile_method="linear"`` is empyrical's (numpy's default percentile; CVaR over the
    ``int((m - 1) * cutoff) + 1`` worst). Both ignore NaNs (empyrical's ``value_at_risk`` is NaN when any).
  * :func:`skew` and :func:`excess_kurtosis` are the bias-corrected sample estimators (``scipy.stats``
    ``skew(bias=False)``, ``kurtosis(bias=False)``, as quantstats/pandas); ``bias=True`` gives the moment
    (biased) ones. :func:`information_ratio` is empyrical's ``excess_sharpe`` (per period, not annualised).

The moment-type statistics (means, deviations, central moments, Omega's sums, alpha, beta, information
ratio, growth) all come from one fused column kernel, :func:`column_stats_nb` (two passes down each column),
finished on the ``[k]`` results by :func:`moment_statistics`; the single-statistic functions and
:func:`nautilus.analytics.summary` share that one path.

No I/O here; the numba kernels (``*_nb``) take NumPy arrays only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

Array = np.ndarray

DAILY, WEEKLY, MONTHLY = 252, 52, 12
_NS_PER_DAY = 86_400 * 10**9


def periods_per_year_for(timeframe_ns: int, trading_days: int = 252, session_hours: float = 6.5) -> float:
    """Legacy fixed-count rule, no longer used by any engine: the platform annualises with the instrument's
    calendar (:func:`nautilus.strategy.backtest.config.resolve_periods_per_year`, over
    :func:`nautilus.core.calendars.periods_per_year`). Kept for callers that want 252 / 52 / 12 and
    ``trading_days * session_hours`` hours a year for intraday bars."""
    if timeframe_ns <= 0:
        raise ValueError("timeframe_ns must be positive")
    if timeframe_ns >= 28 * _NS_PER_DAY:
        return float(MONTHLY)
    if timeframe_ns >= 7 * _NS_PER_DAY:
        return float(WEEKLY)
    if timeframe_ns >= _NS_PER_DAY:
        return float(trading_days) * _NS_PER_DAY / timeframe_ns
    return trading_days * session_hours * 3600e9 / timeframe_ns


# -- shapes and helpers -----------------------------------------------------------------------------------------
def as_2d(returns: Any) -> tuple[Array, bool]:
    """``returns`` as a float64 ``[n, k]`` array and whether the input was one series."""
    a = np.asarray(returns, dtype=np.float64)
    if a.ndim == 1:
        return a[:, None], True
    if a.ndim != 2:
        raise ValueError(f"returns must be [n] or [n, k], got shape {a.shape}")
    return a, False


def _out(values: Array, one: bool) -> Any:
    return float(values[0]) if one else values


def _div(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


# -- the fused column kernel ------------------------------------------------------------------------------------
# Rows of ``column_stats_nb``'s ``[CS_N, k]`` output, one column per series.
(CS_OBS, CS_CNT, CS_GROWTH, CS_MEAN, CS_STD, CS_M2, CS_M3, CS_M4, CS_MEAN_RF, CS_STD_RF, CS_MEAN_REQ,
 CS_DOWN2, CS_GAINS, CS_LOSSES, CS_PAIRS, CS_BETA, CS_ALPHA_MEAN, CS_MEAN_ACTIVE, CS_STD_ACTIVE) = range(19)
CS_N = 19
_BLOCK = 128  # rows summed on their own before adding to a column's running sums


@njit(cache=True, parallel=True, error_model="numpy")
def column_stats_nb(returns: Array, benchmark: Array, risk_free: float, required_return: float,
                    threshold: float, beta_in: Array) -> Array:
    """Everything the moment-type statistics need, per column, in two passes down each column (a third over
    the rows paired with the benchmark for alpha). ``benchmark`` is ``[n, 1]``, ``[n, k]`` or ``[n, 0]``
    (none); ``beta_in`` is ``[k]`` (alpha's beta) or empty (alpha uses the computed beta). Rows of the output:

    - ``CS_OBS``: rows, every one (empyrical's ``len``: the periods CAGR compounds over); ``CS_CNT``:
      observations (non-NaN rows).
    - ``CS_GROWTH``: ``prod(1 + r)`` over the observations (1 without any).
    - ``CS_MEAN``, ``CS_STD``: mean and sample standard deviation (ddof=1; NaN below 1 / 2 observations; 0
      when all observations are equal, where the mean is that value exactly).
    - ``CS_M2``, ``CS_M3``, ``CS_M4``: biased central moments (sums of powers of deviations over the count).
    - ``CS_MEAN_RF``, ``CS_STD_RF``: mean and ddof=1 deviation of ``r - risk_free``, the deviation 0 when all
      observations are equal (empyrical's zero-dispersion rule).
    - ``CS_MEAN_REQ``: mean of ``r - required_return``; ``CS_DOWN2``: mean of
      ``min(r - required_return, 0)²``.
    - ``CS_GAINS``, ``CS_LOSSES``: sums of ``max(x, 0)`` and ``-min(x, 0)`` for
      ``x = r - risk_free - threshold``.
    - With a benchmark, over the rows where both are observed: ``CS_PAIRS`` (their count), ``CS_BETA``
      (``mean(b_c r) / mean(b_c²)``, ``b_c`` the centred benchmark; NaN when the variance is below 1e-30),
      ``CS_ALPHA_MEAN`` (mean of ``r - rf - beta (b - rf)``), ``CS_MEAN_ACTIVE``, ``CS_STD_ACTIVE`` (mean and
      zero-dispersion ddof=1 deviation of ``r - b``). NaN without a benchmark.
    """
    n, k = returns.shape
    kb = benchmark.shape[1]
    has_b = kb > 0
    given_beta = beta_in.shape[0] == k
    out = np.full((CS_N, k), np.nan)
    bcol = np.zeros(k, dtype=np.int64) if kb == 1 else np.arange(k)  # the benchmark column of each column
    for j in prange(k):
        col = returns[:, j]
        bench = benchmark[:, bcol[j]] if has_b else col
        first = n
        for i in range(n):
            if not np.isnan(col[i]):
                first = i
                break
        # pass 1: counts, sums, extremes. Every sum adds block sums of _BLOCK rows (numpy's pairwise summation
        # is as accurate; one running sum over thousands of rows is not, for means close to zero)
        cnt = 0
        pairs = 0
        growth = 1.0
        lo = np.inf
        hi = -np.inf
        lo_rf = np.inf
        hi_rf = -np.inf
        lo_a = np.inf
        hi_a = -np.inf
        s = s_rf = s_req = down2 = gains = losses = s_b = s_a = 0.0
        for i0 in range(first, n, _BLOCK):
            t = t_rf = t_req = t_down2 = t_gains = t_losses = t_b = t_a = 0.0
            for i in range(i0, min(i0 + _BLOCK, n)):
                x = col[i]
                if np.isnan(x):
                    continue
                cnt += 1
                t += x
                growth *= x + 1.0
                lo = min(lo, x)
                hi = max(hi, x)
                xr = x - risk_free
                t_rf += xr
                lo_rf = min(lo_rf, xr)
                hi_rf = max(hi_rf, xr)
                xq = x - required_return
                t_req += xq
                d = min(xq, 0.0)
                t_down2 += d * d
                xo = xr - threshold
                t_gains += xo if xo > 0.0 else 0.0  # selects, not branches: the sign is random
                t_losses += xo if xo < 0.0 else 0.0
                if has_b:
                    b = bench[i]
                    if not np.isnan(b):
                        pairs += 1
                        t_b += b
                        a = x - b
                        t_a += a
                        lo_a = min(lo_a, a)
                        hi_a = max(hi_a, a)
            s += t
            s_rf += t_rf
            s_req += t_req
            down2 += t_down2
            gains += t_gains
            losses += t_losses
            s_b += t_b
            s_a += t_a
        out[CS_OBS, j] = n
        out[CS_CNT, j] = cnt
        out[CS_GROWTH, j] = growth
        out[CS_GAINS, j] = gains
        out[CS_LOSSES, j] = -losses
        # the mean of equal observations is that value exactly: no rounding noise in their deviations, so
        # the dispersion is 0 (empyrical's zero-dispersion rule) and the moments 0 (skew, kurtosis NaN as scipy)
        c1 = max(cnt, 1)
        mean = lo if lo == hi else s / c1
        mean_rf = lo_rf if lo_rf == hi_rf else s_rf / c1
        mean_b = s_b / max(pairs, 1)
        mean_a = lo_a if lo_a == hi_a else s_a / max(pairs, 1)
        # pass 2: centred sums
        ss = s3 = s4 = ss_rf = cov = var = ss_a = 0.0
        for i0 in range(first, n, _BLOCK):
            t2 = t3 = t4 = t2_rf = t_cov = t_var = t2_a = 0.0
            for i in range(i0, min(i0 + _BLOCK, n)):
                x = col[i]
                if np.isnan(x):
                    continue
                d = x - mean
                d2 = d * d
                t2 += d2
                t3 += d2 * d
                t4 += d2 * d2
                e = (x - risk_free) - mean_rf
                t2_rf += e * e
                if has_b:
                    b = bench[i]
                    if not np.isnan(b):
                        bc = b - mean_b
                        t_cov += bc * x
                        t_var += bc * bc
                        ea = (x - b) - mean_a
                        t2_a += ea * ea
            ss += t2
            s3 += t3
            s4 += t4
            ss_rf += t2_rf
            cov += t_cov
            var += t_var
            ss_a += t2_a
        out[CS_M2, j] = ss / c1
        out[CS_M3, j] = s3 / c1
        out[CS_M4, j] = s4 / c1
        if cnt > 0:
            out[CS_MEAN, j] = mean
            out[CS_MEAN_RF, j] = mean_rf
            out[CS_MEAN_REQ, j] = s_req / cnt
            out[CS_DOWN2, j] = down2 / cnt
        if cnt > 1:
            out[CS_STD, j] = np.sqrt(ss / (cnt - 1))
            std_rf = np.sqrt(ss_rf / (cnt - 1))
            out[CS_STD_RF, j] = 0.0 if lo_rf == hi_rf and np.isfinite(std_rf) else std_rf
        if not has_b:
            continue
        out[CS_PAIRS, j] = pairs
        bt = np.nan
        if pairs > 0:
            out[CS_MEAN_ACTIVE, j] = mean_a
            var_m = var / pairs
            if var_m >= 1e-30 and n >= 2:
                bt = (cov / pairs) / var_m
        if pairs > 1:
            std_a = np.sqrt(ss_a / (pairs - 1))
            out[CS_STD_ACTIVE, j] = 0.0 if lo_a == hi_a and np.isfinite(std_a) else std_a
        out[CS_BETA, j] = bt
        if given_beta:
            bt = beta_in[j]
        if np.isnan(bt):
            continue
        # pass 3: alpha's mean residual over the paired rows
        s_al = 0.0
        c_al = 0
        for i0 in range(first, n, _BLOCK):
            t_al = 0.0
            for i in range(i0, min(i0 + _BLOCK, n)):
                v = (col[i] - risk_free) - bt * (bench[i] - risk_free)
                if not np.isnan(v):
                    t_al += v
                    c_al += 1
            s_al += t_al
        if c_al > 0:
            out[CS_ALPHA_MEAN, j] = s_al / c_al
    return out


def _omega_threshold(required_return: float, periods_per_year: float) -> float:
    """Omega's per-period threshold for an annual ``required_return`` (NaN, so Omega NaN, at or below -1)."""
    if periods_per_year == 1:
        return float(required_return)
    if required_return <= -1:
        return float("nan")
    return float((1.0 + required_return) ** (1.0 / periods_per_year) - 1.0)


def column_stats(r: Array, benchmark: Any = None, risk_free: float = 0.0, required_return: float = 0.0,
                 threshold: float = 0.0, beta: Any = None) -> Array:
    """:func:`column_stats_nb` of a ``[n, k]`` array (the benchmark ``[n]``, ``[n, 1]`` or ``[n, k]``)."""
    n, k = r.shape
    b = np.empty((n, 0)) if benchmark is None else np.asfortranarray(_benchmark(r, benchmark))
    if b.shape[1] not in (0, 1, k):
        raise ValueError(f"benchmark has {b.shape[1]} columns, returns have {k}")
    bt = np.empty(0) if beta is None else np.ascontiguousarray(np.broadcast_to(
        np.asarray(beta, dtype=np.float64).reshape(-1), (k,)))
    return column_stats_nb(np.asfortranarray(r), b, float(risk_free), float(required_return),
                           float(threshold), bt)


def moment_statistics(cs: Array, periods_per_year: float = DAILY) -> dict[str, Array]:
    """The statistics :func:`column_stats_nb`'s output determines, by ``summary``'s names (``[k]`` arrays;
    the benchmark ones NaN when the kernel ran without a benchmark)."""
    ppy = periods_per_year
    obs = cs[CS_OBS]
    cnt = cs[CS_CNT]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        down = np.where(obs >= 1, np.sqrt(cs[CS_DOWN2]) * np.sqrt(ppy), np.nan)
        m2 = cs[CS_M2]
        moments_ok = (cnt > 0) & (m2 > 0)
        g1 = np.where(moments_ok, np.divide(cs[CS_M3], m2**1.5), np.nan)
        g2 = np.where(moments_ok, np.divide(cs[CS_M4], m2 * m2) - 3.0, np.nan)
        # bias-corrected (sample) estimators, scipy's bias=False: G1 needs 3 observations, G2 4
        big1 = np.where(cnt > 2, g1 * np.sqrt(cnt * (cnt - 1.0)) / (cnt - 2.0), np.nan)
        big2 = np.where(cnt > 3, ((cnt + 1.0) * g2 + 6.0) * (cnt - 1.0) / ((cnt - 2.0) * (cnt - 3.0)), np.nan)
        return {
            "observations": cnt,
            "periods": obs,
            "total_return": np.where(cnt > 0, cs[CS_GROWTH] - 1.0, np.nan),
            "annual_return": np.where((obs >= 1) & (cnt > 0), cs[CS_GROWTH] ** (ppy / np.maximum(obs, 1)) - 1.0,
                                      np.nan),
            "annual_volatility": np.where(obs >= 2, cs[CS_STD] * np.sqrt(ppy), np.nan),
            "sharpe": np.where(obs >= 2, np.divide(cs[CS_MEAN_RF], cs[CS_STD_RF]) * np.sqrt(ppy), np.nan),
            "downside_risk": down,
            "sortino": np.where(obs >= 2, np.divide(cs[CS_MEAN_REQ] * ppy, down), np.nan),
            "omega": np.where((cs[CS_LOSSES] > 0) & (obs >= 2), np.divide(cs[CS_GAINS], cs[CS_LOSSES]),
                              np.nan),
            "skew": big1,
            "excess_kurtosis": big2,
            "skew_biased": g1,
            "excess_kurtosis_biased": g2,
            "beta": cs[CS_BETA],
            "alpha": np.where(obs >= 2, (cs[CS_ALPHA_MEAN] + 1.0) ** ppy - 1.0, np.nan),
            "information_ratio": np.where(obs >= 2, np.divide(cs[CS_MEAN_ACTIVE], cs[CS_STD_ACTIVE]), np.nan),
        }


def _stat(name: str, returns: Any, periods_per_year: float = DAILY, **kernel: Any) -> Any:
    """One statistic of :func:`moment_statistics` for a ``[n]`` or ``[n, k]`` input."""
    r, one = as_2d(returns)
    return _out(moment_statistics(column_stats(r, **kernel), periods_per_year)[name], one)


# -- returns ----------------------------------------------------------------------------------------------------
def simple_returns(prices: Any) -> Array:
    """``(p[t] - p[t-1]) / p[t-1]``, one row shorter than ``prices`` (empyrical ``simple_returns``). Integer
    prices have their differences taken exactly (in integers) before the division, so prices above 2**53
    keep a change a float64 subtraction would round away."""
    raw = np.asarray(prices)
    if raw.dtype.kind in "iu" or (raw.dtype.kind == "O" and raw.size > 0 and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) for v in raw.reshape(-1))):
        if raw.dtype.kind == "i" and (raw.size == 0 or raw.min() >= 0):
            d = np.diff(raw, axis=0).astype(np.float64)  # two non-negative int64s differ by < 2**63: exact
        else:
            d = np.diff(raw.astype(object), axis=0).astype(np.float64)  # Python integers: exact at any size
        with np.errstate(divide="ignore", invalid="ignore"):
            return d / raw[:-1].astype(np.float64)
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diff(p, axis=0) / p[:-1]


def log_returns(prices: Any) -> Array:
    """``log(p[t] / p[t-1])``, one row shorter than ``prices``."""
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diff(np.log(p), axis=0)


def cum_returns(returns: Any, starting_value: float = 0.0) -> Array:
    """Compounded returns (NaN counts as 0); with ``starting_value`` the value path instead (empyrical)."""
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64), nan=0.0)
    out = np.cumprod(1.0 + r, axis=0)
    return out - 1.0 if starting_value == 0 else out * starting_value


def cum_returns_final(returns: Any, starting_value: float = 0.0) -> Any:
    r, one = as_2d(returns)
    if r.shape[0] == 0:
        return np.nan if one else np.full(r.shape[1], np.nan)
    cs = column_stats(r)
    growth = np.where(cs[CS_CNT] > 0, cs[CS_GROWTH], np.nan)  # no observation: NaN (empyrical: 0)
    return _out(growth - 1.0 if starting_value == 0 else growth * starting_value, one)


# -- returns and risk -------------------------------------------------------------------------------------------
def annual_return(returns: Any, periods_per_year: float = DAILY) -> Any:
    """CAGR: ``prod(1 + r) ** (periods_per_year / n) - 1`` with ``n`` counted from the first observation."""
    return _stat("annual_return", returns, periods_per_year)


def annual_volatility(returns: Any, periods_per_year: float = DAILY) -> Any:
    return _stat("annual_volatility", returns, periods_per_year)


def sharpe_ratio(returns: Any, risk_free: float = 0.0, periods_per_year: float = DAILY) -> Any:
    return _stat("sharpe", returns, periods_per_year, risk_free=risk_free)


def downside_risk(returns: Any, required_return: float = 0.0, periods_per_year: float = DAILY) -> Any:
    return _stat("downside_risk", returns, periods_per_year, required_return=required_return)


def sortino_ratio(returns: Any, required_return: float = 0.0, periods_per_year: float = DAILY) -> Any:
    return _stat("sortino", returns, periods_per_year, required_return=required_return)


def drawdown_series(returns: Any) -> Array:
    """Drawdown from the running peak of the value path (0 at a peak, -0.2 for 20 % below), one row per
    return; the path starts at 1 before the first return (empyrical's anchor)."""
    r = np.asarray(returns, dtype=np.float64)
    wealth = cum_returns(r, starting_value=1.0)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
    return wealth / peak - 1.0


def max_drawdown(returns: Any) -> Any:
    """Most negative drawdown (a number <= 0), empyrical's ``max_drawdown``."""
    r, one = as_2d(returns)
    return _out(max_drawdown_nb(r), one)


@njit(cache=True, parallel=True)
def max_drawdown_nb(returns: Array) -> Array:
    """Per column: the most negative ``wealth / running peak - 1`` (NaN returns count as 0; NaN for a column
    without observations)."""
    n, k = returns.shape
    out = np.full(k, np.nan)
    for j in prange(k):
        wealth = 1.0
        peak = 1.0
        worst = 0.0
        seen = False
        for i in range(n):
            x = returns[i, j]
            if np.isnan(x):
                continue
            seen = True
            wealth *= 1.0 + x
            if wealth > peak:
                peak = wealth
            dd = (wealth - peak) / peak
            if dd < worst:
                worst = dd
        if seen:
            out[j] = worst
    return out


def calmar_ratio(returns: Any, periods_per_year: float = DAILY) -> Any:
    """Annual return over |max drawdown|; NaN without a drawdown or when infinite (empyrical)."""
    r, one = as_2d(returns)
    mdd = max_drawdown(r)
    out = _div(annual_return(r, periods_per_year), np.abs(mdd))
    out = np.where((mdd < 0) & np.isfinite(out), out, np.nan)
    return _out(out, one)


def omega_ratio(returns: Any, risk_free: float = 0.0, required_return: float = 0.0,
                periods_per_year: float = DAILY) -> Any:
    """Sum of gains over sum of losses around a threshold; ``required_return`` is annual and converted to a
    per-period threshold with ``periods_per_year`` (empyrical's ``annualization``)."""
    return _stat("omega", returns, periods_per_year, risk_free=risk_free,
                 threshold=_omega_threshold(required_return, periods_per_year))


def _benchmark(r: Array, benchmark: Any) -> Array:
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.shape[0] != r.shape[0]:
        raise ValueError(f"benchmark has {b.shape[0]} rows, returns have {r.shape[0]}")
    return b


def beta(returns: Any, benchmark: Any, risk_free: float = 0.0) -> Any:
    """Cov(r, b) / Var(b) over the rows where both are observed (empyrical ``beta``; risk_free cancels)."""
    return _stat("beta", returns, benchmark=benchmark)


def alpha(returns: Any, benchmark: Any, risk_free: float = 0.0, periods_per_year: float = DAILY,
          beta_: Any = None) -> Any:
    """Annualised Jensen's alpha ``(1 + mean(r - rf - beta (b - rf))) ** periods_per_year - 1`` (empyrical)."""
    return _stat("alpha", returns, periods_per_year, benchmark=benchmark, risk_free=risk_free, beta=beta_)


def alpha_beta(returns: Any, benchmark: Any, risk_free: float = 0.0,
               periods_per_year: float = DAILY) -> tuple[Any, Any]:
    r, one = as_2d(returns)
    st = moment_statistics(column_stats(r, benchmark, risk_free=risk_free), periods_per_year)
    return _out(st["alpha"], one), _out(st["beta"], one)


def information_ratio(returns: Any, benchmark: Any) -> Any:
    """empyrical's ``excess_sharpe``: mean(r - b) / std(r - b, ddof=1), per period (not annualised)."""
    return _stat("information_ratio", returns, benchmark=benchmark)


# -- distribution -----------------------------------------------------------------------------------------------
def _sorted_valid(r: Array) -> tuple[Array, Array]:
    """Each column sorted ascending (NaNs last) as a ``[k, n]`` C array, and the count of observations."""
    s = np.sort(np.ascontiguousarray(r.T), axis=1)
    return s, (~np.isnan(r)).sum(axis=0)


QUANTILE_METHODS = ("inverted_cdf", "linear")
QUANTILE_METHOD = "inverted_cdf"  # the platform's historical VaR: the k-th worst observation (Risk engine's)
_EPS = 1e-9  # the guard of ceil(m * cutoff): 20 * 0.05 is 1, not 2 through floating-point noise


def _percentile_sorted(s: Array, cnt: Array, q: float) -> Array:
    """numpy's default (``linear``) percentile ``q`` of each row's first ``cnt`` values, with numpy's own
    interpolation formula (so an infinite neighbour gives what ``np.percentile`` gives); NaN without values."""
    if s.shape[1] == 0:
        return np.full(s.shape[0], np.nan)
    pos = (cnt - 1) * (q / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(cnt - 1, 0))
    lo = np.maximum(lo, 0)
    rows = np.arange(s.shape[0])
    a, b = s[rows, lo], s[rows, hi]
    frac = pos - np.floor(pos)
    with np.errstate(invalid="ignore"):
        diff = b - a
        out = np.where(frac >= 0.5, b - diff * (1.0 - frac), a + diff * frac)  # numpy's _lerp
        out = np.where(frac == 0, a, out)
    return np.where(cnt > 0, out, np.nan)


def tail_count(cnt: Array, cutoff: float) -> Array:
    """Observations in the tail of the lower empirical quantile: ``k = max(1, ceil(m * cutoff - 1e-9))``
    (``nautilus.risk.measures.tail_size``)."""
    return np.maximum(1, np.ceil(np.asarray(cnt, dtype=np.float64) * cutoff - _EPS)).astype(np.int64)


def _check_method(quantile_method: str) -> str:
    if quantile_method not in QUANTILE_METHODS:
        raise ValueError(f"quantile_method must be one of {', '.join(QUANTILE_METHODS)}, got {quantile_method!r}")
    return quantile_method


def _var_sorted(s: Array, cnt: Array, cutoff: float, quantile_method: str = QUANTILE_METHOD) -> Array:
    if _check_method(quantile_method) == "linear":
        return _percentile_sorted(s, cnt, 100 * cutoff)
    if s.shape[1] == 0:
        return np.full(s.shape[0], np.nan)
    k = np.minimum(tail_count(cnt, cutoff), np.maximum(cnt, 1))
    return np.where(cnt > 0, s[np.arange(s.shape[0]), k - 1], np.nan)


def value_at_risk(returns: Any, cutoff: float = 0.05, quantile_method: str = QUANTILE_METHOD) -> Any:
    """Historical VaR at tail ``cutoff`` as a return (negative for a loss), NaNs ignored, NaN without any.

    ``quantile_method="inverted_cdf"`` (default, the platform's definition and the Risk engine's): the lower
    empirical quantile, the ``k = ceil(m * cutoff)``-th worst of the ``m`` observed returns (numpy
    ``percentile(method="inverted_cdf")``). ``"linear"``: empyrical's ``value_at_risk`` (numpy's default
    linear interpolation between the two neighbouring order statistics)."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_var_sorted(s, cnt, cutoff, quantile_method), one)


def conditional_value_at_risk(returns: Any, cutoff: float = 0.05, quantile_method: str = QUANTILE_METHOD) -> Any:
    """Expected shortfall as a return: the mean of the worst ``k`` observed returns, ``k = ceil(m * cutoff)``
    with ``"inverted_cdf"`` (the Risk engine's CVaR) or ``int((m - 1) * cutoff) + 1`` with ``"linear"``
    (empyrical's ``conditional_value_at_risk``). NaN without observations."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_cvar_sorted(s, cnt, cutoff, quantile_method), one)


def _cvar_sorted(s: Array, cnt: Array, cutoff: float, quantile_method: str = QUANTILE_METHOD) -> Array:
    if s.shape[1] == 0:
        return np.full(s.shape[0], np.nan)
    if _check_method(quantile_method) == "linear":
        m = ((cnt - 1) * cutoff).astype(np.int64) + 1
    else:
        m = tail_count(cnt, cutoff)
    m = np.minimum(m, np.maximum(cnt, 1))
    head = s[:, :max(int(m.max(initial=1)), 1)]  # only the worst m values of a row are summed
    csum = np.cumsum(np.where(np.isnan(head), 0.0, head), axis=1)
    rows = np.arange(s.shape[0])
    return np.where(cnt > 0, csum[rows, np.maximum(m - 1, 0)] / m, np.nan)


def tail_ratio(returns: Any) -> Any:
    """|95th percentile| / |5th percentile| of the observed returns (empyrical: numpy's linear percentiles;
    NaN without observations, when both are 0, or when an infinite return makes a percentile undefined)."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_div(np.abs(_percentile_sorted(s, cnt, 95)), np.abs(_percentile_sorted(s, cnt, 5))), one)


def skew(returns: Any, bias: bool = False) -> Any:
    """Skewness of the observed returns (NaNs ignored). Default: the bias-corrected sample skewness
    ``G1 = g1 * sqrt(m (m - 1)) / (m - 2)`` (``scipy.stats.skew(bias=False)``, pandas, quantstats), NaN below
    3 observations; ``bias=True``: the moment estimator ``g1 = m3 / m2 ** 1.5`` (``scipy.stats.skew``).
    NaN for a constant series."""
    return _stat("skew_biased" if bias else "skew", returns)


def excess_kurtosis(returns: Any, bias: bool = False) -> Any:
    """Excess (Fisher) kurtosis of the observed returns (NaNs ignored). Default: the bias-corrected sample
    estimator ``G2 = ((m + 1) g2 + 6) (m - 1) / ((m - 2) (m - 3))`` (``scipy.stats.kurtosis(bias=False)``,
    pandas, quantstats), NaN below 4 observations; ``bias=True``: ``g2 = m4 / m2 ** 2 - 3``
    (``scipy.stats.kurtosis``). NaN for a constant series."""
    return _stat("excess_kurtosis_biased" if bias else "excess_kurtosis", returns)


def stability(returns: Any) -> Any:
    """R² of a linear fit of cumulative log returns on time over the observed returns (empyrical
    ``stability_of_timeseries``: NaNs dropped, the rest renumbered 0..m-1). NaN below 2 observations, for a
    constant cumulative path (all returns 0: scipy's ``linregress`` has no correlation) and when a return of
    -100 % (or an infinite one) makes the log path infinite, as empyrical."""
    r, one = as_2d(returns)
    return _out(stability_nb(np.asfortranarray(r)), one)


@njit(cache=True, parallel=True)
def stability_nb(returns: Array) -> Array:
    n, k = returns.shape
    out = np.full(k, np.nan)
    for j in prange(k):
        y = np.empty(n)
        m = 0
        acc = 0.0
        for i in range(n):
            x = returns[i, j]
            if not np.isnan(x):
                acc += np.log1p(x)
                y[m] = acc
                m += 1
        if m < 2:
            continue
        xm = (m - 1) / 2.0
        ym = 0.0
        for i in range(m):
            ym += y[i]
        ym /= m
        sxy = 0.0
        sxx = 0.0
        syy = 0.0
        for i in range(m):
            dx = i - xm
            dy = y[i] - ym
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        if not np.isfinite(syy) or not np.isfinite(sxy):
            continue  # a total loss (log 0) or an infinite return: no fit (NaN, as empyrical)
        if syy == 0.0:
            continue  # a constant path: the correlation is undefined (NaN, as scipy and empyrical)
        rr = sxy / np.sqrt(sxx * syy)
        rr = min(1.0, max(-1.0, rr))
        out[j] = rr * rr
    return out


# -- drawdown durations -----------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def drawdown_durations_nb(returns: Array) -> tuple[Array, Array]:
    """Per column: the longest drawdown (periods from a peak to the period it is regained, or to the end when
    not regained) and the current one (periods since the last peak; 0 at a new high). NaN returns count as 0;
    leading NaNs are skipped."""
    n, k = returns.shape
    longest = np.zeros(k, dtype=np.int64)
    current = np.zeros(k, dtype=np.int64)
    for j in prange(k):
        wealth = 1.0
        peak = 1.0
        run = 0
        best = 0
        started = False
        for i in range(n):
            x = returns[i, j]
            if not started:
                if np.isnan(x):
                    continue
                started = True
            if not np.isnan(x):
                wealth *= 1.0 + x
            if wealth >= peak:
                peak = wealth
                run = 0
            else:
                run += 1
                if run > best:
                    best = run
        longest[j] = best
        current[j] = run
    return longest, current


def drawdown_durations(returns: Any) -> tuple[Any, Any]:
    """(longest, current) drawdown durations in periods; see :func:`drawdown_durations_nb`."""
    r, one = as_2d(returns)
    longest, current = drawdown_durations_nb(np.asfortranarray(r))
    if one:
        return int(longest[0]), int(current[0])
    return longest, current


@njit(cache=True)
def drawdown_periods_1d_nb(wealth: Array) -> Array:
    """Every drawdown of one value path as rows ``[peak, valley, recovery (-1: not regained), depth]`` where
    indices are positions in ``wealth`` and depth is ``valley / peak - 1``."""
    n = wealth.shape[0]
    out = np.empty((n, 4), dtype=np.float64)
    m = 0
    peak_i = 0
    valley_i = 0
    in_dd = False
    for i in range(1, n):
        if wealth[i] >= wealth[peak_i]:
            if in_dd:
                out[m, 0], out[m, 1], out[m, 2] = peak_i, valley_i, i
                out[m, 3] = wealth[valley_i] / wealth[peak_i] - 1.0
                m += 1
                in_dd = False
            peak_i = i
        else:
            if not in_dd:
                in_dd = True
                valley_i = i
            elif wealth[i] < wealth[valley_i]:
                valley_i = i
    if in_dd:
        out[m, 0], out[m, 1], out[m, 2] = peak_i, valley_i, -1
        out[m, 3] = wealth[valley_i] / wealth[peak_i] - 1.0
        m += 1
    return out[:m]


# -- rolling ----------------------------------------------------------------------------------------------------
def _windows(r: Array, window: int) -> Array:
    if window < 2:
        raise ValueError("window must be at least 2")
    return np.lib.stride_tricks.sliding_window_view(r, window, axis=0)  # [n - w + 1, k, w]


def _aligned(values: Array, n: int, window: int) -> Array:
    out = np.full((n, values.shape[-1]), np.nan)
    if n >= window:
        out[window - 1:] = values
    return out


def rolling_sharpe(returns: Any, window: int, risk_free: float = 0.0, periods_per_year: float = DAILY) -> Array:
    """Sharpe ratio of each trailing window, aligned to the window's last row (NaN before); equals
    empyrical's ``roll_sharpe_ratio`` from row ``window - 1`` on."""
    r, one = as_2d(returns)
    out = np.full((r.shape[0], r.shape[1]), np.nan)
    for j in range(r.shape[1]):
        if r.shape[0] >= window:
            w = _windows(r[:, j:j + 1] - risk_free, window)[:, 0, :].T  # [w, m]
            out[window - 1:, j] = sharpe_ratio(w, 0.0, periods_per_year)
    return out[:, 0] if one else out


def rolling_volatility(returns: Any, window: int, periods_per_year: float = DAILY) -> Array:
    """Annualised volatility of each trailing window (empyrical ``roll_annual_volatility``), aligned."""
    r, one = as_2d(returns)
    out = np.full((r.shape[0], r.shape[1]), np.nan)
    for j in range(r.shape[1]):
        if r.shape[0] >= window:
            w = _windows(r[:, j:j + 1], window)[:, 0, :].T
            out[window - 1:, j] = annual_volatility(w, periods_per_year)
    return out[:, 0] if one else out


def rolling_beta(returns: Any, benchmark: Any, window: int) -> Array:
    """Beta of each trailing window against the benchmark (empyrical ``roll_beta``), aligned."""
    r, one = as_2d(returns)
    b = _benchmark(r, benchmark)
    out = np.full((r.shape[0], r.shape[1]), np.nan)
    for j in range(r.shape[1]):
        if r.shape[0] >= window:
            w = _windows(r[:, j:j + 1], window)[:, 0, :].T
            bw = _windows(b[:, min(j, b.shape[1] - 1):][:, :1], window)[:, 0, :].T
            out[window - 1:, j] = beta(w, bw)
    return out[:, 0] if one else out
