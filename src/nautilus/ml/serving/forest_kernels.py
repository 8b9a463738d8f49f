"""Numba kernels that evaluate a flattened decision forest (NumPy arrays only, no I/O).

Layout (built by :mod:`nautilus.ml.serving.forest`): every node of every tree, leaves included, is a
row of ``ints`` (int32 columns: feature or -1 for a leaf, left row, right row, flags) and ``floats``
(float64 columns: threshold, leaf value); ``roots`` holds each tree's root row.

One step equals LightGBM's ``NumericalDecision``. Flag bit 0: a NaN goes right (missing type NaN:
not ``default_left``; missing type None: NaN counts as 0.0, so ``0.0 > threshold``). Flag bit 1: the
node's missing type is Zero, so NaN and ``|v| <= kZeroThreshold`` take the default child, right when
flag bit 2 is set. Otherwise a row goes right when ``v > threshold``. The left/right choice is
arithmetic (no branch); the rare Zero-type nodes take a separate, well-predicted branch.

Tree ``t`` adds its leaf value to output column ``t % n_outputs`` (LightGBM's class order); every
row sums its trees in tree order, as LightGBM does, so results match it to the last bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

ZERO_THRESHOLD = 1.0000000180025095e-35  # float(np.float32(1e-35)): LightGBM's kZeroThreshold
BLOCK = 256  # rows that walk one tree after another in the batch kernel (stay in L1/L2)


@njit(cache=True, inline="always", boundscheck=False)
def leaf_nb(x: np.ndarray, ints: np.ndarray, floats: np.ndarray, node: int) -> int:
    """The leaf row that feature vector ``x`` reaches from ``node``."""
    while True:
        f = ints[node, 0]
        if f < 0:
            return node
        v = x[f]
        flags = ints[node, 3]
        if flags & 2:
            missing = v != v or abs(v) <= ZERO_THRESHOLD
            right = (flags >> 2) & 1 if missing else np.int32(v > floats[node, 0])
        else:
            right = np.int32(v > floats[node, 0]) | (np.int32(v != v) & flags)
        node = ints[node, 1 + (right & 1)]


@njit(cache=True, boundscheck=False)
def predict_one_nb(x: np.ndarray, ints: np.ndarray, floats: np.ndarray, roots: np.ndarray) -> float:
    """Raw score of one row for a single-output forest."""
    total = 0.0
    for t in range(roots.shape[0]):
        total += floats[leaf_nb(x, ints, floats, roots[t]), 1]
    return total


@njit(cache=True, boundscheck=False)
def predict_one_multi_nb(x: np.ndarray, ints: np.ndarray, floats: np.ndarray, roots: np.ndarray,
                         n_outputs: int) -> np.ndarray:
    """Raw scores (n_outputs,) of one row; tree ``t`` adds to column ``t % n_outputs``."""
    out = np.zeros(n_outputs)
    for t in range(roots.shape[0]):
        out[t % n_outputs] += floats[leaf_nb(x, ints, floats, roots[t]), 1]
    return out


@njit(cache=True, parallel=True, boundscheck=False)
def predict_batch_nb(X: np.ndarray, ints: np.ndarray, floats: np.ndarray, roots: np.ndarray,
                     n_outputs: int) -> np.ndarray:
    """Raw scores (n_rows, n_outputs): blocks of ``BLOCK`` rows in parallel (prange); within a block
    the trees are the outer loop, so one tree's nodes stay in cache while every row walks it."""
    n = X.shape[0]
    out = np.zeros((n, n_outputs))
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        start = b * BLOCK
        stop = min(start + BLOCK, n)
        for t in range(roots.shape[0]):
            k = t % n_outputs
            root = roots[t]
            for i in range(start, stop):
                out[i, k] += floats[leaf_nb(X[i], ints, floats, root), 1]
    return out


