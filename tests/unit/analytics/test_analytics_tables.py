"""Hand-worked drawdown tables, trade statistics and the tear sheet's HTML."""

from __future__ import annotations

import re

import empyrical as ep
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nautilus.analytics import drawdown_table, trade_stats
from nautilus.analytics.tearsheet import tear_sheet

DAY = 86_400 * 10**9


def test_drawdown_table_hand_worked() -> None:
    # value path 1 -> 1.1 -> 0.88 -> 0.924 -> 1.155 -> 1.0395 -> 1.0395
    r = np.array([0.10, -0.20, 0.05, 0.25, -0.10, 0.0])
    ts = np.arange(6) * DAY
    table = drawdown_table(r, top=5, ts=ts)
    assert len(table) == 2
    first, second = table
    assert (first["peak"], first["valley"], first["recovery"], first["duration"]) == (0, 1, 3, 3)
    assert first["depth"] == pytest.approx(-0.2, abs=1e-12)
    assert (first["peak_ts"], first["valley_ts"], first["recovery_ts"]) == (0, DAY, 3 * DAY)
    assert (second["peak"], second["valley"], second["recovery"], second["duration"]) == (3, 4, None, 2)
    assert second["depth"] == pytest.approx(-0.1, abs=1e-12)
    assert second["recovery_ts"] is None
    assert drawdown_table(r, top=1) == [{k: v for k, v in first.items() if not k.endswith("_ts")}]


def test_drawdown_table_from_the_start_and_with_leading_nans() -> None:
    table = drawdown_table(np.array([np.nan, np.nan, -0.1, 0.2, 0.0]))
    assert len(table) == 1
    row = table[0]
    assert (row["peak"], row["valley"], row["recovery"], row["duration"]) == (1, 2, 3, 2)
    assert row["depth"] == pytest.approx(-0.1)
    assert drawdown_table(np.array([0.01, 0.02])) == []


TRADES = [
    {"pnl": 10.0, "return": 0.10, "entry_idx": 0, "exit_idx": 3, "exit_reason": "signal"},
    {"pnl": -5.0, "return": -0.05, "entry_idx": 4, "exit_idx": 6, "exit_reason": "stop_loss"},
    {"pnl": 0.0, "return": 0.0, "entry_idx": 7, "exit_idx": 8, "exit_reason": "signal"},
    {"pnl": 20.0, "return": 0.20, "entry_idx": 9, "exit_idx": 19, "exit_reason": "signal"},
    {"pnl": -10.0, "return": -0.10, "entry_idx": 20, "exit_idx": 21, "exit_reason": "signal"},
    {"pnl": -2.0, "return": -0.02, "entry_idx": 22, "exit_idx": 25, "exit_reason": "signal"},
    {"pnl": 15.0, "return": 0.15, "entry_idx": 26, "exit_idx": 30, "exit_reason": "signal"},
    {"pnl": 99.0, "return": 0.99, "entry_idx": 31, "exit_idx": -1, "exit_reason": "open"},
]


def test_trade_stats_hand_worked() -> None:
    s = trade_stats(TRADES)
    assert s["n_trades"] == 7  # the open trade is left out
    assert s["win_rate"] == pytest.approx(3 / 7)
    assert s["gross_profit"] == 45 and s["gross_loss"] == 17
    assert s["profit_factor"] == pytest.approx(45 / 17)
    assert s["expectancy"] == pytest.approx(28 / 7)
    assert s["avg_win"] == pytest.approx(15.0) and s["avg_loss"] == pytest.approx(-17 / 3)
    assert s["payoff_ratio"] == pytest.approx(15 / (17 / 3))
    assert (s["best_trade"], s["worst_trade"]) == (20.0, -10.0)
    assert (s["best_return"], s["worst_return"]) == (0.20, -0.10)
    assert s["avg_holding_bars"] == pytest.approx((3 + 2 + 1 + 10 + 1 + 3 + 4) / 7)
    assert (s["max_win_streak"], s["max_loss_streak"]) == (1, 2)
    assert s["total_pnl"] == 28


def test_trade_stats_without_trades_or_losses() -> None:
    empty = trade_stats([])
    assert empty["n_trades"] == 0 and np.isnan(empty["win_rate"]) and np.isnan(empty["profit_factor"])
    wins = trade_stats([{"pnl": 1.0}, {"pnl": 2.0}])
    assert wins["win_rate"] == 1 and np.isnan(wins["profit_factor"]) and np.isnan(wins["payoff_ratio"])
    assert wins["max_win_streak"] == 2 and np.isnan(wins["avg_holding_bars"])


def test_tear_sheet_is_self_contained_and_escaped() -> None:
    rng = np.random.default_rng(1)
    n = 400
    r = rng.normal(0.0005, 0.01, n)
    ts = 1_600_000_000 * 10**9 + np.arange(n) * DAY
    trades = [dict(t, direction="<b>long</b>", entry_ts=int(ts[0]), exit_ts=int(ts[3])) for t in TRADES[:-1]] * 40
    page = tear_sheet(r, ts, benchmark=r * 0.5, trades=trades, title="<script>alert('x')</script>",
                      name="a & b", meta={"note": "<img src=x>"})
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "a &amp; b" in page and "&lt;b&gt;long&lt;/b&gt;" in page
    # no network assets: nothing loaded by URL (SVG namespaces are identifiers, not requests)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    for section in ("Headline statistics", "Equity", "Monthly returns", "Rolling Sharpe", "Distribution",
                    "Worst drawdowns", "Trades"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("<svg") == 5  # equity, underwater, heatmap, rolling Sharpe, histogram
    assert "first 200 of 280" in page
    assert page.split("<h2>Trades</h2>")[1].count("<tr>") == 201  # header + 200 trades
    assert "VaR 95%" in page and "CVaR 95%" in page


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(1, 80), elements=st.floats(-0.3, 0.3, allow_nan=False, width=64)))
def test_property_deepest_drawdown_is_empyrical_max_drawdown(r: np.ndarray) -> None:
    table = drawdown_table(r, top=100)
    want = ep.max_drawdown(r)
    if want < 0:
        assert table[0]["depth"] == pytest.approx(want, rel=1e-9, abs=1e-12)
        depths = [row["depth"] for row in table]
        assert depths == sorted(depths)
        for row in table:  # the valley lies between the peak and the recovery; a recovery is a new high
            assert row["peak"] < row["valley"] and (row["recovery"] is None or row["valley"] < row["recovery"])
            wealth = np.r_[1.0, np.cumprod(1 + r)]
            peak_value = wealth[row["peak"] + 1]
            assert wealth[row["valley"] + 1] / peak_value - 1 == pytest.approx(row["depth"], abs=1e-12)
            if row["recovery"] is not None:
                assert wealth[row["recovery"] + 1] >= peak_value
    else:
        assert table == []
