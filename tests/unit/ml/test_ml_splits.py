"""Walk-forward splits: a hand-worked case, the purge/embargo rules as properties, argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.ml.training import walk_forward_splits
from nautilus.ml.training.splits import holdout_tail


def _two_symbols(n_bars: int) -> np.ndarray:
    """Rows of symbols A then B, both on bars 0..n_bars-1 (ts in ns, one minute apart)."""
    return np.r_[np.arange(n_bars), np.arange(n_bars)].astype(np.int64) * 60_000_000_000


def _rows(bars: set[int], n_bars: int) -> list[int]:
    return sorted(list(bars) + [b + n_bars for b in bars])


def test_expanding_hand_worked_case() -> None:
    # 10 bars, 3 folds of 2 test bars: tests [4,6), [6,8), [8,10); horizon 1 purges the bar before each
    # test block; embargo 1 drops bar 6 (after fold 0's test) and bar 8 (after fold 1's) later on.
    ts = _two_symbols(10)
    folds = walk_forward_splits(ts, 3, test_size=2, horizon=1, embargo=1)
    expected_train = [{0, 1, 2}, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4, 5}]
    expected_test = [{4, 5}, {6, 7}, {8, 9}]
    for fold, train, test in zip(folds, expected_train, expected_test, strict=True):
        assert fold.train_idx.tolist() == _rows(train, 10)
        assert fold.test_idx.tolist() == _rows(test, 10)
        minute = 60_000_000_000
        assert (fold.train_start, fold.train_end) == (min(train) * minute, max(train) * minute)
        assert (fold.test_start, fold.test_end) == (min(test) * minute, max(test) * minute)


def test_rolling_hand_worked_case() -> None:
    ts = _two_symbols(10)
    folds = walk_forward_splits(ts, 3, scheme="rolling", train_size=3, test_size=2, horizon=1, embargo=1)
    # windows [1,4), [3,6), [5,8) before purging the last bar; bar 6 is embargoed in fold 2
    assert [f.train_idx.tolist() for f in folds] == [_rows({1, 2}, 10), _rows({3, 4}, 10), _rows({5}, 10)]


def test_default_sizes() -> None:
    folds = walk_forward_splits(np.arange(60, dtype=np.int64), 5)
    # test_size = 60 // 6 = 10: the first 10 bars train only, then five 10-bar test blocks
    assert [(int(f.test_idx[0]), int(f.test_idx[-1])) for f in folds] == [(10, 19), (20, 29), (30, 39),
                                                                          (40, 49), (50, 59)]
    assert folds[0].train_idx.tolist() == list(range(10))
    rolling = walk_forward_splits(np.arange(60, dtype=np.int64), 5, scheme="rolling")
    assert all(f.train_idx.size == 10 for f in rolling)  # window = the first fold's 10 bars


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_bars=st.integers(4, 120), n_folds=st.integers(1, 6), scheme=st.sampled_from(["expanding", "rolling"]),
       test_size=st.none() | st.integers(1, 25), train_size=st.none() | st.integers(1, 60),
       horizon=st.integers(0, 6), embargo=st.integers(0, 6), n_symbols=st.integers(1, 3), seed=st.integers(0, 9))
def test_split_rules(n_bars, n_folds, scheme, test_size, train_size, horizon, embargo, n_symbols, seed) -> None:
    rng = np.random.default_rng(seed)
    # each symbol has a random subset of the bars (one symbol has them all, so every bar exists)
    bars_per_symbol = [np.arange(n_bars)] + [np.sort(rng.choice(n_bars, rng.integers(1, n_bars + 1), replace=False))
                                             for _ in range(n_symbols - 1)]
    ts = np.concatenate(bars_per_symbol).astype(np.int64) * 1000 + 7
    try:
        folds = walk_forward_splits(ts, n_folds, scheme, train_size, test_size, horizon, embargo)
    except InvalidInput as exc:
        assert exc.field in ("n_folds", "test_size", "train_size")
        size = n_bars // (n_folds + 1) if test_size is None else test_size
        first = n_bars - n_folds * size
        window = first if train_size is None else train_size
        # the error is raised exactly when some fold would be left without training bars
        fold_empty = any(
            not ({b for b in range((0 if scheme == "expanding" else max(0, first + k * size - window)),
                                   first + k * size - horizon)}
                 - {b for j in range(k) for b in range(first + (j + 1) * size, first + (j + 1) * size + embargo)})
            for k in range(n_folds)) if size >= 1 and first >= 1 else True
        assert fold_empty
        return
    bar_of_row = (ts - 7) // 1000
    size = n_bars // (n_folds + 1) if test_size is None else test_size
    first = n_bars - n_folds * size
    window = first if train_size is None else train_size
    for k, fold in enumerate(folds):
        start, stop = first + k * size, first + (k + 1) * size
        train_bars = set(bar_of_row[fold.train_idx].tolist())
        test_bars = set(bar_of_row[fold.test_idx].tolist())
        assert test_bars == set(range(start, stop))
        # oracle: the rules of the module docstring, written out with sets
        lo = 0 if scheme == "expanding" else max(0, start - window)
        embargoed = {b for j in range(k) for b in range(first + (j + 1) * size, first + (j + 1) * size + embargo)}
        assert train_bars == set(range(lo, start - horizon)) - embargoed
        # no leakage: every training target window ends before the test block
        assert max(train_bars) + horizon < min(test_bars)
        assert not train_bars & test_bars
        # every row of a chosen bar is taken, whatever its symbol
        assert fold.train_idx.tolist() == np.flatnonzero(np.isin(bar_of_row, list(train_bars))).tolist()
        assert fold.test_idx.tolist() == np.flatnonzero(np.isin(bar_of_row, list(test_bars))).tolist()
        assert fold.train_end == max(train_bars) * 1000 + 7 and fold.test_start == start * 1000 + 7
    assert folds[-1].test_end == (n_bars - 1) * 1000 + 7


@settings(max_examples=60, deadline=None)
@given(n_bars=st.integers(2, 80), fraction=st.floats(0.05, 0.9), horizon=st.integers(0, 5))
def test_holdout_tail(n_bars, fraction, horizon) -> None:
    ts = _two_symbols(n_bars)
    rows = np.arange(ts.size)
    fit, val = holdout_tail(ts, rows, fraction, horizon)
    n_val = max(1, math.ceil(fraction * n_bars))
    if n_bars - n_val - horizon < 1:
        assert fit.tolist() == rows.tolist() and val.size == 0
        return
    bars = ts // 60_000_000_000
    assert sorted(set(bars[val].tolist())) == list(range(n_bars - n_val, n_bars))
    assert sorted(set(bars[fit].tolist())) == list(range(0, n_bars - n_val - horizon))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"n_folds": 0}, "n_folds"),
    ({"n_folds": 2.5}, "n_folds"),
    ({"scheme": "sliding"}, "scheme"),
    ({"test_size": 0}, "test_size"),
    ({"test_size": 40}, "test_size"),
    ({"train_size": 0}, "train_size"),
    ({"horizon": -1}, "horizon"),
    ({"embargo": -2}, "embargo"),
    ({"n_folds": 30}, "n_folds"),
    ({"horizon": 20, "n_folds": 3}, "n_folds"),
])
def test_invalid_arguments(kwargs, field) -> None:
    args = {"n_folds": 3} | kwargs
    with pytest.raises(InvalidInput) as info:
        walk_forward_splits(np.arange(20, dtype=np.int64), **args)
    assert info.value.field == field


def test_ts_must_be_integer() -> None:
    with pytest.raises(InvalidInput) as info:
        walk_forward_splits(np.linspace(0, 1, 20), 3)
    assert info.value.field == "ts"
