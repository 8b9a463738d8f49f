"""Value at Risk and expected shortfall (CVaR) kernels: pure functions, no I/O.

Conventions (shared by the risk package)
-----------------------------------------
* ``returns`` is a 2-D float array ``[T, N]`` (T dates, oldest first, N assets) of simple returns.
* ``positions`` are currency exposures ``[N]`` (negative = short); portfolio P&L per scenario is
  ``returns @ positions``.  A loss is ``-pnl``.
* VaR and CVaR are POSITIVE loss amounts in currency at confidence ``c`` in (0, 1) over ``horizon``
  days (a loss can come out negative when the portfolio gains even in its tail, e.g. with a mean).
* Bad input raises :class:`nautilus.core.errors.InvalidInput` with ``field`` one of
  ``confidence, horizon, returns, positions, covariance, weights, nu, lam``.

Historical quantile convention
------------------------------
With T P&L observations and tail probability ``a = 1 - c`` let ``k = ceil(T * a)`` (computed with a
1e-9 guard, so ``20 * (1 - 0.95)`` gives 1 and not 2 through floating-point noise), and at least 1.
Sort losses from worst to best ``L(1) >= L(2) >= ... >= L(T)``:

* ``VaR = L(k)``, the k-th worst loss;
* ``CVaR = mean(L(1), ..., L(k))``, the mean of the k losses at or beyond the VaR observation.

This is the platform's one historical VaR definition, the *lower empirical quantile*: ``-VaR`` is numpy's
``percentile(pnl, 100 a, method="inverted_cdf")`` (Hyndman & Fan type 1), and
:func:`nautilus.analytics.value_at_risk` / ``conditional_value_at_risk`` give the same numbers (as returns,
negative for a loss) by default. Replies name it as ``"quantile_method": "inverted_cdf"``; analytics offers
empyrical's linear interpolation as ``quantile_method="linear"``.

Moments: :func:`sample_moments` reports the bias-corrected sample skewness and excess kurtosis (``skew``,
``excess_kurtosis``; scipy's ``bias=False``, the platform default) and the moment estimators
(``skew_biased``, ``excess_kurtosis_biased``; ``m3 / m2^1.5`` and ``m4 / m2^2 - 3``). The Cornish-Fisher
expansion uses the moment estimators (its reply carries both).

Weighted version (exponentially weighted historical simulation and any explicit ``weights``): the
weights are normalised to sum to one, losses are sorted worst first (ties broken by position in the
sample, stable sort), ``k`` is the first index whose cumulative weight reaches ``a`` (same 1e-9
guard); ``VaR = L(k)`` and ``CVaR = sum_{j<=k} w_j L(j) / sum_{j<=k} w_j``.  With equal weights
``1/T`` this is exactly the unweighted rule (cumulative weight ``k/T >= a`` iff ``k >= T a``).
EW weights are ``lam ** (T - 1 - t)`` for date ``t`` (newest date weight 1), ``lam`` in (0, 1];
``lam = 1`` is plain historical simulation.

Horizon: historical, EW historical and (by default) FHS scale the 1-day VaR/CVaR by ``sqrt(h)``
(square-root-of-time); FHS with ``n_sims`` instead simulates h-day GARCH paths.  Parametric methods
scale sigma by ``sqrt(h)`` and the mean by ``h``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from nautilus.core.errors import InvalidInput

__all__ = [
    "METHODS",
    "check_confidence",
    "check_covariance",
    "check_horizon",
    "check_lam",
    "check_nu",
    "check_positions",
    "check_returns",
    "cornish_fisher_cvar",
    "cornish_fisher_quantile",
    "cornish_fisher_var",
    "covariance",
    "ew_weights",
    "fhs_scenarios",
    "historical_cvar",
    "historical_var",
    "historical_var_cvar",
    "sample_moments",
    "normal_var_cvar",
    "student_t_var_cvar",
    "tail_size",
    "var_cvar",
    "var_function",
]

METHODS = ("historical", "historical_ew", "fhs", "normal", "t", "cornish_fisher")
QUANTILE_METHOD = "inverted_cdf"  # the historical VaR's quantile: the k-th worst loss (see the module doc)
_EPS = 1e-9


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


def check_confidence(confidence: Any) -> float:
    """Return ``confidence`` as a float strictly inside (0, 1), else raise InvalidInput."""
    if isinstance(confidence, bool):
        raise InvalidInput("confidence must be a number in (0, 1)", field="confidence")
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise InvalidInput("confidence must be a number in (0, 1)", field="confidence") from None
    if not (math.isfinite(c) and 0.0 < c < 1.0):
        raise InvalidInput(f"confidence must be in (0, 1), got {confidence!r}", field="confidence")
    return c


def check_horizon(horizon: Any) -> int:
    """Return ``horizon`` (days) as an int >= 1, else raise InvalidInput."""
    if isinstance(horizon, bool):
        raise InvalidInput("horizon must be a positive integer number of days", field="horizon")
    try:
        h = float(horizon)
    except (TypeError, ValueError):
        raise InvalidInput("horizon must be a positive integer number of days", field="horizon") from None
    if not math.isfinite(h) or h < 1 or h != int(h):
        raise InvalidInput(f"horizon must be a positive integer, got {horizon!r}", field="horizon")
    return int(h)


def check_returns(returns: Any, *, min_rows: int = 2, field: str = "returns") -> np.ndarray:
    """Return a finite float ``[T, N]`` array with ``T >= min_rows`` and ``N >= 1``."""
    try:
        r = np.asarray(returns, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a numeric 2-D array [T, N]", field=field) from None
    if r.ndim != 2:
        raise InvalidInput(f"{field} must be 2-D [T, N], got {r.ndim}-D", field=field)
    if r.shape[1] < 1 or r.shape[0] < min_rows:
        raise InvalidInput(f"{field} needs at least {min_rows} rows and 1 column, got {r.shape}", field=field)
    if not np.all(np.isfinite(r)):
        raise InvalidInput(f"{field} contains NaN or infinite values", field=field)
    return r


def check_positions(positions: Any, n: int) -> np.ndarray:
    """Return finite float exposures of length ``n``."""
    try:
        w = np.asarray(positions, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("positions must be a numeric 1-D array", field="positions") from None
    if w.ndim != 1 or w.shape[0] != n:
        raise InvalidInput(f"positions must have shape ({n},), got {w.shape}", field="positions")
    if not np.all(np.isfinite(w)):
        raise InvalidInput("positions contains NaN or infinite values", field="positions")
    return w


def check_lam(lam: Any) -> float:
    if isinstance(lam, bool):
        raise InvalidInput("lam must be a number in (0, 1]", field="lam")
    try:
        x = float(lam)
    except (TypeError, ValueError):
        raise InvalidInput("lam must be a number in (0, 1]", field="lam") from None
    if not (math.isfinite(x) and 0.0 < x <= 1.0):
        raise InvalidInput(f"lam must be in (0, 1], got {lam!r}", field="lam")
    return x


def _is_psd(s: np.ndarray) -> bool:
    eig = np.linalg.eigvalsh(s)
    scale = max(1.0, float(np.max(np.abs(eig)))) if eig.size else 1.0
    return bool(eig.min() >= -1e-10 * scale)


def check_covariance(cov: Any, n: int | None = None) -> np.ndarray:
    """Validate an explicit covariance matrix: square ``[N, N]``, finite, symmetric and PSD."""
    try:
        s = np.asarray(cov, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("covariance must be a numeric square matrix", field="covariance") from None
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 1:
        raise InvalidInput(f"covariance must be a square matrix, got shape {s.shape}", field="covariance")
    if n is not None and s.shape[0] != n:
        raise InvalidInput(f"covariance must be {n}x{n}, got {s.shape}", field="covariance")
    if not np.all(np.isfinite(s)):
        raise InvalidInput("covariance contains NaN or infinite values", field="covariance")
    scale = max(1.0, float(np.max(np.abs(s))))
    if not np.allclose(s, s.T, rtol=0.0, atol=1e-12 * scale):
        raise InvalidInput("covariance must be symmetric", field="covariance")
    s = 0.5 * (s + s.T)
    if not _is_psd(s):
        raise InvalidInput("covariance must be positive semi-definite", field="covariance")
    return s


def _check_weights(weights: Any, t: int) -> np.ndarray:
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("weights must be a numeric 1-D array", field="weights") from None
    if w.ndim != 1 or w.shape[0] != t:
        raise InvalidInput(f"weights must have shape ({t},), got {w.shape}", field="weights")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InvalidInput("weights must be finite, non-negative and not all zero", field="weights")
    return w / w.sum()


def _check_pnl(pnl: Any) -> np.ndarray:
    try:
        x = np.asarray(pnl, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("pnl must be a numeric 1-D array", field="returns") from None
    if x.ndim != 1 or x.shape[0] < 1:
        raise InvalidInput(f"pnl must be a non-empty 1-D array, got shape {x.shape}", field="returns")
    if not np.all(np.isfinite(x)):
        raise InvalidInput("pnl contains NaN or infinite values", field="returns")
    return x


# --------------------------------------------------------------------------------------------------
# historical simulation
# --------------------------------------------------------------------------------------------------


def tail_size(t: int, confidence: float) -> int:
    """Number of tail observations ``k = max(1, ceil(T (1 - c) - 1e-9))``."""
    return max(1, math.ceil(t * (1.0 - confidence) - _EPS))


def ew_weights(t: int, lam: float) -> np.ndarray:
    """Normalised exponential weights ``lam ** (T - 1 - t)`` (oldest first) summing to one."""
    lam = check_lam(lam)
    w = lam ** np.arange(t - 1, -1, -1, dtype=float)
    return w / w.sum()


def _sorted_tail(
    pnl: np.ndarray, confidence: float, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the tail scenarios (worst first) and their normalised weights."""
    losses = -pnl
    order = np.argsort(-losses, kind="stable")
    if weights is None:
        k = tail_size(losses.shape[0], confidence)
        return order[:k], np.full(k, 1.0 / k)
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, (1.0 - confidence) - _EPS, side="left")) + 1
    k = min(max(k, 1), losses.shape[0])
    idx = order[:k]
    wt = weights[idx]
    if wt.sum() <= 0:  # tail made only of zero-weight observations: fall back to equal weights
        wt = np.ones(k)
    return idx, wt / wt.sum()


