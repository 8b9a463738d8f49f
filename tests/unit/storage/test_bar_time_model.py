"""The bar time model against independent references: the same file under two input zones, pandas resample
with the same week/month anchor, exchange_calendars sessions; the old-catalog migration; panel alignment."""

from __future__ import annotations

import exchange_calendars as xc
import msgspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.timeframe import time_convention, week_floor
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.ingest import parse_bars
from nautilus.factor.panel import load_panel
from nautilus.marketdata.resample import resample
from nautilus.marketdata.synthetic import bar_times, gbm_bars
from nautilus.storage.bar_time import MARKER, migrate_catalog, normalize_bars
from nautilus.storage.bars import read_bars
from nautilus.storage.catalog import BarCatalog

DAY = 86_400 * 10**9
MIN = 60 * 10**9
ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
         "America/Los_Angeles", "Asia/Kolkata"]
XNYS = xc.get_calendar("XNYS", start="2000-01-03", end="2030-12-31")


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def csv(dates: list[pd.Timestamp], clock: str) -> bytes:
    rows = "".join(f"{d.date()} {clock},{100 + i},{101 + i},{99 + i},{100.5 + i},{1000 + i}\n"
                   for i, d in enumerate(dates))
    return ("Date,Open,High,Low,Close,Volume\n" + rows).encode()


def daily(symbol: str, ts: np.ndarray, seed: int = 0, timeframe: str = "1d") -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(ts))))
    return Bars(symbol=symbol, timeframe=timeframe, ts=np.asarray(ts, dtype=np.int64), open=close * 0.999,
                high=close * 1.01, low=close * 0.99, close=close, volume=rng.integers(1, 1000, len(ts)).astype(float))


# --- time stamps and time zones ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.integers(min_value=ns("1990-01-01") // DAY, max_value=ns("2040-01-01") // DAY),
       gaps=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40),
       zone=st.sampled_from(ZONES), clock=st.sampled_from(["00:00", "09:30", "16:00", "23:59", "12:00"]),
       timeframe=st.sampled_from(["1d", "1w", "1mo"]))
def test_one_file_in_two_zones_gives_one_daily_series(first, gaps, zone, clock, timeframe):
    days = np.cumsum([first, *gaps]) * DAY
    if timeframe != "1d":  # one bar per period: the period's stamps
        days = np.unique(week_floor(days) if timeframe == "1w" else days.astype("datetime64[ns]").astype(
            "datetime64[M]").astype("datetime64[ns]").astype(np.int64))
    dates = list(pd.to_datetime(days))
    data = csv(dates, clock)
    plain = parse_bars(data, fmt="csv", symbol="ACME", timeframe=timeframe)
    zoned = parse_bars(data, fmt="csv", symbol="ACME", timeframe=timeframe, tz=zone)
    assert zoned.ts.tolist() == plain.ts.tolist() == days.tolist()  # 00:00 UTC of the file's dates
    for column in COLUMNS:
        assert np.array_equal(getattr(zoned, column), getattr(plain, column))


def test_intraday_bars_keep_their_utc_open_instant():
    data = csv([pd.Timestamp("2024-07-01")], "09:30")
    assert parse_bars(data, fmt="csv", symbol="A", timeframe="1m", tz="America/New_York").ts.tolist() == [
        ns("2024-07-01 13:30")]
    assert time_convention("1m") == "utc_open" and time_convention("1d") == time_convention("1w") == "session_date"


# --- weeks and months -------------------------------------------------------------------------------


def pandas_periods(bars: Bars, rule: str) -> pd.DataFrame:
    frame = bars.to_pandas().tz_localize(None)
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return frame.resample(rule, label="left", closed="left").agg(agg).dropna()


