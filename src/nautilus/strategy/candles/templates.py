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


MAX_TOTALS = 8
MAX_BARS = 5
_NO_TOTAL = ((0, 0, 0.0), 0)  # an unused slot: period 0 keeps no total, and its code is folded away


def rolling(name, lb, totals, rule_fn):
    """Kernel ``cdl_<name>``: a pattern judged on the candles ``i - 4 .. i`` with up to ``MAX_TOTALS`` rolling
    totals, the loop every such kernel shares (start or resume, roll each total after the bar, keep them).

    ``totals`` is ``((setting, k), ...)``: slot ``j`` is the total of ``setting`` for candle ``i - k`` (the sum
    of its range over the ``period`` candles before it; every period > 0). ``rule(param, b, t)`` returns the
    output for bar ``i`` from ``b``, the candles ``b[k] = (o, h, l, c)`` of bar ``i - k`` (``k < 5``; those
    past ``lb`` repeat bar ``i - lb``), and ``t``, the slots' totals; it computes the yardsticks it needs
    (``_av``) itself, after its cheap price tests. State: the totals, in slot order.
    """
    if not 0 < len(totals) <= MAX_TOTALS or any(s[1] <= 0 or not 0 <= k <= min(lb, MAX_BARS - 1) for s, k in totals):
        raise ValueError(f"{name}: 1 to {MAX_TOTALS} totals, each with a period > 0, of a candle b[k] (k < {MAX_BARS})")
    nt = len(totals)
    slots = tuple(totals) + (_NO_TOTAL,) * (MAX_TOTALS - nt)
    (s0, k0), (s1, k1), (s2, k2), (s3, k3), (s4, k4), (s5, k5), (s6, k6), (s7, k7) = slots
    b1, b2, b3, b4 = min(1, lb), min(2, lb), min(3, lb), min(4, lb)
    spec = (lb, _rule_key(rule_fn))

    def cdl_rolling(o, h, l, c, param, out, state, start):
        # ``nt``, the slots and the bar offsets are closure constants: numba prunes the unused slots' branches
        lb = spec[0]
        n = o.shape[0]
        t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
        if start <= lb:
            if n <= lb:
                return
            t0 = _total(s0, o, h, l, c, lb - k0)
            if nt > 1:
                t1 = _total(s1, o, h, l, c, lb - k1)
            if nt > 2:
                t2 = _total(s2, o, h, l, c, lb - k2)
            if nt > 3:
                t3 = _total(s3, o, h, l, c, lb - k3)
            if nt > 4:
                t4 = _total(s4, o, h, l, c, lb - k4)
            if nt > 5:
                t5 = _total(s5, o, h, l, c, lb - k5)
            if nt > 6:
                t6 = _total(s6, o, h, l, c, lb - k6)
            if nt > 7:
                t7 = _total(s7, o, h, l, c, lb - k7)
            i0 = lb
        else:
            t0 = state[0]
            if nt > 1:
                t1 = state[1]
            if nt > 2:
                t2 = state[2]
            if nt > 3:
                t3 = state[3]
            if nt > 4:
                t4 = state[4]
            if nt > 5:
                t5 = state[5]
            if nt > 6:
                t6 = state[6]
            if nt > 7:
                t7 = state[7]
            i0 = start
        for i in range(i0, n):
            b = (
                (o[_u(i)], h[_u(i)], l[_u(i)], c[_u(i)]),
                (o[_u(i - b1)], h[_u(i - b1)], l[_u(i - b1)], c[_u(i - b1)]),
                (o[_u(i - b2)], h[_u(i - b2)], l[_u(i - b2)], c[_u(i - b2)]),
                (o[_u(i - b3)], h[_u(i - b3)], l[_u(i - b3)], c[_u(i - b3)]),
                (o[_u(i - b4)], h[_u(i - b4)], l[_u(i - b4)], c[_u(i - b4)]),
            )
            # the new totals first, from the candles already loaded: ``out`` may alias the prices for all numba
            # knows, so a load after the store below would be repeated
            m = _u(i - k0 - s0[1])
            u0 = _rl(s0, t0, b[k0][0], b[k0][1], b[k0][2], b[k0][3], o[m], h[m], l[m], c[m])
            u1 = t1
            if nt > 1:
                m = _u(i - k1 - s1[1])
                u1 = _rl(s1, t1, b[k1][0], b[k1][1], b[k1][2], b[k1][3], o[m], h[m], l[m], c[m])
            u2 = t2
            if nt > 2:
                m = _u(i - k2 - s2[1])
                u2 = _rl(s2, t2, b[k2][0], b[k2][1], b[k2][2], b[k2][3], o[m], h[m], l[m], c[m])
            u3 = t3
            if nt > 3:
                m = _u(i - k3 - s3[1])
                u3 = _rl(s3, t3, b[k3][0], b[k3][1], b[k3][2], b[k3][3], o[m], h[m], l[m], c[m])
            u4 = t4
            if nt > 4:
                m = _u(i - k4 - s4[1])
                u4 = _rl(s4, t4, b[k4][0], b[k4][1], b[k4][2], b[k4][3], o[m], h[m], l[m], c[m])
            u5 = t5
            if nt > 5:
                m = _u(i - k5 - s5[1])
                u5 = _rl(s5, t5, b[k5][0], b[k5][1], b[k5][2], b[k5][3], o[m], h[m], l[m], c[m])
            u6 = t6
            if nt > 6:
                m = _u(i - k6 - s6[1])
                u6 = _rl(s6, t6, b[k6][0], b[k6][1], b[k6][2], b[k6][3], o[m], h[m], l[m], c[m])
            u7 = t7
            if nt > 7:
                m = _u(i - k7 - s7[1])
                u7 = _rl(s7, t7, b[k7][0], b[k7][1], b[k7][2], b[k7][3], o[m], h[m], l[m], c[m])
            out[_u(i)] = rule(param, b, (t0, t1, t2, t3, t4, t5, t6, t7))
            t0, t1, t2, t3, t4, t5, t6, t7 = u0, u1, u2, u3, u4, u5, u6, u7
        if i0 < n:
            state[0] = t0
            if nt > 1:
                state[1] = t1
            if nt > 2:
                state[2] = t2
            if nt > 3:
                state[3] = t3
            if nt > 4:
                state[4] = t4
            if nt > 5:
                state[5] = t5
            if nt > 6:
                state[6] = t6
            if nt > 7:
                state[7] = t7

    return _instantiate(name, cdl_rolling, rule_fn)