def historical_var_cvar(
    pnl: Any, confidence: float, weights: Any | None = None, *, lam: float | None = None
) -> tuple[float, float]:
    """(VaR, CVaR) of a P&L sample by the convention in the module docstring.

    ``weights`` (``[T]``, non-negative) or ``lam`` (exponential weights ``lam ** (T-1-t)``, oldest first)
    turn on the weighted quantile / weighted tail mean; give at most one of them.
    """
    c = check_confidence(confidence)
    x = _check_pnl(pnl)
    if lam is not None:
        if weights is not None:
            raise InvalidInput("give either weights or lam, not both", field="weights")
        w: np.ndarray | None = ew_weights(x.shape[0], lam)
    else:
        w = None if weights is None else _check_weights(weights, x.shape[0])
    idx, wt = _sorted_tail(x, c, w)
    losses = -x[idx]
    return float(losses[-1]), float(np.dot(wt, losses))


def historical_var(
    pnl: Any, confidence: float, weights: Any | None = None, *, lam: float | None = None
) -> float:
    """Historical VaR: the loss at the ``ceil(T (1 - c))``-th worst observation (weighted: see module doc)."""
    return historical_var_cvar(pnl, confidence, weights, lam=lam)[0]


def historical_cvar(
    pnl: Any, confidence: float, weights: Any | None = None, *, lam: float | None = None
) -> float:
    """Historical CVaR: mean of the k losses at or beyond the VaR observation (weighted mean if weighted).

    Ties: exactly the k worst observations are averaged (stable order), not every loss equal to VaR.
    """
    return historical_var_cvar(pnl, confidence, weights, lam=lam)[1]


