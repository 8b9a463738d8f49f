"""Synthetic generators: determinism, ingest-valid bars, and moments against closed forms.

Tolerances are 4 standard errors computed from the sample size (seeds are fixed, so the tests are
deterministic; the bounds say how far a correct generator could plausibly land).
"""

from __future__ import annotations

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput
from nautilus.engines.marketdata.ingest import parse_bars
from nautilus.marketdata.resample import resample
from nautilus.marketdata.synthetic import (
    DAY_NS,
    YEAR_NS,
    bar_times,
    correlated_bars,
    garch_bars,
    gbm_bars,
    is_weekday,
    sample_universe,
)

START = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC, a Monday
DT_1D = DAY_NS / YEAR_NS
SYMBOLS = ["AAPL", "MSFT", "SPY", "BTCUSD", "EURUSD"]


def log_returns(bars: Bars, s0: float) -> np.ndarray:
    return np.diff(np.log(np.concatenate(([s0], bars.close))))


def assert_same(a: Bars, b: Bars) -> None:
    for name in ("ts", *COLUMNS):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def roundtrip_csv(bars: Bars) -> Bars:
    data = bars.to_pandas().to_csv().encode()
    return parse_bars(data, fmt="csv", symbol=bars.symbol, timeframe=bars.timeframe)


def make_all(seed: int) -> list[Bars]:
    corr = [[1.0, 0.5], [0.5, 1.0]]
    return [
        gbm_bars("G", "1h", START, 500, seed=seed),
        garch_bars(
            "H",
            "1d",
            START,
            500,
            seed=seed,
            omega=1e-5,
            alpha=0.1,
            beta=0.85,
            jump_intensity=20,
            jump_mean=-0.02,
            jump_std=0.05,
        ),
        *correlated_bars(
            ["A", "B"], "1m", START, 500, corr=corr, mus=[0.1, 0.0], sigmas=[0.2, 0.4], seed=seed
        ),
    ]


# --- determinism and validity -------------------------------------------------------------------------


def test_same_seed_same_bars_and_different_seed_different_bars():
    first, again, other = make_all(11), make_all(11), make_all(12)
    for a, b, c in zip(first, again, other, strict=True):
        assert_same(a, b)
        assert np.array_equal(a.ts, c.ts) and not np.array_equal(a.close, c.close)
    assert_same(sample_universe(SYMBOLS)[("BTCUSD", "1d")], sample_universe(SYMBOLS)[("BTCUSD", "1d")])
    assert not np.array_equal(
        sample_universe(SYMBOLS, seed=8)[("AAPL", "1d")].close, sample_universe(SYMBOLS)[("AAPL", "1d")].close
    )


def test_every_generated_bar_passes_ingest_and_round_trips_exactly():
    volatile = garch_bars(
        "V",
        "1d",
        START,
        2000,
        seed=3,
        s0=1.0,
        omega=1e-3,
        alpha=0.2,
        beta=0.75,
        jump_intensity=100,
        jump_mean=0.0,
        jump_std=0.2,
    )
    for bars in [*make_all(5), volatile, *sample_universe(SYMBOLS).values()]:
        assert_same(roundtrip_csv(bars), bars)
        assert np.array_equal(bars.open[1:], bars.close[:-1])


def test_first_open_is_s0_and_timestamps_step_by_the_timeframe():
    bars = gbm_bars("G", "15m", START, 100, seed=1, s0=123.45)
    assert bars.open[0] == 123.45
    assert np.array_equal(bars.ts, START + np.arange(100) * 15 * 60_000_000_000)
    assert len(gbm_bars("G", "1d", START, 0, seed=1)) == 0


