"""Rebalancing orders reach the target weights (hand-worked case + hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.portfolio import current_weights, rebalance_orders


def _apply(positions: dict, orders: list) -> dict:
    out = dict(positions)
    for o in orders:
        out[o.instrument] = out.get(o.instrument, 0.0) + o.units
    return out


def test_hand_worked_case() -> None:
    # equity = 1000 cash + 10*50 + 20*25 = 2000; targets 50% A (20 units), 25% B (20 units), 25% C (5 units)
    positions = {"A": 10.0, "B": 20.0}
    prices = {"A": 50.0, "B": 25.0, "C": 100.0}
    orders = rebalance_orders({"A": 0.5, "C": 0.25, "B": 0.25}, positions, prices, cash=1000.0)
    assert [(o.instrument, o.units) for o in orders] == [("A", 10.0), ("C", 5.0)]
    orders = rebalance_orders({"A": 0.1, "C": 0.5}, positions, prices, cash=1000.0)
    # A: 200/50 = 4 units -> sell 6 (-300); B not in targets -> sell 20 (-500); C: 1000/100 = 10 -> buy 10
    assert [(o.instrument, o.units, o.side) for o in orders] == [("B", -20.0, "sell"), ("A", -6.0, "sell"),
                                                                 ("C", 10.0, "buy")]
    assert current_weights(positions, prices, cash=1000.0) == {"A": 0.25, "B": 0.25}


def test_lot_size_and_min_notional() -> None:
    prices = {"A": 10.0, "B": 3.0}
    orders = rebalance_orders({"A": 0.553, "B": 0.4}, {}, prices, equity=10_000.0, lot_size={"A": 100, "B": 1},
                              min_notional=50.0)
    assert [(o.instrument, o.units) for o in orders] == [("B", 1333.0), ("A", 600.0)]
    orders = rebalance_orders({"A": 0.5}, {"A": 498.0}, prices, equity=10_000.0, min_notional=50.0)
    assert orders == []  # 2 units * 10 = 20 < 50


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInput) as e:
        rebalance_orders({"A": 1.0}, {}, {}, equity=100.0)
    assert e.value.field == "prices"
    with pytest.raises(InvalidInput) as e:
        rebalance_orders({"A": 1.0}, {}, {"A": 1.0}, equity=0.0)
    assert e.value.field == "equity"
    with pytest.raises(InvalidInput) as e:
        rebalance_orders({"A": 1.0}, {}, {"A": 1.0}, equity=10.0, lot_size=0)
    assert e.value.field == "lot_size"


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(0, 10_000),
    st.sampled_from([None, 1.0, 10.0]),
)
def test_rebalance_reaches_targets(n: int, seed: int, lot: float | None) -> None:
    rng = np.random.default_rng(seed)
    syms = [f"S{i}" for i in range(n)]
    prices = {s: float(rng.uniform(1, 500)) for s in syms}
    positions = {s: float(rng.integers(-50, 200)) for s in syms if rng.random() < 0.7}
    cash = float(rng.uniform(1_000, 100_000))
    targets = dict(zip(syms, rng.dirichlet(np.ones(n)) * rng.uniform(0.5, 1.0), strict=True))
    equity = cash + sum(positions[s] * prices[s] for s in positions)
    assume(equity > 0)
    orders = rebalance_orders(targets, positions, prices, cash=cash, lot_size=lot)
    sides = [o.units > 0 for o in orders]
    assert sides == sorted(sides)  # sells first
    after = _apply(positions, orders)
    w = current_weights(after, prices, equity=equity)
    for s in syms:
        tol = 1e-9 if lot is None else 0.5 * lot * prices[s] / equity + 1e-12
        assert abs(w.get(s, 0.0) - targets[s]) <= tol
