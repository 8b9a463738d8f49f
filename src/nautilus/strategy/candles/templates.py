"""Kernel templates: one numba kernel factory per shape of pattern, compiled once per variant.

Many of TA-Lib's patterns differ only in which candle, which shadow or which direction they test (the
mirror-image pairs). A template holds the resumable loop of the contract in :mod:`.scalars` once; a
pattern is the template plus its settings and a small jitted rule. The settings, the lookback and the
rule are compile-time constants to numba, so each variant compiles to a kernel as specialised as a
hand-written one.

Caching: numba keys a closure's cache entry by its code and the pickled values of its closure cells. A
jitted rule in a cell would pickle with a random per-process id (every process would miss the cache
and add an entry), so :func:`_instantiate` binds the rule as a *global* of the variant instead, and puts
a stable key naming the rule (module, qualified name, its own closure values) into a cell, so variants
with the same settings never share an entry. All variants of a template share its index file, so
``kernel._bind_cache`` keys them to a digest of every candle source (a rule's edit recompiles them).
"""

from __future__ import annotations

import types
import zlib

from numba import njit

from nautilus.strategy.candles.scalars import _av, _rl, _total, _u

rule = None
"""Placeholder: each variant's ``rule`` global is bound by :func:`_instantiate`."""


def _rule_key(rule_fn):
    f = rule_fn.py_func
    cells = tuple(c.cell_contents for c in f.__closure__ or ())
    return zlib.crc32(repr((f.__module__, f.__qualname__, cells)).encode())


def compile_kernel(name, fn):
    """Compile ``fn`` (a plain function) as pattern kernel ``cdl_<name>``, cached like every kernel."""
    fn.__name__ = "cdl_" + name
    return njit(cache=True, nogil=True)(fn)


def _instantiate(name, template, rule_fn):
    """``template`` (a plain function) compiled as ``cdl_<name>`` with ``rule`` bound to ``rule_fn``."""
    g = dict(template.__globals__, rule=rule_fn, __name__=rule_fn.py_func.__module__)
    f = types.FunctionType(template.__code__, g, template.__name__, template.__defaults__, template.__closure__)
    f.__qualname__ = template.__qualname__
    return compile_kernel(name, f)


def one_bar(name, lb, s1, s2, rule_fn):
    """Kernel ``cdl_<name>``: a pattern judged on candle ``i`` (and the body of candle ``i - 1``) with two
    rolling settings.

    ``rule(o1, c1, o0, h0, l0, c0, a1, a2)`` returns the output for bar ``i`` given the previous candle's
    open/close, this candle and the yardsticks ``a1``, ``a2`` of settings ``s1``, ``s2`` (both with a
    period > 0). State: ``[total s1, total s2]``.
    """
    spec = (lb, s1[1], s2[1], _rule_key(rule_fn))

    def cdl_one_bar(o, h, l, c, param, out, state, start):
        lb, p1, p2 = spec[0], spec[1], spec[2]
        n = o.shape[0]
        if start <= lb:
            if n <= lb:
                return
            t1 = _total(s1, o, h, l, c, lb)
            t2 = _total(s2, o, h, l, c, lb)
            i0 = lb
        else:
            t1, t2 = state[0], state[1]
            i0 = start
        for i in range(i0, n):
            o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
            p = _u(i - 1)
            a1 = _av(s1, t1, o0, h0, l0, c0)
            a2 = _av(s2, t2, o0, h0, l0, c0)
            out[_u(i)] = rule(o[p], c[p], o0, h0, l0, c0, a1, a2)
            m = _u(i - p1)
            t1 = _rl(s1, t1, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
            m = _u(i - p2)
            t2 = _rl(s2, t2, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
        if i0 < n:
            state[0], state[1] = t1, t2

    return _instantiate(name, cdl_one_bar, rule_fn)


def two_bar(name, lb, s1, s0, rule_fn, k0=0):
    """Kernel ``cdl_<name>``: a pattern judged on candles ``i - 1`` and ``i`` with two rolling settings.

    ``rule(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0)`` returns the output for bar ``i`` given both candles
    and the yardsticks ``a1`` of setting ``s1`` for candle ``i - 1`` and ``a0`` of ``s0`` for candle
    ``i - k0`` (``k0`` 0 or 1; both periods > 0). State: ``[total s1 @ i - 1, total s0 @ i - k0]``.
    """
    spec = (lb, s1[1], s0[1], k0, _rule_key(rule_fn))

    def cdl_two_bar(o, h, l, c, param, out, state, start):
        lb, p1, p0, k0 = spec[0], spec[1], spec[2], spec[3]
        n = o.shape[0]
        if start <= lb:
            if n <= lb:
                return
            t1 = _total(s1, o, h, l, c, lb - 1)
            t0 = _total(s0, o, h, l, c, lb - k0)
            i0 = lb
        else:
            t1, t0 = state[0], state[1]
            i0 = start
        for i in range(i0, n):
            o0, h0, l0, c0 = o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]
            o1, h1, l1, c1 = o[_u(i - 1)], h[_u(i - 1)], l[_u(i - 1)], c[_u(i - 1)]
            a1 = _av(s1, t1, o1, h1, l1, c1)
            a0 = _av(s0, t0, o0, h0, l0, c0) if k0 == 0 else _av(s0, t0, o1, h1, l1, c1)
            out[_u(i)] = rule(o1, h1, l1, c1, o0, h0, l0, c0, a1, a0)
            m = _u(i - 1 - p1)
            t1 = _rl(s1, t1, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
            m = _u(i - k0 - p0)
            if k0 == 0:
                t0 = _rl(s0, t0, o0, h0, l0, c0, o[m], h[m], l[m], c[m])
            else:
                t0 = _rl(s0, t0, o1, h1, l1, c1, o[m], h[m], l[m], c[m])
        if i0 < n:
            state[0], state[1] = t1, t0

    return _instantiate(name, cdl_two_bar, rule_fn)