# --------------------------------------------------------------------------------------------------
# covariance
# --------------------------------------------------------------------------------------------------


def covariance(returns: Any, method: str = "sample", lam: float = 0.94) -> np.ndarray:
    """Covariance of ``returns [T, N]``.

    * ``"sample"``: unbiased sample covariance (mean removed, divisor ``T - 1``).
    * ``"ewma"``: RiskMetrics zero-mean EWMA, ``S = sum_t w_t r_t r_t'`` with the normalised weights
      ``w_t = lam ** (T-1-t) / sum(...)`` (oldest first); equivalently the recursion
      ``A_t = lam A_{t-1} + (1 - lam) r_t r_t'`` from ``A = 0`` divided by ``1 - lam ** T``.

    Returns a symmetric PSD ``[N, N]`` array.
    """
    r = check_returns(returns)
    if method == "sample":
        s = np.atleast_2d(np.cov(r, rowvar=False, ddof=1))
    elif method == "ewma":
        w = ew_weights(r.shape[0], lam)
        s = (r * w[:, None]).T @ r
    else:
        raise InvalidInput(f"unknown covariance method {method!r} (sample|ewma)", field="covariance")
    s = 0.5 * (s + s.T)
    if not _is_psd(s):  # pragma: no cover - sums of outer products are PSD up to rounding
        raise InvalidInput("covariance estimate is not positive semi-definite", field="covariance")
    return s


