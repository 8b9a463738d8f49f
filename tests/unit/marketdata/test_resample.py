"""resample against pandas and a pure-Python oracle; bad targets rejected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import pandas_rule, timeframe_ns
from nautilus.marketdata.resample import resample

MINUTE = 60_000_000_000
START = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC


def random_minute_bars(seed: int, n_minutes: int = 20 * 1440, keep: float = 0.7, float_volume: bool = False):
    """1m bars with random missing minutes and two whole missing days."""
    rng = np.random.default_rng(seed)
    minutes = np.flatnonzero(rng.random(n_minutes) < keep)
    day = minutes // 1440
    minutes = minutes[(day != 3) & (day != 11)]
    n = len(minutes)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = close * np.exp(rng.normal(0, 1e-4, n))
    volume = rng.random(n) * 1e4 if float_volume else rng.integers(0, 10_000, n).astype(float)
    return Bars(
        symbol="R",
        timeframe="1m",
        ts=START + minutes.astype(np.int64) * MINUTE,
        open=open_,
        high=np.maximum(open_, close) * (1 + rng.random(n) * 1e-3),
        low=np.minimum(open_, close) * (1 - rng.random(n) * 1e-3),
        close=close,
        volume=volume,
    )


def reference_rule(timeframe: str) -> str:
    return pandas_rule(timeframe)


def pandas_reference(bars: Bars, timeframe: str, origin_ns: int = 0) -> pd.DataFrame:
    """pandas resample on a naive UTC index (on an aware one pandas 3 ignores origin for day rules)."""
    frame = bars.to_pandas().tz_localize(None)
    origin = "epoch" if origin_ns == 0 else pd.Timestamp(origin_ns)
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return (
        frame.resample(reference_rule(timeframe), origin=origin, label="left", closed="left")
        .agg(agg)
        .dropna()
    )


def assert_matches(result: Bars, reference: pd.DataFrame, exact_volume: bool = True) -> None:
    assert np.array_equal(result.ts, reference.index.as_unit("ns").asi8)
    for column in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(result, column), reference[column].to_numpy()), column
    if exact_volume:
        assert np.array_equal(result.volume, reference["volume"].to_numpy())
    else:
        np.testing.assert_allclose(result.volume, reference["volume"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h", "4h", "1d", "1w"])
def test_matches_pandas_with_gaps(timeframe):
    bars = random_minute_bars(seed=1)
    result = resample(bars, timeframe)
    reference = pandas_reference(bars, timeframe)
    assert result.symbol == "R" and result.timeframe == timeframe
    assert_matches(result, reference)


@pytest.mark.parametrize("timeframe", ["5m", "1h", "1d"])
def test_matches_pandas_with_float_volumes(timeframe):
    bars = random_minute_bars(seed=2, float_volume=True)
    assert_matches(resample(bars, timeframe), pandas_reference(bars, timeframe), exact_volume=False)


def test_origin_shifts_the_buckets():
    bars = random_minute_bars(seed=3, n_minutes=5 * 1440)
    origin = START + 13 * 3_600_000_000_000 + 30 * MINUTE  # buckets open at hh:30 (and 13:30 for 4h)
    for timeframe in ("1h", "4h"):
        result = resample(bars, timeframe, origin_ns=origin)
        assert_matches(result, pandas_reference(bars, timeframe, origin_ns=origin))
        assert np.all((result.ts - origin) % timeframe_ns(timeframe) == 0)
    daily = resample(bars, "1d", origin_ns=origin)  # daily bars are session dates: the origin does not move them
    assert np.array_equal(daily.ts, resample(bars, "1d").ts) and np.all(daily.ts % timeframe_ns("1d") == 0)


def test_gap_days_produce_no_bars():
    result = resample(random_minute_bars(seed=4), "1d")
    days = (result.ts - START) // (1440 * MINUTE)
    assert 3 not in days and 11 not in days
    assert len(result) == 18


def test_empty_bars_give_empty_bars():
    result = resample(Bars.empty("E", "1m"), "1h")
    assert len(result) == 0 and result.timeframe == "1h" and result.ts.dtype == np.int64


@pytest.mark.parametrize(
    ("source", "target", "fragment"),
    [
        ("1m", "30s", "finer than"),
        ("5m", "1m", "finer than"),
        ("1m", "90s", "not a whole multiple"),
        ("5m", "7m", "not a whole multiple"),
        ("1h", "1x", "is not valid"),
    ],
)
def test_bad_target_timeframe_rejected(source, target, fragment):
    bars = random_minute_bars(seed=5, n_minutes=100)
    bars = Bars(
        symbol="R",
        timeframe=source,
        ts=bars.ts,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
    )
    with pytest.raises(InvalidInput, match=fragment) as info:
        resample(bars, target)
    assert info.value.field == "timeframe"


def test_unsorted_bars_rejected():
    bars = random_minute_bars(seed=6, n_minutes=100)
    ts = bars.ts.copy()
    ts[[10, 11]] = ts[[11, 10]]
    shuffled = Bars(
        symbol="R",
        timeframe="1m",
        ts=ts,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
    )
    with pytest.raises(InvalidInput, match=r"strictly increasing: ts\[11\]") as info:
        resample(shuffled, "5m")
    assert info.value.field == "bars"


# --- property: equal to a pure-Python oracle, and composition of resamples ----------------------------


def oracle(bars: Bars, step: int, origin: int) -> dict[int, tuple[float, ...]]:
    buckets: dict[int, list[float]] = {}
    for i, t in enumerate(bars.ts.tolist()):
        key = (t - origin) // step * step + origin
        o, h, lo, c, v = (float(getattr(bars, name)[i]) for name in COLUMNS)
        if key not in buckets:
            buckets[key] = [o, h, lo, c, v]
        else:
            b = buckets[key]
            buckets[key] = [b[0], max(b[1], h), min(b[2], lo), c, b[4] + v]
    return {k: tuple(v) for k, v in buckets.items()}


@st.composite
def bar_series(draw) -> Bars:
    offsets = draw(
        st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=0, max_size=60, unique=True)
    )
    ts = np.sort(np.array(offsets, dtype=np.int64)) * MINUTE
    n = len(ts)
    price = st.floats(min_value=0.01, max_value=1e6)
    columns = {c: np.array(draw(st.lists(price, min_size=n, max_size=n)), dtype=np.float64) for c in COLUMNS}
    return Bars(symbol="H", timeframe="1m", ts=ts, **columns)


@settings(max_examples=200, deadline=None)
@given(
    bar_series(),
    st.sampled_from(["1m", "3m", "5m", "1h", "1d"]),
    st.integers(min_value=-(10**15), max_value=10**15),
)
def test_equals_python_oracle(bars, timeframe, origin):
    result = resample(bars, timeframe, origin_ns=origin)
    if timeframe == "1d":
        origin = 0  # daily bars are session dates (UTC days without a calendar): the origin does not move them
    expected = oracle(bars, timeframe_ns(timeframe), origin)
    assert result.ts.tolist() == list(expected)
    got = zip(*(getattr(result, name).tolist() for name in COLUMNS), strict=True)
    assert list(got) == list(expected.values())


@settings(max_examples=100, deadline=None)
@given(bar_series(), st.sampled_from([("5m", "1h"), ("15m", "1d"), ("1h", "1d")]))
def test_resampling_in_steps_equals_resampling_directly(bars, path):
    bars.volume = np.round(bars.volume)  # integer volumes: sums are exact in any order
    middle, target = path
    direct, stepped = resample(bars, target), resample(resample(bars, middle), target)
    for name in ("ts", *COLUMNS):
        assert np.array_equal(getattr(direct, name), getattr(stepped, name)), name