@settings(max_examples=60, deadline=None)
@given(first=st.integers(min_value=ns("1995-01-01") // DAY, max_value=ns("2035-01-01") // DAY),
       keep=st.lists(st.booleans(), min_size=1, max_size=400),
       target=st.sampled_from([("1w", "W-MON", "MON"), ("1w", "W-WED", "WED"), ("1w", "W-SUN", "SUN"),
                               ("1mo", "MS", "MON"), ("1q", "QS-JAN", "MON")]))
def test_weeks_and_months_match_pandas_with_the_same_anchor(first, keep, target):
    timeframe, rule, anchor = target
    days = (first + np.flatnonzero(keep)) * DAY
    if len(days) == 0:
        return
    bars = daily("W", days, seed=len(days))
    ours = resample(bars, timeframe, week_anchor=anchor)
    ref = pandas_periods(bars, rule)
    assert ours.ts.tolist() == ref.index.as_unit("ns").asi8.tolist()
    for column in COLUMNS:
        np.testing.assert_allclose(getattr(ours, column), ref[column].to_numpy(), rtol=1e-12)


def test_weekly_bars_start_on_monday_even_on_a_holiday():
    sessions = XNYS.sessions_in_range("2024-01-01", "2024-01-31")  # Monday 2024-01-15 is a holiday
    weekly = resample(daily("A", sessions.as_unit("ns").asi8), "1w")
    assert [pd.Timestamp(t).day_name() for t in weekly.ts] == ["Monday"] * 5
    assert ns("2024-01-15") in weekly.ts.tolist()
    generated = bar_times("1w", ns("2024-01-04"), 3, "XNYS")
    assert generated.tolist() == [ns("2024-01-08"), ns("2024-01-15"), ns("2024-01-22")]


# --- trading calendars ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(first=st.integers(min_value=ns("2001-01-01") // DAY, max_value=ns("2028-01-01") // DAY),
       n=st.integers(min_value=1, max_value=300))
def test_generated_daily_bars_are_the_exchange_sessions(first, n):
    ours = gbm_bars("G", "1d", first * DAY, n, seed=1, sessions="XNYS").ts
    ref = XNYS.sessions[XNYS.sessions >= pd.Timestamp(first * DAY)][:n]
    assert ours.tolist() == ref.as_unit("ns").asi8.tolist()


def test_daily_bars_from_minutes_respect_sessions_and_early_closes():
    # every minute of 2024-11-25 .. 2024-12-02: Thanksgiving (closed), its Friday (closes 13:00), a weekend
    minutes = np.arange(ns("2024-11-25"), ns("2024-12-03"), MIN, dtype=np.int64)
    bars = daily("M", minutes, seed=3, timeframe="1m")
    ours = resample(bars, "1d", calendar="XNYS")
    sched = XNYS.schedule.loc["2024-11-25":"2024-12-02"]
    assert ours.ts.tolist() == sched.index.as_unit("ns").asi8.tolist()
    frame = bars.to_pandas()
    for t, (_, row) in enumerate(sched.iterrows()):
        inside = frame[(frame.index >= row["open"]) & (frame.index < row["close"])]
        assert ours.open[t] == inside["open"].iloc[0] and ours.close[t] == inside["close"].iloc[-1]
        assert ours.volume[t] == inside["volume"].sum() and ours.high[t] == inside["high"].max()
    friday = ours.ts.tolist().index(ns("2024-11-29"))
    assert ours.close[friday] == frame.loc[pd.Timestamp("2024-11-29 17:59", tz="UTC"), "close"]  # 12:59 New York


def test_generated_minutes_shorten_early_closes():
    ts = gbm_bars("G", "1m", ns("2024-11-29"), 5000, seed=1, sessions="XNYS").ts
    friday = ts[(ts >= ns("2024-11-29")) & (ts < ns("2024-11-30"))]
    assert len(friday) == 210 and friday[0] == ns("2024-11-29 14:30") and friday[-1] == ns("2024-11-29 17:59")
    assert not np.any((ts >= ns("2024-11-30")) & (ts < ns("2024-12-02")))  # no weekend bars


# --- migration of catalogs written the old way ------------------------------------------------------


