"""A C kernel for batches of forest rows: built with the system C compiler when a forest is saved,
loaded with ctypes when it is read back.

Algorithm (a block-wise QuickScorer, see :mod:`forest_kernels`): rows go in blocks of ``LANES`` (32).
For a block, every feature column is laid out as ``LANES`` doubles in six variants ("groups"): the
value with NaN replaced by -inf (group 0) or +inf (group 1), with NaN and ``|v| <= kZeroThreshold``
replaced by -inf (2) or +inf (3), and the indicators "is NaN" (4) and "is NaN or zero" (5). Every
internal node then reads one variant and goes right exactly when ``value > threshold``:

- missing type None or NaN: group 1 when a NaN goes right, else group 0;
- missing type Zero: group 3 when the default child is the right one, else group 2;
- a threshold of +inf with missing values going right (LightGBM writes such "NaN-only" splits) reads
  the indicator (group 4, or 5 for missing type Zero) against 0.5, since no value exceeds +inf.

A node whose test sends the rows right clears its left subtree's leaves in each row's 64-bit leaf
mask (one AND of eight lanes, no branch); the exit leaf is the mask's lowest set bit. Each row sums
its trees in tree order from 0.0 (tree ``t`` into output ``t % n_outputs``), as LightGBM does, so the
raw scores equal ``booster.predict(raw_score=True)`` bit for bit. POSIX threads take the blocks one at
a time from a shared counter, so a thread on a busy core takes fewer of them.

The kernel source is the same for every model: the model's tables (:func:`native_tables`) are
arguments. On x86-64 it is built with GCC/Clang ``target_clones`` (AVX-512, AVX2, baseline picked
when the library is loaded), elsewhere plainly. :func:`write_library` returns None when no compiler is
found (``$CC``, ``cc``, ``gcc``, ``clang``) or the build fails; the forest is then served by the numba
kernels. :func:`load_library` checks the file's checksum, machine and ABI before use and raises
:class:`NativeUnavailable` naming the cause; it maps a private copy of the file (once per process and
checksum), so a model folder rewritten later cannot change code that is running.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("nautilus.ml")

LIBRARY = "forest_native.so"
ABI = 1
LANES = 32
GROUPS = 6
TABLES = ("column", "threshold", "mask", "tree_start")

C_SOURCE = r"""
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define NV 4
#define LANES (8 * NV)
#define GROUPS 6
#define ZERO_THRESHOLD 1.0000000180025095e-35

typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8i __attribute__((vector_size(64)));

typedef struct {
  const double *X; int64_t n, n_features;
  const int32_t *column; const double *threshold; const uint64_t *mask; const int64_t *tree_start;
  const double *leaf_value; int64_t max_leaves, n_trees, n_outputs, has_zero;
  double *out; int64_t n_blocks; int64_t *next_block; int status;
} job_t;

int64_t nautilus_forest_abi(void) { return ABI; }

#if defined(__x86_64__) && defined(NAUTILUS_CLONES)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static int run_blocks(job_t *jb)
{
  const int64_t nf = jb->n_features, n = jb->n, n_outputs = jb->n_outputs;
  const int32_t *restrict column = jb->column;
  const double *restrict threshold = jb->threshold;
  const uint64_t *restrict mask = jb->mask;
  v8d (*table)[NV] = aligned_alloc(64, sizeof(v8d) * NV * GROUPS * nf);
  double *sums = malloc(sizeof(double) * LANES * n_outputs);
  if (!table || !sums) { free(table); free(sums); return -1; }
  for (int64_t b; (b = __atomic_fetch_add(jb->next_block, 1, __ATOMIC_RELAXED)) < jb->n_blocks;) {
    const int64_t r0 = b * LANES, nr = n - r0 < LANES ? n - r0 : LANES;
    for (int64_t k = 0; k < nf; k++) {
      for (int l = 0; l < LANES; l++) {
        const double v = l < nr ? jb->X[(r0 + l) * nf + k] : 0.0;
        const int nan = v != v, special = nan || fabs(v) <= ZERO_THRESHOLD;
        table[k][l / 8][l % 8] = nan ? -INFINITY : v;
        table[nf + k][l / 8][l % 8] = nan ? INFINITY : v;
        table[4 * nf + k][l / 8][l % 8] = nan ? 1.0 : 0.0;
        if (jb->has_zero) {
          table[2 * nf + k][l / 8][l % 8] = special ? -INFINITY : v;
          table[3 * nf + k][l / 8][l % 8] = special ? INFINITY : v;
          table[5 * nf + k][l / 8][l % 8] = special ? 1.0 : 0.0;
        }
      }
    }
    for (int64_t i = 0; i < LANES * n_outputs; i++) sums[i] = 0.0;
    int64_t k = 0;
    for (int64_t t = 0; t < jb->n_trees; t++) {
      v8i acc[NV];
      for (int q = 0; q < NV; q++) acc[q] = (v8i){0} - 1;
      for (int64_t j = jb->tree_start[t]; j < jb->tree_start[t + 1]; j++) {
        const v8d *v = table[column[j]];
        const double thr = threshold[j];
        const int64_t m = (int64_t)mask[j];
        for (int q = 0; q < NV; q++) acc[q] &= m | ~(v[q] > thr);
      }
      const double *leaves = jb->leaf_value + t * jb->max_leaves;
      double *s = sums + k * LANES;
      for (int l = 0; l < LANES; l++) s[l] += leaves[__builtin_ctzll((uint64_t)acc[l / 8][l % 8])];
      if (++k == n_outputs) k = 0;
    }
    for (int l = 0; l < nr; l++)
      for (int64_t c = 0; c < n_outputs; c++) jb->out[(r0 + l) * n_outputs + c] = sums[c * LANES + l];
  }
  free(table);
  free(sums);
  return 0;
}

