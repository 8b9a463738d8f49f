"""The adapter framework's pure parts: range planning, pacing, back-adjustment, bar checks, calendar
timeframes and calendar resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.adapters.adjust import adjustment_factors, back_adjust
from nautilus.adapters.base import CorporateAction, finish_bars
from nautilus.adapters.ranges import merge_ranges, missing_ranges, windows
from nautilus.adapters.ratelimit import RateLimiter
from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, SourceError, SourceRateLimited
from nautilus.core.timeframe import calendar_floor, calendar_months, pandas_rule, timeframe_ns
from nautilus.marketdata.resample import resample

DAY = 86_400_000_000_000
ranges_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=8)


@given(ranges_st, st.integers(0, 60), st.integers(0, 60))
def test_missing_ranges_is_the_set_difference(covered, start, end):
    got = missing_ranges(start, end, covered)
    expected = set(range(start, end)) - {x for lo, hi in covered for x in range(lo, hi)}
    assert {x for lo, hi in got for x in range(lo, hi)} == expected
    assert all(lo < hi for lo, hi in got) and all(a[1] < b[0] for a, b in zip(got, got[1:], strict=False))


@given(ranges_st)
def test_merge_ranges_is_a_disjoint_union(ranges):
    merged = merge_ranges(ranges)
    assert {x for lo, hi in merged for x in range(lo, hi)} == {x for lo, hi in ranges for x in range(lo, hi)}
    assert all(a[1] < b[0] for a, b in zip(merged, merged[1:], strict=False))


def test_windows_page_a_range():
    assert windows(0, 10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert windows(5, 5, 3) == []
    with pytest.raises(ValueError):
        windows(0, 1, 0)


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.wall = 1_700_000_000.0  # 2023-11-14 22:13 UTC
        self.slept: list[float] = []

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s
        self.wall += s


def test_token_bucket_paces_to_the_rate_after_the_burst():
    clock = FakeTime()
    limiter = RateLimiter("x", 5, per_s=60, burst=2, clock=lambda: clock.t, sleep=clock.sleep, wall=lambda: clock.wall)
    for _ in range(6):
        limiter.acquire()
    # 2 at once (burst), then one every 12 s (5 per minute)
    assert clock.t == pytest.approx(48.0)
    assert limiter.waited_s == pytest.approx(48.0)


def test_daily_quota_raises_at_once_and_resets_at_midnight_utc():
    clock = FakeTime()
    limiter = RateLimiter("alphavantage", 100, per_s=1, daily=3, clock=lambda: clock.t, sleep=clock.sleep,
                          wall=lambda: clock.wall)
    limiter.seed_daily(1)
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(SourceRateLimited, match="daily quota of 3 requests"):
        limiter.acquire()
    clock.wall += 86_400
    limiter.acquire()


def test_back_adjust_hand_worked_split_and_dividend():
    ts = np.arange(5, dtype=np.int64) * DAY
    close = np.array([100.0, 102.0, 51.0, 50.0, 52.0])  # 2:1 split effective at bar 2; $1 dividend ex bar 4
    bars = Bars(symbol="X", timeframe="1d", ts=ts, open=close.copy(), high=close + 1, low=close - 1, close=close,
                volume=np.full(5, 10.0))
    actions = [CorporateAction(ts=2 * DAY, kind="split", value=2.0), CorporateAction(ts=4 * DAY, kind="dividend",
                                                                                     value=1.0)]
    out = back_adjust(bars, actions, "total")
    k = 1 - 1.0 / 50.0  # 0.98
    np.testing.assert_allclose(out.close, [50 * k, 51 * k, 51 * k, 50 * k, 52.0])
    np.testing.assert_allclose(out.volume, [20, 20, 10, 10, 10])
    np.testing.assert_allclose(out.high, (close + 1) * [k / 2, k / 2, k, k, 1])
    splits = back_adjust(bars, actions, "splits")
    np.testing.assert_allclose(splits.close, [50, 51, 51, 50, 52])
    assert back_adjust(bars, actions, "none").close.tolist() == close.tolist()
    # actions before the first or after the last bar change nothing yet
    price, volume = adjustment_factors(ts, close, [CorporateAction(ts=-DAY, kind="split", value=3.0),
                                                   CorporateAction(ts=9 * DAY, kind="split", value=3.0)])
    assert price.tolist() == [1.0] * 5 and volume.tolist() == [1.0] * 5
    with pytest.raises(ValueError, match="dividend"):
        adjustment_factors(ts, close, [CorporateAction(ts=DAY, kind="dividend", value=150.0)])


@settings(max_examples=50)
@given(st.lists(st.floats(0.5, 2.0), min_size=2, max_size=30), st.integers(1, 29), st.floats(0.01, 0.4))
def test_dividend_adjustment_is_the_crsp_rule(closes, k, yield_):
    """The day before the ex-date the adjusted close is the close less the dividend; returns within each side of
    the ex-date are unchanged (the multiplicative CRSP / Yahoo rule)."""
    closes = np.array(closes) * 100
    k = min(k, len(closes) - 1)
    dividend = closes[k - 1] * yield_
    ts = np.arange(len(closes), dtype=np.int64) * DAY
    bars = Bars(symbol="X", timeframe="1d", ts=ts, open=closes, high=closes, low=closes, close=closes,
                volume=np.ones(len(closes)))
    out = back_adjust(bars, [CorporateAction(ts=int(ts[k]), kind="dividend", value=float(dividend))])
    assert out.close[k - 1] == pytest.approx(closes[k - 1] - dividend, rel=1e-12)
    np.testing.assert_allclose(out.close[1:k] / out.close[: k - 1], closes[1:k] / closes[: k - 1], rtol=1e-12)
    np.testing.assert_array_equal(out.close[k:], closes[k:])


def _cols(close):
    close = np.asarray(close, dtype=float)
    return {"open": close, "high": close, "low": close, "close": close, "volume": np.ones(len(close))}


def test_finish_bars_drops_gaps_outside_rows_and_open_bars():
    ts = np.arange(6, dtype=np.int64) * DAY
    cols = _cols([1, 2, np.nan, 4, 5, 6])
    bars = finish_bars("src", "X", "1d", ts, cols, DAY, 6 * DAY, now=5 * DAY + 1)
    assert bars.ts.tolist() == [DAY, 3 * DAY, 4 * DAY]  # 0 before start, 2 a gap, 5 still open at `now`


def test_finish_bars_names_the_broken_row():
    ts = np.arange(3, dtype=np.int64) * DAY
    cols = _cols([1, 2, 3])
    cols["low"] = np.array([1.0, 2.5, 3.0])
    with pytest.raises(SourceError, match=r"src: malformed bar for X at 1970-01-02.*low is above"):
        finish_bars("src", "X", "1d", ts, cols, 0, 10 * DAY, now=10**19)
    with pytest.raises(SourceError, match="not positive"):
        finish_bars("src", "X", "1d", ts, _cols([1, 0, 3]), 0, 10 * DAY, now=10**19)
    assert len(finish_bars("src", "X", "1d", ts, _cols([1, 0, -3]), 0, 10 * DAY, now=10**19, positive=False)) == 3


def test_calendar_timeframes():
    assert calendar_months("1mo") == 1 and calendar_months("1q") == 3 and calendar_months("2y") == 24
    assert calendar_months("1m") is None and calendar_months("1d") is None
    assert timeframe_ns("1y") == 31_556_952 * 10**9 and timeframe_ns("1q") * 4 == timeframe_ns("1y")
    assert pandas_rule("1q") == "3MS"
    with pytest.raises(InvalidInput, match="mo, q or y"):
        timeframe_ns("1M")
    ts = pd.to_datetime(["2024-02-29 23:59", "2024-03-01 00:00", "2024-12-31 12:00"]).as_unit("ns").asi8
    assert calendar_floor(ts, 3).tolist() == pd.to_datetime(["2024-01-01", "2024-01-01", "2024-10-01"]).as_unit(
        "ns").asi8.tolist()


@pytest.mark.parametrize("target", ["1mo", "1q", "1y", "2mo"])
def test_calendar_resample_matches_pandas(target):
    rng = np.random.default_rng(3)
    index = pd.date_range("2019-11-03", periods=900, freq="D", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    frame = pd.DataFrame({"open": close * 0.999, "high": close * 1.01, "low": close * 0.99, "close": close,
                          "volume": rng.integers(1, 100, len(index)).astype(float)}, index=index)
    bars = Bars.from_pandas(frame, "X", "1d")
    out = resample(bars, target)
    months = calendar_months(target)
    # pandas groups by calendar period; periods counted from January 1970 for multi-month bins
    key = pd.Series(calendar_floor(frame.index.as_unit("ns").asi8, months), index=frame.index)
    ref = frame.groupby(key.values).agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                          "volume": "sum"})
    if target in ("1mo", "1q", "1y"):
        rule = {"1mo": "MS", "1q": "QS", "1y": "YS"}[target]
        pd_ref = frame.resample(rule).agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                           "volume": "sum"})
        np.testing.assert_array_equal(pd_ref.index.as_unit("ns").asi8, out.ts)
        np.testing.assert_allclose(pd_ref["close"].to_numpy(), out.close)
    np.testing.assert_array_equal(ref.index.to_numpy(), out.ts)
    for c in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(ref[c].to_numpy(), getattr(out, c))


def test_calendar_resample_refuses_straddling_sources():
    bars = Bars.empty("X", "1w")
    with pytest.raises(InvalidInput, match="straddle"):
        resample(bars, "1mo")
    with pytest.raises(InvalidInput, match="straddle"):
        resample(Bars.empty("X", "2mo"), "1q")
    with pytest.raises(InvalidInput, match="whole multiple"):
        resample(Bars.empty("X", "1mo"), "90d")
