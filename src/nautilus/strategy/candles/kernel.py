"""Fused numba driver for the 61 candlestick kernels: one series, or a whole universe, in one call.

Pattern ids (``pid``) are positions in :data:`NAMES`, TA-Lib's alphabetical order. ``run_one``
dispatches a pid to its kernel; :func:`run_series` runs a set of patterns over one series, in parallel
over the patterns, and :func:`run_universe` over a CSR-concatenated universe, in parallel over the
symbols. Both are resumable: pass the ``start`` bar (per symbol for the universe) and the states a
previous call left, and only bars from ``start`` on are computed (the kernel contract is described
in :mod:`.scalars`).

Both walk a series in blocks of ``BLOCK`` bars and run every pattern over a block while its prices
are in cache; the kernels' resumable state is what lets a pattern stop at a block end and go on at
the next block. ``parallel=True`` (prange) and plain Python threads over ``nogil`` calls measured
the same (61 patterns x 1M bars, 2 cores), so the drivers use prange.

Numba's on-disk cache only watches the file that defines a function, while these functions compile
kernels and helpers from other files into their machine code. ``_bind_cache`` keys every kernel's and
driver's cache entry to a digest of all the candle sources it is built from, so editing any of them
recompiles instead of silently reusing stale code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from numba import njit, prange

from nautilus.core.numba_cache import key_to_sources, source_digest
from nautilus.strategy.candles import catalog as _catalog
from nautilus.strategy.candles import patterns_2 as _p2  # noqa: F401  (kept for callers of kernel._p2)

_PKG = "nautilus.strategy.candles"

NAMES = (
    "CDL2CROWS",
    "CDL3BLACKCROWS",
    "CDL3INSIDE",
    "CDL3LINESTRIKE",
    "CDL3OUTSIDE",
    "CDL3STARSINSOUTH",
    "CDL3WHITESOLDIERS",
    "CDLABANDONEDBABY",
    "CDLADVANCEBLOCK",
    "CDLBELTHOLD",
    "CDLBREAKAWAY",
    "CDLCLOSINGMARUBOZU",
    "CDLCONCEALBABYSWALL",
    "CDLCOUNTERATTACK",
    "CDLDARKCLOUDCOVER",
    "CDLDOJI",
    "CDLDOJISTAR",
    "CDLDRAGONFLYDOJI",
    "CDLENGULFING",
    "CDLEVENINGDOJISTAR",
    "CDLEVENINGSTAR",
    "CDLGAPSIDESIDEWHITE",
    "CDLGRAVESTONEDOJI",
    "CDLHAMMER",
    "CDLHANGINGMAN",
    "CDLHARAMI",
    "CDLHARAMICROSS",
    "CDLHIGHWAVE",
    "CDLHIKKAKE",
    "CDLHIKKAKEMOD",
    "CDLHOMINGPIGEON",
    "CDLIDENTICAL3CROWS",
    "CDLINNECK",
    "CDLINVERTEDHAMMER",
    "CDLKICKING",
    "CDLKICKINGBYLENGTH",
    "CDLLADDERBOTTOM",
    "CDLLONGLEGGEDDOJI",
    "CDLLONGLINE",
    "CDLMARUBOZU",
    "CDLMATCHINGLOW",
    "CDLMATHOLD",
    "CDLMORNINGDOJISTAR",
    "CDLMORNINGSTAR",
    "CDLONNECK",
    "CDLPIERCING",
    "CDLRICKSHAWMAN",
    "CDLRISEFALL3METHODS",
    "CDLSEPARATINGLINES",
    "CDLSHOOTINGSTAR",
    "CDLSHORTLINE",
    "CDLSPINNINGTOP",
    "CDLSTALLEDPATTERN",
    "CDLSTICKSANDWICH",
    "CDLTAKURI",
    "CDLTASUKIGAP",
    "CDLTHRUSTING",
    "CDLTRISTAR",
    "CDLUNIQUE3RIVER",
    "CDLUPSIDEGAP2CROWS",
    "CDLXSIDEGAP3METHODS",
)


_BY_NAME = {p[0]: p for p in _catalog.PATTERNS}
assert set(_BY_NAME) == set(NAMES), "every TA-Lib pattern needs a kernel"

LOOKBACKS = np.array([_BY_NAME[nm][2] for nm in NAMES], dtype=np.int64)
STATE_SIZES = np.array([_BY_NAME[nm][3] for nm in NAMES], dtype=np.int64)
DEFAULT_PARAMS = np.array([_BY_NAME[nm][4] for nm in NAMES], dtype=np.float64)
MAX_STATE = max(1, int(STATE_SIZES.max()))
"""Width of a state row: every pattern's state fits in ``MAX_STATE`` float64 slots."""


