"""Pre-trade limits: inclusive thresholds, all breaches reported, rate throttle, halts, config errors."""

from __future__ import annotations

import pytest

from nautilus.core.errors import InvalidInput
from nautilus.risk.limits import (
    LimitSet,
    Order,
    PortfolioState,
    RateLimiter,
    apply_fill,
    check_order,
    commit_order,
)

EPS = 1e-6


def state(**kw) -> PortfolioState:
    # A: 10 units @ 100 (1000), B: -5 @ 200 (-1000) -> gross 2000, net 0
    return PortfolioState.from_positions({"A": 10.0, "B": -5.0}, {"A": 100.0, "B": 200.0, "C": 50.0},
                                         equity=10_000.0, **kw)


def names(d) -> list[str]:
    return [r["limit"] for r in d.reasons]


def test_from_positions_caches():
    s = state()
    assert s.gross_exposure == 2000.0 and s.net_exposure == 0.0
    apply_fill(s, "C", 4.0)
    assert s.gross_exposure == 2200.0 and s.net_exposure == 200.0
    apply_fill(s, "A", -10.0, 110.0)
    assert s.positions["A"] == 0.0 and s.prices["A"] == 110.0
    assert s.gross_exposure == pytest.approx(1200.0) and s.net_exposure == pytest.approx(-800.0)


# each limit: accepted exactly at the threshold, rejected just above (inclusive thresholds)
@pytest.mark.parametrize(("limits", "order_at", "order_above"), [
    # |q| * price
    (LimitSet(max_order_notional=500.0), Order("C", 10.0, 50.0), Order("C", 10.0 + EPS, 50.0)),
    # |new position| units: A 10 -> 15
    (LimitSet(max_position_units=15.0), Order("A", 5.0, 100.0), Order("A", 5.0 + EPS, 100.0)),
    (LimitSet(max_position_units={"A": 15.0}), Order("A", 5.0, 100.0), Order("A", 5.0 + EPS, 100.0)),
    # |new position| * mark: A 10 -> 15 units @100 = 1500
    (LimitSet(max_position_notional=1500.0), Order("A", 5.0, 100.0), Order("A", 5.0 + EPS, 100.0)),
    # gross 2000 + 4 * 50 = 2200
    (LimitSet(max_gross_exposure=2200.0), Order("C", 4.0, 50.0), Order("C", 4.0 + EPS, 50.0)),
    # net 0 - 4 * 50 = -200 -> |net| 200
    (LimitSet(max_net_exposure=200.0), Order("C", -4.0, 50.0), Order("C", -4.0 - EPS, 50.0)),
    # 100 * |20 * 100| / 10000 = 20%
    (LimitSet(max_concentration_pct=20.0), Order("A", 10.0, 100.0), Order("A", 10.0 + EPS, 100.0)),
])
def test_threshold_inclusive(limits, order_at, order_above):
    s = state()
    d = check_order(order_at, s, limits, now=0.0)
    assert d.accepted, d.reasons
    d = check_order(order_above, s, limits, now=0.0)
    assert not d.accepted
    assert len(d.reasons) == 1
    r = d.reasons[0]
    assert r["value"] > r["threshold"] and r["limit"] in d.checked and r["message"]


def test_var_budget_marginal_and_callable():
    # VaR 1000, marginal VaR of A = 0.1 per unit exposure: buying 5 @ mark 100 -> +50 -> 1050
    s = state(var=1000.0, marginal_var={"A": 0.1, "B": 0.05, "C": 0.2})
    lim = LimitSet(var_budget=1050.0)
    assert check_order(Order("A", 5.0, 100.0), s, lim, 0.0).accepted
    d = check_order(Order("A", 5.0 + 1e-4, 100.0), s, lim, 0.0)
    assert names(d) == ["var_budget"] and d.reasons[0]["value"] == pytest.approx(1050.001)
    # a sequence indexed by instrument works too
    s2 = PortfolioState.from_positions({0: 1.0}, {0: 100.0}, equity=1e4, var=10.0, marginal_var=[0.5])
    assert not check_order(Order(0, 1.0, 100.0), s2, LimitSet(var_budget=59.0), 0.0).accepted
    # callable: VaR after the order
    calls = []

    def var_fn(order, st):
        calls.append(order)
        return 900.0 + order.quantity

    s3 = state(var=900.0, var_fn=var_fn)
    assert check_order(Order("A", 100.0, 1.0), s3, LimitSet(var_budget=1000.0), 0.0).accepted
    assert not check_order(Order("A", 100.5, 1.0), s3, LimitSet(var_budget=1000.0), 0.0).accepted
    assert len(calls) == 2
    with pytest.raises(InvalidInput) as ei:
        check_order(Order("A", 1.0, 1.0), state(), LimitSet(var_budget=1.0), 0.0)
    assert ei.value.field == "portfolio_state.var_fn"


