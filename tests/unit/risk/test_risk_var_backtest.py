"""VaR backtests: Kupiec, Christoffersen, traffic light, rolling out-of-sample backtest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nautilus.core.errors import InvalidInput
from nautilus.risk.var_backtest import (
    christoffersen,
    kupiec_pof,
    rolling_var_backtest,
    traffic_light,
    traffic_light_thresholds,
)


def chi2_1_sf(x: float) -> float:
    return math.erfc(math.sqrt(x / 2.0))


def chi2_2_sf(x: float) -> float:
    return math.exp(-x / 2.0)


# ------------------------------------------------------------------ Kupiec


def test_kupiec_hand_computed():
    # x=3 exceptions in n=10 days at c=90% -> p=0.1, phat=0.3
    # ll0 = 7 ln 0.9 + 3 ln 0.1 = -0.737523612 - 6.907755279 = -7.645278891
    # ll1 = 7 ln 0.7 + 3 ln 0.3 = -2.496724608 - 3.611918413 = -6.108643021
    # LR  = -2 (ll0 - ll1) = 3.073271740
    r = kupiec_pof(3, 10, 0.90)
    assert r.lr == pytest.approx(3.073271740, abs=1e-8)
    assert r.p_value == pytest.approx(chi2_1_sf(3.073271740), abs=1e-8)
    assert r.expected == pytest.approx(1.0)
    assert r.rate == pytest.approx(0.3)
    # exactly the expected rate -> LR = 0, p = 1
    r = kupiec_pof(5, 100, 0.95)
    assert r.lr == 0.0 and r.p_value == pytest.approx(1.0)


def test_kupiec_edge_cases_no_nan():
    # 0 exceptions: 0 ln 0 = 0 -> LR = -2 * 250 * ln(0.99) = 500 * 0.010050336 = 5.025167927
    r = kupiec_pof(0, 250, 0.99)
    assert r.lr == pytest.approx(5.025167927, abs=1e-8)
    assert r.p_value == pytest.approx(chi2_1_sf(5.025167927), abs=1e-8)
    # all exceptions: LR = -2 * 250 * ln(0.01) = 500 * 4.605170186 = 2302.585093
    r = kupiec_pof(250, 250, 0.99)
    assert r.lr == pytest.approx(2302.585093, abs=1e-5)
    assert r.p_value == 0.0
    assert not math.isnan(r.lr)


@pytest.mark.parametrize(("args", "field"), [
    ((-1, 10, 0.99), "exceptions"),
    ((11, 10, 0.99), "exceptions"),
    ((1, 0, 0.99), "n"),
    ((1, 10, 1.0), "confidence"),
    ((1, 10, 0.0), "confidence"),
    ((1.5, 10, 0.9), "exceptions"),
])
def test_kupiec_validation(args, field):
    with pytest.raises(InvalidInput) as ei:
        kupiec_pof(*args)
    assert ei.value.field == field


# ------------------------------------------------------------------ Christoffersen


def test_christoffersen_hand_computed():
    # series 0 0 0 1 1 1 0 0 0 0 -> transitions 00 00 01 11 11 10 00 00 00
    # n00=5 n01=1 n10=1 n11=2; pi01=1/6, pi11=2/3, pi=3/9=1/3
    # ll0 = 6 ln(2/3) + 3 ln(1/3)                       = -2.432790648 - 3.295836866 = -5.728627514
    # ll1 = 5 ln(5/6) + ln(1/6) + ln(1/3) + 2 ln(2/3)  = -0.911607784 - 1.791759469 - 1.098612289
    #                                                    - 0.810930216 = -4.612909758
    # LR_ind = -2 (ll0 - ll1) = 2.231435513
    # LR_pof(3 of 10 at c=90%) = 3.073271740 (see Kupiec test) -> LR_cc = 5.304707253
    r = christoffersen([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], confidence=0.90)
    assert (r.n00, r.n01, r.n10, r.n11) == (5, 1, 1, 2)
    assert r.pi01 == pytest.approx(1 / 6) and r.pi11 == pytest.approx(2 / 3) and r.pi == pytest.approx(1 / 3)
    assert r.lr_ind == pytest.approx(2.231435513, abs=1e-8)
    assert r.p_value_ind == pytest.approx(chi2_1_sf(2.231435513), abs=1e-8)
    assert r.lr_cc == pytest.approx(5.304707253, abs=1e-8)
    assert r.p_value_cc == pytest.approx(chi2_2_sf(5.304707253), abs=1e-8)
    # without confidence: no conditional coverage
    r2 = christoffersen(np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], dtype=bool))
    assert r2.lr_cc is None and r2.lr_ind == r.lr_ind


def test_christoffersen_independent_pattern_is_zero():
    # 0 0 1 1 0 0 0 1 0 0: n00=4 n01=2 n10=2 n11=1 -> pi01 = pi11 = pi = 1/3 -> LR_ind = 0
    r = christoffersen([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])
    assert (r.n00, r.n01, r.n10, r.n11) == (4, 2, 2, 1)
    assert r.lr_ind == 0.0 and r.p_value_ind == pytest.approx(1.0)


@pytest.mark.parametrize("series", [[0] * 20, [1] * 20, [0] * 19 + [1], [1] + [0] * 19])
def test_christoffersen_edge_cases(series):
    r = christoffersen(series, confidence=0.95)
    for v in (r.lr_ind, r.p_value_ind, r.lr_cc, r.p_value_cc):
        assert v is not None and not math.isnan(v)
    if sum(series) in (0, len(series)):
        assert r.lr_ind == 0.0
    assert r.lr_cc == pytest.approx(kupiec_pof(sum(series), len(series), 0.95).lr + r.lr_ind)


def test_christoffersen_validation():
    with pytest.raises(InvalidInput) as ei:
        christoffersen([0, 2, 1])
    assert ei.value.field == "exception_series"
    with pytest.raises(InvalidInput):
        christoffersen([1])


# ------------------------------------------------------------------ traffic light


@pytest.mark.parametrize(("x", "zone"), [(0, "green"), (4, "green"), (5, "yellow"), (9, "yellow"),
                                         (10, "red"), (30, "red")])
def test_basel_zones(x, zone):
    assert traffic_light(x, 250, 0.99) == zone


def test_generalised_thresholds():
    from scipy.stats import binom

    assert traffic_light_thresholds(250, 0.99) == (5, 10)
    for n, c in [(500, 0.99), (250, 0.95), (1000, 0.975)]:
        y, r = traffic_light_thresholds(n, c)
        p = 1 - c
        assert binom.cdf(y - 1, n, p) < 0.95 <= binom.cdf(y, n, p)
        assert binom.cdf(r - 1, n, p) < 0.9999 <= binom.cdf(r, n, p)
        assert traffic_light(y - 1, n, c) == "green" and traffic_light(y, n, c) == "yellow"
        assert traffic_light(r - 1, n, c) == "yellow" and traffic_light(r, n, c) == "red"


# ------------------------------------------------------------------ rolling backtest


def hist_var(c: float):
    return lambda w: float(-np.quantile(w, 1 - c))


def test_rolling_exceptions_constructed():
    pnl = np.full(40, 0.5)
    pnl[[12, 25, 26]] = -2.0
    res = rolling_var_backtest(pnl, lambda w: 1.0, window=10, confidence=0.99)
    assert np.all(np.isnan(res.var[:10])) and np.all(res.var[10:] == 1.0)
    assert [(e.index, e.pnl, e.var) for e in res.exceptions] == [(12, -2.0, 1.0), (25, -2.0, 1.0),
                                                                  (26, -2.0, 1.0)]
    assert res.n == 30
    assert res.kupiec.exceptions == 3 and res.kupiec.n == 30
    assert res.christoffersen.n11 == 1
    assert res.zone == traffic_light(3, 30, 0.99)
    # a loss exactly equal to VaR is not an exception
    res = rolling_var_backtest(np.r_[np.zeros(5), -1.0], lambda w: 1.0, window=5, confidence=0.9)
    assert res.exceptions == []


def test_rolling_var_fn_sees_only_the_past_window():
    seen: list[np.ndarray] = []
    pnl = np.arange(20, dtype=float)

    def fn(w):
        seen.append(w.copy())
        w[:] = 1e9  # mutating the argument must not affect the backtest
        return 1.0

    res = rolling_var_backtest(pnl, fn, window=5, confidence=0.95)
    for k, w in enumerate(seen):
        t = 5 + k
        np.testing.assert_array_equal(w, np.arange(t - 5, t))
    assert res.exceptions == []


@settings(max_examples=50, deadline=None)
@given(pnl=arrays(np.float64, st.integers(30, 80), elements=st.floats(-10, 10)),
       data=st.data())
def test_rolling_var_never_uses_day_t(pnl, data):
    t = data.draw(st.integers(0, pnl.shape[0] - 1))
    window = 20
    new_tail = data.draw(arrays(np.float64, pnl.shape[0] - t, elements=st.floats(-100, 100)))
    changed = pnl.copy()
    changed[t:] = new_tail
    a = rolling_var_backtest(pnl, hist_var(0.95), window, 0.95)
    b = rolling_var_backtest(changed, hist_var(0.95), window, 0.95)
    np.testing.assert_array_equal(a.var[: t + 1], b.var[: t + 1])


def test_rolling_validation():
    with pytest.raises(InvalidInput) as ei:
        rolling_var_backtest(np.zeros(5), hist_var(0.99), window=5, confidence=0.99)
    assert ei.value.field == "pnl"
    with pytest.raises(InvalidInput) as ei:
        rolling_var_backtest(np.zeros(10), hist_var(0.99), window=0, confidence=0.99)
    assert ei.value.field == "window"
    with pytest.raises(InvalidInput) as ei:
        rolling_var_backtest(np.zeros(10), lambda w: float("nan"), window=3, confidence=0.99)
    assert ei.value.field == "var_fn"
    with pytest.raises(InvalidInput) as ei:
        rolling_var_backtest(np.zeros(10), hist_var(0.99), window=3, confidence=1.5)
    assert ei.value.field == "confidence"


def test_rolling_calibrated_model_is_green():
    rng = np.random.default_rng(1)
    pnl = rng.normal(0, 1, 1250)
    res = rolling_var_backtest(pnl, lambda w: 2.3263478740408408, window=250, confidence=0.99)
    assert res.n == 1000
    assert res.kupiec.p_value > 0.01
    assert res.zone in ("green", "yellow")