def _kernel(name):
    return _BY_NAME[name][1]


_k00 = _kernel("CDL2CROWS")
_k01 = _kernel("CDL3BLACKCROWS")
_k02 = _kernel("CDL3INSIDE")
_k03 = _kernel("CDL3LINESTRIKE")
_k04 = _kernel("CDL3OUTSIDE")
_k05 = _kernel("CDL3STARSINSOUTH")
_k06 = _kernel("CDL3WHITESOLDIERS")
_k07 = _kernel("CDLABANDONEDBABY")
_k08 = _kernel("CDLADVANCEBLOCK")
_k09 = _kernel("CDLBELTHOLD")
_k10 = _kernel("CDLBREAKAWAY")
_k11 = _kernel("CDLCLOSINGMARUBOZU")
_k12 = _kernel("CDLCONCEALBABYSWALL")
_k13 = _kernel("CDLCOUNTERATTACK")
_k14 = _kernel("CDLDARKCLOUDCOVER")
_k15 = _kernel("CDLDOJI")
_k16 = _kernel("CDLDOJISTAR")
_k17 = _kernel("CDLDRAGONFLYDOJI")
_k18 = _kernel("CDLENGULFING")
_k19 = _kernel("CDLEVENINGDOJISTAR")
_k20 = _kernel("CDLEVENINGSTAR")
_k21 = _kernel("CDLGAPSIDESIDEWHITE")
_k22 = _kernel("CDLGRAVESTONEDOJI")
_k23 = _kernel("CDLHAMMER")
_k24 = _kernel("CDLHANGINGMAN")
_k25 = _kernel("CDLHARAMI")
_k26 = _kernel("CDLHARAMICROSS")
_k27 = _kernel("CDLHIGHWAVE")
_k28 = _kernel("CDLHIKKAKE")
_k29 = _kernel("CDLHIKKAKEMOD")
_k30 = _kernel("CDLHOMINGPIGEON")
_k31 = _kernel("CDLIDENTICAL3CROWS")
_k32 = _kernel("CDLINNECK")
_k33 = _kernel("CDLINVERTEDHAMMER")
_k34 = _kernel("CDLKICKING")
_k35 = _kernel("CDLKICKINGBYLENGTH")
_k36 = _kernel("CDLLADDERBOTTOM")
_k37 = _kernel("CDLLONGLEGGEDDOJI")
_k38 = _kernel("CDLLONGLINE")
_k39 = _kernel("CDLMARUBOZU")
_k40 = _kernel("CDLMATCHINGLOW")
_k41 = _kernel("CDLMATHOLD")
_k42 = _kernel("CDLMORNINGDOJISTAR")
_k43 = _kernel("CDLMORNINGSTAR")
_k44 = _kernel("CDLONNECK")
_k45 = _kernel("CDLPIERCING")
_k46 = _kernel("CDLRICKSHAWMAN")
_k47 = _kernel("CDLRISEFALL3METHODS")
_k48 = _kernel("CDLSEPARATINGLINES")
_k49 = _kernel("CDLSHOOTINGSTAR")
_k50 = _kernel("CDLSHORTLINE")
_k51 = _kernel("CDLSPINNINGTOP")
_k52 = _kernel("CDLSTALLEDPATTERN")
_k53 = _kernel("CDLSTICKSANDWICH")
_k54 = _kernel("CDLTAKURI")
_k55 = _kernel("CDLTASUKIGAP")
_k56 = _kernel("CDLTHRUSTING")
_k57 = _kernel("CDLTRISTAR")
_k58 = _kernel("CDLUNIQUE3RIVER")
_k59 = _kernel("CDLUPSIDEGAP2CROWS")
_k60 = _kernel("CDLXSIDEGAP3METHODS")


