"""Statistics of return series, vectorised over columns, with empyrical's conventions.

Contract
--------
- ``returns`` is a float array ``[n]`` (one series) or ``[n, k]`` (k series, one per column) of simple
  per-period returns; NaN means "no observation". A 1-D input gives scalars, a 2-D input ``[k]`` arrays.
- Leading NaNs are allowed per column: a column's series starts at its first observation, so every
  statistic of column ``j`` equals empyrical's applied to ``returns[first_j:, j]``. Interior NaNs are treated
  exactly as empyrical treats them (ignored by means and deviations, a zero return for compounding, and
  counted in ``len`` by :func:`annual_return`).
- ``periods_per_year`` is empyrical's ``annualization`` (252 daily, 52 weekly, 12 monthly; see
  :func:`periods_per_year_for` for intraday bars). ``risk_free`` is a constant per-period return.
- Undefined results are NaN (too few points, zero dispersion of 0/0); a ratio over a zero deviation is
  ±inf exactly as in empyrical (callers serialising to JSON map non-finite numbers to null).
- Deviations from empyrical, all documented per function: :func:`value_at_risk` and :func:`tail_ratio` ignore
  NaNs (empyrical's ``value_at_risk`` returns NaN when any is present); :func:`information_ratio` is
  empyrical's ``excess_sharpe`` (mean active return over its standard deviation, per period, not annualised);
  :func:`skew` and :func:`excess_kurtosis` follow ``scipy.stats`` (biased moments, Fisher kurtosis).

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
    """Periods per year of bars ``timeframe_ns`` long: 252 for daily, 52 weekly, 12 monthly; an intraday bar
    counts ``trading_days * session_hours`` hours per year (US equities: 6.5 h sessions)."""
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


def observations(r: Array) -> Array:
    """Per column: rows from the first observation to the end (empyrical's ``len``), ``[k]`` int."""
    valid = ~np.isnan(r)
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), r.shape[0])
    return r.shape[0] - first