def test_weekday_sessions_skip_weekends():
    friday_late = START + 4 * DAY_NS + 1438 * 60_000_000_000  # Friday 23:58
    ts = bar_times("1m", friday_late, 4, "weekdays")
    monday = START + 7 * DAY_NS
    assert ts.tolist() == [friday_late, friday_late + 60_000_000_000, monday, monday + 60_000_000_000]
    daily = gbm_bars("G", "1d", START, 300, seed=1, sessions="weekdays").ts
    assert is_weekday(daily).all() and len(daily) == 300
    assert pd.DatetimeIndex(pd.to_datetime(daily, unit="ns")).day_of_week.max() == 4
    assert set(np.diff(daily) // DAY_NS) == {1, 3}


# --- statistics against closed forms ------------------------------------------------------------------


def test_gbm_log_return_mean_and_std():
    n, mu, sigma = 200_000, 0.1, 0.3
    r = log_returns(gbm_bars("G", "1d", START, n, seed=42, mu=mu, sigma=sigma), 100.0)
    sd = sigma * np.sqrt(DT_1D)
    assert abs(r.mean() - (mu - sigma**2 / 2) * DT_1D) < 4 * sd / np.sqrt(n)
    assert abs(r.std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * n)


def test_gbm_high_low_match_the_running_max_of_brownian_motion():
    # Zero drift (mu = sigma^2 / 2): the max over a bar of length T is |N(0, sigma^2 T)|, so
    # E[log(high / open)] = sigma sqrt(2T / pi) with variance sigma^2 T (1 - 2 / pi); low mirrors it.
    n, sigma = 200_000, 0.25
    bars = gbm_bars("G", "1d", START, n, seed=7, mu=sigma**2 / 2, sigma=sigma)
    mean, se = sigma * np.sqrt(2 * DT_1D / np.pi), sigma * np.sqrt(DT_1D * (1 - 2 / np.pi) / n)
    assert abs(np.log(bars.high / bars.open).mean() - mean) < 4 * se
    assert abs(np.log(bars.open / bars.low).mean() - mean) < 4 * se


def test_garch_unconditional_variance_without_jumps():
    n, omega, alpha, beta = 200_000, 2e-6, 0.05, 0.9
    r = log_returns(
        garch_bars("H", "1d", START, n, seed=9, mu=0.0, omega=omega, alpha=alpha, beta=beta), 100.0
    )
    variance = omega / (1 - alpha - beta)
    # Standard error of the sample variance of GARCH(1,1) returns: fourth moment (kurtosis) and the
    # autocorrelation of squared returns rho_k = rho_1 (alpha + beta)^(k-1) inflate it.
    persistence = alpha + beta
    kurtosis = 3 * (1 - persistence**2) / (1 - persistence**2 - 2 * alpha**2)
    rho1 = alpha * (1 - alpha * beta - beta**2) / (1 - 2 * alpha * beta - beta**2)
    se = variance * np.sqrt((kurtosis - 1) * (1 + 2 * rho1 / (1 - persistence)) / n)
    assert abs(r.var(ddof=1) - variance) < 4 * se


def test_garch_sigma_sets_the_long_run_volatility():
    n, sigma, alpha, beta = 200_000, 0.4, 0.05, 0.9
    bars = garch_bars("H", "1d", START, n, seed=10, mu=0.0, sigma=sigma, alpha=alpha, beta=beta)
    explicit = garch_bars(
        "H",
        "1d",
        START,
        n,
        seed=10,
        mu=0.0,
        omega=sigma**2 * DT_1D * (1 - alpha - beta),
        alpha=alpha,
        beta=beta,
    )
    assert_same(bars, explicit)
    r = log_returns(bars, 100.0)
    assert abs(r.var(ddof=1) / (sigma**2 * DT_1D) - 1) < 0.03  # 4 standard errors, as computed above


def test_merton_jumps_add_compound_poisson_variance_and_keep_the_drift_compensated():
    # alpha = beta = 0: constant diffusion variance omega plus iid compound-Poisson jumps.
    n, omega, lam, jm, js, mu = 200_000, 1e-4, 40.0, -0.02, 0.04, 0.1
    r = log_returns(
        garch_bars(
            "J",
            "1d",
            START,
            n,
            seed=13,
            mu=mu,
            omega=omega,
            alpha=0.0,
            beta=0.0,
            jump_intensity=lam,
            jump_mean=jm,
            jump_std=js,
        ),
        100.0,
    )
    rate = lam * DT_1D
    mean = mu * DT_1D - omega / 2 - rate * np.expm1(jm + js**2 / 2) + rate * jm
    variance = omega + rate * (jm**2 + js**2)
    assert abs(r.mean() - mean) < 4 * np.sqrt(variance / n)
    centred = (r - r.mean()) ** 2
    assert abs(r.var(ddof=1) - variance) < 4 * centred.std() / np.sqrt(n)
    assert (r - mean).std() > np.sqrt(omega) * 1.2  # the jumps are really there


def test_correlated_returns_match_target_correlation_and_volatility():
    n = 50_000
    corr = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    sigmas = [0.2, 0.4, 0.1]
    bars = correlated_bars(
        ["A", "B", "C"],
        "1d",
        START,
        n,
        corr=corr,
        mus=[0.05, 0.1, 0.0],
        sigmas=sigmas,
        seed=21,
        s0=[10.0, 20.0, 30.0],
    )
    r = np.column_stack([log_returns(b, s0) for b, s0 in zip(bars, [10.0, 20.0, 30.0], strict=True)])
    sample = np.corrcoef(r, rowvar=False)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert abs(sample[i, j] - corr[i, j]) < 4 * (1 - corr[i, j] ** 2) / np.sqrt(n)
    for j, sigma in enumerate(sigmas):
        sd = sigma * np.sqrt(DT_1D)
        assert abs(r[:, j].std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * n)


def test_singular_but_valid_correlation_gives_identical_returns():
    a, b = correlated_bars(
        ["A", "B"], "1d", START, 1000, corr=[[1, 1], [1, 1]], mus=[0.1, 0.1], sigmas=[0.2, 0.2], seed=1
    )
    np.testing.assert_allclose(log_returns(a, 100.0), log_returns(b, 100.0), rtol=0, atol=1e-12)


# --- bad parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("corr", "fragment"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], "symmetric"),
        ([[1.0, 0.5], [0.5, 2.0]], "unit diagonal"),
        ([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]], "positive semi-definite"),
        ([[1.0, 1.5, 0.0], [1.5, 1.0, 0.0], [0.0, 0.0, 1.0]], "positive semi-definite"),
        ([[1.0, 0.0], [0.0, 1.0]], "3x3"),
        ([[1.0, np.nan, 0.0], [np.nan, 1.0, 0.0], [0.0, 0.0, 1.0]], "finite"),
    ],
)
def test_bad_correlation_matrix_rejected(corr, fragment):
    k = len(corr) if fragment != "3x3" else 3
    symbols = ["A", "B", "C"][:k]
    with pytest.raises(InvalidInput, match=fragment) as info:
        correlated_bars(symbols, "1d", START, 10, corr=corr, mus=[0.0] * k, sigmas=[0.1] * k, seed=1)
    assert info.value.field == "corr"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: gbm_bars("G", "1d", START, 10, seed=1, sigma=-0.1), "sigma"),
        (lambda: gbm_bars("G", "1d", START, 10, seed=1, s0=0.0), "s0"),
        (lambda: gbm_bars("G", "1d", START, -1, seed=1), "n"),
        (lambda: gbm_bars("G", "1w", START, 10, seed=1, sessions="weekdays"), "sessions"),
        (lambda: gbm_bars("G", "1d", START, 10, seed=1, sessions="always"), "sessions"),
        (lambda: gbm_bars("G", "1q", START, 10, seed=1), "timeframe"),
        (lambda: garch_bars("H", "1d", START, 10, seed=1, omega=1e-5, alpha=0.2, beta=0.8), "beta"),
        (lambda: garch_bars("H", "1d", START, 10, seed=1, omega=0.0, alpha=0.1, beta=0.8), "omega"),
        (
            lambda: garch_bars("H", "1d", START, 10, seed=1, omega=1e-5, alpha=0.1, beta=0.8, jump_std=-1),
            "jump_std",
        ),
        (
            lambda: correlated_bars(
                ["A", "A"], "1d", START, 10, corr=np.eye(2), mus=[0, 0], sigmas=[1, 1], seed=1
            ),
            "symbols",
        ),
        (
            lambda: correlated_bars(
                ["A", "B"], "1d", START, 10, corr=np.eye(2), mus=[0], sigmas=[1, 1], seed=1
            ),
            "mus",
        ),
        (lambda: sample_universe(["AAPL"], intraday=["MSFT"]), "intraday"),
    ],
)
def test_bad_parameters_rejected(call, field):
    with pytest.raises(InvalidInput) as info:
        call()
    assert info.value.field == field


