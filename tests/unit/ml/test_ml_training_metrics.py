"""Metrics against hand-worked cases and scipy (Mann-Whitney U, rankdata, pearsonr, spearmanr)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from nautilus.ml.training.metrics import (
    auc,
    average_ranks,
    binary_metrics,
    mean_metrics,
    multiclass_metrics,
    regression_metrics,
)


def test_auc_hand_worked() -> None:
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3 of 4
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    # a tie between a positive and a negative counts one half: (0.5 + 1 + 1 + 1) / 4
    assert auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9])) == pytest.approx(0.875)
    assert auc(np.array([0, 1, 0, 1]), np.full(4, 0.3)) == pytest.approx(0.5)
    assert math.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60))
def test_auc_equals_mann_whitney(pairs) -> None:
    y = np.array([a for a, _ in pairs], dtype=float)
    p = np.array([b for _, b in pairs], dtype=float) / 6  # coarse scores: many ties
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        assert math.isnan(auc(y, p))
        return
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert auc(y, p) == pytest.approx(u / (n_pos * n_neg), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40))
def test_average_ranks_equal_scipy(values) -> None:
    x = np.array(values, dtype=float)
    np.testing.assert_allclose(average_ranks(x), stats.rankdata(x, method="average"))


def test_binary_metrics_hand_worked() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.8, 0.3, 0.4, 0.6])
    m = binary_metrics(y, p)
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.5)  # 0.8 right, 0.3 right, 0.4 wrong, 0.6 wrong
    assert m["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.4) + math.log(0.4)) / 4)
    assert m["auc"] == pytest.approx(0.75)  # 0.8 beats both, 0.4 beats 0.3 only
    # a certain wrong prediction is clipped, not infinite
    assert math.isfinite(binary_metrics(np.array([1.0]), np.array([0.0]))["log_loss"])


def test_multiclass_metrics_hand_worked() -> None:
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.3, 0.4, 0.3], [0.5, 0.2, 0.3]])
    m = multiclass_metrics(y, p)
    # argmax: 0 1 1 1 0 -> right, wrong, right, right, wrong
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.6, 0.2, 0.8, 0.4, 0.3])))
    # F1: class 0 tp1 fp1 fn1 -> 0.5; class 1 tp2 fp1 fn0 -> 0.8; class 2 tp0 -> 0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 50))
def test_regression_metrics_equal_scipy(seed, n) -> None:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n)
    p = np.round(0.5 * y + rng.standard_normal(n), 1)  # rounding makes rank ties
    m = regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(math.sqrt(np.mean((p - y) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    if np.ptp(p) == 0:
        assert math.isnan(m["ic"])
        return
    assert m["ic"] == pytest.approx(stats.pearsonr(p, y).statistic, abs=1e-10)
    assert m["rank_ic"] == pytest.approx(stats.spearmanr(p, y).statistic, abs=1e-10)


def test_mean_metrics() -> None:
    folds = [{"n": 10, "auc": 0.6}, {"n": 5, "auc": float("nan")}, {"n": 5, "auc": 0.8}]
    assert mean_metrics(folds) == {"n": 20, "auc": pytest.approx(0.7)}