def _nanmean(r: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt = (~np.isnan(r)).sum(axis=0)
        return np.where(cnt > 0, np.nansum(r, axis=0) / np.maximum(cnt, 1), np.nan)


def _nanstd1(r: Array, zero_dispersion: bool = True) -> Array:
    """Sample standard deviation (ddof=1) ignoring NaNs; NaN with fewer than 2 observations; 0 for a column
    whose observations are all equal (empyrical's ``_zero_dispersion_std``)."""
    valid = ~np.isnan(r)
    cnt = valid.sum(axis=0)
    mean = np.nansum(r, axis=0) / np.maximum(cnt, 1)
    dev = np.where(valid, r - mean, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt((dev * dev).sum(axis=0) / (cnt - 1))
    std = np.where(cnt > 1, std, np.nan)
    if not zero_dispersion:
        return std
    with np.errstate(invalid="ignore"):
        constant = (np.nanmax(np.where(valid, r, -np.inf), axis=0) == np.nanmin(np.where(valid, r, np.inf), axis=0))
    return np.where(constant & np.isfinite(std), 0.0, std)


def _div(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


# -- returns ----------------------------------------------------------------------------------------------------
def simple_returns(prices: Any) -> Array:
    """``p[t] / p[t-1] - 1``, one row shorter than ``prices`` (empyrical ``simple_returns``)."""
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
    out = np.nanprod(r + 1.0, axis=0)
    out = out - 1.0 if starting_value == 0 else out * starting_value
    return _out(out, one)


# -- returns and risk -------------------------------------------------------------------------------------------
def annual_return(returns: Any, periods_per_year: float = DAILY) -> Any:
    """CAGR: ``prod(1 + r) ** (periods_per_year / n) - 1`` with ``n`` counted from the first observation."""
    r, one = as_2d(returns)
    n = observations(r)
    growth = np.nanprod(r + 1.0, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n >= 1, growth ** (periods_per_year / np.maximum(n, 1)) - 1.0, np.nan)
    return _out(out, one)


def annual_volatility(returns: Any, periods_per_year: float = DAILY) -> Any:
    r, one = as_2d(returns)
    std = _nanstd1(r, zero_dispersion=False)
    out = np.where(observations(r) >= 2, std * np.sqrt(periods_per_year), np.nan)
    return _out(out, one)


def sharpe_ratio(returns: Any, risk_free: float = 0.0, periods_per_year: float = DAILY) -> Any:
    r, one = as_2d(returns)
    adj = r - risk_free if risk_free else r
    out = _div(_nanmean(adj), _nanstd1(adj)) * np.sqrt(periods_per_year)
    out = np.where(observations(r) >= 2, out, np.nan)
    return _out(out, one)


def downside_risk(returns: Any, required_return: float = 0.0, periods_per_year: float = DAILY) -> Any:
    r, one = as_2d(returns)
    d = np.minimum(r - required_return, 0.0)
    out = np.sqrt(_nanmean(d * d)) * np.sqrt(periods_per_year)
    out = np.where(observations(r) >= 1, out, np.nan)
    return _out(out, one)


def sortino_ratio(returns: Any, required_return: float = 0.0, periods_per_year: float = DAILY) -> Any:
    r, one = as_2d(returns)
    out = _div(_nanmean(r - required_return) * periods_per_year,
               downside_risk(r, required_return, periods_per_year))
    out = np.where(observations(r) >= 2, out, np.nan)
    return _out(out, one)


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
    r, one = as_2d(returns)
    if periods_per_year == 1:
        thresh = required_return
    elif required_return <= -1:
        return _out(np.full(r.shape[1], np.nan), one)
    else:
        thresh = (1.0 + required_return) ** (1.0 / periods_per_year) - 1.0
    x = r - risk_free - thresh
    with np.errstate(invalid="ignore"):
        numer = np.where(x > 0, x, 0.0).sum(axis=0)
        denom = -np.where(x < 0, x, 0.0).sum(axis=0)
    out = np.where((denom > 0) & (observations(r) >= 2), _div(numer, denom), np.nan)
    return _out(out, one)


def _benchmark(r: Array, benchmark: Any) -> Array:
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.shape[0] != r.shape[0]:
        raise ValueError(f"benchmark has {b.shape[0]} rows, returns have {r.shape[0]}")
    return b


def beta(returns: Any, benchmark: Any, risk_free: float = 0.0) -> Any:
    """Cov(r, b) / Var(b) over the rows where both are observed (empyrical ``beta``; risk_free cancels)."""
    r, one = as_2d(returns)
    b = _benchmark(r, benchmark)
    ind = np.where(np.isnan(r), np.nan, b)
    ind = ind - _nanmean(ind)
    cov = _nanmean(ind * r)
    var = _nanmean(ind * ind)
    var = np.where(var < 1e-30, np.nan, var)
    out = _div(cov, var)
    if r.shape[0] < 1 or b.shape[0] < 2:
        out = np.full(r.shape[1], np.nan)
    return _out(out, one)


def alpha(returns: Any, benchmark: Any, risk_free: float = 0.0, periods_per_year: float = DAILY,
          beta_: Any = None) -> Any:
    """Annualised Jensen's alpha ``(1 + mean(r - rf - beta (b - rf))) ** periods_per_year - 1`` (empyrical)."""
    r, one = as_2d(returns)
    b = _benchmark(r, benchmark)
    bt = np.atleast_1d(beta(r, b, risk_free) if beta_ is None else beta_)
    series = (r - risk_free) - bt * (b - risk_free)
    out = np.where(observations(r) >= 2, (_nanmean(series) + 1.0) ** periods_per_year - 1.0, np.nan)
    return _out(out, one)


def alpha_beta(returns: Any, benchmark: Any, risk_free: float = 0.0,
               periods_per_year: float = DAILY) -> tuple[Any, Any]:
    b_ = beta(returns, benchmark, risk_free)
    return alpha(returns, benchmark, risk_free, periods_per_year, beta_=b_), b_


def information_ratio(returns: Any, benchmark: Any) -> Any:
    """empyrical's ``excess_sharpe``: mean(r - b) / std(r - b, ddof=1), per period (not annualised)."""
    r, one = as_2d(returns)
    active = r - _benchmark(r, benchmark)
    out = np.where(observations(r) >= 2, _div(_nanmean(active), _nanstd1(active)), np.nan)
    return _out(out, one)


# -- distribution -----------------------------------------------------------------------------------------------
def _sorted_valid(r: Array) -> tuple[Array, Array]:
    """Each column sorted ascending (NaNs last) as a ``[k, n]`` C array, and the count of observations."""
    s = np.sort(np.ascontiguousarray(r.T), axis=1)
    return s, (~np.isnan(r)).sum(axis=0)


def _percentile_sorted(s: Array, cnt: Array, q: float) -> Array:
    """numpy's default (linear) percentile ``q`` of each row's first ``cnt`` values."""
    pos = (cnt - 1) * (q / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(cnt - 1, 0))
    lo = np.maximum(lo, 0)
    rows = np.arange(s.shape[0])
    a, b = s[rows, lo], s[rows, hi]
    frac = pos - np.floor(pos)
    out = a + (b - a) * frac
    out = np.where(frac == 0, a, out)
    return np.where(cnt > 0, out, np.nan)


def value_at_risk(returns: Any, cutoff: float = 0.05) -> Any:
    """Historical VaR: the ``cutoff`` percentile of the observed returns (a return, negative for a loss)."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_percentile_sorted(s, cnt, 100 * cutoff), one)


def conditional_value_at_risk(returns: Any, cutoff: float = 0.05) -> Any:
    """Mean of the worst ``int((m - 1) * cutoff) + 1`` observed returns (empyrical's CVaR)."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_cvar_sorted(s, cnt, cutoff), one)


def _cvar_sorted(s: Array, cnt: Array, cutoff: float) -> Array:
    m = ((cnt - 1) * cutoff).astype(np.int64) + 1
    csum = np.cumsum(np.where(np.isnan(s), 0.0, s), axis=1)
    rows = np.arange(s.shape[0])
    return np.where(cnt > 0, csum[rows, np.maximum(m - 1, 0)] / m, np.nan)


def tail_ratio(returns: Any) -> Any:
    """|95th percentile| / |5th percentile| of the observed returns (empyrical)."""
    r, one = as_2d(returns)
    s, cnt = _sorted_valid(r)
    return _out(_div(np.abs(_percentile_sorted(s, cnt, 95)), np.abs(_percentile_sorted(s, cnt, 5))), one)


def _moments(r: Array) -> tuple[Array, Array, Array, Array]:
    valid = ~np.isnan(r)
    cnt = valid.sum(axis=0)
    mean = np.nansum(r, axis=0) / np.maximum(cnt, 1)
    d = np.where(valid, r - mean, 0.0)
    d2 = d * d
    m2 = d2.sum(axis=0) / np.maximum(cnt, 1)
    m3 = (d2 * d).sum(axis=0) / np.maximum(cnt, 1)
    m4 = (d2 * d2).sum(axis=0) / np.maximum(cnt, 1)
    return cnt, m2, m3, m4


def skew(returns: Any) -> Any:
    """Sample skewness ``m3 / m2 ** 1.5`` (biased, ``scipy.stats.skew``), NaNs ignored."""
    r, one = as_2d(returns)
    cnt, m2, m3, _ = _moments(r)
    out = np.where((cnt > 0) & (m2 > 0), _div(m3, m2**1.5), np.nan)
    return _out(out, one)


def excess_kurtosis(returns: Any) -> Any:
    """Excess kurtosis ``m4 / m2 ** 2 - 3`` (biased, Fisher, ``scipy.stats.kurtosis``), NaNs ignored."""
    r, one = as_2d(returns)
    cnt, m2, _, m4 = _moments(r)
    out = np.where((cnt > 0) & (m2 > 0), _div(m4, m2 * m2) - 3.0, np.nan)
    return _out(out, one)


def stability(returns: Any) -> Any:
    """R² of a linear fit of cumulative log returns on time over the observed returns (empyrical
    ``stability_of_timeseries``: NaNs dropped, the rest renumbered 0..m-1; 0 for a constant series as scipy's
    ``linregress``)."""
    r, one = as_2d(returns)
    return _out(stability_nb(r), one)


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
        if syy == 0.0:
            out[j] = 0.0
        else:
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
            out[window - 1:, j] = _beta_cols(w, bw)
    return out[:, 0] if one else out


def _beta_cols(r: Array, b: Array) -> Array:
    ind = np.where(np.isnan(r), np.nan, b)
    ind = ind - _nanmean(ind)
    var = _nanmean(ind * ind)
    return _div(_nanmean(ind * r), np.where(var < 1e-30, np.nan, var))