def test_migration_restamps_an_old_catalog_once(tmp_path):
    catalog = BarCatalog(tmp_path)
    sessions = XNYS.sessions_in_range("2024-01-02", "2024-03-28").as_unit("ns").asi8
    local_midnight = pd.DatetimeIndex(pd.to_datetime(sessions)).tz_localize("America/New_York")
    old = daily("ACME", local_midnight.tz_convert("UTC").as_unit("ns").asi8, seed=5)  # the old --tz ingest
    catalog.write(old)
    catalog.write(daily("GEN", sessions, seed=6))  # already on the model
    epoch_weeks = np.unique(sessions // (7 * DAY) * (7 * DAY))  # the old 1w: Thursday starts
    catalog.write(daily("ACME", epoch_weeks, seed=7, timeframe="1w"))
    changed = migrate_catalog(catalog, tmp_path, resample=resample)
    assert sorted((s, tf, rows, dropped) for s, tf, rows, dropped in changed) == [
        ("ACME", "1d", len(sessions), 0), ("ACME", "1w", 13, 0)]
    fixed = catalog.read("ACME", "1d")
    assert fixed.ts.tolist() == sessions.tolist() and np.array_equal(fixed.close, old.close)
    assert catalog.read("ACME", "1w").ts.tolist() == resample(fixed, "1w").ts.tolist()
    assert catalog.read("GEN", "1d").ts.tolist() == sessions.tolist()
    assert (tmp_path / MARKER).exists()
    assert migrate_catalog(catalog, tmp_path, resample=resample) == []  # once
    assert migrate_catalog(catalog, tmp_path, resample=resample, force=True) == []  # and idempotent


def test_normalize_keeps_the_session_already_on_the_model():
    bars = daily("X", np.array([ns("2024-03-04"), ns("2024-03-04 05:00"), ns("2024-03-05 05:00")]))
    fixed, dropped = normalize_bars(bars, "XNYS")
    assert dropped == 1 and fixed.ts.tolist() == [ns("2024-03-04"), ns("2024-03-05")]
    assert fixed.close.tolist() == [bars.close[0], bars.close[2]]


# --- cross-sectional alignment: the scenario in small ---------------------------------------


def test_panel_dates_are_the_common_sessions(tmp_path):
    catalog = BarCatalog(tmp_path)
    sessions = XNYS.sessions_in_range("2024-01-02", "2024-06-28")
    data = csv(list(sessions), "00:00")
    catalog.write(parse_bars(data, fmt="csv", symbol="ACME", timeframe="1d", tz="America/New_York"))
    start = ns("2024-01-01")
    for k, symbol in enumerate(("AAA", "BBB", "CCC", "DDD", "EEE")):
        catalog.write(gbm_bars(symbol, "1d", start, len(sessions) - k, seed=k, sessions="XNYS"))
    panel = load_panel(lambda s: read_bars(catalog, s, "1d"), ["ACME", "AAA", "BBB", "CCC", "DDD", "EEE"], "1d")
    common = sessions[: len(sessions) - 4].as_unit("ns").asi8
    assert panel.ts.tolist() == common.tolist()
    assert np.isfinite(panel.close).all()


def test_bars_reply_names_its_time_convention_and_calendar():
    class Fake:
        def bars(self, req):
            return daily("AAPL", np.array([ns("2024-03-04")]))

    doc = msgspec.json.decode(MarketDataEngine.bars_json(Fake(), None))
    assert doc["time_convention"] == "session_date" and doc["calendar"] == "XNYS"
    assert doc["symbol"] == "AAPL" and doc["count"] == 1 and doc["t"] == [ns("2024-03-04") // 10**6]


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_epoch_daily_stamps_take_the_date_in_the_zone(zone):
    open_instant = pd.Timestamp("2024-03-04 09:30", tz=zone)
    text = f"ts,open,high,low,close,volume\n{open_instant.value // 10**9},1,1,1,1,1\n".encode()
    assert parse_bars(text, fmt="csv", symbol="E", timeframe="1d", tz=zone).ts.tolist() == [ns("2024-03-04")]
