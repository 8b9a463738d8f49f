"""The request pipeline: library spec or expression, then cross-sectional steps in order."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.factor.test_factor_library import make_panel

from nautilus.core.errors import InvalidInput
from nautilus.factor import crosssection, evaluate, library
from nautilus.factor.pipeline import apply_steps, factor_values


@pytest.fixture(scope="module")
def panel():
    return make_panel(150, 8, seed=9)


def test_factor_or_expression_with_labels(panel) -> None:
    label, values = factor_values(panel, factor="momentum(60, 5)")
    assert label == "momentum(60, 5)"
    np.testing.assert_array_equal(values, library.momentum(panel, 60, 5))
    label, values = factor_values(panel, expr="rank( close )")
    assert label == "rank(close)"
    np.testing.assert_array_equal(values, evaluate("rank(close)", panel))
    for kwargs in ({}, {"factor": "volatility", "expr": "close"}):
        with pytest.raises(InvalidInput) as exc:
            factor_values(panel, **kwargs)
        assert exc.value.field == "factor"


def test_steps_apply_in_order(panel) -> None:
    raw = library.volatility(panel, 20)
    groups = {"S0": "a", "S1": "a", "S2": "b", "S3": "b", "s4": "c"}  # S5..S7 share the unlabelled group
    steps = [{"op": "winsorize", "method": "mad", "n_mad": 3.0}, {"op": "zscore"},
             {"op": "neutralize", "against": ["beta(30)", "ts_mean(returns, 10)"], "groups": groups},
             {"op": "rank", "centered": True}]
    got = apply_steps(raw, steps, panel)
    expected = crosssection.winsorize(raw, "mad", n_mad=3.0)
    expected = crosssection.zscore(expected)
    labels = ["a", "a", "b", "b", "c", "", "", ""]
    expected = crosssection.neutralize(expected, [library.beta(panel, 30), evaluate("ts_mean(returns, 10)", panel)],
                                       labels)
    expected = crosssection.rank(expected, centered=True)
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got[-1]).all()


@pytest.mark.parametrize("steps, field", [
    ([{"op": "demean"}], "steps[0].op"),
    ([{"op": "zscore"}, {"op": "neutralize"}], "steps[1].against"),
    ([{"op": "winsorize", "limits": [0.1]}], "steps[0].limits"),
    ([{"op": "neutralize", "against": ["import os"]}], "expr"),
    ([{"op": "neutralize", "against": [3]}], "against"),
])
def test_bad_steps_name_the_field(panel, steps, field) -> None:
    with pytest.raises(InvalidInput) as exc:
        apply_steps(library.volatility(panel, 20), steps, panel)
    assert exc.value.field == field