def test_multiple_breaches_all_reported():
    s = state(var=1000.0, marginal_var={"A": 1.0})
    lim = LimitSet(max_order_notional=100.0, max_position_units=12.0, max_position_notional=1000.0,
                   max_gross_exposure=2500.0, max_net_exposure=500.0, max_concentration_pct=10.0,
                   var_budget=1100.0, max_orders_per_window=5, rate_window_seconds=1.0)
    d = check_order(Order("A", 10.0, 100.0), s, lim, now=0.0)
    assert not d.accepted
    assert names(d) == ["max_order_notional", "max_position_units", "max_position_notional",
                        "max_gross_exposure", "max_net_exposure", "max_concentration_pct", "var_budget"]
    assert "max_orders_per_window" in d.checked
    assert d.checked == ["max_order_notional", "max_position_units", "max_position_notional",
                         "max_gross_exposure", "max_net_exposure", "max_concentration_pct", "var_budget",
                         "max_orders_per_window"]


def test_reducing_an_existing_breach_is_allowed():
    s = state()
    lim = LimitSet(max_position_units=5.0, max_gross_exposure=1000.0, max_concentration_pct=1.0)
    # A is 10 units (> 5), gross 2000 (> 1000): selling 2 A makes everything smaller
    assert check_order(Order("A", -2.0, 100.0), s, lim, 0.0).accepted
    assert not check_order(Order("A", 1.0, 100.0), s, lim, 0.0).accepted


def test_rate_throttle_sliding_window():
    s = state()
    lim = LimitSet(max_orders_per_window=3, rate_window_seconds=10.0)
    o = Order("C", 1.0, 50.0)
    # checks alone never count: only committed orders do
    for _ in range(10):
        assert check_order(o, s, lim, now=0.0).accepted
    for t in (0.0, 1.0, 2.0):
        assert check_order(o, s, lim, now=t).accepted
        commit_order(s, lim, t)
    d = check_order(o, s, lim, now=5.0)  # 3 committed in (-5, 5] + this one = 4 > 3
    assert not d.accepted and names(d) == ["max_orders_per_window"] and d.reasons[0]["value"] == 4
    assert not check_order(o, s, lim, now=9.999).accepted
    # at t=10 the order from t=0 is outside (0, 10] -> 2 + 1 = 3 <= 3 accepted (inclusive)
    assert check_order(o, s, lim, now=10.0).accepted
    commit_order(s, lim, 10.0)
    assert s.rate.times == [1.0, 2.0, 10.0]  # pruned on commit
    assert not check_order(o, s, lim, now=10.5).accepted
    assert check_order(o, s, lim, now=12.0).accepted


def test_rate_limiter_out_of_order_record():
    r = RateLimiter([5.0, 1.0])
    r.record(3.0)
    assert r.times == [1.0, 3.0, 5.0]
    assert r.count(5.0, 4.0) == 2  # (1, 5] -> 3, 5


@pytest.mark.parametrize(("kw", "breach"), [
    ({"daily_pnl": -500.0}, False),  # loss == halt -> not halted (inclusive)
    ({"daily_pnl": -500.01}, True),
])
def test_daily_loss_halt_threshold(kw, breach):
    s = state(**kw)
    d = check_order(Order("C", 1.0, 50.0), s, LimitSet(daily_loss_halt=500.0), 0.0)
    assert d.accepted is not breach
    if breach:
        assert names(d) == ["daily_loss_halt"]


def test_drawdown_halt_threshold():
    lim = LimitSet(drawdown_halt=0.2)
    # peak 12500, equity 10000 -> drawdown exactly 20%
    assert check_order(Order("C", 1.0, 50.0), state(peak_equity=12_500.0), lim, 0.0).accepted
    d = check_order(Order("C", 1.0, 50.0), state(peak_equity=12_501.0), lim, 0.0)
    assert not d.accepted and names(d) == ["drawdown_halt"]


