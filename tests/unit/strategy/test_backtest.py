"""Vectorized backtester: kernel vs the independent event loop, hand-worked numbers, look-ahead,
built-in strategies, column independence and config validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.strategy.backtest import (
    REASONS,
    STAT_NAMES,
    BacktestConfig,
    build_signals,
    list_strategies,
    performance_stats,
    run_backtest,
    run_param_grid,
    run_signals,
    run_targets,
    signal_mode,
    validate_params,
)
from nautilus.strategy.backtest import kernel as K
from nautilus.strategy.backtest import signal_kernels as SK
from nautilus.strategy.backtest.reference import reference_signals, reference_targets

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def make_ohlc(seed: int, n: int, vol: float = 0.02, gap: float = 0.01):
    """Random bars whose opens gap away from the previous close (so stops can be gapped through)."""
    rng = np.random.default_rng(seed)
    o = np.empty(n)
    c = np.empty(n)
    prev = 100.0
    for t in range(n):
        o[t] = prev * math.exp(rng.normal(0.0, gap))
        c[t] = o[t] * math.exp(rng.normal(0.0, vol))
        prev = c[t]
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    l = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    return o, h, l, c


def make_bars(seed: int, n: int, **kw) -> Bars:
    o, h, l, c = make_ohlc(seed, n, **kw)
    ts = np.arange(n, dtype=np.int64) * 86_400_000_000_000
    return Bars(symbol="TEST", timeframe="1d", ts=ts, open=o, high=h, low=l, close=c, volume=np.ones(n))


def assert_trades_match(kernel_trades: np.ndarray, ref_trades: list[dict], where: str = "") -> None:
    assert len(kernel_trades) == len(ref_trades), where
    for got, want in zip(kernel_trades, ref_trades, strict=True):
        assert int(got["direction"]) == want["direction"], where
        assert int(got["entry_idx"]) == want["entry_idx"], where
        assert int(got["exit_idx"]) == want["exit_idx"], where
        assert REASONS[int(got["exit_reason"])] == want["exit_reason"], where
        for name in ("entry_price", "exit_price", "size", "fees", "pnl", "return", "notional"):
            assert float(got[name]) == pytest.approx(want[name], rel=1e-9, abs=1e-6), (where, name)


def assert_stats_match(kernel_stats: dict, numpy_stats: dict) -> None:
    for name, want in numpy_stats.items():
        got = float(kernel_stats[name])
        if math.isnan(want):
            assert math.isnan(got), name
        else:
            assert got == pytest.approx(want, rel=1e-8, abs=1e-9), name


@st.composite
def configs(draw, target_mode: bool = False):
    kw = {
        "init_cash": draw(st.sampled_from([10_000.0, 100_000.0, 1_234_567.0])),
        "fees_bps": draw(st.sampled_from([0.0, 1.0, 10.0, 25.0])),
        "fixed_fee": draw(st.sampled_from([0.0, 1.0, 5.0])),
        "slippage_bps": draw(st.sampled_from([0.0, 5.0, 20.0])),
        "direction": draw(st.sampled_from(["long", "short", "both"])),
        "execution": draw(st.sampled_from(["next_open", "next_close"])),
        "periods_per_year": draw(st.sampled_from([252.0, 365.0, 8760.0])),
    }
    if target_mode:
        kw["rebalance_threshold"] = draw(st.sampled_from([0.0, 0.02, 0.2]))
        return BacktestConfig(**kw)
    size_type = draw(st.sampled_from(["percent_equity", "fixed", "value", "vol_target"]))
    kw["size_type"] = size_type
    kw["size"] = {
        "percent_equity": draw(st.sampled_from([0.25, 0.5, 1.0, 1.5])),
        "fixed": draw(st.sampled_from([1.0, 7.0, 30.0])),
        "value": draw(st.sampled_from([1000.0, 5000.0])),
        "vol_target": draw(st.sampled_from([0.1, 0.3, 0.8])),
    }[size_type]
    if size_type == "vol_target":
        kw["vol_lookback"] = draw(st.integers(2, 12))
        kw["max_leverage"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    for name, choices in (("stop_loss", [0.01, 0.03, 0.08]), ("take_profit", [0.02, 0.05, 0.15]),
                          ("trailing_stop", [0.01, 0.04, 0.1])):
        if draw(st.booleans()):
            kw[name] = draw(st.sampled_from(choices))
    if draw(st.integers(0, 3)) == 0:
        kw["max_hold"] = draw(st.integers(1, 6))
    kw["accumulate"] = draw(st.integers(0, 3)) == 0
    return BacktestConfig(**kw)


# --------------------------------------------------------------------------------------------------
# kernel vs reference
# --------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), seed=st.integers(0, 2**31), n=st.integers(3, 90), density=st.sampled_from([0.05, 0.2, 0.5]),
       with_short=st.booleans())
def test_kernel_matches_reference(cfg, seed, n, density, with_short):
    o, h, l, c = make_ohlc(seed, n)
    rng = np.random.default_rng(seed + 1)
    k = 3
    sig = {name: rng.random((n, k)) < density for name in ("entries", "exits", "short_entries", "short_exits")}
    if not with_short:
        sig["short_entries"] = sig["short_exits"] = None
    res = run_signals(o, h, l, c, sig["entries"], sig["exits"], cfg, short_entries=sig["short_entries"],
                      short_exits=sig["short_exits"])
    for j in range(k):
        col = {name: (None if a is None else a[:, j]) for name, a in sig.items()}
        ref = reference_signals(o, h, l, c, cfg, **col)
        trades = res.trades[res.trades["col"] == j]
        assert_trades_match(trades, ref["trades"], f"col {j}")
        eq = res.equity[:, j]
        assert np.abs(eq - np.asarray(ref["equity"])).max() < 0.005
        # the streamed statistics agree with the NumPy definitions on the same curve and trades
        numpy_stats = performance_stats(eq, trades, cfg.periods_per_year, init_cash=cfg.init_cash)
        assert_stats_match({name: v[j] for name, v in res.stats.items()}, numpy_stats)
        by_positions = performance_stats(eq, trades, cfg.periods_per_year, positions=ref["in_position"],
                                         init_cash=cfg.init_cash)
        assert by_positions["exposure"] == pytest.approx(numpy_stats["exposure"])
        # the trades account for the whole equity change
        assert trades["pnl"].sum() == pytest.approx(eq[-1] - cfg.init_cash, abs=1e-6)


@settings(max_examples=120, deadline=None)
@given(cfg=configs(target_mode=True), seed=st.integers(0, 2**31), n=st.integers(2, 80),
       style=st.sampled_from(["levels", "noisy", "sparse"]))
def test_target_kernel_matches_reference(cfg, seed, n, style):
    o, h, l, c = make_ohlc(seed, n)
    rng = np.random.default_rng(seed + 7)
    k = 2
    if style == "levels":
        targets = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(n, k))
    elif style == "noisy":
        targets = rng.uniform(-1.5, 1.5, size=(n, k))
    else:
        targets = np.where(rng.random((n, k)) < 0.3, rng.uniform(-1, 1, size=(n, k)), np.nan)
    res = run_targets(o, c, targets, cfg)
    for j in range(k):
        ref = reference_targets(o, c, targets[:, j], cfg)
        trades = res.trades[res.trades["col"] == j]
        assert_trades_match(trades, ref["trades"], f"col {j}")
        assert np.abs(res.equity[:, j] - np.asarray(ref["equity"])).max() < 0.005
        numpy_stats = performance_stats(res.equity[:, j], trades, cfg.periods_per_year, init_cash=cfg.init_cash)
        assert_stats_match({name: v[j] for name, v in res.stats.items()}, numpy_stats)


# --------------------------------------------------------------------------------------------------
# hand-worked examples
# --------------------------------------------------------------------------------------------------


def test_hand_worked_long_trade():
    # bar:     0      1      2      3      4      5
    o = np.array([100.0, 100.0, 104.0, 109.0, 111.0, 97.0])
    h = np.array([101.0, 106.0, 110.0, 112.0, 111.0, 99.0])
    l = np.array([99.0, 99.0, 103.0, 107.0, 95.0, 94.0])
    c = np.array([100.0, 105.0, 108.0, 110.0, 96.0, 98.0])
    entries = np.array([True, False, False, False, False, False])
    exits = np.array([False, False, False, True, False, False])
    cfg = BacktestConfig(init_cash=10_000, fees_bps=10, fixed_fee=10, size_type="fixed", size=50)
    res = run_signals(o, h, l, c, entries, exits, cfg)
    # entry signal at bar 0 fills at open[1] = 100: 50 units cost 5000, fee 5000 * 0.001 + 10 = 15
    #   cash = 10000 - 5000 - 15 = 4985
    # equity: bar 0 = 10000 (flat); bar 1 = 4985 + 50 * 105 = 10235; bar 2 = 4985 + 5400 = 10385;
    #   bar 3 = 4985 + 5500 = 10485
    # exit signal at bar 3 fills at open[4] = 111: proceeds 5550, fee 5.55 + 10 = 15.55
    #   cash = 4985 + 5550 - 15.55 = 10519.45 = equity at bars 4 and 5
    np.testing.assert_allclose(res.equity[:, 0], [10000, 10235, 10385, 10485, 10519.45, 10519.45], atol=1e-9)
    (tr,) = res.trades_list()
    assert (tr["direction"], tr["entry_idx"], tr["exit_idx"], tr["exit_reason"]) == ("long", 1, 4, "signal")
    # pnl = 50 * (111 - 100) - (15 + 15.55) = 519.45; return = 519.45 / 5000 = 0.10389
    assert tr["entry_price"] == 100 and tr["exit_price"] == 111 and tr["size"] == 50
    assert tr["fees"] == pytest.approx(30.55) and tr["pnl"] == pytest.approx(519.45)
    assert tr["return"] == pytest.approx(0.10389)
    s = res.stats
    assert s["total_return"][0] == pytest.approx(0.051945)
    assert s["n_trades"][0] == 1 and s["win_rate"][0] == 1.0 and math.isinf(s["profit_factor"][0])
    # in a position at the closes of bars 1, 2, 3 -> 3 / 6
    assert s["exposure"][0] == pytest.approx(0.5)
    # drawdown: peak 10485 at bar 3 -> 10519.45 is a new high; none
    assert s["max_drawdown"][0] == 0.0


def test_hand_worked_short_stop_gap_with_slippage():
    # bar:     0      1      2      3      4      5
    o = np.array([100.0, 100.0, 99.0, 110.0, 111.0, 111.0])
    h = np.array([101.0, 102.0, 105.0, 112.0, 112.0, 113.0])
    l = np.array([99.0, 97.0, 98.0, 109.0, 110.0, 110.0])
    c = np.array([100.0, 98.0, 104.0, 111.0, 111.0, 112.0])
    entries = np.array([True, False, False, False, False, False])
    cfg = BacktestConfig(init_cash=10_000, slippage_bps=100, size_type="fixed", size=100, direction="short",
                         stop_loss=0.10)
    res = run_signals(o, h, l, c, entries, None, cfg)
    # short entry signal at bar 0 fills at open[1] slipped down 1 %: 100 * 0.99 = 99; 100 units
    #   cash = 10000 + 9900 = 19900; equity bar 1 = 19900 - 100 * 98 = 10100
    # stop level = 99 * 1.10 = 108.9. Bar 1 is the fill bar (not checked). Bar 2: high 105 < 108.9;
    #   equity = 19900 - 10400 = 9500
    # bar 3 opens at 110 >= 108.9: gapped through, filled at the open slipped up 1 %: 111.1
    #   cash = 19900 - 11110 = 8790 = equity from bar 3 on
    np.testing.assert_allclose(res.equity[:, 0], [10000, 10100, 9500, 8790, 8790, 8790], atol=1e-9)
    (tr,) = res.trades_list()
    assert (tr["direction"], tr["entry_idx"], tr["exit_idx"], tr["exit_reason"]) == ("short", 1, 3, "stop_loss")
    # pnl = -(11110 - 9900) = -1210; return = -1210 / 9900
    assert tr["entry_price"] == pytest.approx(99.0) and tr["exit_price"] == pytest.approx(111.1)
    assert tr["pnl"] == pytest.approx(-1210.0) and tr["return"] == pytest.approx(-1210 / 9900)
    # max drawdown: peak 10100 (bar 1) -> 8790: 8790 / 10100 - 1; under water from bar 2 to 5: 4 bars
    assert res.stats["max_drawdown"][0] == pytest.approx(8790 / 10100 - 1)
    assert res.stats["max_drawdown_duration"][0] == 4


def test_intrabar_take_profit_fills_at_level_and_stop_wins_ties():
    o = np.array([100.0, 100.0, 101.0, 100.0])
    h = np.array([100.0, 101.0, 106.0, 107.0])
    l = np.array([100.0, 99.0, 100.5, 93.0])
    c = np.array([100.0, 100.0, 104.0, 100.0])
    entries = np.array([True, False, False, False])
    cfg = BacktestConfig(init_cash=1000, size_type="fixed", size=1, take_profit=0.05)
    (tr,) = run_signals(o, h, l, c, entries, None, cfg).trades_list()
    assert (tr["exit_idx"], tr["exit_reason"], tr["exit_price"]) == (2, "take_profit", 105.0)
    # bar 3 reaches both 95 (stop) and 105 (target): the stop-loss is assumed first
    entries = np.array([False, True, False, False])
    cfg = cfg.replace(stop_loss=0.05)
    o2 = np.array([100.0, 100.0, 100.0, 100.0])
    (tr,) = run_signals(o2, h, l, c, entries, None, cfg).trades_list()
    assert (tr["entry_idx"], tr["exit_idx"], tr["exit_reason"], tr["exit_price"]) == (2, 3, "stop_loss", 95.0)


def test_trailing_stop_tracks_highs_after_entry():
    o = np.array([100.0, 100.0, 104.0, 109.0, 108.0])
    h = np.array([100.0, 105.0, 110.0, 111.0, 108.0])
    l = np.array([100.0, 99.0, 103.0, 107.0, 98.0])
    c = np.array([100.0, 104.0, 109.0, 108.0, 99.0])
    entries = np.array([True, False, False, False, False])
    cfg = BacktestConfig(size_type="fixed", size=1, trailing_stop=0.05)
    (tr,) = run_signals(o, h, l, c, entries, None, cfg).trades_list()
    # fill at 100 (bar 1, its high is not used); bar 2 high 110, bar 3 high 111 -> level 111 * 0.95
    assert (tr["exit_idx"], tr["exit_reason"]) == (4, "trailing_stop")
    assert tr["exit_price"] == pytest.approx(111 * 0.95)


def test_open_position_is_reported_open_and_marked_to_last_close():
    o, h, l, c = make_ohlc(3, 30)
    entries = np.zeros(30, bool)
    entries[5] = True
    res = run_signals(o, h, l, c, entries, None, BacktestConfig(fees_bps=10))
    (tr,) = res.trades_list()
    assert tr["exit_reason"] == "open" and tr["exit_idx"] == 29 and tr["exit_price"] == c[-1]
    assert res.stats["n_trades"][0] == 0 and res.stats["open_trades"][0] == 1
    assert res.equity[-1, 0] == pytest.approx(100_000 + tr["pnl"])


# --------------------------------------------------------------------------------------------------
# no look-ahead
# --------------------------------------------------------------------------------------------------


def test_peeking_signal_does_not_profit_with_next_open_execution():
    """Bars whose close-to-close move happens in the overnight gap: ``cheat[t] = close[t+1] > close[t]``
    knows the next gap. Filled at the next open (after the gap) it earns nothing special; filled at the
    close of the signal bar (``next_close`` fed the signal one bar early) it would make a fortune."""
    rng = np.random.default_rng(11)
    n = 2000
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = c * np.exp(rng.normal(0, 0.001, n))  # the open already sits at the new level
    h = np.maximum(o, c) * 1.0005
    l = np.minimum(o, c) * 0.9995
    cheat = np.zeros(n, bool)
    cheat[:-1] = c[1:] > c[:-1]
    cfg = BacktestConfig(init_cash=100_000)
    honest = run_signals(o, h, l, c, cheat, ~cheat, cfg)
    assert abs(math.log(honest.stats["final_equity"][0] / 100_000)) < 1.0
    # same-bar-close execution of the peeking signal == next_close execution of the signal shifted back
    early = np.zeros(n, bool)
    early[:-1] = cheat[1:]
    cheating = run_signals(o, h, l, c, early, ~early, cfg.replace(execution="next_close"))
    assert cheating.stats["final_equity"][0] > 100_000 * 1000
    assert cheating.stats["win_rate"][0] == 1.0


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_future_signals_never_change_past_equity(execution):
    o, h, l, c = make_ohlc(21, 200)
    rng = np.random.default_rng(5)
    e, x = rng.random(200) < 0.2, rng.random(200) < 0.2
    cfg = BacktestConfig(direction="both", stop_loss=0.03, trailing_stop=0.05, fees_bps=5, execution=execution,
                         size_type="vol_target", size=0.2)
    base = run_signals(o, h, l, c, e, x, cfg).equity[:, 0]
    for t0 in (10, 57, 120, 198):
        e2, x2 = e.copy(), x.copy()
        e2[t0:] = rng.random(200 - t0) < 0.5
        x2[t0:] = rng.random(200 - t0) < 0.5
        other = run_signals(o, h, l, c, e2, x2, cfg).equity[:, 0]
        # a signal at t0 can act at bar t0 + 1 at the earliest
        np.testing.assert_array_equal(other[: t0 + 1], base[: t0 + 1])


def test_strategy_signals_use_only_past_data():
    bars = make_bars(8, 400)
    names = ["sma_cross", "ema_cross", "rsi_reversion", "donchian_breakout", "candle_pattern"]
    for name in names:
        p = validate_params(name, {"pattern": "ENGULFING"} if name == "candle_pattern" else {})
        full = build_signals(name, bars.open, bars.high, bars.low, bars.close, [p])
        cut = 250
        part = build_signals(name, bars.open[:cut], bars.high[:cut], bars.low[:cut], bars.close[:cut], [p])
        for side in ("entries", "exits", "short_entries", "short_exits"):
            a, b = getattr(full, side), getattr(part, side)
            if a is not None:
                np.testing.assert_array_equal(a[:cut], b, err_msg=f"{name} {side}")


# --------------------------------------------------------------------------------------------------
# built-in strategies vs straightforward computations
# --------------------------------------------------------------------------------------------------


def test_indicators_match_pandas_and_talib():
    import talib

    _, h, l, c = make_ohlc(2, 600)
    s = pd.Series(c)
    for p in (1, 2, 5, 30):
        np.testing.assert_allclose(SK.sma_nb(c, p), s.rolling(p).mean().to_numpy(), rtol=1e-12, equal_nan=True)
    for p in (2, 10, 26):
        np.testing.assert_allclose(SK.ema_nb(c, p), talib.EMA(c, p), rtol=1e-12, equal_nan=True)
    for p in (2, 14, 30):
        np.testing.assert_allclose(SK.rsi_nb(c, p), talib.RSI(c, p), rtol=1e-10, equal_nan=True)
    for p in (1, 3, 20):
        np.testing.assert_array_equal(SK.prior_extreme_nb(h, p, True),
                                      pd.Series(h).rolling(p).max().shift(1).to_numpy())
        np.testing.assert_array_equal(SK.prior_extreme_nb(l, p, False),
                                      pd.Series(l).rolling(p).min().shift(1).to_numpy())


def _crosses(a: pd.Series, b: pd.Series):
    up = (a > b) & (a.shift() <= b.shift())
    down = (a < b) & (a.shift() >= b.shift())
    return up.to_numpy(), down.to_numpy()


def test_builtin_signals_match_pandas():
    import talib

    bars = make_bars(4, 700)
    o, h, l, c = bars.open, bars.high, bars.low, bars.close
    cs = pd.Series(c)

    params = [{"fast": 3, "slow": 10}, {"fast": 10, "slow": 40}, {"fast": 3, "slow": 40}]
    sig = build_signals("sma_cross", o, h, l, c, [validate_params("sma_cross", p) for p in params])
    for j, p in enumerate(params):
        up, down = _crosses(cs.rolling(p["fast"]).mean(), cs.rolling(p["slow"]).mean())
        np.testing.assert_array_equal(sig.entries[:, j], up)
        np.testing.assert_array_equal(sig.exits[:, j], down)
        np.testing.assert_array_equal(sig.short_entries[:, j], down)

    sig = build_signals("ema_cross", o, h, l, c, [validate_params("ema_cross", {"fast": 5, "slow": 20})])
    up, down = _crosses(pd.Series(talib.EMA(c, 5)), pd.Series(talib.EMA(c, 20)))
    np.testing.assert_array_equal(sig.entries[:, 0], up)
    np.testing.assert_array_equal(sig.exits[:, 0], down)

    sig = build_signals("rsi_reversion", o, h, l, c,
                        [validate_params("rsi_reversion", {"period": 7, "lower": 35, "upper": 65})])
    rsi = pd.Series(talib.RSI(c, 7))
    below = ((rsi < 35) & (rsi.shift() >= 35)).to_numpy()
    above = ((rsi > 65) & (rsi.shift() <= 65)).to_numpy()
    np.testing.assert_array_equal(sig.entries[:, 0], below)
    np.testing.assert_array_equal(sig.exits[:, 0], above)
    assert below.any() and above.any()

    sig = build_signals("donchian_breakout", o, h, l, c,
                        [validate_params("donchian_breakout", {"period": 20, "exit_period": 7})])
    hs, ls = pd.Series(h), pd.Series(l)
    np.testing.assert_array_equal(sig.entries[:, 0], (cs > hs.rolling(20).max().shift(1)).to_numpy())
    np.testing.assert_array_equal(sig.exits[:, 0], (cs < ls.rolling(7).min().shift(1)).to_numpy())
    np.testing.assert_array_equal(sig.short_entries[:, 0], (cs < ls.rolling(20).min().shift(1)).to_numpy())
    np.testing.assert_array_equal(sig.short_exits[:, 0], (cs > hs.rolling(7).max().shift(1)).to_numpy())

    sig = build_signals("candle_pattern", o, h, l, c,
                        [validate_params("candle_pattern", {"pattern": "cdlEngulfing", "hold": 3})])
    cdl = talib.CDLENGULFING(o, h, l, c)
    np.testing.assert_array_equal(sig.entries[:, 0], cdl > 0)
    np.testing.assert_array_equal(sig.short_entries[:, 0], cdl < 0)
    assert sig.max_hold.tolist() == [3] and (cdl != 0).any()

    pred = np.random.default_rng(1).normal(size=len(c))
    pred[5] = np.nan
    sig = build_signals("model_signal", o, h, l, c,
                        [validate_params("model_signal", {"threshold_long": 0.5, "threshold_short": -0.2})],
                        predictions=pred)
    np.testing.assert_array_equal(sig.entries[:, 0], pred > 0.5)
    np.testing.assert_array_equal(sig.exits[:, 0], pred <= 0.5)
    np.testing.assert_array_equal(sig.short_entries[:, 0], pred < -0.2)
    np.testing.assert_array_equal(sig.short_exits[:, 0], pred >= -0.2)
    assert not (sig.entries[5, 0] or sig.exits[5, 0])


def test_candle_pattern_holds_for_hold_bars():
    bars = make_bars(6, 800)
    res = run_backtest(bars, "candle_pattern", {"pattern": "ENGULFING", "hold": 4}, BacktestConfig())
    closed = [t for t in res.trades_list() if t["exit_reason"] != "open"]
    assert closed and all(t["exit_idx"] - t["entry_idx"] == 4 and t["exit_reason"] == "time" for t in closed)


def test_model_signal_backtest_follows_predictions():
    bars = make_bars(9, 300)
    c = bars.close
    pred = np.r_[c[1:] / c[:-1] - 1, 0.0]  # a perfect (peeking) model: returns of the next bar
    res = run_backtest(bars, "model_signal", {}, BacktestConfig(execution="next_close"), predictions=pred)
    assert res.stats["n_trades"] > 10
    with pytest.raises(InvalidInput) as err:
        run_backtest(bars, "model_signal", {}, BacktestConfig())
    assert err.value.field == "predictions"


# --------------------------------------------------------------------------------------------------
# columns, grids, modes
# --------------------------------------------------------------------------------------------------


def test_k_columns_equal_k_single_runs():
    bars = make_bars(12, 1500)
    params = [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 50}, {"fast": 20, "slow": 60, "stop_loss": 0.04},
              {"fast": 5, "slow": 50, "trailing_stop": 0.06, "size": 0.5}, {"fast": 5, "slow": 20, "take_profit": 0.03}]
    cfg = BacktestConfig(fees_bps=10, fixed_fee=2, slippage_bps=3, direction="both")
    grid = run_param_grid(bars, "sma_cross", params, cfg)
    grid_eq = run_param_grid(bars, "sma_cross", params, cfg, keep_equity=True, chunk_size=3)
    for j, p in enumerate(params):
        single = run_backtest(bars, "sma_cross", p, cfg)
        for name, value in single.stats.items():
            assert grid[name][j] == pytest.approx(value, rel=1e-12, nan_ok=True), name
            assert grid_eq[0][name][j] == pytest.approx(value, rel=1e-12, nan_ok=True), name
        np.testing.assert_array_equal(grid_eq[1][:, j], single.equity)
    assert list(grid["fast"]) == [5, 10, 20, 5, 5] and grid["stop_loss"][2] == 0.04
    # columns that differ only in config overrides share a signal column (and candle holds map along)
    candles = [{"pattern": "ENGULFING", "hold": 3}, {"pattern": "HAMMER", "hold": 5},
               {"pattern": "ENGULFING", "hold": 3, "stop_loss": 0.02}, {"pattern": "ENGULFING", "hold": 7}]
    cgrid = run_param_grid(bars, "candle_pattern", candles, cfg)
    for j, p in enumerate(candles):
        single = run_backtest(bars, "candle_pattern", p, cfg)
        for name, value in single.stats.items():
            assert cgrid[name][j] == pytest.approx(value, rel=1e-12, nan_ok=True), name
    # raw signals: one [n, k] run equals k one-column runs, trades included
    sig = build_signals("sma_cross", bars.open, bars.high, bars.low, bars.close,
                        [validate_params("sma_cross", {"fast": f, "slow": 30}) for f in (3, 7, 11)])
    multi = run_signals(bars.open, bars.high, bars.low, bars.close, sig.entries, sig.exits, cfg)
    for j in range(3):
        one = run_signals(bars.open, bars.high, bars.low, bars.close, sig.entries[:, j], sig.exits[:, j], cfg)
        np.testing.assert_array_equal(multi.equity[:, j], one.equity[:, 0])
        mine = multi.trades[multi.trades["col"] == j]
        for name in ("entry_idx", "exit_idx", "pnl", "size"):
            np.testing.assert_array_equal(mine[name], one.trades[name])


def test_stats_only_mode_and_record_overflow(monkeypatch):
    o, h, l, c = make_ohlc(30, 3000)
    rng = np.random.default_rng(0)
    e, x = rng.random((3000, 4)) < 0.3, rng.random((3000, 4)) < 0.3
    cfg = BacktestConfig(fees_bps=3, stop_loss=0.02)
    full = run_signals(o, h, l, c, e, x, cfg)
    lean = run_signals(o, h, l, c, e, x, cfg, keep_equity=False, record_trades=False)
    assert lean.equity is None and lean.trades.size == 0
    for name in full.stats:
        np.testing.assert_array_equal(full.stats[name], lean.stats[name])
    # C- and Fortran-ordered signals are read in place and give the same result
    fort = run_signals(o, h, l, c, np.asfortranarray(e), np.asfortranarray(x), cfg)
    np.testing.assert_array_equal(fort.equity, full.equity)
    # too few record slots up front: the overflowing columns are re-run with exact counts
    monkeypatch.setattr(K, "RECORD_BUDGET", 8)
    monkeypatch.setattr(K, "_initial_caps", lambda bound, n, k: np.array([3, 500, 2, 4], dtype=np.int64))
    again = run_signals(o, h, l, c, e, x, cfg)
    np.testing.assert_array_equal(again.trades, full.trades)


def test_run_backtest_result_shape():
    bars = make_bars(1, 500)
    res = run_backtest(bars, "sma_cross", {"fast": 5, "slow": 20}, BacktestConfig(fees_bps=10))
    assert res.equity.shape == (500,) and res.ts is bars.ts or np.array_equal(res.ts, bars.ts)
    assert res.params == {"fast": 5, "slow": 20} and res.config["fees_bps"] == 10
    assert set(res.stats) == set(STAT_NAMES)
    trades = res.trades_list()
    assert trades and {"entry_idx", "exit_idx", "pnl", "return", "exit_reason", "fees"} <= set(trades[0])
    assert len(res.equity_series()) == 500
    names = [s["name"] for s in list_strategies()]
    assert names == ["sma_cross", "ema_cross", "rsi_reversion", "donchian_breakout", "candle_pattern",
                     "model_signal"]
    candle = next(s for s in list_strategies() if s["name"] == "candle_pattern")
    assert "ENGULFING" in candle["params"][0]["choices"]


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, field", [
    ({"init_cash": 0}, "init_cash"),
    ({"fees_bps": -1}, "fees_bps"),
    ({"fixed_fee": float("nan")}, "fixed_fee"),
    ({"slippage_bps": "5"}, "slippage_bps"),
    ({"size_type": "kelly"}, "size_type"),
    ({"size": 0}, "size"),
    ({"direction": "sideways"}, "direction"),
    ({"stop_loss": 0}, "stop_loss"),
    ({"take_profit": -0.1}, "take_profit"),
    ({"trailing_stop": float("inf")}, "trailing_stop"),
    ({"max_hold": 0}, "max_hold"),
    ({"execution": "same_close"}, "execution"),
    ({"periods_per_year": 0}, "periods_per_year"),
    ({"accumulate": 1}, "accumulate"),
    ({"vol_lookback": 1}, "vol_lookback"),
    ({"max_leverage": 0}, "max_leverage"),
    ({"rebalance_threshold": -0.1}, "rebalance_threshold"),
])
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(InvalidInput) as err:
        BacktestConfig(**kwargs)
    assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        BacktestConfig.from_dict(kwargs)
    assert err.value.field == field


def test_bad_inputs_name_the_field():
    bars = make_bars(1, 100)
    cases = [
        (lambda: BacktestConfig.from_dict({"fee": 1}), "fee"),
        (lambda: run_backtest(bars, "macd", {}), "strategy"),
        (lambda: run_backtest(bars, "sma_cross", {"fast": 30, "slow": 10}), "params.fast"),
        (lambda: run_backtest(bars, "sma_cross", {"fast": 2.5}), "params.fast"),
        (lambda: run_backtest(bars, "sma_cross", {"speed": 2}), "params.speed"),
        (lambda: run_backtest(bars, "rsi_reversion", {"lower": 80, "upper": 20}), "params.lower"),
        (lambda: run_backtest(bars, "candle_pattern", {"pattern": "NOPE"}), "params.pattern"),
        (lambda: run_param_grid(bars, "sma_cross", [{"stop_loss": -1}]), "stop_loss"),
        (lambda: run_targets(bars.open, bars.close, np.zeros(100), BacktestConfig(stop_loss=0.1)), "stop_loss"),
        (lambda: run_signals(bars.open, bars.high, bars.low, bars.close, np.zeros(99, bool), None), "entries"),
        (lambda: run_signals(bars.open[:50], bars.high, bars.low, bars.close, np.zeros(100, bool), None), "high"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.field == field, field


def test_read_only_inputs_reuse_the_compiled_kernels():
    """pandas copy-on-write views and Arrow buffers are read-only; they must not add a signature."""
    bars = make_bars(2, 300)
    frame = bars.to_pandas()
    ro = Bars.from_pandas(frame, "TEST", "1d")
    assert not ro.close.flags.writeable
    e = np.zeros((300, 2), bool)
    e[[10, 100], :] = True
    e.flags.writeable = False
    cfg = BacktestConfig(fees_bps=1)
    run_signals(bars.open, bars.high, bars.low, bars.close, e.copy(), None, cfg)
    run_backtest(bars, "sma_cross", {}, cfg)
    before = (len(signal_mode.simulate_signals_nb.signatures), len(SK.sma_nb.signatures))
    res = run_signals(ro.open, ro.high, ro.low, ro.close, e, None, cfg)
    run_backtest(ro, "sma_cross", {}, cfg)
    build_signals("sma_cross", ro.open, ro.high, ro.low, ro.close, [validate_params("sma_cross", {})])
    assert (len(signal_mode.simulate_signals_nb.signatures), len(SK.sma_nb.signatures)) == before
    assert res.trades.size == 2


def test_the_simulation_kernels_cache_is_keyed_to_every_kernel_module() -> None:
    """numba keys a cache entry to its own file only: a simulation kernel compiles the accounting helpers and
    the layout's constants into itself, so each is keyed to all the kernel modules (an edit recompiles)."""
    from pathlib import Path

    from nautilus.core.numba_cache import kernels_of, source_digest
    from nautilus.strategy.backtest import accounting, layout, target_mode

    here = Path(layout.__file__).parent
    stems = ("layout", "accounting", "signal_mode", "target_mode")
    assert source_digest(here / f"{s}.py" for s in stems) == layout.KERNEL_SOURCES
    for f in here.glob("*.py"):  # a kernel module outside the digest must use no other backtest module
        text = f.read_text()
        if "@njit" in text and f.stem not in stems:
            assert "from nautilus.strategy.backtest" not in text, f.name
    cached = [d for m in (accounting, signal_mode, target_mode) for d in kernels_of(vars(m))
              if hasattr(d._cache, "_cache_file")]
    assert {d.__name__ for d in cached} >= {"simulate_signals_nb", "simulate_targets_nb", "fill_exit", "acc_finish"}
    for d in cached:
        stamp = d._cache._cache_file._source_stamp
        assert isinstance(stamp, tuple) and stamp[1] == layout.KERNEL_SOURCES, d.__name__
