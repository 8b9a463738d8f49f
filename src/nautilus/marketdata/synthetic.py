"""Deterministic synthetic bars: GBM, GARCH(1,1) with Merton jumps, correlated GBM, the demo universe.

Contract: a generator's output depends only on its arguments (``seed`` feeds one
``numpy.random.Generator``); nothing global is read or written. Close-to-close log returns are
simulated with ``mu``/``sigma`` annualised over ``dt = timeframe / 365.25 days``; the first open is
``s0`` and every later open is the previous close; high and low are the max and min of a Brownian
bridge from log open to log close with the bar's variance (drawn exactly from their closed-form
distributions), so every bar passes ingest validation: prices > 0, high >= max(open, close),
low <= min(open, close), volume >= 0. Volumes are rounded lognormal draws with mean ``volume_mean``.
Timestamps are consecutive multiples of the timeframe from ``start_ns``; ``sessions="weekdays"``
drops bars opening on a Saturday or Sunday (UTC). ``sessions`` may also name a trading calendar
(:mod:`nautilus.core.calendars`: ``XNYS``, ``XLON``, ..., ``24/7``, ``24/5``): under an exchange calendar
daily bars are its sessions from ``start_ns``'s date on (no weekend or holiday bars) and intraday bars are
the UTC buckets of the timeframe (counted from the epoch) that overlap a session, so an early close
shortens its day. Weekly bars are trading weeks stamped at their Monday (under an exchange calendar, weeks
with no session are skipped).

``garch_nb`` is the variance recursion kernel (``@njit(cache=True)``, NumPy arrays only).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from numba import njit

from nautilus.core.bars import Bars
from nautilus.core.calendars import (
    ALWAYS,
    DEFAULT_EQUITY_CALENDAR,
    WEEKDAYS,
    calendar_for,
    check_calendar,
    instrument_kind,
    session_bar_opens,
)
from nautilus.core.calendars import sessions as calendar_sessions
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import calendar_months, timeframe_ns, week_count, week_floor
from nautilus.marketdata.resample import resample

Sessions = str  # "24x7", "weekdays" or a calendar name (nautilus.core.calendars)
DAY_NS = 86_400_000_000_000
YEAR_NS = 365.25 * DAY_NS
SAMPLE_END_NS = 1_767_225_600_000_000_000  # 2026-01-01 00:00 UTC: the demo data ends here
_VOLUME_SIGMA = 0.5  # log-volume dispersion
_CRYPTO = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC")
_CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD"})


def gbm_bars(
    symbol: str,
    timeframe: str,
    start_ns: int,
    n: int,
    *,
    seed: int,
    s0: float = 100.0,
    mu: float = 0.05,
    sigma: float = 0.2,
    volume_mean: float = 1e6,
    sessions: Sessions = "24x7",
) -> Bars:
    """Geometric Brownian motion: log returns ~ N((mu - sigma^2/2) dt, sigma^2 dt)."""
    ts = bar_times(timeframe, start_ns, n, sessions)
    _check_finite(mu=mu)
    _check_nonnegative(sigma=sigma, volume_mean=volume_mean)
    dt = timeframe_ns(timeframe) / YEAR_NS
    rng = np.random.default_rng(seed)
    log_ret = (mu - sigma**2 / 2) * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)
    return _bars(symbol, timeframe, ts, s0, log_ret, np.full(n, sigma**2 * dt), rng, volume_mean)


def garch_bars(
    symbol: str,
    timeframe: str,
    start_ns: int,
    n: int,
    *,
    seed: int,
    omega: float | None = None,
    alpha: float = 0.05,
    beta: float = 0.9,
    s0: float = 100.0,
    mu: float = 0.05,
    sigma: float = 0.2,
    jump_intensity: float = 0.0,
    jump_mean: float = 0.0,
    jump_std: float = 0.0,
    volume_mean: float = 1e6,
    sessions: Sessions = "24x7",
) -> Bars:
    """GARCH(1,1) diffusion plus Merton compound-Poisson jumps in the log price.

    ``omega`` is in per-bar variance units: h_t = omega + alpha * eps_{t-1}^2 + beta * h_{t-1}, started
    at the unconditional variance omega / (1 - alpha - beta). When ``omega`` is None it is
    sigma^2 dt (1 - alpha - beta), i.e. ``sigma`` is the long-run annualised volatility; a given
    ``omega`` takes precedence and ``sigma`` is not used. ``jump_intensity`` is jumps per year; each
    jump adds N(jump_mean, jump_std^2) to the log return. The drift is compensated (-h_t/2 and
    -intensity * (E[e^J] - 1) * dt) so that E[S_t+1 / S_t] = exp(mu dt).
    """
    ts = bar_times(timeframe, start_ns, n, sessions)
    _check_finite(mu=mu, jump_mean=jump_mean)
    _check_nonnegative(
        alpha=alpha, beta=beta, jump_intensity=jump_intensity, jump_std=jump_std, volume_mean=volume_mean
    )
    if alpha + beta >= 1:
        raise InvalidInput(f"alpha + beta = {alpha + beta} must be < 1 for a stationary GARCH", field="beta")
    dt = timeframe_ns(timeframe) / YEAR_NS
    if omega is None:
        _check_positive(sigma=sigma)
        omega = sigma**2 * dt * (1 - alpha - beta)
    _check_positive(omega=omega)
    rng = np.random.default_rng(seed)
    eps, h = garch_nb(rng.standard_normal(n), omega, alpha, beta)
    counts = rng.poisson(jump_intensity * dt, n)
    jumps = counts * jump_mean + np.sqrt(counts) * jump_std * rng.standard_normal(n)
    compensator = jump_intensity * np.expm1(jump_mean + jump_std**2 / 2) * dt
    log_ret = mu * dt - h / 2 - compensator + eps + jumps
    return _bars(symbol, timeframe, ts, s0, log_ret, h, rng, volume_mean)


def correlated_bars(
    symbols: Sequence[str],
    timeframe: str,
    start_ns: int,
    n: int,
    *,
    corr: np.ndarray | Sequence[Sequence[float]],
    mus: Sequence[float],
    sigmas: Sequence[float],
    seed: int,
    s0: float | Sequence[float] = 100.0,
    volume_mean: float = 1e6,
    sessions: Sessions = "24x7",
) -> list[Bars]:
    """Correlated GBMs: per-bar log returns are multivariate normal with correlation ``corr``."""
    k = len(symbols)
    if k == 0 or len(set(symbols)) != k:
        raise InvalidInput("symbols must be a non-empty list of distinct names", field="symbols")
    factor = _corr_factor(corr, k)
    mu, sigma = _vector(mus, k, "mus"), _vector(sigmas, k, "sigmas")
    starts = _vector(s0, k, "s0") if np.ndim(s0) else np.full(k, float(s0))
    _check_finite(**{f"mus[{j}]": m for j, m in enumerate(mu)})
    _check_nonnegative(**{f"sigmas[{j}]": s for j, s in enumerate(sigma)}, volume_mean=volume_mean)
    ts = bar_times(timeframe, start_ns, n, sessions)
    dt = timeframe_ns(timeframe) / YEAR_NS
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k)) @ factor.T
    log_ret = (mu - sigma**2 / 2) * dt + sigma * np.sqrt(dt) * z
    return [
        _bars(
            symbols[j],
            timeframe,
            ts,
            starts[j],
            log_ret[:, j],
            np.full(n, sigma[j] ** 2 * dt),
            rng,
            volume_mean,
        )
        for j in range(k)
    ]


def bar_times(timeframe: str, start_ns: int, n: int, sessions: Sessions = "24x7") -> np.ndarray:
    """The first ``n`` open times start_ns + i * timeframe that fall in ``sessions``."""
    step = timeframe_ns(timeframe)
    if calendar_months(timeframe) is not None:
        raise InvalidInput(f"synthetic series step by a fixed length: {timeframe!r} is a calendar timeframe "
                           "(generate daily bars and resample them)", field="timeframe")
    if not isinstance(n, int | np.integer) or n < 0:
        raise InvalidInput(f"n must be a non-negative integer, got {n!r}", field="n")
    if sessions not in ("24x7", "weekdays"):
        try:
            calendar = check_calendar(sessions)
        except InvalidInput:
            raise InvalidInput(f"sessions {sessions!r} is not valid: use '24x7', 'weekdays' or a calendar name "
                               "(XNYS, 24/7, 24/5, ...)", field="sessions") from None
        return _calendar_times(timeframe, start_ns, n, calendar)
    if sessions == "24x7":
        if week_count(timeframe) is not None:  # trading weeks: stamped at their Monday
            return _calendar_times(timeframe, start_ns, n, ALWAYS)
        return start_ns + np.arange(n, dtype=np.int64) * step
    if step > DAY_NS:
        raise InvalidInput(
            f"sessions 'weekdays' needs a timeframe of at most 1d, got {timeframe!r}", field="sessions"
        )
    candidates = n + n // 2 + 4 * (DAY_NS // step) + 8
    while True:
        times = start_ns + np.arange(candidates, dtype=np.int64) * step
        times = times[is_weekday(times)]
        if len(times) >= n:
            return times[:n]
        candidates *= 2


def _calendar_times(timeframe: str, start_ns: int, n: int, calendar: str) -> np.ndarray:
    """The first ``n`` bar stamps at or after ``start_ns`` (daily and longer: from its date) under ``calendar``."""
    step = timeframe_ns(timeframe)
    weeks = week_count(timeframe)
    if weeks is not None:
        first = int(week_floor(np.array([start_ns]), weeks)[0])
        first += step if first < start_ns // DAY_NS * DAY_NS else 0
        if calendar == ALWAYS:
            return first + np.arange(n, dtype=np.int64) * step
    elif step > DAY_NS:
        raise InvalidInput(f"sessions {calendar!r} needs a timeframe of at most 1d or whole weeks, got {timeframe!r}",
                           field="sessions")
    if calendar in (ALWAYS, WEEKDAYS) and weeks is None:
        return bar_times(timeframe, start_ns, n, "24x7" if calendar == ALWAYS else "weekdays")
    day0 = start_ns // DAY_NS * DAY_NS
    span = (n * step // DAY_NS + 1) * 2 + 14  # calendar days that surely hold n bars (doubled when not)
    while True:
        end = day0 + span * DAY_NS
        if weeks is not None:
            days = calendar_sessions(calendar, day0, end)
            times = np.unique(week_floor(days, weeks))
            times = times[times >= first]
        elif step == DAY_NS:
            times = calendar_sessions(calendar, day0, end)
        else:
            times = session_bar_opens(calendar, step, day0, end)
            times = times[times >= start_ns]
        if len(times) >= n or end > 7_258_118_400 * 10**9:
            return times[:n]
        span *= 2


def is_weekday(ts: np.ndarray) -> np.ndarray:
    """True where the UTC calendar day of ``ts`` is Monday..Friday (1970-01-01 was a Thursday)."""
    return (ts // DAY_NS + 3) % 7 < 5


def sample_universe(
    symbols: Sequence[str],
    seed: int = 7,
    n_days: int = 1095,
    *,
    end_ns: int = SAMPLE_END_NS,
    intraday: Sequence[str] | None = None,
) -> dict[tuple[str, str], Bars]:
    """Demo data: 1d bars over the ``n_days`` calendar days before ``end_ns`` for every symbol, plus 1m
    bars for the last 5 session days of each ``intraday`` symbol (default: the first two).

    Crypto pairs (BTC..., ETH...) trade 24x7 with GARCH volatility and jumps; currency pairs (EURUSD)
    trade weekdays (``24/5``) with low volatility; everything else is an equity on the XNYS calendar
    (sessions, holidays and early closes), correlated through one market factor. The 1d bars of the
    intraday days are the 1m bars resampled by the calendar's sessions, so both agree.
    """
    if not isinstance(n_days, int) or n_days < 10:  # 10 days hold the 6 weekdays the 1m bars need
        raise InvalidInput(f"n_days must be an integer >= 10, got {n_days!r}", field="n_days")
    if not symbols or len(set(symbols)) != len(symbols):
        raise InvalidInput("symbols must be a non-empty list of distinct names", field="symbols")
    intraday = list(symbols[:2] if intraday is None else intraday)
    unknown = sorted(set(intraday) - set(symbols))
    if unknown:
        raise InvalidInput(f"intraday symbols {unknown} are not in symbols", field="intraday")
    start_ns = end_ns // DAY_NS * DAY_NS - n_days * DAY_NS
    daily = _sample_daily(list(symbols), start_ns, n_days, seed)
    out: dict[tuple[str, str], Bars] = {(s, "1d"): b for s, b in daily.items()}
    for symbol in intraday:
        minutes = _sample_minutes(daily[symbol], _seed(seed, symbol, "1m"))
        out[(symbol, "1m")] = minutes
        daily_minutes = resample(minutes, "1d", calendar=calendar_for(symbol))
        out[(symbol, "1d")] = _concat(daily[symbol].slice(0, len(daily[symbol]) - 5), daily_minutes)
    return out


# --- building bars ----------------------------------------------------------------------------------


def _bars(
    symbol: str,
    timeframe: str,
    ts: np.ndarray,
    s0: float,
    log_ret: np.ndarray,
    bar_var: np.ndarray,
    rng: np.random.Generator,
    volume_mean: float,
) -> Bars:
    """OHLCV from close-to-close log returns; high/low from the Brownian bridge max/min with ``bar_var``.

    P(max > m | open a, close b) = exp(-2 (m - a)(m - b) / var), so with E ~ Exp(1) the max is
    (a + b + sqrt((b - a)^2 + 2 var E)) / 2 and the min mirrors it.
    """
    _check_positive(s0=s0)
    n = len(ts)
    log_close = np.log(s0) + np.cumsum(log_ret)
    log_open = np.concatenate(([np.log(s0)], log_close[:-1]))[:n]  # n == 0: no bars, no open
    reach = np.sqrt((log_close - log_open) ** 2 + 2 * bar_var * rng.standard_exponential((2, n)))
    open_, close = np.exp(log_open), np.exp(log_close)
    open_[:1] = s0  # exactly s0, not exp(log(s0))
    high = np.maximum(np.exp((log_open + log_close + reach[0]) / 2), np.maximum(open_, close))
    low = np.minimum(np.exp((log_open + log_close - reach[1]) / 2), np.minimum(open_, close))
    log_volume = np.log(volume_mean) - _VOLUME_SIGMA**2 / 2 if volume_mean > 0 else -np.inf
    volume = np.round(np.exp(log_volume + _VOLUME_SIGMA * rng.standard_normal(n)))
    return Bars(
        symbol=symbol, timeframe=timeframe, ts=ts, open=open_, high=high, low=low, close=close, volume=volume
    )


@njit(cache=True)
def garch_nb(z, omega, alpha, beta):  # pragma: no cover
    """Innovations eps_t = sqrt(h_t) z_t and variances h_t of GARCH(1,1), h_0 = omega / (1 - alpha - beta)."""
    n = z.shape[0]
    eps = np.empty(n)
    h = np.empty(n)
    variance = omega / (1.0 - alpha - beta)
    shock2 = variance
    for t in range(n):
        variance = omega + alpha * shock2 + beta * variance if t > 0 else variance
        h[t] = variance
        eps[t] = np.sqrt(variance) * z[t]
        shock2 = eps[t] * eps[t]
    return eps, h


def _corr_factor(corr: np.ndarray | Sequence[Sequence[float]], k: int) -> np.ndarray:
    """A matrix L with L @ L.T == corr after checking corr is a k x k symmetric PSD unit-diagonal matrix."""
    c = np.asarray(corr, dtype=np.float64)
    if c.shape != (k, k) or not np.isfinite(c).all():
        raise InvalidInput(
            f"corr must be a finite {k}x{k} matrix (one row per symbol), got shape {c.shape}", field="corr"
        )
    if not np.allclose(c, c.T, rtol=0.0, atol=1e-10):
        raise InvalidInput("corr must be symmetric", field="corr")
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=1e-10):
        raise InvalidInput(f"corr must have a unit diagonal, got {np.diag(c).tolist()}", field="corr")
    eigenvalues, vectors = np.linalg.eigh(c)
    if eigenvalues[0] < -1e-10:
        raise InvalidInput(
            f"corr must be positive semi-definite (smallest eigenvalue {eigenvalues[0]:.3g})", field="corr"
        )
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:  # singular but PSD: use the symmetric square root
        return vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))


def _vector(values: float | Sequence[float], k: int, field: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (k,) or not np.isfinite(v).all():
        raise InvalidInput(f"{field} must hold {k} finite numbers (one per symbol)", field=field)
    return v


def _check_finite(**values: float) -> None:
    for field, value in values.items():
        if not np.isfinite(value):
            raise InvalidInput(f"{field} must be a finite number, got {value!r}", field=field)


def _check_positive(**values: float) -> None:
    for field, value in values.items():
        if not (np.isfinite(value) and value > 0):
            raise InvalidInput(f"{field} must be a finite number > 0, got {value!r}", field=field)


def _check_nonnegative(**values: float) -> None:
    for field, value in values.items():
        if not (np.isfinite(value) and value >= 0):
            raise InvalidInput(f"{field} must be a finite number >= 0, got {value!r}", field=field)


# --- the demo universe ------------------------------------------------------------------------------


def _kind(symbol: str) -> str:
    return instrument_kind(symbol)


def _seed(seed: int, *tags: str) -> int:
    """A stream seed for ``tags`` (stable across runs and platforms, independent of symbol order)."""
    entropy = [seed, *(zlib.crc32(tag.encode()) for tag in tags)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _sample_daily(symbols: list[str], start_ns: int, n_days: int, seed: int) -> dict[str, Bars]:
    days = start_ns + np.arange(n_days, dtype=np.int64) * DAY_NS
    n_weekdays = int(is_weekday(days).sum())
    n_sessions = len(calendar_sessions(DEFAULT_EQUITY_CALENDAR, start_ns, start_ns + n_days * DAY_NS))
    equities = [s for s in symbols if _kind(s) == "equity"]
    rng = np.random.default_rng(_seed(seed, "equity-params", *equities))
    out: dict[str, Bars] = {}
    if equities:
        k = len(equities)
        loading = rng.uniform(0.4, 0.8, k)
        corr = np.outer(loading, loading)
        np.fill_diagonal(corr, 1.0)
        bars = correlated_bars(
            equities,
            "1d",
            start_ns,
            n_sessions,
            corr=corr,
            mus=rng.uniform(0.04, 0.12, k),
            sigmas=rng.uniform(0.18, 0.35, k),
            s0=rng.uniform(40, 400, k).round(2).tolist(),
            seed=_seed(seed, "equities", *equities),
            volume_mean=5e6,
            sessions=DEFAULT_EQUITY_CALENDAR,
        )
        out.update(zip(equities, bars, strict=True))
    for symbol in symbols:
        stream = _seed(seed, symbol, "1d")
        if _kind(symbol) == "crypto":
            out[symbol] = garch_bars(
                symbol,
                "1d",
                start_ns,
                n_days,
                seed=stream,
                s0=_crypto_s0(symbol),
                mu=0.3,
                sigma=0.65,
                alpha=0.08,
                beta=0.82,
                jump_intensity=6.0,
                jump_mean=-0.01,
                jump_std=0.05,
                volume_mean=2e4,
            )
        elif _kind(symbol) == "fx":
            s0 = 150.0 if symbol.upper().endswith("JPY") else 1.1
            out[symbol] = gbm_bars(
                symbol,
                "1d",
                start_ns,
                n_weekdays,
                seed=stream,
                s0=s0,
                mu=0.0,
                sigma=0.07,
                volume_mean=1e5,
                sessions="weekdays",
            )
    return {s: out[s] for s in symbols}


def _crypto_s0(symbol: str) -> float:
    return {"BTC": 40_000.0, "ETH": 2_500.0}.get(symbol.upper()[:3], 50.0)


def _sample_minutes(daily: Bars, seed: int) -> Bars:
    """1m bars over the last 5 daily bars' sessions (of the symbol's calendar) from the close before them, with
    the daily variance."""
    log_ret = np.diff(np.log(daily.close))
    sigma = float(np.std(log_ret) * np.sqrt(YEAR_NS / DAY_NS))
    calendar = calendar_for(daily.symbol)
    sessions: Sessions = {ALWAYS: "24x7", WEEKDAYS: "weekdays"}.get(calendar, calendar)
    n = len(session_bar_opens(calendar, 60 * 10**9, int(daily.ts[-5]), int(daily.ts[-1]) + DAY_NS))
    return gbm_bars(
        daily.symbol,
        "1m",
        int(daily.ts[-5]),
        n,
        seed=seed,
        s0=float(daily.close[-6]),
        mu=0.0,
        sigma=sigma,
        volume_mean=float(np.mean(daily.volume)) / 1440,
        sessions=sessions,
    )


def _concat(head: Bars, tail: Bars) -> Bars:
    return Bars(
        symbol=head.symbol,
        timeframe=head.timeframe,
        ts=np.concatenate([head.ts, tail.ts]),
        **{
            c: np.concatenate([getattr(head, c), getattr(tail, c)])
            for c in ("open", "high", "low", "close", "volume")
        },
    )