def test_halts_allow_only_reducing_orders():
    s = state(daily_pnl=-1000.0, peak_equity=20_000.0)  # both halts triggered
    lim = LimitSet(daily_loss_halt=500.0, drawdown_halt=0.1)
    # new position: blocked by both halts
    assert names(check_order(Order("C", 1.0, 50.0), s, lim, 0.0)) == ["daily_loss_halt", "drawdown_halt"]
    # increasing long A: blocked
    assert not check_order(Order("A", 1.0, 100.0), s, lim, 0.0).accepted
    # reducing long A (10 -> 4) and closing it (10 -> 0): allowed
    assert check_order(Order("A", -6.0, 100.0), s, lim, 0.0).accepted
    assert check_order(Order("A", -10.0, 100.0), s, lim, 0.0).accepted
    # flipping A (10 -> -1): blocked
    assert not check_order(Order("A", -11.0, 100.0), s, lim, 0.0).accepted
    # covering short B (-5 -> -2): allowed
    assert check_order(Order("B", 3.0, 200.0), s, lim, 0.0).accepted
    # reducing orders still face the other limits
    lim2 = LimitSet(daily_loss_halt=500.0, max_order_notional=100.0)
    assert names(check_order(Order("A", -6.0, 100.0), s, lim2, 0.0)) == ["max_order_notional"]


@pytest.mark.parametrize(("kw", "field"), [
    ({"max_order_notional": 0.0}, "max_order_notional"),
    ({"max_order_notional": -1.0}, "max_order_notional"),
    ({"max_gross_exposure": float("nan")}, "max_gross_exposure"),
    ({"max_net_exposure": "100"}, "max_net_exposure"),
    ({"max_concentration_pct": True}, "max_concentration_pct"),
    ({"var_budget": float("inf")}, "var_budget"),
    ({"max_position_units": -1.0}, "max_position_units"),
    ({"max_position_notional": {"A": -5.0}}, "max_position_notional"),
    ({"daily_loss_halt": -1.0}, "daily_loss_halt"),
    ({"drawdown_halt": 1.5}, "drawdown_halt"),
    ({"drawdown_halt": 0.0}, "drawdown_halt"),
    ({"max_orders_per_window": 0, "rate_window_seconds": 1.0}, "max_orders_per_window"),
    ({"max_orders_per_window": 2.5, "rate_window_seconds": 1.0}, "max_orders_per_window"),
    ({"max_orders_per_window": 5}, "rate_window_seconds"),
    ({"max_orders_per_window": 5, "rate_window_seconds": 0.0}, "rate_window_seconds"),
])
def test_bad_config(kw, field):
    with pytest.raises(InvalidInput) as ei:
        LimitSet(**kw)
    assert ei.value.field == field


def test_bad_order():
    with pytest.raises(InvalidInput) as ei:
        check_order(Order("A", 0.0, 100.0), state(), LimitSet(), 0.0)
    assert ei.value.field == "order.quantity"
    with pytest.raises(InvalidInput) as ei:
        check_order(Order("A", 1.0, -1.0), state(), LimitSet(), 0.0)
    assert ei.value.field == "order.price"


def test_no_limits_accepts():
    d = check_order(Order("Z", 1e9, 1e9), state(), LimitSet(), 0.0)
    assert d.accepted and d.reasons == [] and d.checked == []


def test_utilisation_by_hand() -> None:
    from nautilus.risk import limits

    state = limits.PortfolioState.from_positions({"A": 10, "B": -5}, {"A": 100.0, "B": 40.0}, equity=2_000.0,
                                                 daily_pnl=-50.0, peak_equity=2_500.0, var=30.0)
    lim = limits.LimitSet(max_gross_exposure=2_400.0, max_net_exposure=1_600.0, max_concentration_pct=100.0,
                          var_budget=60.0, daily_loss_halt=200.0, drawdown_halt=0.4)
    u = limits.utilisation(state, lim)
    assert u == pytest.approx({"max_gross_exposure": 1_200 / 2_400, "max_net_exposure": 800 / 1_600,
                               "max_concentration_pct": 50.0 / 100.0, "var_budget": 0.5,
                               "daily_loss_halt": 0.25, "drawdown_halt": 0.2 / 0.4})