# --------------------------------------------------------------------------------------------------
# parametric
# --------------------------------------------------------------------------------------------------


def normal_var_cvar(
    sigma: float, confidence: float, horizon: int = 1, mu: float = 0.0
) -> tuple[float, float]:
    """Normal VaR/CVaR of a P&L with 1-day std ``sigma`` and mean ``mu`` (currency).

    ``VaR = z s - m``, ``CVaR = s phi(z) / (1 - c) - m`` with ``z = Phi^-1(c)``,
    ``s = sigma sqrt(h)``, ``m = mu h``.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    s = float(sigma) * math.sqrt(h)
    m = float(mu) * h
    z = stats.norm.ppf(c)
    return float(z * s - m), float(s * stats.norm.pdf(z) / (1.0 - c) - m)


def check_nu(nu: Any) -> float:
    if isinstance(nu, bool):
        raise InvalidInput("nu must be a number > 2", field="nu")
    try:
        v = float(nu)
    except (TypeError, ValueError):
        raise InvalidInput("nu must be a number > 2", field="nu") from None
    if not (math.isfinite(v) and v > 2.0):
        raise InvalidInput(f"nu (degrees of freedom) must be > 2, got {nu!r}", field="nu")
    return v


def student_t_var_cvar(
    sigma: float, confidence: float, nu: float = 5.0, horizon: int = 1, mu: float = 0.0
) -> tuple[float, float]:
    """Student-t VaR/CVaR with the t scaled so its standard deviation is ``sigma``.

    The P&L is ``m + s_t T_nu`` with ``s_t = sigma sqrt(h) sqrt((nu - 2) / nu)`` (so its variance is
    ``sigma^2 h``).  With ``q = t_nu^-1(c)``: ``VaR = s_t q - m`` and
    ``CVaR = s_t f_nu(q) (nu + q^2) / ((nu - 1)(1 - c)) - m``.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    v = check_nu(nu)
    st = float(sigma) * math.sqrt(h) * math.sqrt((v - 2.0) / v)
    m = float(mu) * h
    q = stats.t.ppf(c, v)
    es = stats.t.pdf(q, v) * (v + q * q) / ((v - 1.0) * (1.0 - c))
    return float(st * q - m), float(st * es - m)