@njit(cache=True, nogil=True)
def run_one(pid, o, h, l, c, param, out, state, start):
    """Run pattern ``pid``'s kernel: ``cdl_x(o, h, l, c, param, out, state, start)``."""
    if pid == 0:
        _k00(o, h, l, c, param, out, state, start)
    elif pid == 1:
        _k01(o, h, l, c, param, out, state, start)
    elif pid == 2:
        _k02(o, h, l, c, param, out, state, start)
    elif pid == 3:
        _k03(o, h, l, c, param, out, state, start)
    elif pid == 4:
        _k04(o, h, l, c, param, out, state, start)
    elif pid == 5:
        _k05(o, h, l, c, param, out, state, start)
    elif pid == 6:
        _k06(o, h, l, c, param, out, state, start)
    elif pid == 7:
        _k07(o, h, l, c, param, out, state, start)
    elif pid == 8:
        _k08(o, h, l, c, param, out, state, start)
    elif pid == 9:
        _k09(o, h, l, c, param, out, state, start)
    elif pid == 10:
        _k10(o, h, l, c, param, out, state, start)
    elif pid == 11:
        _k11(o, h, l, c, param, out, state, start)
    elif pid == 12:
        _k12(o, h, l, c, param, out, state, start)
    elif pid == 13:
        _k13(o, h, l, c, param, out, state, start)
    elif pid == 14:
        _k14(o, h, l, c, param, out, state, start)
    elif pid == 15:
        _k15(o, h, l, c, param, out, state, start)
    elif pid == 16:
        _k16(o, h, l, c, param, out, state, start)
    elif pid == 17:
        _k17(o, h, l, c, param, out, state, start)
    elif pid == 18:
        _k18(o, h, l, c, param, out, state, start)
    elif pid == 19:
        _k19(o, h, l, c, param, out, state, start)
    elif pid == 20:
        _k20(o, h, l, c, param, out, state, start)
    elif pid == 21:
        _k21(o, h, l, c, param, out, state, start)
    elif pid == 22:
        _k22(o, h, l, c, param, out, state, start)
    elif pid == 23:
        _k23(o, h, l, c, param, out, state, start)
    elif pid == 24:
        _k24(o, h, l, c, param, out, state, start)
    elif pid == 25:
        _k25(o, h, l, c, param, out, state, start)
    elif pid == 26:
        _k26(o, h, l, c, param, out, state, start)
    elif pid == 27:
        _k27(o, h, l, c, param, out, state, start)
    elif pid == 28:
        _k28(o, h, l, c, param, out, state, start)
    elif pid == 29:
        _k29(o, h, l, c, param, out, state, start)
    elif pid == 30:
        _k30(o, h, l, c, param, out, state, start)
    elif pid == 31:
        _k31(o, h, l, c, param, out, state, start)
    elif pid == 32:
        _k32(o, h, l, c, param, out, state, start)
    elif pid == 33:
        _k33(o, h, l, c, param, out, state, start)
    elif pid == 34:
        _k34(o, h, l, c, param, out, state, start)
    elif pid == 35:
        _k35(o, h, l, c, param, out, state, start)
    elif pid == 36:
        _k36(o, h, l, c, param, out, state, start)
    elif pid == 37:
        _k37(o, h, l, c, param, out, state, start)
    elif pid == 38:
        _k38(o, h, l, c, param, out, state, start)
    elif pid == 39:
        _k39(o, h, l, c, param, out, state, start)
    elif pid == 40:
        _k40(o, h, l, c, param, out, state, start)
    elif pid == 41:
        _k41(o, h, l, c, param, out, state, start)
    elif pid == 42:
        _k42(o, h, l, c, param, out, state, start)
    elif pid == 43:
        _k43(o, h, l, c, param, out, state, start)
    elif pid == 44:
        _k44(o, h, l, c, param, out, state, start)
    elif pid == 45:
        _k45(o, h, l, c, param, out, state, start)
    elif pid == 46:
        _k46(o, h, l, c, param, out, state, start)
    elif pid == 47:
        _k47(o, h, l, c, param, out, state, start)
    elif pid == 48:
        _k48(o, h, l, c, param, out, state, start)
    elif pid == 49:
        _k49(o, h, l, c, param, out, state, start)
    elif pid == 50:
        _k50(o, h, l, c, param, out, state, start)
    elif pid == 51:
        _k51(o, h, l, c, param, out, state, start)
    elif pid == 52:
        _k52(o, h, l, c, param, out, state, start)
    elif pid == 53:
        _k53(o, h, l, c, param, out, state, start)
    elif pid == 54:
        _k54(o, h, l, c, param, out, state, start)
    elif pid == 55:
        _k55(o, h, l, c, param, out, state, start)
    elif pid == 56:
        _k56(o, h, l, c, param, out, state, start)
    elif pid == 57:
        _k57(o, h, l, c, param, out, state, start)
    elif pid == 58:
        _k58(o, h, l, c, param, out, state, start)
    elif pid == 59:
        _k59(o, h, l, c, param, out, state, start)
    elif pid == 60:
        _k60(o, h, l, c, param, out, state, start)


BLOCK = 8192
"""Bars per cache block in the fused pass (8192 bars of o/h/l/c = 256 KiB, about an L2's worth)."""


