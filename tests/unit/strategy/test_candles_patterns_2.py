"""The 30 candlestick kernels of ``patterns_2`` against TA-Lib itself, bit for bit.

Every comparison runs all 30 kernels on the same bars and checks ``np.array_equal`` on the int32
outputs. Inputs are built to make ties common (prices on a coarse tick grid, flat bars, dojis,
shadowless candles, gaps), since ties are where a different floating-point order would show. The
resumable contract is checked by splitting runs at random points, and ``test_every_pattern_fires``
makes sure none of the comparisons is vacuous.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import talib
import talib.abstract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.marketdata.synthetic import gbm_bars
from nautilus.strategy.candles.patterns_2 import HAS_FMA, PATTERNS

EXPECTED = [
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
]
PENETRATION = {"CDLMATHOLD", "CDLMORNINGDOJISTAR", "CDLMORNINGSTAR"}
SENTINEL = 7  # never a pattern value: shows which out[] cells a kernel left alone
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers ------------------------------------------------------------------------------------------


def run(kernel, size, bars, param, start=0, state=None, out=None):
    """Allocate out/state (unless given) and call one kernel; returns (out, state)."""
    o, h, l, c = bars
    if out is None:
        out = np.zeros(len(c), dtype=np.int32)
    if state is None:
        state = np.zeros(size, dtype=np.float64)
    kernel(o, h, l, c, float(param), out, state, start)
    return out, state


def reference(name, bars, param):
    o, h, l, c = bars
    fn = getattr(talib, name)
    return fn(o, h, l, c, penetration=param) if name in PENETRATION else fn(o, h, l, c)


def param_for(name, default, pen):
    return pen if (pen is not None and name in PENETRATION) else default


def mismatches(bars, pen=None):
    """One line per pattern whose kernel disagrees with TA-Lib on ``bars`` (empty: all agree)."""
    bad = []
    for name, kernel, _, size, default in PATTERNS:
        param = param_for(name, default, pen)
        got, _ = run(kernel, size, bars, param)
        want = reference(name, bars, param)
        if not np.array_equal(got, want):
            idx = np.flatnonzero(got != want)
            bad.append(f"{name}@{idx[:5].tolist()} got {got[idx[:5]].tolist()} want {want[idx[:5]].tolist()}")
    return bad


def as_bars(o, body, up, dn, tick):
    """Bars from tick counts: open, signed body, upper and lower shadows (all on the tick grid)."""
    o = np.asarray(o, dtype=np.float64)
    c = o + np.asarray(body, dtype=np.float64)
    h = np.maximum(o, c) + np.asarray(up, dtype=np.float64)
    lo = np.minimum(o, c) - np.asarray(dn, dtype=np.float64)
    return tuple(np.ascontiguousarray(np.round(x * tick, 10)) for x in (o, h, lo, c))


def random_bars(seed, n, tick=0.01, scale=8.0, drift=0.0, p_doji=0.2, p_bare=0.4, p_gap=0.3, p_flat=0.0):
    """A tick-grid random walk rich in ties: dojis, shadowless sides, opening gaps, flat bars."""
    r = np.random.default_rng(seed)
    level = 10_000 + np.cumsum(np.round(r.normal(drift, scale, n)))
    if n:
        level += max(0.0, 100 * scale - level.min())  # keep strong downtrends above zero
    o = level + np.round(r.normal(0, scale, n)) * (r.random(n) < p_gap)
    body = np.round(r.exponential(scale, n)) * r.choice([-1.0, 1.0], n)
    body[r.random(n) < p_doji] = 0
    up = np.round(r.exponential(0.6 * scale, n)) * (r.random(n) >= p_bare)
    dn = np.round(r.exponential(0.6 * scale, n)) * (r.random(n) >= p_bare)
    flat = r.random(n) < p_flat
    body[flat] = up[flat] = dn[flat] = 0
    return as_bars(o, body, up, dn, tick)


def gbm_cents(seed, n, sigma=0.3, mu=0.05):
    b = gbm_bars("TEST", "1d", 1_704_067_200_000_000_000, n, seed=seed, sigma=sigma, mu=mu)
    return tuple(np.ascontiguousarray(np.round(getattr(b, k), 2)) for k in ("open", "high", "low", "close"))


# Hand-made sequences (tick offsets: open, body, upper shadow, lower shadow) for the rare patterns,
# each placed after 12 ordinary candles so the rolling yardsticks are known.
TEMPLATES = {
    "CDLMATHOLD": [(0, 40, 1, 1), (48, -3, 1, 1), (44, -6, 1, 1), (41, -5, 1, 1), (37, 18, 1, 1)],
    "CDLIDENTICAL3CROWS": [(40, -20, 2, 0), (20, -20, 1, 0), (0, -20, 1, 0)],
    "CDLUPSIDEGAP2CROWS": [(0, 40, 1, 1), (50, -4, 1, 1), (52, -9, 1, 1)],
    "CDLRISEFALL3METHODS": [(0, 40, 1, 1), (38, -4, 1, 1), (35, -5, 1, 1), (31, -5, 1, 1), (27, 23, 1, 1)],
    "CDLLADDERBOTTOM": [(60, -10, 1, 1), (55, -10, 1, 1), (50, -10, 1, 1), (42, -4, 6, 1), (43, 12, 1, 1)],
    "CDLKICKING": [(0, 40, 0, 0), (-5, -40, 0, 0)],
    "CDLKICKINGBYLENGTH": [(40, -40, 0, 0), (45, 50, 0, 0)],
    "CDLSTALLEDPATTERN": [(0, 30, 1, 1), (28, 30, 0, 1), (58, 3, 1, 1)],
    "CDLUNIQUE3RIVER": [(40, -40, 1, 1), (30, -20, 1, 20), (-5, 3, 1, 1)],
    "CDLTRISTAR": [(0, 0, 5, 5), (10, 0, 5, 5), (5, 0, 5, 5)],
    "CDLINNECK": [(40, -40, 1, 1), (-10, 10, 1, 1)],
    "CDLONNECK": [(40, -40, 1, 2), (-10, 8, 1, 1)],
    "CDLTHRUSTING": [(40, -40, 1, 1), (-10, 25, 1, 1)],
    "CDLPIERCING": [(40, -40, 1, 1), (-10, 35, 1, 1)],
    "CDLSTICKSANDWICH": [(30, -20, 1, 1), (12, 15, 1, 1), (25, -15, 1, 1)],
    "CDLTASUKIGAP": [(0, 20, 1, 1), (30, 15, 1, 1), (40, -12, 1, 1)],
    "CDLXSIDEGAP3METHODS": [(0, 20, 1, 1), (30, 15, 1, 1), (40, -25, 1, 1)],
}


def zoo_bars(seed=0):
    """Ordinary candles with every template planted a few times, at varying price levels."""
    r = np.random.default_rng(seed)
    rows = []
    for rep in range(3):
        for seq in TEMPLATES.values():
            base = 10_000 + 500 * rep + int(r.integers(-200, 200))
            for _ in range(12):
                rows.append((base + int(r.integers(-2, 3)), int(r.choice([-10, 10])), 5, 5))
            rows.extend((base + op, body, up, dn) for op, body, up, dn in seq)
    o, body, up, dn = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return as_bars(o, body, up, dn, 0.01)


# --- the table ----------------------------------------------------------------------------------------


def test_table_matches_talib():
    assert [p[0] for p in PATTERNS] == EXPECTED
    for name, kernel, lookback, size, default in PATTERNS:
        fn = talib.abstract.Function(name)
        assert lookback == fn.lookback, name
        assert default == dict(fn.parameters).get("penetration", 0.0), name
        assert kernel.__name__ == "cdl_" + name[3:].lower()
        assert size >= 0


def test_short_series_and_untouched_cells():
    """Below the lookback nothing is written; at and past it only out[lookback:] and state[:size]."""
    bars = random_bars(3, 40)
    for name, kernel, lookback, size, default in PATTERNS:
        for n in (0, 1, lookback - 1, lookback, lookback + 1, 40):
            n = max(n, 0)
            sub = tuple(np.ascontiguousarray(x[:n]) for x in bars)
            out = np.full(n, SENTINEL, dtype=np.int32)
            state = np.full(size + 3, -1.5)
            run(kernel, size, sub, default, out=out, state=state)
            assert (out[: min(lookback, n)] == SENTINEL).all(), (name, n)
            assert (state[size:] == -1.5).all(), (name, n)
            want = reference(name, sub, default)
            assert np.array_equal(np.where(np.arange(n) < lookback, 0, out), want), (name, n)


# --- bit-exactness --------------------------------------------------------------------------------------


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    tick=st.sampled_from([0.01, 0.05, 0.25, 1.0]),
    scale=st.sampled_from([1.0, 3.0, 8.0, 20.0]),
    drift=st.sampled_from([-3.0, 0.0, 3.0]),
    p_doji=st.sampled_from([0.0, 0.2, 0.6]),
    p_bare=st.sampled_from([0.0, 0.4, 0.8]),
    p_gap=st.sampled_from([0.0, 0.3, 0.9]),
    p_flat=st.sampled_from([0.0, 0.1, 0.5]),
    pen=st.sampled_from([None, 0.0, 0.1, 0.3, 0.5, 0.75, 1.0]),
)
def test_random_tick_grid_bars(seed, n, tick, scale, drift, p_doji, p_bare, p_gap, p_flat, pen):
    bars = random_bars(seed, n, tick, scale, drift, p_doji, p_bare, p_gap, p_flat)
    assert mismatches(bars, pen) == []


candle = st.tuples(st.integers(-6, 6), st.integers(-6, 6), st.integers(0, 4), st.integers(0, 4))


@FAST
@given(
    st.lists(candle, min_size=0, max_size=45), st.integers(300, 400), st.sampled_from([None, 0.0, 0.3, 0.5])
)
def test_small_integer_bars(rows, level, pen):
    """Shrinkable bars with tiny integer moves: equal opens/closes/highs/lows everywhere."""
    if rows:
        gap, body, up, dn = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
        o = level + np.cumsum(gap)
    else:
        o = body = up = dn = np.zeros(0)
    assert mismatches(as_bars(o, body, up, dn, 0.5), pen) == []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000), sigma=st.sampled_from([0.1, 0.3, 0.8]))
def test_gbm_bars_in_cents(seed, n, sigma):
    """Real-looking daily bars (open = previous close), prices rounded to cents.

    n starts at 1: gbm_bars(n=0) returns a length-1 open array alongside empty high/low/close.
    """
    assert mismatches(gbm_cents(seed, n, sigma=sigma)) == []


def test_long_drifting_series_and_zoo():
    for bars in (
        random_bars(11, 30_000, drift=3.0),
        random_bars(12, 30_000, drift=-3.0),
        random_bars(13, 20_000, tick=0.05, p_flat=0.05),
        zoo_bars(),
    ):
        assert mismatches(bars) == []


@pytest.mark.parametrize("name", ["CDLMORNINGSTAR", "CDLMORNINGDOJISTAR"])
def test_penetration_rounding_matches_talib_dispatch(name):
    """Closes placed exactly between ``c + b*p`` rounded twice and fused: only the right one agrees."""
    kernel, size, lookback = next((k, s, lb) for n, k, lb, s, _ in PATTERNS if n == name)
    pen = 0.3
    outcomes = []
    for b_ticks in range(50, 400):
        c2 = 100.0 + b_ticks * 0.01 / 7
        o2 = c2 + b_ticks * 0.01
        body = abs(c2 - o2)  # the real body exactly as the kernels and TA-Lib see it
        twice = c2 + body * pen
        fused = float(Fraction(body) * Fraction(pen) + Fraction(c2))
        if twice == fused:
            continue
        for close in (twice, fused):  # each beats the other threshold or neither
            ctx_o = np.full(lookback, c2 + 1.0)
            star_c = c2 - 0.06 if name == "CDLMORNINGDOJISTAR" else c2 - 0.09
            o = np.r_[ctx_o, o2, c2 - 0.06, c2 - 0.05]
            c = np.r_[ctx_o + 0.10, c2, star_c, close]
            h = np.maximum(o, c) + 0.02
            lo = np.minimum(o, c) - 0.02
            bars = tuple(np.ascontiguousarray(x) for x in (o, h, lo, c))
            got, _ = run(kernel, size, bars, pen)
            want = reference(name, bars, pen)
            assert np.array_equal(got, want), b_ticks
            assert want[-1] == (100 if close > (fused if HAS_FMA else twice) else 0), b_ticks
            outcomes.append(int(want[-1]))
    assert outcomes.count(100) > 5 and outcomes.count(0) > 5


# --- resuming -----------------------------------------------------------------------------------------


def resumed(kernel, size, bars, param, cuts):
    """Run over bars in chunks ending at ``cuts`` (fresh first, then resuming with the same state).

    Each chunk sees only the bars so far, as a live feed would; returns (out, final state)."""
    n = len(bars[3])
    out = np.full(n, SENTINEL, dtype=np.int32)
    state = np.zeros(size)
    prev = 0
    for k in [*cuts, n]:
        prefix = tuple(np.ascontiguousarray(x[:k]) for x in bars)
        kernel(*prefix, float(param), out[:k], state, prev)
        prev = k
    return out, state


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 200),
    cuts=st.lists(st.integers(0, 200), min_size=1, max_size=4),
    pen=st.sampled_from([None, 0.2, 0.5]),
)
def test_resume_equals_full_run(seed, n, cuts, pen):
    bars = random_bars(seed, n, p_flat=0.05)
    cuts = sorted(min(k, n) for k in cuts)
    for name, kernel, lookback, size, default in PATTERNS:
        param = param_for(name, default, pen)
        full, full_state = run(kernel, size, bars, param)
        got, state = resumed(kernel, size, bars, param, cuts)
        assert np.array_equal(np.where(np.arange(n) < lookback, 0, got), full), (name, cuts)
        assert np.array_equal(state, full_state), (name, cuts)


def test_bar_by_bar_streaming_equals_full_run():
    bars = zoo_bars(1)
    n = len(bars[3])
    for name, kernel, lookback, size, default in PATTERNS:
        full, full_state = run(kernel, size, bars, default)
        got, state = resumed(kernel, size, bars, default, list(range(1, n)))
        assert np.array_equal(np.where(np.arange(n) < lookback, 0, got), full), name
        assert np.array_equal(state, full_state), name  # totals carried bit for bit


# --- nothing vacuous ------------------------------------------------------------------------------------


def test_every_pattern_fires():
    inputs = [zoo_bars(), random_bars(21, 20_000), random_bars(22, 20_000, drift=3.0), gbm_cents(3, 3000)]
    for bars in inputs:
        assert mismatches(bars) == []
    silent = []
    for name, _, _, _, default in PATTERNS:
        fired = sum(np.count_nonzero(reference(name, bars, default)) for bars in inputs)
        if fired == 0:
            silent.append(name)
    assert silent == []
    zoo = zoo_bars()
    defaults = {name: default for name, _, _, _, default in PATTERNS}
    for name in TEMPLATES:
        assert np.count_nonzero(reference(name, zoo, defaults[name])) >= 3, name