def cornish_fisher_quantile(z: Any, skew: float, ex_kurt: float) -> Any:
    """Cornish-Fisher expansion of a standard-normal quantile ``z`` (works on arrays).

    ``z_cf = z + (z^2 - 1) S / 6 + (z^3 - 3 z) K / 24 - (2 z^3 - 5 z) S^2 / 36``.
    """
    z = np.asarray(z, dtype=float)
    s, k = float(skew), float(ex_kurt)
    return z + (z**2 - 1.0) * s / 6.0 + (z**3 - 3.0 * z) * k / 24.0 - (2.0 * z**3 - 5.0 * z) * s * s / 36.0


def cornish_fisher_var(
    sigma: float, confidence: float, skew: float, ex_kurt: float, horizon: int = 1, mu: float = 0.0
) -> float:
    """Modified (Cornish-Fisher) VaR: ``-(m + s z_cf(a))`` with ``a = 1 - c``, ``z = Phi^-1(a)``.

    1-day skew ``S`` and excess kurtosis ``K`` are aggregated to h days as for IID sums:
    ``S / sqrt(h)`` and ``K / h``; ``s = sigma sqrt(h)``, ``m = mu h``.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    s_h, k_h = float(skew) / math.sqrt(h), float(ex_kurt) / h
    z = stats.norm.ppf(1.0 - c)
    zcf = float(cornish_fisher_quantile(z, s_h, k_h))
    return float(-(mu * h + sigma * math.sqrt(h) * zcf))


def cornish_fisher_cvar(
    sigma: float, confidence: float, skew: float, ex_kurt: float, horizon: int = 1, mu: float = 0.0
) -> float:
    """CVaR consistent with the Cornish-Fisher VaR: the CF quantile averaged over the tail.

    ``CVaR = -(m + s / a * int_0^a z_cf(Phi^-1(u)) du)``.  Substituting ``u = Phi(x)`` turns the integral
    into normal partial moments ``int_{-inf}^{z} x^j phi(x) dx`` (``j <= 3``), evaluated exactly:
    ``M0 = Phi(z)``, ``M1 = -phi(z)``, ``M2 = Phi(z) - z phi(z)``, ``M3 = -(z^2 + 2) phi(z)``.
    Caveat: for large ``|S|``/``K`` the CF quantile is not monotone and the result loses meaning.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    a = 1.0 - c
    s, k = float(skew) / math.sqrt(h), float(ex_kurt) / h
    z = stats.norm.ppf(a)
    pdf, cdf = stats.norm.pdf(z), a
    m0, m1, m2, m3 = cdf, -pdf, cdf - z * pdf, -(z * z + 2.0) * pdf
    integral = m1 + (m2 - m0) * s / 6.0 + (m3 - 3.0 * m1) * k / 24.0 - (2.0 * m3 - 5.0 * m1) * s * s / 36.0
    return float(-(mu * h + sigma * math.sqrt(h) * integral / a))


def _sample_skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """Moment (biased) sample skewness ``m3 / m2^1.5`` and excess kurtosis ``m4 / m2^2 - 3``."""
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 <= 0:
        return 0.0, 0.0
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2 - 3.0)


def sample_moments(x: Any) -> dict[str, float]:
    """Skewness and excess kurtosis of a sample, both conventions: ``skew`` / ``excess_kurtosis`` bias-corrected
    (``scipy.stats.skew(bias=False)``, ``kurtosis(bias=False)``; NaN below 3 / 4 observations) and
    ``skew_biased`` / ``excess_kurtosis_biased`` (the moment estimators Cornish-Fisher uses). A constant sample
    has 0 for the biased ones (the expansion reduces to the normal) and NaN for the corrected ones."""
    v = np.asarray(x, dtype=float).reshape(-1)
    n = v.size
    constant = n == 0 or bool((v == v[0]).all())  # exactly: rounding in the mean must not invent a skew
    g1, g2 = (0.0, 0.0) if constant and n else _sample_skew_kurt(v) if n else (math.nan, math.nan)
    big1 = g1 * math.sqrt(n * (n - 1)) / (n - 2) if n > 2 and not constant else math.nan
    big2 = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3)) if n > 3 and not constant else math.nan
    return {"skew": big1, "excess_kurtosis": big2, "skew_biased": g1, "excess_kurtosis_biased": g2}