# --- the demo universe --------------------------------------------------------------------------------


def test_sample_universe_shape_and_profiles():
    universe = sample_universe(SYMBOLS)
    assert set(universe) == {(s, "1d") for s in SYMBOLS} | {("AAPL", "1m"), ("MSFT", "1m")}
    assert len(universe[("BTCUSD", "1d")]) == 1095  # 24x7 over three years
    xnys = xc.get_calendar("XNYS").sessions_in_range("2023-01-02", "2025-12-31")  # the 1095 days before 2026
    for symbol in ("AAPL", "MSFT", "SPY"):  # equities: the XNYS sessions, no weekend or holiday bars
        assert universe[(symbol, "1d")].ts.tolist() == xnys.as_unit("ns").asi8.tolist()
    assert 770 <= len(universe[("EURUSD", "1d")]) <= 790 and is_weekday(universe[("EURUSD", "1d")].ts).all()
    vol = {s: np.std(np.diff(np.log(universe[(s, "1d")].close))) for s in SYMBOLS}
    assert (
        vol["BTCUSD"] > max(vol["AAPL"], vol["MSFT"], vol["SPY"]) > min(vol["AAPL"], vol["MSFT"], vol["SPY"])
    )
    assert min(vol["AAPL"], vol["MSFT"], vol["SPY"]) > vol["EURUSD"]
    equity = np.column_stack(
        [np.diff(np.log(universe[(s, "1d")].close[:-5])) for s in ("AAPL", "MSFT", "SPY")]
    )
    assert (np.corrcoef(equity, rowvar=False)[np.triu_indices(3, 1)] > 0.05).all()


def test_sample_universe_minutes_agree_with_the_daily_bars():
    universe = sample_universe(SYMBOLS, intraday=["SPY", "BTCUSD"])
    for symbol, calendar, count in (("SPY", "XNYS", 4 * 390 + 210), ("BTCUSD", "24/7", 5 * 1440)):
        minutes, daily = universe[(symbol, "1m")], universe[(symbol, "1d")]
        assert len(minutes) == count  # SPY: four regular sessions and the early close of 2025-12-24
        assert_same(resample(minutes, "1d", calendar=calendar), daily.slice(len(daily) - 5, len(daily)))
        assert minutes.open[0] == daily.close[-6]
