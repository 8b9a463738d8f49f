"""``var_budget`` with a VaR function that cannot tell: the order is rejected naming the limit (fail closed)."""

from __future__ import annotations

import math

import pytest

from nautilus.core.errors import InvalidInput
from nautilus.risk.limits import LimitSet, Order, PortfolioState, VarUnavailable, check_order


def test_unknown_var_after_the_order_rejects_it() -> None:
    def no_history(order, state):
        raise VarUnavailable("no bars of ZZZ")

    state = PortfolioState.from_positions({}, {}, 1e6, var_fn=no_history)
    d = check_order(Order("ZZZ", 1.0, 10.0), state, LimitSet(var_budget=100.0), 0.0)
    assert not d.accepted and d.reasons[0]["limit"] == "var_budget" and "no bars of ZZZ" in d.reasons[0]["message"]
    state = PortfolioState.from_positions({}, {}, 1e6, var_fn=lambda o, s: math.nan)
    assert not check_order(Order("ZZZ", 1.0, 10.0), state, LimitSet(var_budget=100.0), 0.0).accepted
    state = PortfolioState.from_positions({}, {}, 1e6, var_fn=lambda o, s: 99.0)
    assert check_order(Order("ZZZ", 1.0, 10.0), state, LimitSet(var_budget=100.0), 0.0).accepted


@pytest.mark.parametrize(("kwargs", "field"), [({"var_confidence": 1.0}, "var_confidence"),
                                               ({"var_confidence": True}, "var_confidence"),
                                               ({"var_method": "fhs"}, "var_method"),
                                               ({"var_lookback": 2.5}, "var_lookback"),
                                               ({"var_timeframe": ""}, "var_timeframe")])
def test_var_settings_are_validated(kwargs, field) -> None:
    with pytest.raises(InvalidInput) as ei:
        LimitSet(var_budget=1.0, **kwargs)
    assert ei.value.field == field