# --------------------------------------------------------------------------------------------------
# filtered historical simulation
# --------------------------------------------------------------------------------------------------


def _ewma_filter(x: np.ndarray, lam: float = 0.94) -> tuple[np.ndarray, float]:
    """RiskMetrics variance filter (fallback): returns (sigma_t [T], next-day variance)."""
    var = np.empty(x.shape[0])
    v = float(np.mean(x**2))
    for t in range(x.shape[0]):
        var[t] = v
        v = lam * v + (1.0 - lam) * x[t] ** 2
    return np.sqrt(var), v


def _fit_garch(x: np.ndarray, mean: str) -> dict[str, Any]:
    """Fit GARCH(1,1) with normal innovations to one return series (scaled by 100 for the optimiser).

    Falls back to a RiskMetrics EWMA filter (``omega = 0, alpha = 0.06, beta = 0.94``) when the fit
    raises, does not converge, or gives non-finite / non-stationary parameters.
    """
    from arch import arch_model

    scale = 100.0
    y = x * scale
    info: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            am = arch_model(
                y, mean="Zero" if mean == "zero" else "Constant", vol="GARCH", p=1, q=1, dist="normal"
            )
            res = am.fit(disp="off", show_warning=False)
        p = res.params
        mu = float(p.get("mu", 0.0))
        omega, alpha, beta = float(p["omega"]), float(p["alpha[1]"]), float(p["beta[1]"])
        sig = np.asarray(res.conditional_volatility, dtype=float)
        ok = (
            res.convergence_flag == 0
            and all(math.isfinite(v) for v in (mu, omega, alpha, beta))
            and omega >= 0
            and alpha >= 0
            and beta >= 0
            and alpha + beta < 1.0
            and np.all(np.isfinite(sig))
            and np.all(sig > 0)
        )
        if ok:
            eps_last = y[-1] - mu
            next_var = omega + alpha * eps_last**2 + beta * sig[-1] ** 2
            info = {
                "model": "garch",
                "mu": mu / scale,
                "omega": omega / scale**2,
                "alpha": alpha,
                "beta": beta,
                "sigma": sig / scale,
                "next_var": next_var / scale**2,
            }
            return info
        reason = "GARCH fit did not converge or gave invalid parameters"
    except Exception as exc:  # noqa: BLE001 - any optimiser failure falls back
        reason = f"GARCH fit failed: {exc}"
    mu = float(x.mean()) if mean == "constant" else 0.0
    sig, next_var = _ewma_filter(x - mu)
    return {
        "model": "ewma_fallback",
        "reason": reason,
        "mu": mu,
        "omega": 0.0,
        "alpha": 0.06,
        "beta": 0.94,
        "sigma": sig,
        "next_var": next_var,
    }


