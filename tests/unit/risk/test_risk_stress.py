"""Stress testing: historical worst windows, user shocks, reverse stress (linear and options)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nautilus.core.errors import InvalidInput
from nautilus.risk.options import OptionPositions, bsm_price, revalue
from nautilus.risk.stress import apply_shock, reverse_stress, reverse_stress_linear, worst_windows

# ------------------------------------------------------------------ historical


def test_worst_window_finds_planted_crash():
    rng = np.random.default_rng(3)
    T, N = 500, 3
    r = rng.normal(0.0005, 0.002, size=(T, N))
    r[300:305] = -0.04  # planted 5-day crash on every asset
    r[100:105, 0] = -0.05  # a smaller one on asset 0 only
    w = np.array([1e6, 5e5, 2e5])
    res = worst_windows(r, w, window=5, k=2)
    assert (res[0].start, res[0].end) == (300, 304)
    assert res[0].pnl == pytest.approx(float((r[300:305] @ w).sum()))
    np.testing.assert_allclose(res[0].contributions, r[300:305].sum(axis=0) * w)
    assert res[0].contributions.sum() == pytest.approx(res[0].pnl)
    assert (res[1].start, res[1].end) == (100, 104)
    # windows never overlap
    assert res[1].end < res[0].start or res[1].start > res[0].end


def test_worst_windows_non_overlapping_and_exhaustive():
    pnl = np.array([0, -1, -5, -1, 0, 0, -3, 0, 0, -2], dtype=float)
    r = pnl[:, None]
    res = worst_windows(r, [1.0], window=3, k=10)
    starts = [s.start for s in res]
    # worst 3-day sum: days 1-3 = -7; next non-overlapping: days 6-8 (-3, start 4..6 tie -> earliest 4: -3)
    assert res[0].start == 1 and res[0].pnl == -7.0
    assert res[1].pnl == -3.0 and res[1].start == 4
    for a in res:
        for b in res:
            if a is not b:
                assert a.end < b.start or b.end < a.start
    assert len(starts) == len(set(starts))
    assert [s.pnl for s in res] == sorted(s.pnl for s in res)


def test_worst_windows_validation():
    with pytest.raises(InvalidInput) as ei:
        worst_windows(np.zeros((10, 2)), [1.0, 2.0], window=11)
    assert ei.value.field == "window"
    with pytest.raises(InvalidInput) as ei:
        worst_windows(np.zeros((10, 2)), [1.0], window=2)
    assert ei.value.field == "exposures"
    with pytest.raises(InvalidInput) as ei:
        worst_windows(np.zeros(10), [1.0], window=2)
    assert ei.value.field == "returns"


# ------------------------------------------------------------------ user shocks


def test_instrument_and_factor_shock_hand_computed():
    w = np.array([100.0, -50.0, 200.0])
    # per instrument: -10%, +20%, -5% -> -10 - 10 - 10 = -30
    res = apply_shock(w, [-0.10, 0.20, -0.05])
    assert res.pnl == pytest.approx(-30.0)
    np.testing.assert_allclose(res.contributions, [-10.0, -10.0, -10.0])
    # factors: loadings [[1, 0], [0.5, 1], [2, -1]], factor moves [-0.1, 0.02]
    # asset moves = [-0.1, -0.05 + 0.02, -0.2 - 0.02] = [-0.1, -0.03, -0.22]
    # pnl = 100 * -0.1 + -50 * -0.03 + 200 * -0.22 = -10 + 1.5 - 44 = -52.5
    B = np.array([[1.0, 0.0], [0.5, 1.0], [2.0, -1.0]])
    res = apply_shock(w, factor_moves=[-0.1, 0.02], loadings=B)
    np.testing.assert_allclose(res.asset_moves, [-0.1, -0.03, -0.22])
    assert res.pnl == pytest.approx(-52.5)
    # both add up
    res = apply_shock(w, [-0.10, 0.20, -0.05], factor_moves=[-0.1, 0.02], loadings=B)
    assert res.pnl == pytest.approx(-82.5)
    with pytest.raises(InvalidInput) as ei:
        apply_shock(w, factor_moves=[0.1, 0.1])
    assert ei.value.field == "loadings"
    with pytest.raises(InvalidInput) as ei:
        apply_shock(w, [0.1, 0.2])
    assert ei.value.field == "asset_moves"


def _book(spot=(100.0, 50.0), quantity=(10.0, -4.0)) -> OptionPositions:
    return OptionPositions.create(underlying=[0, 1], option_type=["put", "call"], strike=[95.0, 55.0],
                                  expiry=[0.5, 0.25], quantity=list(quantity), multiplier=100.0,
                                  implied_vol=[0.25, 0.3], spot=list(spot), r=0.02)


def test_shock_with_options_and_vol_shift():
    w = np.array([50_000.0, 10_000.0])
    book = _book()
    res = apply_shock(w, [-0.2, 0.1], options=book, vol_shift=0.1, horizon_days=2)
    T = np.array([0.5, 0.25]) - 2 / 365
    put = 10 * 100 * (bsm_price(80.0, 95.0, T[0], 0.02, 0.35, 0, "put") - bsm_price(100.0, 95.0, 0.5, 0.02, 0.25, 0,
                                                                                    "put"))
    call = -4 * 100 * (bsm_price(55.0, 55.0, T[1], 0.02, 0.4, 0, "call") - bsm_price(50.0, 55.0, 0.25, 0.02, 0.3, 0,
                                                                                      "call"))
    assert res.linear_pnl == pytest.approx(-10_000.0 + 1_000.0)
    assert res.option_contributions[0] == pytest.approx(put)
    assert res.option_contributions[1] == pytest.approx(call)
    assert res.pnl == pytest.approx(-9_000.0 + put + call)
    # per-position vol shift
    res2 = apply_shock(w, [-0.2, 0.1], options=book, vol_shift=[0.1, 0.1], horizon_days=2)
    assert res2.pnl == pytest.approx(res.pnl)
    with pytest.raises(InvalidInput) as ei:
        apply_shock(np.ones(3), [0.0, 0.0, 0.0], options=book)
    assert ei.value.field == "options"


# ------------------------------------------------------------------ reverse stress


def _cov():
    vol = np.array([0.2, 0.3, 0.15])
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    return np.outer(vol, vol) * corr


def test_reverse_stress_linear_closed_form():
    S = _cov()
    w = np.array([1e6, -2e5, 5e5])
    L = 150_000.0
    res = reverse_stress_linear(w, S, L)
    assert float(w @ res.shock) == pytest.approx(-L, rel=1e-12)
    assert res.pnl == pytest.approx(-L, rel=1e-12)
    np.testing.assert_allclose(res.shock, -L * S @ w / (w @ S @ w))
    maha = math.sqrt(res.shock @ np.linalg.solve(S, res.shock))
    assert res.mahalanobis == pytest.approx(maha, rel=1e-9)
    assert res.mahalanobis == pytest.approx(L / math.sqrt(w @ S @ w), rel=1e-12)
    # it is the minimum-norm shock: any other shock with the same loss is (Mahalanobis-)larger
    rng = np.random.default_rng(0)
    Sinv = np.linalg.inv(S)
    for _ in range(50):
        z = rng.normal(size=3)
        z -= (w @ z) / (w @ w) * w  # keep w'x = -L
        x = res.shock + 1e-2 * z
        assert w @ x == pytest.approx(-L)
        assert math.sqrt(x @ Sinv @ x) >= res.mahalanobis - 1e-12


def test_reverse_stress_without_options_is_linear():
    S, w = _cov(), np.array([1e6, -2e5, 5e5])
    a = reverse_stress(w, S, 1e5)
    b = reverse_stress_linear(w, S, 1e5)
    np.testing.assert_array_equal(a.shock, b.shock)


def test_reverse_stress_with_options_reaches_exactly_L_and_is_smallest():
    S = _cov()[:2, :2]
    w = np.array([20_000.0, 20_000.0])
    book = _book(quantity=(2.0, -4.0))  # long puts on asset 0 (hedge), short calls on asset 1
    L = 4_000.0
    res = reverse_stress(w, S, L, options=book)

    def total(x):
        return float(w @ x + revalue(book, x[None, :], scenario_type="return")[0])

    assert total(res.shock) == pytest.approx(-L, rel=1e-9)
    assert res.pnl == pytest.approx(-L, rel=1e-9)
    np.testing.assert_allclose(res.shock, res.scale * res.direction)
    # no smaller multiple reaches the loss
    for a in np.linspace(0, res.scale, 400, endpoint=False)[1:]:
        assert total(a * res.direction) > -L
    # direction from the delta-equivalent exposures; Mahalanobis size = scale / sqrt(w_eff' S w_eff)
    w_eff = w + book.dollar_delta()
    np.testing.assert_allclose(res.direction, -S @ w_eff / (w_eff @ S @ w_eff))
    maha = math.sqrt(res.shock @ np.linalg.solve(S, res.shock))
    assert res.mahalanobis == pytest.approx(maha, rel=1e-9)
    # nonlinearity: the long puts make the needed scale differ from the linear L
    assert res.scale != pytest.approx(L, rel=1e-3)


def test_reverse_stress_unreachable_and_validation():
    S = _cov()[:2, :2]
    book = _book()
    with pytest.raises(InvalidInput) as ei:
        reverse_stress(np.array([1.0, 1.0]), S, 1e9, options=book)
    assert ei.value.field == "loss"
    with pytest.raises(InvalidInput) as ei:
        reverse_stress_linear([1.0, 1.0], np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0)
    assert ei.value.field == "cov"
    with pytest.raises(InvalidInput) as ei:
        reverse_stress_linear([1.0, 1.0], np.array([[1.0, 2.0], [2.0, 1.0]]), 1.0)  # not PSD
    assert ei.value.field == "cov"
    with pytest.raises(InvalidInput) as ei:
        reverse_stress_linear([0.0, 0.0], S, 1.0)
    assert ei.value.field == "cov"
    with pytest.raises(InvalidInput) as ei:
        reverse_stress_linear([1.0, 1.0], S, -5.0)
    assert ei.value.field == "loss"