# QuickScorer (Lucchese et al., SIGIR 2015): feature-major evaluation with one 64-bit leaf mask per tree.
# Internal nodes are sorted by (feature, threshold); a node whose test sends the row right ("false
# node") clears the bits of its left subtree's leaves in its tree's mask; the exit leaf is then the
# lowest set bit (leaves are numbered left to right). For a normal value v of feature k the false
# nodes are exactly the first searchsorted(thresholds_k, v) nodes of k; NaN, and |v| <= kZeroThreshold
# when k has missing-type-Zero nodes, take the per-node decision of ``leaf_nb`` instead.
ALL_LEAVES = np.uint64(0xFFFFFFFFFFFFFFFF)
DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
DEBRUIJN_INDEX = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43,
                           22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44,
                           32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)


@njit(cache=True, inline="always")
def lowest_bit_nb(m: np.uint64) -> int:
    """Index of the lowest set bit of a non-zero uint64 (de Bruijn multiplication)."""
    low = m & (~m + np.uint64(1))
    return DEBRUIJN_INDEX[(low * DEBRUIJN) >> np.uint64(58)]


@njit(cache=True, boundscheck=False)
def qs_row_nb(x: np.ndarray, thr: np.ndarray, tree: np.ndarray, mask: np.ndarray, flags: np.ndarray,
              start: np.ndarray, has_zero: np.ndarray, leaf_value: np.ndarray, masks: np.ndarray,
              out: np.ndarray) -> None:
    """Add the raw scores of row ``x`` to ``out`` (n_outputs,); ``masks`` (n_trees,) is scratch."""
    for t in range(masks.shape[0]):
        masks[t] = ALL_LEAVES
    for k in range(start.shape[0] - 1):
        v = x[k]
        lo, hi = start[k], start[k + 1]
        if v != v or (has_zero[k] and abs(v) <= ZERO_THRESHOLD):
            isnan = v != v
            for j in range(lo, hi):
                f = flags[j]
                if f & 2:
                    right = (f >> 2) & 1
                elif isnan:
                    right = f & 1
                else:
                    right = np.int32(v > thr[j])
                masks[tree[j]] &= mask[j] if right else ALL_LEAVES
        else:
            stop = lo  # branch-free lower bound: the number of thresholds below v
            size = hi - lo
            if size > 0:
                while size > 1:
                    half = size >> 1
                    stop = stop + half if thr[stop + half] < v else stop
                    size -= half
                stop += 1 if thr[stop] < v else 0
            for j in range(lo, stop):
                masks[tree[j]] &= mask[j]
    n_outputs = out.shape[0]
    k = 0
    for t in range(masks.shape[0]):
        out[k] += leaf_value[t, lowest_bit_nb(masks[t])]
        k += 1
        if k == n_outputs:
            k = 0


@njit(cache=True, boundscheck=False)
def qs_one_nb(x: np.ndarray, thr: np.ndarray, tree: np.ndarray, mask: np.ndarray, flags: np.ndarray,
              start: np.ndarray, has_zero: np.ndarray, leaf_value: np.ndarray, n_outputs: int) -> np.ndarray:
    """Raw scores (n_outputs,) of one row."""
    out = np.zeros(n_outputs)
    qs_row_nb(x, thr, tree, mask, flags, start, has_zero, leaf_value, np.empty(leaf_value.shape[0], np.uint64), out)
    return out


@njit(cache=True, parallel=True, boundscheck=False)
def qs_batch_nb(X: np.ndarray, thr: np.ndarray, tree: np.ndarray, mask: np.ndarray, flags: np.ndarray,
                start: np.ndarray, has_zero: np.ndarray, leaf_value: np.ndarray, n_outputs: int) -> np.ndarray:
    """Raw scores (n_rows, n_outputs), blocks of ``BLOCK`` rows in parallel."""
    n = X.shape[0]
    out = np.zeros((n, n_outputs))
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        masks = np.empty(leaf_value.shape[0], np.uint64)
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            qs_row_nb(X[i], thr, tree, mask, flags, start, has_zero, leaf_value, masks, out[i])
    return out