def fhs_scenarios(
    returns: Any,
    horizon: int = 1,
    *,
    mean: str = "zero",
    n_sims: int | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Filtered historical simulation scenarios ``[S, N]`` of (h-day) asset returns.

    Per asset: GARCH(1,1) (``mean`` = ``"zero"`` or ``"constant"``), standardised residuals
    ``z_t = (r_t - mu) / sigma_t``.  Whole dates are kept together, so cross-asset dependence survives.

    * ``n_sims is None``: the T one-day scenarios ``mu + sigma_{T+1} z_t`` (one per historical date);
      ``horizon`` is ignored here and the caller scales by ``sqrt(h)``.
    * ``n_sims`` given: ``n_sims`` paths of ``horizon`` days, each day drawing one whole historical date
      of ``z`` with replacement, running the GARCH recursion forward; the scenario is the sum of daily
      returns over the path.

    Returns ``(scenarios, fits)`` where ``fits`` describes each asset's filter (``model`` is ``"garch"``
    or ``"ewma_fallback"`` with a ``reason``).
    """
    r = check_returns(returns, min_rows=10)
    h = check_horizon(horizon)
    if mean not in ("zero", "constant"):
        raise InvalidInput(f"fhs mean must be 'zero' or 'constant', got {mean!r}", field="returns")
    t, n = r.shape
    fits = [_fit_garch(r[:, i], mean) for i in range(n)]
    z = np.empty_like(r)
    for i, f in enumerate(fits):
        sig = f["sigma"]
        with np.errstate(divide="ignore", invalid="ignore"):
            z[:, i] = np.where(sig > 0, (r[:, i] - f["mu"]) / sig, 0.0)
    mu = np.array([f["mu"] for f in fits])
    next_var = np.array([f["next_var"] for f in fits])
    if n_sims is None:
        return mu + np.sqrt(next_var) * z, _public(fits)
    if isinstance(n_sims, bool) or int(n_sims) < 1:
        raise InvalidInput("n_sims must be a positive integer", field="returns")
    rng = np.random.default_rng(seed)
    omega = np.array([f["omega"] for f in fits])
    alpha = np.array([f["alpha"] for f in fits])
    beta = np.array([f["beta"] for f in fits])
    var = np.tile(next_var, (int(n_sims), 1))
    total = np.zeros_like(var)
    for _ in range(h):
        draw = z[rng.integers(0, t, size=int(n_sims))]
        eps = np.sqrt(var) * draw
        total += mu + eps
        var = omega + alpha * eps**2 + beta * var
    return total, _public(fits)


def _public(fits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.items() if k != "sigma"} for f in fits]


# --------------------------------------------------------------------------------------------------
# one entry point
# --------------------------------------------------------------------------------------------------


def _mean_vector(mean: Any, r: np.ndarray) -> np.ndarray:
    n = r.shape[1]
    if mean is None or mean is False:
        return np.zeros(n)
    if mean is True or (isinstance(mean, str) and mean == "sample"):
        return r.mean(axis=0)
    m = np.asarray(mean, dtype=float)
    if m.shape != (n,) or not np.all(np.isfinite(m)):
        raise InvalidInput(f"mean must be None, 'sample' or a finite vector of length {n}", field="returns")
    return m


def var_function(
    returns: Any, confidence: float = 0.99, horizon: int = 1, method: str = "historical", **options: Any
) -> tuple[Callable[[np.ndarray], tuple[float, float]], dict[str, Any]]:
    """Precompute what does not depend on positions; return ``(f, details)`` with ``f(w) -> (VaR, CVaR)``.

    Used by :func:`var_cvar` and by the decomposition module (finite differences, incremental VaR).
    Options are those of :func:`var_cvar`.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    r = check_returns(returns)
    details: dict[str, Any] = {"confidence": c, "horizon": h, "method": method}
    root_h = math.sqrt(h)

    if method in ("historical", "historical_ew"):
        weights = None
        if method == "historical_ew":
            lam = check_lam(options.get("lam", 0.99))
            weights = ew_weights(r.shape[0], lam)
            details["lam"] = lam
        elif options.get("weights") is not None:
            weights = _check_weights(options["weights"], r.shape[0])
        details["horizon_scaling"] = "sqrt"
        details["n_scenarios"] = r.shape[0]
        details["quantile_method"] = QUANTILE_METHOD

        def f_hist(w: np.ndarray) -> tuple[float, float]:
            v, cv = historical_var_cvar(r @ w, c, weights)
            return v * root_h, cv * root_h

        return f_hist, details

    if method == "fhs":
        n_sims = options.get("n_sims")
        scen, fits = fhs_scenarios(
            r, h, mean=options.get("mean", "zero") or "zero", n_sims=n_sims, seed=options.get("seed")
        )
        scale = root_h if n_sims is None else 1.0
        details.update(
            fits=fits,
            n_scenarios=scen.shape[0],
            horizon_scaling="sqrt" if n_sims is None else "simulated",
            quantile_method=QUANTILE_METHOD,
            fallbacks=[i for i, fi in enumerate(fits) if fi["model"] != "garch"],
        )
        details["scenarios"] = scen

        def f_fhs(w: np.ndarray) -> tuple[float, float]:
            v, cv = historical_var_cvar(scen @ w, c)
            return v * scale, cv * scale

        return f_fhs, details

    if method in ("normal", "t"):
        if options.get("covariance") is not None:
            s = check_covariance(options["covariance"], r.shape[1])
            details["covariance_method"] = "given"
        else:
            cm = options.get("cov_method", "sample")
            s = covariance(r, cm, options.get("lam", 0.94))
            details["covariance_method"] = cm
        mvec = _mean_vector(options.get("mean"), r)
        nu = check_nu(options.get("nu", 5.0)) if method == "t" else None
        details["covariance"] = s
        details["mean"] = mvec
        if nu is not None:
            details["nu"] = nu

        def f_par(w: np.ndarray) -> tuple[float, float]:
            sig = math.sqrt(max(float(w @ s @ w), 0.0))
            mu = float(mvec @ w)
            if nu is None:
                return normal_var_cvar(sig, c, h, mu)
            return student_t_var_cvar(sig, c, nu, h, mu)

        return f_par, details

    if method == "cornish_fisher":
        use_mean = options.get("mean")

        def f_cf(w: np.ndarray) -> tuple[float, float]:
            p = r @ w
            mu = float(p.mean()) if use_mean in (True, "sample") else 0.0
            sig = float(np.std(p, ddof=1))
            sk, ku = _sample_skew_kurt(p)
            return (
                cornish_fisher_var(sig, c, sk, ku, h, mu),
                cornish_fisher_cvar(sig, c, sk, ku, h, mu),
            )

        return f_cf, details

    raise InvalidInput(f"unknown method {method!r}; expected one of {', '.join(METHODS)}", field="method")


