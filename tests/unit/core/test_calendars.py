"""Trading calendars against exchange_calendars itself (an independent reference) and hand-worked cases."""

from __future__ import annotations

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core import calendars
from nautilus.core.calendars import (
    calendar_for,
    check_calendar,
    is_open,
    open_ns,
    periods_per_year,
    session_bar_opens,
    session_of,
    sessions,
)
from nautilus.core.errors import InvalidInput

DAY = 86_400 * 10**9
MIN = 60 * 10**9
REF_START, REF_END = "2015-01-01", "2024-12-31"


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def reference(name: str):
    return xc.get_calendar(name, start="2000-01-03", end="2030-12-31")


days_2001_2029 = st.integers(min_value=ns("2001-01-01") // DAY, max_value=ns("2029-12-01") // DAY)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["XNYS", "XLON", "XTKS", "24/7", "24/5"]), first=days_2001_2029,
       length=st.integers(min_value=0, max_value=400))
def test_sessions_are_the_libraries_sessions(name, first, length):
    start, end = first * DAY, (first + length) * DAY
    ours = sessions(name, start, end)
    ref = reference(name).sessions
    expected = ref[(ref >= pd.Timestamp(start)) & (ref < pd.Timestamp(end))]
    assert ours.tolist() == expected.to_numpy().astype("datetime64[ns]").astype(np.int64).tolist()


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["XNYS", "XLON", "24/5", "24/7"]),
       minute=st.integers(min_value=ns("2005-01-01") // MIN, max_value=ns("2029-01-01") // MIN))
def test_is_open_matches_the_library(name, minute):
    ts = minute * MIN
    cal = reference(name)
    expected = bool(cal.is_open_on_minute(pd.Timestamp(ts, tz="UTC"), ignore_breaks=True))  # side "left"
    assert bool(is_open(name, np.array([ts]))[0]) == expected


@settings(max_examples=30, deadline=None)
@given(start_min=st.integers(min_value=ns("2010-01-01") // MIN, max_value=ns("2028-01-01") // MIN),
       minutes=st.integers(min_value=0, max_value=20 * 1440))
def test_open_ns_counts_the_open_minutes(start_min, minutes):
    start, end = start_min * MIN, (start_min + minutes) * MIN
    sched = reference("XNYS").schedule
    opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    closes = sched["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    grid = np.arange(start, end, MIN, dtype=np.int64)
    k = np.searchsorted(opens, grid, side="right") - 1
    inside = (k >= 0) & (grid < closes[np.clip(k, 0, None)])
    assert open_ns("XNYS", start, end) == int(inside.sum()) * MIN


def test_session_of_respects_early_closes_and_holidays():
    day_after_thanksgiving = ns("2024-11-29")
    assert session_of("XNYS", np.array([ns("2024-11-29 17:59"), ns("2024-11-29 18:00"), ns("2024-11-28 15:00"),
                                         ns("2024-11-27 15:00"), ns("2024-11-27 14:29")])).tolist() == [
        day_after_thanksgiving, -1, -1, ns("2024-11-27"), -1]
    assert session_of("24/7", np.array([ns("2024-06-01 23:59")])).tolist() == [ns("2024-06-01")]
    assert session_of("24/5", np.array([ns("2024-06-01 12:00")])).tolist() == [-1]  # a Saturday


def test_session_bar_opens_follow_the_session():
    hours = session_bar_opens("XNYS", 3600 * 10**9, ns("2024-11-29"), ns("2024-11-30"))
    assert hours.tolist() == [ns(f"2024-11-29 {h}:00") for h in (14, 15, 16, 17)]  # 09:30-13:00 New York
    summer = session_bar_opens("XNYS", 30 * MIN, ns("2024-07-01"), ns("2024-07-02"))
    assert summer[0] == ns("2024-07-01 13:30") and summer[-1] == ns("2024-07-01 19:30") and len(summer) == 13


def test_periods_per_year_against_the_library_counts():
    for name in ("XNYS", "XLON", "XTKS"):
        count = len(reference(name).sessions_in_range(REF_START, REF_END))
        assert periods_per_year(name, "1d") == pytest.approx(count / 10)
        assert periods_per_year(name, "5d") == pytest.approx(count / 50)
    assert periods_per_year("XNYS", "1d") == pytest.approx(251.6)
    # hourly bars by open: 7 a regular session (09:30-16:00), 4 an early close (09:30-13:00)
    sched = reference("XNYS").schedule.loc[REF_START:REF_END]
    hours = ((sched["close"] - pd.Timedelta(1, "ns")).dt.floor("h") - sched["open"].dt.floor("h")) // pd.Timedelta(
        1, "h") + 1
    assert set(hours.unique()) == {4, 7}
    assert periods_per_year("XNYS", "1h") == pytest.approx(hours.sum() / 10)
    minutes = ((sched["close"] - sched["open"]) // pd.Timedelta(1, "min")).sum()
    assert periods_per_year("XNYS", "1m") == pytest.approx(minutes / 10)


def test_periods_per_year_hand_worked():
    assert periods_per_year("24/7", "1d") == 365.25
    assert periods_per_year("24/5", "1d") == pytest.approx(260.89, abs=0.01)
    assert periods_per_year("24/7", "1h") == 365.25 * 24
    assert periods_per_year("24/5", "4h") == pytest.approx(365.25 * 5 / 7 * 6)
    for name in ("XNYS", "24/7", "24/5"):
        assert periods_per_year(name, "1w") == pytest.approx(52.18, abs=0.01)
        assert periods_per_year(name, "2w") == pytest.approx(26.09, abs=0.01)
        assert periods_per_year(name, "1mo") == 12
        assert periods_per_year(name, "1q") == 4
        assert periods_per_year(name, "1y") == 1
    assert periods_per_year("weekdays", "1d") == periods_per_year("24/5", "1d")  # the legacy alias


def test_calendar_for_rules():
    assert calendar_for("AAPL") == "XNYS"
    assert calendar_for("BTCUSDT") == calendar_for("XBT", "crypto") == "24/7"
    assert calendar_for("EURUSD") == calendar_for("X", "fx") == calendar_for("CPI", "economic") == "24/5"
    assert calendar_for("VOD", "equity", "LSE") == calendar_for("VOD", None, "XLON") == "XLON"
    assert calendar_for("7203", "equity", "TSE") == "XTKS"
    assert calendar_for("QQQ", "etf", "NASDAQ") == "XNAS"
    assert calendar_for("ODD", "equity", "Nowhere Exchange") == "XNYS"


def test_check_calendar_names():
    assert check_calendar("xnys") == "XNYS" and check_calendar("24x7") == "24/7" and check_calendar("weekdays") == "24/5"
    with pytest.raises(InvalidInput) as err:
        check_calendar("MOON")
    assert err.value.field == "calendar"
    with pytest.raises(InvalidInput):
        periods_per_year("XNYS", "1x")


def test_outside_the_library_span_falls_back_to_weekdays():
    days = sessions("XNYS", ns("2060-01-01"), ns("2060-01-15"))
    assert len(days) == 10 and all(pd.Timestamp(d).day_of_week < 5 for d in days)
    assert calendars.SPAN[1] == "2050-12-31"
