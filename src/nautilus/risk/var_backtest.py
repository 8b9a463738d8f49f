"""VaR backtesting: Kupiec POF, Christoffersen independence / conditional coverage, Basel traffic light.

Conventions
-----------
* VaR is a POSITIVE loss amount at confidence ``c``; day ``t`` is an *exception* when
  ``pnl[t] < -var[t]`` (strictly worse than the VaR loss; a loss exactly equal to VaR is not an exception).
* Expected exception probability ``p = 1 - c``.
* Likelihood ratios use the convention ``0 * log(0) = 0`` (``scipy.special.xlogy``), so the edge cases
  are finite, never NaN:

  - 0 exceptions: ``LR_pof = -2 n log(1 - p)``;
  - all ``n`` days exceptions: ``LR_pof = -2 n log(p)``;
  - Christoffersen with no exceptions, all exceptions, or no transitions out of an exception state:
    the missing transition probabilities are set to 0 (their counts are 0, so their terms vanish);
    with 0 or all exceptions ``LR_ind = 0`` (p-value 1).

  Statistics are clipped at 0 (round-off can make them -1e-16).
* Conditional coverage ``LR_cc = LR_pof + LR_ind`` ~ chi2(2), with ``LR_pof`` computed on the full
  series (``n`` days) and ``LR_ind`` on its ``n - 1`` transitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import xlogy
from scipy.stats import binom, chi2

from nautilus.core.errors import InvalidInput

__all__ = [
    "BacktestResult",
    "ChristoffersenResult",
    "VarException",
    "KupiecResult",
    "christoffersen",
    "kupiec_pof",
    "rolling_var_backtest",
    "traffic_light",
    "traffic_light_thresholds",
]

Zone = Literal["green", "yellow", "red"]


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0) or not math.isfinite(c):
        raise InvalidInput("confidence must be in (0, 1)", field="confidence")
    return c


def _nonneg(v) -> float:
    v = float(v)
    return v if v > 0.0 else 0.0  # clips round-off negatives and -0.0


@dataclass(frozen=True)
class KupiecResult:
    exceptions: int
    n: int
    expected: float  # n * (1 - c)
    rate: float  # exceptions / n
    lr: float
    p_value: float


def kupiec_pof(exceptions: int, n: int, confidence: float) -> KupiecResult:
    """Kupiec (1995) proportion-of-failures test.

    ``LR = -2 [ (n-x) log(1-p) + x log(p) ] + 2 [ (n-x) log(1-x/n) + x log(x/n) ]`` ~ chi2(1),
    with ``p = 1 - confidence`` and ``0 log 0 = 0``.
    """
    c = _check_confidence(confidence)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InvalidInput("n must be an integer >= 1", field="n")
    if isinstance(exceptions, bool) or int(exceptions) != exceptions or not (0 <= exceptions <= n):
        raise InvalidInput("exceptions must be an integer in [0, n]", field="exceptions")
    n, x = int(n), int(exceptions)
    p = 1.0 - c
    phat = x / n
    ll0 = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    ll1 = xlogy(n - x, 1.0 - phat) + xlogy(x, phat)
    lr = _nonneg(-2.0 * (ll0 - ll1))
    return KupiecResult(x, n, n * p, phat, lr, float(chi2.sf(lr, 1)))


@dataclass(frozen=True)
class ChristoffersenResult:
    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float
    pi: float
    lr_ind: float
    p_value_ind: float
    lr_cc: float | None = None  # only when a confidence is given
    p_value_cc: float | None = None


def _as_exceptions(series) -> np.ndarray:
    a = np.asarray(series)
    if a.ndim != 1:
        raise InvalidInput("exception_series must be 1-D", field="exception_series")
    if a.dtype != bool:
        if a.dtype.kind not in "iuf" or not np.all(np.isin(a, (0, 1))):
            raise InvalidInput("exception_series must hold booleans or 0/1", field="exception_series")
        a = a.astype(bool)
    return a


def christoffersen(exception_series, confidence: float | None = None) -> ChristoffersenResult:
    """Christoffersen (1998) independence test from the 2x2 transition counts (and conditional coverage).

    ``n_ij`` = number of days with state i followed by state j (1 = exception), over the n-1 transitions.
    ``pi01 = n01/(n00+n01)``, ``pi11 = n11/(n10+n11)``, ``pi = (n01+n11)/(n00+n01+n10+n11)``;
    ``LR_ind = -2 [ (n00+n10) log(1-pi) + (n01+n11) log(pi) ]
    + 2 [ n00 log(1-pi01) + n01 log(pi01) + n10 log(1-pi11) + n11 log(pi11) ]`` ~ chi2(1).
    With ``confidence``: ``LR_cc = LR_pof(x, n) + LR_ind`` ~ chi2(2).
    """
    e = _as_exceptions(exception_series)
    if e.shape[0] < 2:
        raise InvalidInput("exception_series needs at least 2 observations", field="exception_series")
    prev, nxt = e[:-1], e[1:]
    n01 = int(np.sum(~prev & nxt))
    n10 = int(np.sum(prev & ~nxt))
    n11 = int(np.sum(prev & nxt))
    n00 = int(e.shape[0] - 1 - n01 - n10 - n11)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll0 = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    ll1 = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    lr_ind = _nonneg(-2.0 * (ll0 - ll1))
    p_ind = float(chi2.sf(lr_ind, 1))
    if confidence is None:
        return ChristoffersenResult(n00, n01, n10, n11, pi01, pi11, pi, lr_ind, p_ind)
    pof = kupiec_pof(int(e.sum()), int(e.shape[0]), confidence)
    lr_cc = pof.lr + lr_ind
    return ChristoffersenResult(n00, n01, n10, n11, pi01, pi11, pi, lr_ind, p_ind, lr_cc,
                                float(chi2.sf(lr_cc, 2)))


def traffic_light_thresholds(n: int = 250, confidence: float = 0.99, *, yellow_at: float = 0.95,
                             red_at: float = 0.9999) -> tuple[int, int]:
    """First exception counts of the yellow and red zones: ``(yellow_from, red_from)``.

    Generalises the Basel Committee table: with ``X ~ Binomial(n, 1 - confidence)``, ``x`` exceptions
    are green while ``P(X <= x) < yellow_at`` (95%), yellow while ``P(X <= x) < red_at`` (99.99%),
    red otherwise. For n=250, c=99% this gives green 0-4, yellow 5-9, red 10+ (the Basel zones:
    P(X<=4)=89.22%, P(X<=5)=95.88%, P(X<=9)=99.97%, P(X<=10)=99.99%).
    """
    c = _check_confidence(confidence)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InvalidInput("n must be an integer >= 1", field="n")
    if not (0.0 < yellow_at < red_at <= 1.0):
        raise InvalidInput("need 0 < yellow_at < red_at <= 1", field="yellow_at")
    ks = np.arange(int(n) + 2)
    cdf = binom.cdf(ks, int(n), 1.0 - c)
    cdf[-1] = 1.0  # x = n + 1 is impossible; sentinel so searchsorted always finds a zone start
    # tiny tolerance: the Basel 99.99% row is a rounded number
    yellow = int(np.argmax(cdf >= yellow_at - 1e-12))
    red = int(np.argmax(cdf >= red_at - 1e-12))
    return yellow, red


def traffic_light(exceptions: int, n: int = 250, confidence: float = 0.99) -> Zone:
    """Basel traffic-light zone for ``exceptions`` in ``n`` days at ``confidence`` (see the thresholds)."""
    if isinstance(exceptions, bool) or int(exceptions) != exceptions or exceptions < 0:
        raise InvalidInput("exceptions must be an integer >= 0", field="exceptions")
    yellow, red = traffic_light_thresholds(n, confidence)
    if exceptions >= red:
        return "red"
    if exceptions >= yellow:
        return "yellow"
    return "green"


@dataclass(frozen=True)
class VarException:
    """One VaR exception: day index, realised P&L and the VaR that was breached."""

    index: int
    pnl: float
    var: float


@dataclass(frozen=True)
class BacktestResult:
    var: np.ndarray  # [T], NaN for the first `window` days (no out-of-sample forecast)
    exceptions: list[VarException]
    exception_series: np.ndarray  # [T - window] booleans for the tested days
    n: int  # tested days = T - window
    kupiec: KupiecResult
    christoffersen: ChristoffersenResult | None  # None when n < 2
    zone: Zone
    confidence: float
    window: int


def rolling_var_backtest(pnl, var_fn: Callable[[np.ndarray], float], window: int,
                         confidence: float) -> BacktestResult:
    """Out-of-sample rolling VaR backtest.

    For every day ``t >= window``: ``var[t] = var_fn(pnl[t-window:t])`` (a COPY of the previous
    ``window`` days only, so ``var_fn`` cannot see day ``t`` or later); ``var[:window]`` is NaN.
    ``var_fn`` returns the positive VaR at ``confidence`` (it closes over the confidence itself).
    Day t is an exception when ``pnl[t] < -var[t]``. Then Kupiec POF, Christoffersen (with conditional
    coverage) and the traffic-light zone (thresholds generalised to ``n = T - window`` days) are computed
    on the tested days.
    """
    c = _check_confidence(confidence)
    x = np.asarray(pnl, dtype=float)
    if x.ndim != 1:
        raise InvalidInput("pnl must be 1-D", field="pnl")
    if not np.all(np.isfinite(x)):
        raise InvalidInput("pnl must be finite", field="pnl")
    if isinstance(window, bool) or int(window) != window or window < 1:
        raise InvalidInput("window must be an integer >= 1", field="window")
    window = int(window)
    n_obs = x.shape[0]
    if n_obs <= window:
        raise InvalidInput(f"pnl needs more than window={window} observations", field="pnl")
    if not callable(var_fn):
        raise InvalidInput("var_fn must be callable", field="var_fn")
    var = np.full(n_obs, np.nan)
    for t in range(window, n_obs):
        v = float(var_fn(x[t - window:t].copy()))
        if not math.isfinite(v):
            raise InvalidInput(f"var_fn returned a non-finite VaR at day {t}", field="var_fn")
        var[t] = v
    tested = x[window:] < -var[window:]
    exc = [VarException(int(t), float(x[t]), float(var[t])) for t in np.flatnonzero(tested) + window]
    n = n_obs - window
    k = kupiec_pof(len(exc), n, c)
    ch = christoffersen(tested, c) if n >= 2 else None
    return BacktestResult(var, exc, tested, n, k, ch, traffic_light(len(exc), n, c), c, window)
