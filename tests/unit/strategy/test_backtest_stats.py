"""Backtest statistics against closed forms and direct NumPy computations, and the streamed kernel
statistics against ``performance_stats``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nautilus.strategy.backtest import BacktestConfig, performance_stats, run_signals, run_targets


def test_constant_return_equity_has_known_cagr_and_no_volatility():
    g, n, ppy = 0.001, 504, 252
    eq = 1000.0 * (1 + g) ** np.arange(1, n + 1)
    s = performance_stats(eq, [], ppy, init_cash=1000.0)
    assert s["total_return"] == pytest.approx((1 + g) ** n - 1, rel=1e-12)
    assert s["annual_return"] == pytest.approx((1 + g) ** ppy - 1, rel=1e-10)
    assert s["annual_volatility"] < 1e-12
    assert math.isnan(s["sharpe"]) and math.isnan(s["sortino"])  # zero volatility: undefined
    assert s["max_drawdown"] == 0.0 and s["max_drawdown_duration"] == 0.0 and math.isnan(s["calmar"])
    assert s["n_trades"] == 0 and math.isnan(s["win_rate"]) and math.isnan(s["profit_factor"])
    assert s["exposure"] == 0.0 and s["turnover"] == 0.0


def test_flat_equity_from_a_strategy_that_never_trades():
    o = c = np.full(50, 10.0)
    res = run_signals(o, o, o, c, np.zeros(50, bool), None, BacktestConfig())
    s = {k: v[0] for k, v in res.stats.items()}
    assert s["total_return"] == 0.0 and s["annual_return"] == 0.0 and s["annual_volatility"] == 0.0
    assert math.isnan(s["sharpe"]) and math.isnan(s["sortino"]) and s["max_drawdown"] == 0.0


def test_known_drawdown_path():
    eq = np.array([120.0, 90.0, 100.0, 130.0, 110.0, 104.0])
    s = performance_stats(eq, None, 252, init_cash=100.0)
    # peak 120 (bar 0) -> trough 90: -25 %; 130 (bar 3) -> 104: -20 %
    assert s["max_drawdown"] == pytest.approx(-0.25)
    # under water at bars 1, 2 (2 bars after the bar-0 high) and 4, 5 (2 bars after the bar-3 high)
    assert s["max_drawdown_duration"] == 2
    assert s["calmar"] == pytest.approx(s["annual_return"] / 0.25)
    # never recovering: bars after the initial cash (bar -1) all count
    s = performance_stats(np.array([99.0, 98.0, 97.0]), None, 252, init_cash=100.0)
    assert s["max_drawdown_duration"] == 3 and s["max_drawdown"] == pytest.approx(-0.03)


def test_sharpe_sortino_volatility_against_numpy():
    rng = np.random.default_rng(3)
    r = rng.normal(0.0005, 0.01, 1000)
    eq = 5000 * np.cumprod(1 + r)
    ppy = 365.0
    s = performance_stats(eq, None, ppy, init_cash=5000.0)
    assert s["annual_volatility"] == pytest.approx(np.std(r, ddof=1) * math.sqrt(ppy), rel=1e-9)
    assert s["sharpe"] == pytest.approx(np.mean(r) / np.std(r, ddof=1) * math.sqrt(ppy), rel=1e-9)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert s["sortino"] == pytest.approx(np.mean(r) / downside * math.sqrt(ppy), rel=1e-9)
    assert s["annual_return"] == pytest.approx((eq[-1] / 5000) ** (ppy / 1000) - 1, rel=1e-12)
    # without init_cash the first equity value is the base
    s0 = performance_stats(eq, None, ppy)
    assert s0["total_return"] == pytest.approx(eq[-1] / eq[0] - 1)
    assert s0["sharpe"] == pytest.approx(np.mean(r[1:]) / np.std(r[1:], ddof=1) * math.sqrt(ppy), rel=1e-9)


def test_trade_statistics_and_turnover():
    trades = [
        {"pnl": 100.0, "return": 0.10, "entry_idx": 0, "exit_idx": 10, "exit_reason": "signal", "notional": 2000.0},
        {"pnl": -50.0, "return": -0.05, "entry_idx": 20, "exit_idx": 25, "exit_reason": "stop_loss",
         "notional": 2000.0},
        {"pnl": 30.0, "return": 0.03, "entry_idx": 30, "exit_idx": 40, "exit_reason": "signal", "notional": 2000.0},
        {"pnl": -500.0, "return": -0.5, "entry_idx": 240, "exit_idx": 251, "exit_reason": "open",
         "notional": 1000.0},
    ]
    eq = np.full(252, 1000.0)
    s = performance_stats(eq, trades, 252, init_cash=1000.0)
    assert s["n_trades"] == 3 and s["open_trades"] == 1  # the open position is not a trade
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["profit_factor"] == pytest.approx(130 / 50)
    assert s["avg_trade_return"] == pytest.approx((0.10 - 0.05 + 0.03) / 3)
    # bars in a position: 10 + 5 + 10 + (252 - 240) = 37
    assert s["exposure"] == pytest.approx(37 / 252)
    # traded notional 7000 over average equity 1000, over exactly one year
    assert s["turnover"] == pytest.approx(7.0)
    only_wins = performance_stats(eq, trades[:1], 252, init_cash=1000.0)
    assert math.isinf(only_wins["profit_factor"]) and only_wins["win_rate"] == 1.0


def test_round_trip_turnover_from_the_kernel():
    # one full-equity round trip in a year of flat prices and no costs: turnover 2
    n = 252
    o = c = np.full(n, 50.0)
    entries = np.zeros(n, bool)
    exits = np.zeros(n, bool)
    entries[0] = True
    exits[100] = True
    res = run_signals(o, o, o, c, entries, exits, BacktestConfig(periods_per_year=252))
    assert res.stats["turnover"][0] == pytest.approx(2.0)
    assert res.stats["exposure"][0] == pytest.approx(100 / 252)  # at the closes of bars 1..100


def test_streamed_stats_match_numpy_on_long_random_runs():
    rng = np.random.default_rng(9)
    n = 20_000
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[100.0, c[:-1]]
    h, l = np.maximum(o, c) * 1.001, np.minimum(o, c) * 0.999
    e, x = rng.random((n, 3)) < 0.02, rng.random((n, 3)) < 0.02
    cfg = BacktestConfig(fees_bps=5, direction="both", trailing_stop=0.05, periods_per_year=8760)
    res = run_signals(o, h, l, c, e, x, cfg)
    tg = run_targets(o, c, np.where(rng.random((n, 2)) < 0.01, rng.uniform(-1, 1, (n, 2)), np.nan), cfg.replace(
        trailing_stop=None))
    for r in (res, tg):
        for j in range(r.equity.shape[1]):
            want = performance_stats(r.equity[:, j], r.trades[r.trades["col"] == j], 8760, init_cash=100_000)
            for name, value in want.items():
                got = r.stats[name][j]
                assert (math.isnan(value) and math.isnan(got)) or got == pytest.approx(value, rel=1e-8), name
