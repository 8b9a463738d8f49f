"""Walk-forward splits with purging and embargo, on a time axis shared by every symbol.

Rows carry a timestamp; the sorted unique timestamps are the *bars* ``0..T-1`` and every split is
made on bars, so all symbols' rows of one bar land on the same side.

* The last ``n_folds * test_size`` bars form ``n_folds`` consecutive test blocks; fold ``k`` tests
  bars ``[s_k, e_k)``, ``e_k = s_k + test_size``; the bars before ``s_0`` are only ever trained on.
  ``test_size`` defaults to ``T // (n_folds + 1)``.
* Training bars come before the test block: all of ``[0, s_k)`` (``"expanding"``, which ignores
  ``train_size``) or the last ``train_size`` of them (``"rolling"``, default ``train_size = s_0``,
  the first fold's window), counted before purging and embargo.
* Purge: a row's target looks ``horizon`` bars ahead, so a training bar ``b`` is kept only when
  ``b + horizon < s_k`` (its target window ``b .. b+horizon`` ends before the test block starts).
* Embargo: the ``embargo`` bars right after each earlier test block, ``[e_j, e_j + embargo)`` for
  ``j < k``, are dropped from fold ``k``'s training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nautilus.core.errors import InvalidInput

SCHEMES = ("expanding", "rolling")


@dataclass(frozen=True, eq=False)
class Fold:
    """One walk-forward fold: row indices (into the ``ts`` given) and inclusive time bounds (ns)."""

    index: int
    train_idx: np.ndarray  # int64 row indices, ascending
    test_idx: np.ndarray  # int64 row indices, ascending
    train_start: int  # first training timestamp
    train_end: int  # last training timestamp
    test_start: int
    test_end: int

    def bounds(self) -> dict[str, int]:
        return {"fold": self.index, "train_start": self.train_start, "train_end": self.train_end,
                "test_start": self.test_start, "test_end": self.test_end}


def _int_arg(name: str, value: object, lo: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise InvalidInput(f"{name} must be an integer >= {lo}, got {value!r}", field=name)
    return int(value)


def bar_positions(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, pos)``: the sorted unique timestamps and each row's bar number."""
    ts = np.asarray(ts)
    if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.integer):
        raise InvalidInput(f"ts must be a 1-D integer array, got dtype {ts.dtype} with shape {ts.shape}",
                           field="ts")
    bars, pos = np.unique(ts, return_inverse=True)
    return bars, pos.astype(np.int64)


def walk_forward_splits(ts: np.ndarray, n_folds: int, scheme: str = "expanding", train_size: int | None = None,
                        test_size: int | None = None, horizon: int = 0, embargo: int = 0) -> list[Fold]:
    """Walk-forward folds over rows with timestamps ``ts`` (see the module docstring for the rules).

    Raises :class:`InvalidInput` (``field`` naming the argument) for bad arguments or when a fold
    would have no training bar left after purging and embargo.
    """
    n_folds = _int_arg("n_folds", n_folds, 1)
    if scheme not in SCHEMES:
        raise InvalidInput(f"scheme {scheme!r} is not one of {', '.join(SCHEMES)}", field="scheme")
    train_size = _int_arg("train_size", train_size, 1, allow_none=True)
    test_size = _int_arg("test_size", test_size, 1, allow_none=True)
    horizon = _int_arg("horizon", horizon, 0)
    embargo = _int_arg("embargo", embargo, 0)
    bars, pos = bar_positions(ts)
    n_bars = bars.shape[0]
    if test_size is None:
        test_size = n_bars // (n_folds + 1)
        if test_size < 1:
            raise InvalidInput(f"{n_bars} distinct timestamps are too few for {n_folds} folds", field="n_folds")
    first_test = n_bars - n_folds * test_size
    if first_test < 1:
        raise InvalidInput(f"{n_folds} folds of {test_size} bars leave no training bars out of {n_bars}",
                           field="test_size")
    window = first_test if train_size is None else train_size

    folds = []
    for k in range(n_folds):
        start = first_test + k * test_size
        stop = start + test_size
        keep = np.zeros(n_bars, dtype=bool)
        lo = 0 if scheme == "expanding" else max(0, start - window)
        keep[lo:max(lo, start - horizon)] = True
        for j in range(k):
            end_j = first_test + (j + 1) * test_size
            keep[end_j:end_j + embargo] = False
        if not keep.any():
            raise InvalidInput(
                f"fold {k} has no training bar left after purging {horizon} and embargo {embargo} bars; "
                "use fewer folds, a smaller test_size or a larger train_size",
                field="train_size" if scheme == "rolling" and train_size is not None else "n_folds")
        train_idx = np.flatnonzero(keep[pos])
        test_idx = np.flatnonzero((pos >= start) & (pos < stop))
        train_bars = np.flatnonzero(keep)
        folds.append(Fold(k, train_idx, test_idx, int(bars[train_bars[0]]), int(bars[train_bars[-1]]),
                          int(bars[start]), int(bars[stop - 1])))
    return folds


def holdout_tail(ts: np.ndarray, rows: np.ndarray, fraction: float, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into ``(fit, validation)``: validation is the last ``ceil(fraction * U)`` of their
    ``U`` bars, and fit rows whose target window reaches the validation bars are purged.

    Returns ``(rows, empty)`` when too few bars remain to fit on.
    """
    bars, pos = bar_positions(ts[rows])
    n_val = max(1, math.ceil(fraction * bars.shape[0]))
    start = bars.shape[0] - n_val
    fit_end = start - horizon
    if fit_end < 1:
        return rows, rows[:0]
    return rows[pos < fit_end], rows[pos >= start]