def var_cvar(
    returns: Any,
    positions: Any,
    confidence: float = 0.99,
    horizon: int = 1,
    method: str = "historical",
    **options: Any,
) -> dict[str, Any]:
    """VaR and CVaR (positive currency losses) of ``positions`` under ``returns [T, N]``.

    Methods and options:

    * ``"historical"``: plain historical simulation (optional ``weights [T]``).
    * ``"historical_ew"``: exponentially weighted historical simulation, ``lam`` (default 0.99).
    * ``"fhs"``: filtered historical simulation (GARCH(1,1) per asset); ``mean`` ("zero" | "constant"),
      ``n_sims`` and ``seed`` for simulated h-day paths (otherwise sqrt(h) scaling of 1-day scenarios).
    * ``"normal"`` / ``"t"``: parametric with covariance ``covariance`` (explicit matrix) or estimated
      with ``cov_method`` ("sample" | "ewma") and ``lam`` (default 0.94); ``mean`` None (zero, default),
      "sample" or a vector; ``nu`` (default 5) for the t.
    * ``"cornish_fisher"``: modified VaR from the sample std, skewness and excess kurtosis of the
      portfolio return series; ``mean`` None (zero) or "sample"; CVaR = CF quantile averaged over the tail.

    Returns ``{"var", "cvar", "method", "confidence", "horizon", ...details}``.
    """
    r = check_returns(returns)
    w = check_positions(positions, r.shape[1])
    f, details = var_function(r, confidence, horizon, method, **options)
    v, cv = f(w)
    out = dict(details)
    out.pop("scenarios", None)
    if "covariance" in out:
        out["covariance"] = out["covariance"].tolist()
        out["mean"] = out["mean"].tolist()
        out["sigma"] = math.sqrt(max(float(w @ np.asarray(out["covariance"]) @ w), 0.0))
    if method == "cornish_fisher":
        p = r @ w
        out.update(sigma=float(np.std(p, ddof=1)), moments="cornish_fisher uses the *_biased (moment) estimators",
                   **sample_moments(p))
    out.update(var=v, cvar=cv)
    return out
