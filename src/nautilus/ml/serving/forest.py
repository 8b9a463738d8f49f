"""CompiledForest: a LightGBM model as flat node arrays, evaluated by a C kernel or numba kernels.

``from_booster`` reads the booster's text dump (thresholds are printed there with round-trip
precision), so the compiled forest takes the same path as ``booster.predict`` for every row,
NaN and zero handling included. Forests whose trees have at most 64 leaves are evaluated with
QuickScorer (feature-major bit masks, see :mod:`forest_kernels`), others by walking the nodes; both
sum the trees in LightGBM's order. Categorical splits and linear trees are refused with a
ValueError. ``save`` writes a folder with ``manifest.json`` and ``arrays.bin``; ``load`` reads
them back without importing LightGBM.

``save`` also builds the batch kernel of :mod:`forest_native` with the system C compiler into the
folder (QuickScorer forests only); a forest loaded from such a folder predicts batches of
``NATIVE_MIN_ROWS`` rows or more with it, on ``threads`` threads, and keeps the numba kernels for
single rows and small batches. Without a compiler (or when the library is missing, altered or built
for another machine, which ``load`` logs) every prediction uses the numba kernels; both give the
same numbers.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.ml.serving import forest_kernels as fk
from nautilus.ml.serving import forest_native
from nautilus.ml.serving.manifest import (
    ModelInputError,
    read_arrays,
    read_manifest,
    write_arrays,
    write_manifest,
)

log = logging.getLogger("nautilus.ml")

MISSING_ZERO, MISSING_NAN = 1, 2
NATIVE_MIN_ROWS = 8  # below this a batch costs less in the numba kernels than one 32-row block in C
ROWS_PER_THREAD = 1024  # the C kernel starts one more thread per this many rows (up to ``threads``)

# LightGBM objective -> (our objective, output transform)
OBJECTIVES = {
    "binary": ("binary", "sigmoid"),
    "cross_entropy": ("binary", "sigmoid"),
    "multiclass": ("multiclass", "softmax"),
    "multiclassova": ("multiclass", "sigmoid"),
    "regression": ("regression", "identity"),
    "regression_l1": ("regression", "identity"),
    "huber": ("regression", "identity"),
    "fair": ("regression", "identity"),
    "quantile": ("regression", "identity"),
    "mape": ("regression", "identity"),
    "poisson": ("regression", "exp"),
    "gamma": ("regression", "exp"),
    "tweedie": ("regression", "exp"),
}


class CompiledForest:
    """A LightGBM forest compiled to flat arrays (numerical splits only).

    Attributes: ``n_features``, ``objective`` ("binary" | "multiclass" | "regression"),
    ``n_classes`` (1 for binary and regression), ``transform`` ("sigmoid" | "softmax" | "identity" |
    "exp"), ``sigmoid`` (LightGBM's sigmoid parameter), ``average`` (random-forest mode: the raw score
    is the mean over iterations), ``quickscorer`` (the tables of :func:`quickscorer_arrays`; built
    from the nodes when None is passed, while ``{}`` means walk the nodes; None when a tree has over
    64 leaves), ``backend`` ("native" when batches run in the C kernel, else "numba") and ``threads``
    (the C kernel's threads, default: the CPUs this process may use).
    """

    kind = "forest"

    def __init__(self, ints: np.ndarray, floats: np.ndarray, roots: np.ndarray, *, n_features: int,
                 objective: str, n_classes: int, transform: str, sigmoid: float = 1.0,
                 average: bool = False, quickscorer: dict[str, np.ndarray] | None = None) -> None:
        self.ints = np.ascontiguousarray(ints, dtype=np.int32)
        self.floats = np.ascontiguousarray(floats, dtype=np.float64)
        self.roots = np.ascontiguousarray(roots, dtype=np.int32)
        self.n_features = int(n_features)
        self.objective = objective
        self.n_classes = int(n_classes)
        self.transform = transform
        self.sigmoid = float(sigmoid)
        self.average = bool(average)
        self.n_outputs = self.n_classes if objective == "multiclass" else 1
        n_iter = max(1, self.roots.shape[0] // self.n_outputs)
        self._scale = 1.0 / n_iter if self.average else 1.0
        if quickscorer is None:
            quickscorer = quickscorer_arrays(self.ints, self.floats, self.roots, self.n_features)
        self.quickscorer = quickscorer
        self._qs = tuple(quickscorer[name] for name in QS_ARRAYS) if quickscorer else None
        self.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self._native: forest_native.NativeKernel | None = None
        self._tables: dict[str, np.ndarray] = {}
        self._has_zero = bool(quickscorer) and bool(np.any(quickscorer["flags"] & 2))

    @property
    def backend(self) -> str:
        return "native" if self._native is not None else "numba"

    # Construction ---------------------------------------------------------------------------------
    @classmethod
    def from_booster(cls, booster: Any) -> CompiledForest:
        """Compile a ``lightgbm.Booster`` (its best iteration when one is set, else all trees)."""
        text = booster.model_to_string(num_iteration=None)
        return cls.from_model_string(text)

    @classmethod
    def from_model_string(cls, text: str) -> CompiledForest:
        """Compile LightGBM's text model format (``Booster.model_to_string``)."""
        header, tree_blocks = _split_model_text(text)
        name, params = _objective(header.get("objective", ""))
        if name not in OBJECTIVES:
            raise ModelInputError(f"LightGBM objective {name!r} is not supported; supported: "
                                  f"{', '.join(OBJECTIVES)}", field="model")
        objective, transform = OBJECTIVES[name]
        n_classes = int(header.get("num_class", "1"))
        per_iter = int(header.get("num_tree_per_iteration", "1"))
        if objective == "multiclass" and per_iter != n_classes:
            raise ModelInputError("multiclass model with num_tree_per_iteration != num_class", field="model")
        if objective != "multiclass" and per_iter != 1:
            raise ModelInputError(f"{name} model with {per_iter} trees per iteration", field="model")
        sigmoid = float(params.get("sigmoid", "1"))
        ints_parts, floats_parts, roots = [], [], []
        offset = 0
        for block in tree_blocks:
            ints, floats = _flatten_tree(block, offset)
            roots.append(offset)
            ints_parts.append(ints)
            floats_parts.append(floats)
            offset += ints.shape[0]
        if not roots:
            raise ModelInputError("the LightGBM model has no trees", field="model")
        return cls(np.concatenate(ints_parts), np.concatenate(floats_parts), np.array(roots, dtype=np.int32),
                   n_features=int(header["max_feature_idx"]) + 1, objective=objective,
                   n_classes=n_classes if objective == "multiclass" else 1, transform=transform,
                   sigmoid=sigmoid, average="average_output" in header)

    # Persistence ----------------------------------------------------------------------------------
    def save(self, path: Path | str, *, native: bool = True) -> Path:
        """Write ``path/manifest.json`` and ``path/arrays.bin`` (raw arrays, one read at load) and, when
        ``native`` and a C compiler is found, the batch kernel (which this forest then uses too);
        returns ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / forest_native.LIBRARY).unlink(missing_ok=True)
        tables = forest_native.native_tables(self.quickscorer, self.n_features) if native else None
        entry = forest_native.write_library(path) if tables is not None else None
        qs = {f"qs_{name}": value for name, value in (self.quickscorer or {}).items()}
        nv = {f"native_{name}": value for name, value in tables.items()} if entry and tables else {}
        table = write_arrays(path, {"ints": self.ints, "floats": self.floats, "roots": self.roots, **qs, **nv})
        write_manifest(path, {"kind": self.kind, "arrays": table, "n_features": self.n_features, "objective": self.objective,
                              "n_classes": self.n_classes, "transform": self.transform,
                              "sigmoid": self.sigmoid, "average": self.average, "native": entry})
        if entry and tables:
            self._attach(path, entry, tables)
        return path

    @classmethod
    def load(cls, path: Path | str, *, native: bool = True) -> CompiledForest:
        """Read a forest written by :meth:`save`; ``native=False`` leaves its C kernel unused."""
        path = Path(path)
        meta = read_manifest(path, cls.kind)
        arrays = read_arrays(path, meta["arrays"])
        ints, floats, roots = arrays["ints"], arrays["floats"], arrays["roots"]
        qs = {name: arrays[f"qs_{name}"] for name in QS_ARRAYS} if "qs_thr" in arrays else {}
        forest = cls(ints, floats, roots, n_features=meta["n_features"], objective=meta["objective"],
                     n_classes=meta["n_classes"], transform=meta["transform"], sigmoid=meta["sigmoid"],
                     average=meta["average"], quickscorer=qs)
        entry = meta.get("native")
        if native and entry:
            tables = {name: arrays.get(f"native_{name}") for name in forest_native.TABLES}
            forest._attach(path, entry, tables)
        return forest

    def _attach(self, path: Path, entry: dict[str, Any], tables: dict[str, Any]) -> None:
        """Use the C kernel saved in ``path`` for batches; logs why not and keeps numba when it cannot."""
        try:
            if not self.quickscorer or any(not isinstance(value, np.ndarray) for value in tables.values()):
                raise forest_native.NativeUnavailable("the kernel's node tables are missing from arrays.bin")
            kernel = forest_native.load_library(path, entry)
        except forest_native.NativeUnavailable as exc:
            log.warning("%s: batches use the numba kernels: %s", path, exc)
            return
        self._native, self._tables = kernel, tables

    # Prediction -----------------------------------------------------------------------------------
    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Raw scores: (n,) for one output, (n, n_classes) for multiclass."""
        X = self._check_batch(X)
        if self._native is not None and X.shape[0] >= NATIVE_MIN_ROWS:
            threads = max(1, min(self.threads, X.shape[0] // ROWS_PER_THREAD))
            raw = self._native.predict_raw(X, self._tables, self.quickscorer["leaf_value"], self.n_outputs,
                                           self._has_zero, threads)
        elif self._qs is not None:
            raw = fk.qs_batch_nb(X, *self._qs, self.n_outputs)
        else:
            raw = fk.predict_batch_nb(X, self.ints, self.floats, self.roots, self.n_outputs)
        if self.average:
            raw *= self._scale
        return raw[:, 0] if self.n_outputs == 1 else raw

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What ``booster.predict`` returns: probabilities for binary (n,) and multiclass (n, k),
        values for regression (n,)."""
        return self._transform(self.predict_raw(X))

    def predict_one(self, x: np.ndarray) -> float | np.ndarray:
        """One row (1-D, ``n_features`` values): a float, or (n_classes,) probabilities."""
        if x.shape != (self.n_features,) or x.dtype != np.float64 or not x.flags.c_contiguous:
            x = self._check_row(x)
        if self._qs is not None:
            out = fk.qs_one_nb(x, *self._qs, self.n_outputs)
        elif self.n_outputs == 1:
            out = np.array([fk.predict_one_nb(x, self.ints, self.floats, self.roots)])
        else:
            out = fk.predict_one_multi_nb(x, self.ints, self.floats, self.roots, self.n_outputs)
        if self.n_outputs == 1:
            raw = out[0] * self._scale
            if self.transform == "sigmoid":
                return 1.0 / (1.0 + math.exp(-self.sigmoid * raw))
            if self.transform == "exp":
                return math.exp(raw)
            return raw
        if self.average:
            out *= self._scale
        return self._transform(out)

    def _transform(self, raw: np.ndarray) -> np.ndarray:
        if self.transform == "sigmoid":
            return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))
        if self.transform == "softmax":
            e = np.exp(raw - raw.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        if self.transform == "exp":
            return np.exp(raw)
        return raw

    def _check_batch(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1 and X.shape[0] == self.n_features:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ModelInputError(f"X must have shape (n, {self.n_features}), got {X.shape}", field="X")
        return np.ascontiguousarray(X, dtype=np.float64)

    def _check_row(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1) if np.ndim(x) == 2 and len(x) == 1 else np.asarray(x)
        if x.shape != (self.n_features,):
            raise ModelInputError(f"x must have {self.n_features} features, got shape {x.shape}", field="x")
        return np.ascontiguousarray(x, dtype=np.float64)


QS_ARRAYS = ("thr", "tree", "mask", "flags", "start", "has_zero", "leaf_value")


def quickscorer_arrays(ints: np.ndarray, floats: np.ndarray, roots: np.ndarray,
                       n_features: int) -> dict[str, np.ndarray] | None:
    """The QuickScorer tables (see :mod:`forest_kernels`), or None when a tree has over 64 leaves.

    Internal nodes sorted by (feature, threshold) with their tree, leaf mask (bits of the left
    subtree's leaves cleared, leaves numbered left to right) and flags; ``start`` (n_features + 1)
    delimits each feature's nodes; ``leaf_value`` is (n_trees, max leaves) in leaf order.
    """
    n_trees = len(roots)
    leaf_lists: list[list[int]] = []
    node_rows: list[int] = []
    node_tree: list[int] = []
    node_mask: list[int] = []
    max_leaves = 1
    for t, root in enumerate(roots):
        leaves: list[int] = []

        def walk(node: int, leaves: list[int] = leaves, t: int = t) -> tuple[int, int]:
            if ints[node, 0] < 0:
                leaves.append(node)
                return len(leaves) - 1, len(leaves)
            lo, mid = walk(int(ints[node, 1]))
            _, hi = walk(int(ints[node, 2]))
            node_rows.append(node)
            node_tree.append(t)
            bits = ((1 << (mid - lo)) - 1) << lo
            node_mask.append(0xFFFFFFFFFFFFFFFF & ~bits)
            return lo, hi

        walk(int(root))
        if len(leaves) > 64:
            return None
        leaf_lists.append(leaves)
        max_leaves = max(max_leaves, len(leaves))
    leaf_value = np.zeros((n_trees, max_leaves))
    for t, leaves in enumerate(leaf_lists):
        leaf_value[t, :len(leaves)] = floats[leaves, 1]
    rows = np.array(node_rows, dtype=np.int64)
    feat = ints[rows, 0].astype(np.int64)
    thr = floats[rows, 0]
    order = np.lexsort((thr, feat))
    start = np.searchsorted(feat[order], np.arange(n_features + 1)).astype(np.int64)
    flags = ints[rows, 3][order].astype(np.int32)
    has_zero = np.zeros(n_features, dtype=np.bool_)
    has_zero[np.unique(feat[(ints[rows, 3] & 2) != 0])] = True
    return {"thr": np.ascontiguousarray(thr[order]), "tree": np.array(node_tree, np.int32)[order],
            "mask": np.array(node_mask, dtype=np.uint64)[order], "flags": flags, "start": start,
            "has_zero": has_zero, "leaf_value": leaf_value}


# LightGBM text format -----------------------------------------------------------------------------
def _split_model_text(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header key=value pairs (bare words map to "") and one dict per ``Tree=`` block."""
    end = text.find("end of trees")
    body = text if end < 0 else text[:end]
    chunks = body.split("\nTree=")
    header: dict[str, str] = {}
    for line in chunks[0].splitlines():
        key, _, value = line.partition("=")
        if key:
            header[key.strip()] = value.strip()
    blocks = []
    for chunk in chunks[1:]:
        block: dict[str, str] = {}
        for line in chunk.splitlines()[1:]:
            key, sep, value = line.partition("=")
            if sep:
                block[key.strip()] = value.strip()
        blocks.append(block)
    return header, blocks


def _objective(line: str) -> tuple[str, dict[str, str]]:
    words = line.split()
    if not words:
        raise ModelInputError("the LightGBM model names no objective", field="model")
    params = dict(w.split(":", 1) for w in words[1:] if ":" in w)
    return words[0], params


def _numbers(block: dict[str, str], key: str, dtype: type) -> np.ndarray:
    return np.array(block[key].split(), dtype=dtype) if block.get(key) else np.empty(0, dtype=dtype)


def _flatten_tree(block: dict[str, str], offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Node rows of one tree (internal nodes first, then leaves) placed at global row ``offset``."""
    if int(block.get("is_linear", "0")):
        raise ModelInputError("linear trees (linear_tree=true) are not supported", field="model")
    if int(block.get("num_cat", "0")):
        raise ModelInputError("categorical splits are not supported; train with numerical features",
                              field="model")
    n_leaves = int(block["num_leaves"])
    n_internal = n_leaves - 1
    ints = np.zeros((n_internal + n_leaves, 4), dtype=np.int32)
    floats = np.zeros((n_internal + n_leaves, 2), dtype=np.float64)
    ints[n_internal:, 0] = -1
    floats[n_internal:, 1] = _numbers(block, "leaf_value", np.float64)
    if n_internal == 0:
        return ints, floats
    decision = _numbers(block, "decision_type", np.int64)
    if np.any(decision & 1):
        raise ModelInputError("categorical splits are not supported; train with numerical features",
                              field="model")
    threshold = _numbers(block, "threshold", np.float64)
    missing = (decision >> 2) & 3
    default_right = (decision & 2) == 0
    nan_right = np.where(missing == MISSING_NAN, default_right, threshold < 0.0)
    zero = missing == MISSING_ZERO

    def rows(child: np.ndarray) -> np.ndarray:
        return np.where(child >= 0, offset + child, offset + n_internal + ~child)

    ints[:n_internal, 0] = _numbers(block, "split_feature", np.int64)
    ints[:n_internal, 1] = rows(_numbers(block, "left_child", np.int64))
    ints[:n_internal, 2] = rows(_numbers(block, "right_child", np.int64))
    ints[:n_internal, 3] = np.where(zero, 2 | (default_right.astype(np.int32) << 2), nan_right.astype(np.int32))
    floats[:n_internal, 0] = threshold
    return ints, floats
