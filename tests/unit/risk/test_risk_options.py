"""Black-Scholes-Merton kernel: reference values, parity, greeks vs finite differences, revaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.risk.options import (
    OptionPositions,
    bsm_delta,
    bsm_gamma,
    bsm_greeks,
    bsm_price,
    bsm_rho,
    bsm_theta,
    bsm_vega,
    delta_gamma_pnl,
    implied_vol,
    revalue,
)

# ------------------------------------------------------------------ published reference values


def test_hull_example():
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5
    assert bsm_price(42, 40, 0.5, 0.10, 0.20, 0.0, "call") == pytest.approx(4.76, abs=5e-3)
    assert bsm_price(42, 40, 0.5, 0.10, 0.20, 0.0, "put") == pytest.approx(0.81, abs=5e-3)


@pytest.mark.parametrize(
    ("fn", "args", "kind", "expected"),
    [
        # Haug, The Complete Guide to Option Pricing Formulas, ch. 1 (generalized BSM, q = r - b)
        (bsm_price, (60, 65, 0.25, 0.08, 0.30, 0.0), "call", 2.1334),  # 1.1.1 Black-Scholes
        (bsm_price, (100, 95, 0.5, 0.10, 0.20, 0.05), "put", 2.4648),  # 1.1.4 stock index, q=5%
        (bsm_delta, (105, 100, 0.5, 0.10, 0.36, 0.10), "call", 0.5946),  # delta, b=0
        (bsm_delta, (105, 100, 0.5, 0.10, 0.36, 0.10), "put", -0.3566),
        (bsm_gamma, (55, 60, 0.75, 0.10, 0.30, 0.0), "call", 0.0278),  # gamma, b=r
        (bsm_theta, (430, 405, 0.0833, 0.07, 0.20, 0.05), "put", -31.1924),  # theta per year, b=0.02
        (bsm_rho, (72, 75, 1.0, 0.09, 0.19, 0.0), "call", 38.7325),  # rho, b=r
    ],
)
def test_haug_examples(fn, args, kind, expected):
    assert fn(*args, option_type=kind) == pytest.approx(expected, abs=1e-4)


# ------------------------------------------------------------------ parity, limits, validation

pos = st.floats(1.0, 1000.0)


@settings(max_examples=300, deadline=None)
@given(S=pos, K=pos, T=st.floats(0.0, 5.0), r=st.floats(-0.05, 0.2), q=st.floats(-0.05, 0.2),
       sigma=st.floats(0.01, 2.0))
def test_put_call_parity(S, K, T, r, q, sigma):
    c = bsm_price(S, K, T, r, sigma, q, "call")
    p = bsm_price(S, K, T, r, sigma, q, "put")
    assert c - p == pytest.approx(S * np.exp(-q * T) - K * np.exp(-r * T), abs=1e-10)


def test_broadcasting_and_type_forms():
    S = np.array([[90.0], [100.0], [110.0]])
    K = np.array([95.0, 100.0, 105.0])
    out = bsm_price(S, K, 1.0, 0.03, 0.25, 0.01, np.array(["call", "put", "c"]))
    assert out.shape == (3, 3)
    for i in range(3):
        for j, kind in enumerate(["call", "put", "call"]):
            assert out[i, j] == bsm_price(S[i, 0], K[j], 1.0, 0.03, 0.25, 0.01, kind)
    np.testing.assert_array_equal(bsm_price(100, 100, 1, 0, 0.2, 0, [True, False]),
                                  bsm_price(100, 100, 1, 0, 0.2, 0, [1, -1]))


def test_expiry_is_intrinsic():
    S = np.array([90.0, 100.0, 110.0])
    np.testing.assert_array_equal(bsm_price(S, 100, 0.0, 0.05, 0.2, 0, "call"), [0.0, 0.0, 10.0])
    np.testing.assert_array_equal(bsm_price(S, 100, 0.0, 0.05, 0.2, 0, "put"), [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(bsm_delta(S, 100, 0.0, 0.05, 0.2, 0, "call"), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(bsm_delta(S, 100, 0.0, 0.05, 0.2, 0, "put"), [-1.0, -0.5, 0.0])
    g = bsm_greeks(S, 100, 0.0, 0.05, 0.2, 0, "call")
    for name in ("gamma", "vega", "theta", "rho"):
        np.testing.assert_array_equal(g[name], 0.0)
    # and it is the limit of tiny T
    assert bsm_price(110, 100, 1e-10, 0.05, 0.2, 0, "call") == pytest.approx(10.0, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"S": 0.0}, "S"),
        ({"S": -1.0}, "S"),
        ({"K": 0.0}, "K"),
        ({"T": -0.1}, "T"),
        ({"sigma": 0.0}, "sigma"),
        ({"r": float("nan")}, "r"),
        ({"option_type": "straddle"}, "option_type"),
        ({"option_type": [1, 2]}, "option_type"),
    ],
)
def test_validation(kwargs, field):
    args = {"S": 100.0, "K": 100.0, "T": 1.0, "r": 0.01, "sigma": 0.2, "q": 0.0, "option_type": "call"}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as ei:
        bsm_price(**args)
    assert ei.value.field == field


# ------------------------------------------------------------------ greeks vs finite differences


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize(("S", "K", "T", "r", "q", "sigma"), [
    (100, 100, 1.0, 0.05, 0.02, 0.2),
    (80, 100, 0.3, 0.01, 0.0, 0.5),
    (130, 100, 2.0, 0.08, 0.04, 0.15),
])
def test_greeks_match_finite_differences(kind, S, K, T, r, q, sigma):
    def f(**kw):
        a = {"S": S, "K": K, "T": T, "r": r, "sigma": sigma, "q": q, "option_type": kind}
        a.update(kw)
        return bsm_price(**a)

    g = bsm_greeks(S, K, T, r, sigma, q, kind)
    d = 1e-5 * S
    assert g["delta"] == pytest.approx((f(S=S + d) - f(S=S - d)) / (2 * d), rel=1e-6, abs=1e-8)
    h = 1e-3 * S
    assert g["gamma"] == pytest.approx((f(S=S + h) - 2 * f() + f(S=S - h)) / h**2, rel=1e-4, abs=1e-7)
    e = 1e-5
    assert g["vega"] == pytest.approx((f(sigma=sigma + e) - f(sigma=sigma - e)) / (2 * e), rel=1e-6)
    assert g["rho"] == pytest.approx((f(r=r + e) - f(r=r - e)) / (2 * e), rel=1e-6)
    # theta is per year of time PASSING: -dV/dT
    assert g["theta"] == pytest.approx(-(f(T=T + e) - f(T=T - e)) / (2 * e), rel=1e-6, abs=1e-8)
    assert g["vega"] == bsm_vega(S, K, T, r, sigma, q, kind)
    assert g["theta"] == bsm_theta(S, K, T, r, sigma, q, kind)
    assert g["price"] == f()


# ------------------------------------------------------------------ implied vol


@settings(max_examples=100, deadline=None)
@given(S=st.floats(50, 150), K=st.floats(50, 150), T=st.floats(0.05, 3.0), r=st.floats(0.0, 0.1),
       q=st.floats(0.0, 0.05), sigma=st.floats(0.05, 1.5), call=st.booleans())
def test_implied_vol_round_trip(S, K, T, r, q, sigma, call):
    kind = "call" if call else "put"
    price = bsm_price(S, K, T, r, sigma, q, kind)
    vega = bsm_vega(S, K, T, r, sigma, q, kind)
    if vega < 1e-3:  # deep ITM/OTM: the price carries (almost) no vol information
        return
    iv = implied_vol(price, S, K, T, r, q, kind)
    assert bsm_price(S, K, T, r, iv, q, kind) == pytest.approx(price, abs=1e-9)
    assert iv == pytest.approx(sigma, abs=1e-6)


def test_implied_vol_vectorised_and_errors():
    sig = np.array([0.1, 0.3, 0.8])
    prices = bsm_price(100, [90, 100, 120], 1.0, 0.02, sig, 0.0, ["call", "put", "call"])
    np.testing.assert_allclose(implied_vol(prices, 100, [90, 100, 120], 1.0, 0.02, 0.0, ["call", "put", "call"]),
                               sig, atol=1e-8)
    with pytest.raises(InvalidInput, match="no-arbitrage") as ei:
        implied_vol(5.0, 110, 100, 1.0, 0.0, 0.0, "call")  # below intrinsic 10
    assert ei.value.field == "price"
    with pytest.raises(InvalidInput) as ei:
        implied_vol(150.0, 100, 100, 1.0, 0.0, 0.0, "call")  # above S
    assert ei.value.field == "price"
    with pytest.raises(InvalidInput) as ei:
        implied_vol(1.0, 100, 100, 0.0, 0.0, 0.0, "call")
    assert ei.value.field == "T"


# ------------------------------------------------------------------ revaluation


def _book() -> OptionPositions:
    return OptionPositions.create(
        underlying=[0, 0, 1, 1],
        option_type=["call", "put", "call", "put"],
        strike=[100.0, 95.0, 50.0, 55.0],
        expiry=[0.5, 0.25, 1.0, 0.02],
        quantity=[10.0, -5.0, 3.0, 7.0],
        multiplier=[100.0, 100.0, 50.0, 50.0],
        implied_vol=[0.2, 0.25, 0.3, 0.35],
        spot=[100.0, 52.0],
        r=0.03,
        q=[0.01, 0.01, 0.0, 0.0],
    )


def test_revalue_equals_direct_pricing():
    book = _book()
    rng = np.random.default_rng(0)
    spots = np.array([100.0, 52.0]) * np.exp(rng.normal(0, 0.1, size=(20, 2)))
    shift = rng.normal(0, 0.03, size=20)
    pnl = revalue(book, spots, vol_shift=shift, horizon_days=5)
    assert pnl.shape == (20,)
    T = np.maximum(book.expiry - 5 / 365, 0)
    for s in range(20):
        total = 0.0
        for i in range(4):
            u = book.underlying[i]
            now = bsm_price(book.spot[u], book.strike[i], book.expiry[i], 0.03, book.implied_vol[i],
                            book.q[i], book.phi[i])
            new = bsm_price(spots[s, u], book.strike[i], T[i], 0.03, book.implied_vol[i] + shift[s],
                            book.q[i], book.phi[i])
            total += book.quantity[i] * book.multiplier[i] * (new - now)
        assert pnl[s] == pytest.approx(total, rel=1e-12, abs=1e-9)
    # the 0.02y option expires inside a 10-day horizon -> intrinsic
    by_pos = revalue(book, [[100.0, 40.0]], horizon_days=10, by_position=True)
    now3 = bsm_price(52.0, 55.0, 0.02, 0.03, 0.35, 0.0, "put")
    assert by_pos[0, 3] == pytest.approx(7 * 50 * (15.0 - now3))


def test_revalue_returns_and_zero_scenario():
    book = _book()
    np.testing.assert_allclose(revalue(book, np.zeros((1, 2)), scenario_type="return"), 0.0, atol=1e-12)
    a = revalue(book, [[0.05, -0.1]], scenario_type="return", vol_shift=0.02)
    b = revalue(book, [[105.0, 52.0 * 0.9]], vol_shift=0.02)
    assert a[0] == pytest.approx(b[0])
    with pytest.raises(InvalidInput) as ei:
        revalue(book, [[1.0, 2.0, 3.0]])
    assert ei.value.field == "spot_scenarios"
    with pytest.raises(InvalidInput) as ei:
        revalue(book, [[-1.5, 0.0]], scenario_type="return")
    assert ei.value.field == "spot_scenarios"
    with pytest.raises(InvalidInput) as ei:
        revalue(book, [[100.0, 50.0]], vol_shift=[0.1, 0.2, 0.3])
    assert ei.value.field == "vol_shift"


def test_positions_validation():
    with pytest.raises(InvalidInput) as ei:
        OptionPositions.create(underlying=[0, 2], option_type="call", strike=100, expiry=1, quantity=1,
                               implied_vol=0.2, spot=[100.0, 50.0])
    assert ei.value.field == "underlying"
    with pytest.raises(InvalidInput) as ei:
        OptionPositions.create(underlying=[0], option_type="call", strike=100, expiry=1, quantity=1,
                               implied_vol=-0.2, spot=[100.0])
    assert ei.value.field == "implied_vol"


def test_delta_gamma_close_for_small_moves_worse_for_large():
    book = _book()
    small = np.array([[0.002, -0.003], [-0.004, 0.001]])
    large = np.array([[0.25, -0.3], [-0.3, 0.25]])
    full_s = revalue(book, small, scenario_type="return", vol_shift=0.001, horizon_days=1)
    dg_s = delta_gamma_pnl(book, small, scenario_type="return", vol_shift=0.001, horizon_days=1)
    full_l = revalue(book, large, scenario_type="return", vol_shift=0.05, horizon_days=1)
    dg_l = delta_gamma_pnl(book, large, scenario_type="return", vol_shift=0.05, horizon_days=1)
    err_s = np.max(np.abs(full_s - dg_s) / np.maximum(np.abs(full_s), 1.0))
    err_l = np.max(np.abs(full_l - dg_l) / np.maximum(np.abs(full_l), 1.0))
    assert err_s < 0.05
    assert err_l > 5 * err_s
    # delta-only is worse than delta-gamma for a pure spot move
    book1 = OptionPositions.create(underlying=[0], option_type="call", strike=100, expiry=0.5, quantity=1,
                                   implied_vol=0.2, spot=[100.0])
    full = revalue(book1, [[103.0]])
    g = bsm_greeks(100, 100, 0.5, 0.0, 0.2, 0.0, "call")
    dg = delta_gamma_pnl(book1, [[103.0]], include_vega=False, include_theta=False)
    assert dg[0] == pytest.approx(g["delta"] * 3 + 0.5 * g["gamma"] * 9)
    assert abs(dg[0] - full[0]) < abs(g["delta"] * 3 - full[0])


def test_dollar_delta_and_value():
    book = _book()
    dd = book.dollar_delta()
    d = np.asarray(bsm_delta(book.position_spot(), book.strike, book.expiry, book.r, book.implied_vol,
                             book.q, book.phi))
    assert dd[0] == pytest.approx(100.0 * (10 * 100 * d[0] - 5 * 100 * d[1]))
    assert dd[1] == pytest.approx(52.0 * (3 * 50 * d[2] + 7 * 50 * d[3]))
    assert np.isfinite(book.value())
    assert bsm_gamma(100, 100, 1, 0, 0.2) > 0


def test_empty_book():
    book = OptionPositions.create(underlying=[], option_type="call", strike=[], expiry=[], quantity=[],
                                  implied_vol=[], spot=[100.0])
    np.testing.assert_array_equal(revalue(book, [[90.0], [110.0]]), [0.0, 0.0])
    assert book.value() == 0.0