@njit(cache=True, nogil=True, parallel=True)
def run_series(o, h, l, c, pids, params, out2d, states2d, start):
    """Patterns ``pids`` over one series, in parallel over the patterns; row ``k`` of ``out2d`` and
    ``states2d`` belongs to ``pids[k]``.

    ``out2d`` is ``(len(pids), n)`` int32 holding zeros (or an earlier run's results) below each
    pattern's first written bar, ``states2d`` is ``(len(pids), MAX_STATE)`` float64 and ``params[k]``
    is ``pids[k]``'s penetration. Bars from ``start`` on are computed (0 for a fresh run); the states are
    left ready for resuming at ``n``.

    Fused pass: the series is walked in blocks of ``BLOCK`` bars and every pattern runs over a block
    (each kernel resuming at the block start) while the block is still in cache.
    """
    n = o.shape[0]
    npat = pids.shape[0]
    b0 = max(start, 0)
    while b0 < n:
        b1 = min(n, b0 + BLOCK)
        for k in prange(npat):
            run_one(pids[k], o[:b1], h[:b1], l[:b1], c[:b1], params[k], out2d[k, :b1], states2d[k], b0)
        b0 = b1


@njit(cache=True, nogil=True)
def _run_symbol(o, h, l, c, pids, params, out2d, col0, states2d, start):
    """All patterns ``pids`` over one series whose outputs start at column ``col0`` of ``out2d``, in
    blocks of ``BLOCK`` bars, on the calling thread."""
    n = o.shape[0]
    b0 = max(start, 0)
    while b0 < n:
        b1 = min(n, b0 + BLOCK)
        for k in range(pids.shape[0]):
            out = out2d[k, col0 : col0 + b1]
            run_one(pids[k], o[:b1], h[:b1], l[:b1], c[:b1], params[k], out, states2d[k], b0)
        b0 = b1


@njit(cache=True, nogil=True, parallel=True)
def run_universe(o, h, l, c, offsets, pids, params, out2d, states3d, starts):
    """Patterns ``pids`` over every symbol of a CSR-concatenated universe, in parallel over symbols.

    Symbol ``s`` owns rows ``offsets[s]:offsets[s + 1]`` of ``o``/``h``/``l``/``c`` and the same
    columns of ``out2d`` (``(len(pids), offsets[-1])`` int32); ``states3d`` is ``(n_symbols,
    len(pids), MAX_STATE)`` float64 and ``starts[s]`` is symbol ``s``'s first bar to compute, counted
    from its own first row (0 for a fresh run).
    """
    nsym = offsets.shape[0] - 1
    for s in prange(nsym):
        a = offsets[s]
        e = offsets[s + 1]
        _run_symbol(o[a:e], h[a:e], l[a:e], c[a:e], pids, params, out2d, a, states3d[s], starts[s])


def _candle_imports(path):
    """Candle modules (file stems) that the module at ``path`` imports from."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(_PKG):
            rest = node.module[len(_PKG) :].lstrip(".")
            found.update([rest] if rest else [a.name for a in node.names])
    return found


def _bind_cache(dispatchers):
    """Key the numba cache of ``dispatchers`` to every source file their machine code is built from.

    That is the defining module plus the candle modules it imports, transitively (``common``; for
    the family modules also ``scalars``/``arrays``/``templates``; for this module all of them). Kernels
    built from :mod:`.templates` share that module's index files across families, so they take this
    module's digest (all candle sources). See the module doc.
    """
    files = {f.stem: f for f in Path(__file__).parent.glob("*.py")}
    closure = {}
    for stem in files:
        seen, todo = set(), [stem]
        while todo:
            cur = todo.pop()
            if cur in seen or cur not in files:
                continue
            seen.add(cur)
            todo.extend(_candle_imports(files[cur]))
        closure[stem] = seen
    digests = {}
    for d in dispatchers:
        stem = d.py_func.__module__.rsplit(".", 1)[-1]
        if Path(d.py_func.__code__.co_filename).stem == "templates":
            # Variants of a template (from any family module) share one index file, hence one stamp.
            stem = Path(__file__).stem
        if stem not in closure:
            continue
        if stem not in digests:
            digests[stem] = source_digest(files[name] for name in sorted(closure[stem]))
        key_to_sources([d], digests[stem])


_bind_cache([p[1] for p in _BY_NAME.values()] + [run_one, run_series, _run_symbol, run_universe])


def bind_cache_to_candles(*dispatchers, extra: tuple[Path, ...] = ()) -> None:
    """Key the numba cache of kernels outside this package that call into it (the scanner) to every candle
    source (and the ``extra`` files they also call into): numba keys a cache entry to its own file only, so after
    a candle module changes (or goes) such a kernel would load machine code built from the old one (or fail
    importing the module it was built from)."""
    files = sorted(Path(__file__).parent.glob("*.py")) + [Path(f) for f in extra]
    key_to_sources(dispatchers, source_digest(files))
