"""Streaming indicator kernels: TA-Lib's values, and resuming equals a fresh run bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.strategy import streaming as s


def _series(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    h = c + np.round(rng.uniform(0, 1, n), 2)
    l = c - np.round(rng.uniform(0, 1, n), 2)
    return h, l, c


CASES = [
    ("sma", s.SMA, 20, lambda h, l, c, p: talib.SMA(c, p)),
    ("ema", s.EMA, 20, lambda h, l, c, p: talib.EMA(c, p)),
    ("rsi", s.RSI, 14, lambda h, l, c, p: talib.RSI(c, p)),
    ("atr", s.ATR, 14, lambda h, l, c, p: talib.ATR(h, l, c, p)),
    ("roc", s.ROC, 10, lambda h, l, c, p: talib.ROC(c, p)),
    ("mom", s.MOM, 10, lambda h, l, c, p: talib.MOM(c, p)),
    ("max", s.MAX, 20, lambda h, l, c, p: talib.MAX(c, p)),
    ("min", s.MIN, 20, lambda h, l, c, p: talib.MIN(c, p)),
    ("stddev", s.STDDEV, 20, lambda h, l, c, p: talib.STDDEV(c, p)),
]


@pytest.mark.parametrize(("name", "kind", "period", "reference"), CASES, ids=[c[0] for c in CASES])
def test_matches_talib(name, kind, period, reference) -> None:
    h, l, c = _series(2_000, 7)
    ours = s.run(kind, c, h, l, c, period)
    ref = reference(h, l, c, period)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_price_kind_copies_the_input() -> None:
    h, l, c = _series(50, 1)
    np.testing.assert_array_equal(s.run(s.PRICE, c, h, l, c, 1), c)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from([k for _, k, _, _ in CASES]), period=st.integers(2, 30), n=st.integers(1, 300),
       cut=st.floats(0, 1), seed=st.integers(0, 10_000))
def test_resume_equals_fresh_run(kind, period, n, cut, seed) -> None:
    h, l, c = _series(n, seed)
    full = s.run(kind, c, h, l, c, period)
    k = int(cut * n)
    out = np.full(n, np.nan)
    state = np.zeros(s.STATE_SIZE)
    s.stream(kind, c[:k], h[:k], l[:k], c[:k], period, out, state, 0)
    s.stream(kind, c, h, l, c, period, out, state, k)
    np.testing.assert_array_equal(out, full)


def test_series_shorter_than_lookback_stays_empty() -> None:
    h, l, c = _series(5, 3)
    assert np.isnan(s.run(s.RSI, c, h, l, c, 14)).all()