static void *thread_main(void *arg) { job_t *jb = arg; jb->status = run_blocks(jb); return 0; }

/* Raw scores of the n rows of X (row-major, n_features columns) into out (n, n_outputs); 0 on success,
   -1 when memory for the block tables could not be allocated. */
int nautilus_forest_predict(const double *X, int64_t n, int64_t n_features, const int32_t *column,
                            const double *threshold, const uint64_t *mask, const int64_t *tree_start,
                            const double *leaf_value, int64_t max_leaves, int64_t n_trees, int64_t n_outputs,
                            int64_t has_zero, double *out, int64_t threads)
{
  enum { MAX_THREADS = 64 };
  const int64_t n_blocks = (n + LANES - 1) / LANES;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads > n_blocks) threads = n_blocks;
  if (threads < 1) threads = 1;
  int64_t next_block = 0;
  job_t jobs[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int64_t i = 0; i < threads; i++)
    jobs[i] = (job_t){X, n, n_features, column, threshold, mask, tree_start, leaf_value, max_leaves, n_trees,
                      n_outputs, has_zero, out, n_blocks, &next_block, 0};
  for (int64_t i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], 0, thread_main, &jobs[i]) == 0;
  int status = run_blocks(&jobs[0]);
  for (int64_t i = 1; i < threads; i++) {
    if (started[i]) pthread_join(ids[i], 0);
    if (jobs[i].status) status = jobs[i].status;
  }
  return status;
}
""".replace("return ABI;", f"return {ABI};")

_built: dict[str, bytes | None] = {}  # compiler path -> library bytes (None: the build failed; "": none found)
_loaded: dict[str, NativeKernel] = {}  # sha256 of the library -> the kernel loaded from it


class NativeUnavailable(RuntimeError):
    """The compiled kernel of a saved forest cannot be used (the message names the cause)."""


def native_tables(qs: dict[str, np.ndarray] | None, n_features: int) -> dict[str, np.ndarray] | None:
    """The kernel's node tables from the QuickScorer tables, or None when there are none (a tree with
    over 64 leaves) or a threshold is NaN.

    ``column`` (int32, feature + n_features * group), ``threshold`` and ``mask`` per internal node,
    grouped by tree in tree order; ``tree_start`` (n_trees + 1) delimits each tree's nodes.
    """
    if not qs or np.isnan(qs["thr"]).any():
        return None
    flags, thr, tree = qs["flags"], qs["thr"], qs["tree"]
    zero = (flags & 2) != 0
    goes_right = np.where(zero, (flags >> 2) & 1, flags & 1).astype(bool)
    group = 2 * zero + goes_right
    indicator = np.isposinf(thr) & goes_right
    group = np.where(indicator, 4 + zero, group)
    feature = np.repeat(np.arange(n_features), np.diff(qs["start"]))
    order = np.argsort(tree, kind="stable")
    n_trees = qs["leaf_value"].shape[0]
    return {"column": (feature + n_features * group)[order].astype(np.int32),
            "threshold": np.where(indicator, 0.5, thr)[order],
            "mask": np.ascontiguousarray(qs["mask"][order]),
            "tree_start": np.searchsorted(tree[order], np.arange(n_trees + 1)).astype(np.int64)}


def find_compiler() -> str | None:
    """The C compiler to use: ``$CC`` when set, else the first of cc, gcc, clang on PATH."""
    names = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def build_library() -> bytes | None:
    """The shared library's bytes, built once per process and compiler; None (logged) when no
    compiler is found or the build fails."""
    compiler = find_compiler()
    if compiler is None:
        if "" not in _built:  # say it once per process
            log.warning("no C compiler found ($CC, cc, gcc, clang): forests are served by the numba kernels")
            _built[""] = None
        return None
    if compiler not in _built:
        _built[compiler] = _compile(compiler)
    return _built[compiler]


def _compile(compiler: str) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="nautilus-forest-") as tmp:
        source, target = Path(tmp) / "forest_native.c", Path(tmp) / LIBRARY
        source.write_text(C_SOURCE)
        base = [compiler, "-O3", "-std=gnu11", "-shared", "-fPIC", "-pthread", str(source), "-o", str(target)]
        attempts = [base + ["-DNAUTILUS_CLONES"], base] if platform.machine() in ("x86_64", "AMD64") else [base]
        error = ""
        for command in attempts:
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                error = str(exc)
                continue
            if done.returncode == 0 and target.is_file():
                return target.read_bytes()
            error = done.stderr.strip()[-500:]
    log.warning("building the forest kernel with %s failed (%s): forests are served by the numba kernels",
                compiler, error)
    return None


def write_library(folder: Path) -> dict[str, Any] | None:
    """Write the library into ``folder``; returns its manifest entry (file, sha256, abi, machine,
    system), or None when it cannot be built."""
    data = build_library()
    if data is None:
        return None
    (folder / LIBRARY).write_bytes(data)
    return {"file": LIBRARY, "sha256": hashlib.sha256(data).hexdigest(), "abi": ABI,
            "machine": platform.machine(), "system": platform.system()}


def load_library(folder: Path, entry: dict[str, Any]) -> NativeKernel:
    """The kernel of ``folder`` described by its manifest ``entry``; NativeUnavailable when the file is
    missing, altered, built for another machine or ABI, or cannot be loaded."""
    if entry.get("abi") != ABI:
        raise NativeUnavailable(f"kernel ABI {entry.get('abi')} is not this version's ({ABI})")
    if (entry.get("machine"), entry.get("system")) != (platform.machine(), platform.system()):
        raise NativeUnavailable(f"kernel built for {entry.get('system')}/{entry.get('machine')}, this is "
                                f"{platform.system()}/{platform.machine()}")
    file = folder / Path(str(entry.get("file", LIBRARY))).name
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise NativeUnavailable(f"cannot read {file}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.get("sha256"):
        raise NativeUnavailable(f"{file} does not match the checksum in the manifest")
    if digest not in _loaded:
        lib = _dlopen_copy(data, digest) or _dlopen(file)
        abi = lib.nautilus_forest_abi
        abi.restype = ctypes.c_int64
        if abi() != ABI:
            raise NativeUnavailable(f"{file} reports ABI {abi()}, expected {ABI}")
        _loaded[digest] = NativeKernel(lib, lib.nautilus_forest_predict)
    return _loaded[digest]


def _dlopen_copy(data: bytes, digest: str) -> ctypes.CDLL | None:
    """Load a private copy of the library (removed once mapped), so that rewriting the model folder's
    file later cannot touch code this process runs; None when the copy cannot be made or loaded."""
    try:
        with tempfile.TemporaryDirectory(prefix="nautilus-forest-") as tmp:
            copy = Path(tmp) / f"forest-{digest[:16]}.so"
            copy.write_bytes(data)
            return _dlopen(copy)
    except (OSError, NativeUnavailable):
        return None


def _dlopen(file: Path) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(str(file.resolve()))
        for symbol in ("nautilus_forest_abi", "nautilus_forest_predict"):
            getattr(lib, symbol)
    except (OSError, AttributeError) as exc:
        raise NativeUnavailable(f"cannot load {file}: {exc}") from exc
    return lib


class NativeKernel:
    """The loaded library's ``nautilus_forest_predict`` (releases the GIL while it runs)."""

    def __init__(self, lib: ctypes.CDLL, predict: Any) -> None:
        ptr, i64 = ctypes.c_void_p, ctypes.c_int64
        predict.argtypes = [ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i64, ptr, i64]
        predict.restype = ctypes.c_int
        self._lib = lib
        self._predict = predict

    def predict_raw(self, X: np.ndarray, tables: dict[str, np.ndarray], leaf_value: np.ndarray,
                    n_outputs: int, has_zero: bool, threads: int) -> np.ndarray:
        """Raw scores (n, n_outputs) of the C-contiguous float64 rows ``X``."""
        n = X.shape[0]
        out = np.empty((n, n_outputs))
        status = self._predict(X.ctypes.data, n, X.shape[1], tables["column"].ctypes.data,
                               tables["threshold"].ctypes.data, tables["mask"].ctypes.data,
                               tables["tree_start"].ctypes.data, leaf_value.ctypes.data, leaf_value.shape[1],
                               leaf_value.shape[0], n_outputs, int(has_zero), out.ctypes.data, threads)
        if status != 0:
            raise MemoryError(f"the forest kernel could not allocate its block tables ({X.shape[1]} features)")
        return out
