"""The numba candlestick backend against TA-Lib itself, bit for bit, for all 61 patterns.

Every comparison is ``np.array_equal`` on the int32 outputs of ``detect(backend="numba")`` and of the
``talib.CDLxxx`` functions. Inputs make ties common (prices on a coarse tick grid, flat bars, dojis,
shadowless candles, gaps), since ties are where a different floating-point order would show; the
penetration patterns also get inputs built to land exactly on ``close -/+ body * penetration``.
``test_every_pattern_fires`` makes sure no comparison is vacuous. The incremental API and the universe
driver are checked against full recomputes.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
import talib.abstract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.strategy.candles import (
    PATTERN_NAMES,
    PENETRATION_PATTERNS,
    PatternState,
    UniverseState,
    detect,
    detect_universe,
    pattern_info,
)
from nautilus.strategy.candles import kernel as K
from nautilus.strategy.candles.patterns_1 import PATTERNS as PATTERNS_1

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PENETRATIONS = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 2.5)
SENTINEL = 7  # never a pattern value


def tick_series(n, seed, tick=0.01, doji=0.15, flat=0.03, bare=0.2, gap=0.1, vol=8):
    """OHLC on a tick grid (integer ticks times ``tick``, so ties are common), always valid bars."""
    rng = np.random.default_rng(seed)
    if n == 0:
        return tuple(np.zeros(0) for _ in range(4))
    steps = rng.integers(-vol, vol + 1, n)
    close_t = 20_000 + np.cumsum(steps)
    open_t = np.r_[close_t[0], close_t[:-1]].copy()
    jumps = rng.random(n) < gap
    open_t[jumps] += rng.integers(-3 * vol, 3 * vol + 1, jumps.sum())
    dj = rng.random(n) < doji
    close_t[dj] = open_t[dj] + rng.integers(-1, 2, dj.sum())
    up_t = np.maximum(open_t, close_t) + rng.integers(0, vol + 1, n)
    dn_t = np.minimum(open_t, close_t) - rng.integers(0, vol + 1, n)
    nb = rng.random(n) < bare  # no shadows at all
    up_t[nb] = np.maximum(open_t, close_t)[nb]
    dn_t[nb] = np.minimum(open_t, close_t)[nb]
    fl = rng.random(n) < flat  # o = h = l = c
    open_t[fl] = close_t[fl]
    up_t[fl] = close_t[fl]
    dn_t[fl] = close_t[fl]
    return tuple(np.round(x * tick, 8) for x in (open_t, up_t, dn_t, close_t))


def gbm_series(n, seed):
    bars = gbm_bars("TEST", "1d", 1_704_067_200_000_000_000, n, seed=seed, sigma=0.35)
    return tuple(np.round(x, 2) for x in (bars.open, bars.high, bars.low, bars.close))


def talib_all(o, h, l, c, params=None):
    params = params or {}
    out = {}
    for name in PATTERN_NAMES:
        fn = getattr(talib, name)
        if name in PENETRATION_PATTERNS:
            out[name] = fn(
                o, h, l, c, params.get(name, talib.abstract.Function(name).parameters["penetration"])
            )
        else:
            out[name] = fn(o, h, l, c)
    return out


def assert_same(got, ref, context=""):
    bad = [name for name in ref if not np.array_equal(got[name], ref[name])]
    assert not bad, f"{context} differs from TA-Lib: {bad}"
    for name in ref:
        assert got[name].dtype == np.int32


# --------------------------------------------------------------------------------------------------
# Catalogue


def test_names_lookbacks_params_match_talib():
    assert tuple(talib.get_function_groups()["Pattern Recognition"]) == PATTERN_NAMES
    assert len(PATTERN_NAMES) == 61
    for info in pattern_info():
        fn = talib.abstract.Function(info.name)
        assert info.lookback == fn.lookback, info.name
        assert info.human_name == fn.info["display_name"]
        if "penetration" in fn.parameters:
            assert info.default_param == fn.parameters["penetration"]
        else:
            assert info.default_param is None
    assert {p[0] for p in PATTERNS_1} | {p[0] for p in K._p2.PATTERNS} == set(PATTERN_NAMES)
    assert [p[0] for p in PATTERNS_1] == list(PATTERN_NAMES[:31])
    for name, _, lookback, state_size, _ in PATTERNS_1:
        assert lookback == talib.abstract.Function(name).lookback
        assert 0 <= state_size <= K.MAX_STATE


def test_names_are_case_insensitive_with_or_without_prefix():
    o, h, l, c = tick_series(300, 1)
    got = detect(o, h, l, c, names=["doji", "CDLEngulfing", "3blackcrows", "CDLDOJI"])
    assert list(got) == ["CDLDOJI", "CDLENGULFING", "CDL3BLACKCROWS"]
    assert np.array_equal(got["CDLDOJI"], talib.CDLDOJI(o, h, l, c))
    assert list(detect(o, h, l, c, names="hikkake")) == ["CDLHIKKAKE"]


# --------------------------------------------------------------------------------------------------
# numba == talib


@st.composite
def ohlc(draw, max_n=300):
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    tick = draw(st.sampled_from([0.01, 0.05, 0.25, 1.0]))
    doji = draw(st.sampled_from([0.0, 0.15, 0.6]))
    flat = draw(st.sampled_from([0.0, 0.03, 0.3]))
    bare = draw(st.sampled_from([0.0, 0.2, 0.7]))
    gap = draw(st.sampled_from([0.0, 0.1, 0.5]))
    vol = draw(st.sampled_from([1, 3, 8, 30]))
    return tick_series(n, seed, tick, doji, flat, bare, gap, vol)


@FAST
@given(ohlc())
def test_all_patterns_match_talib_on_tick_grid(series):
    o, h, l, c = series
    assert_same(detect(o, h, l, c), talib_all(o, h, l, c))


@FAST
@given(ohlc(max_n=120), st.lists(st.sampled_from(PENETRATIONS), min_size=7, max_size=7))
def test_penetration_patterns_match_talib(series, pens):
    o, h, l, c = series
    params = dict(zip(sorted(PENETRATION_PATTERNS), pens, strict=True))
    names = sorted(PENETRATION_PATTERNS)
    got = detect(o, h, l, c, names=names, params=params)
    ref = {n: getattr(talib, n)(o, h, l, c, params[n]) for n in names}
    assert_same(got, ref)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_patterns_match_talib_on_gbm_bars(seed):
    o, h, l, c = gbm_series(20_000, seed)
    assert_same(detect(o, h, l, c), talib_all(o, h, l, c), f"gbm seed {seed}")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 9, 10, 11, 12, 13, 14, 15, 16])
def test_series_around_the_lookbacks(n):
    o, h, l, c = tick_series(n, 100 + n, tick=0.25, vol=2)
    got = detect(o, h, l, c)
    assert_same(got, talib_all(o, h, l, c), f"n={n}")
    for info in pattern_info():
        assert not got[info.name][: info.lookback].any()


def penetration_ties(n_blocks, seed, pen, black_first):
    """Blocks of 10 quiet bars and a 3-bar star whose close sits on ``close - body * pen`` (+- a tick)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_blocks):
        base = 100 + rng.integers(0, 500) / 100
        for _ in range(10):
            p = round(base + rng.integers(-20, 20) / 100, 2)
            rows.append((p, round(p + 0.05, 2), round(p - 0.03, 2), round(p + 0.02, 2)))
        sign = -1 if black_first else 1
        body = rng.integers(30, 400) / 100
        o2, c2 = round(base, 2), round(base + sign * body, 2)
        rows.append((o2, max(o2, c2), min(o2, c2), c2))
        x = round(round(c2 - sign * abs(c2 - o2) * pen, 2) + rng.integers(-1, 2) / 100, 2)
        d = round(c2 + sign * 0.5, 2)  # a doji star, its shadows clear of both neighbours
        star_hi, star_lo = (d + 0.1, c2 + 0.2) if sign > 0 else (c2 - 0.2, d - 0.1)
        rows.append((d, round(star_hi, 2), round(star_lo, 2), d))
        o0 = round(c2 + sign * 0.1, 2)
        rows.append((o0, max(o0, x), min(o0, x), x))
    o, h, l, c = (np.array(col) for col in zip(*rows, strict=True))
    return o, h, l, c


@pytest.mark.parametrize("black_first", [False, True])
@pytest.mark.parametrize("pen", [0.3, 0.5, 0.7])
def test_penetration_ties_match_talib(pen, black_first):
    """Closes exactly on the penetration level; CDLABANDONEDBABY's FMA clone in TA-Lib shows here."""
    o, h, l, c = penetration_ties(1500, int(pen * 10) + 7 * black_first, pen, black_first)
    names = sorted(PENETRATION_PATTERNS)
    params = dict.fromkeys(names, pen)
    got = detect(o, h, l, c, names=names, params=params)
    ref = {name: getattr(talib, name)(o, h, l, c, pen) for name in names}
    assert_same(got, ref, f"pen={pen}")
    key = "CDLABANDONEDBABY"
    assert np.count_nonzero(ref[key]) > 100


# --------------------------------------------------------------------------------------------------
# Every pattern fires somewhere, so the comparisons above are not vacuous


# Hand-built instances of patterns that random bars almost never produce, as (open, high, low, close).
TEMPLATES = {
    "CDLBREAKAWAY": [
        (12.0, 12.0, 11.0, 11.0),
        (10.8, 10.85, 10.55, 10.6),
        (10.5, 10.8, 10.4, 10.45),
        (10.4, 10.7, 10.25, 10.3),
        (10.35, 10.9, 10.35, 10.9),
    ],
    "CDLCONCEALBABYSWALL": [
        (12.0, 12.0, 11.5, 11.5),
        (11.5, 11.5, 11.0, 11.0),
        (10.9, 11.2, 10.8, 10.8),
        (11.3, 11.3, 10.45, 10.5),
    ],
    "CDLMATHOLD": [
        (10.0, 11.0, 10.0, 11.0),
        (11.4, 11.45, 11.25, 11.3),
        (11.05, 11.1, 10.85, 10.9),
        (10.95, 11.0, 10.75, 10.8),
        (10.9, 11.6, 10.9, 11.6),
    ],
    "CDLXSIDEGAP3METHODS": [
        (10.0, 10.55, 9.95, 10.5),
        (10.7, 11.25, 10.65, 11.2),
        (11.0, 11.05, 10.25, 10.3),
    ],
    "CDL3STARSINSOUTH": [(12.0, 12.0, 9.8, 11.0), (11.5, 11.5, 10.2, 11.1), (10.9, 10.9, 10.8, 10.8)],
}


def injected(seed, reps=20, quiet=12, mirror=False):
    """Every template ``reps`` times, each after ``quiet`` small random candles (mirrored: bearish twins)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(reps):
        for template in TEMPLATES.values():
            base = 10.0 + rng.integers(-20, 21) / 100
            for _ in range(quiet):
                p = round(base + rng.integers(-5, 6) / 100, 2)
                q = round(p + rng.choice([-0.1, 0.1]), 2)
                rows.append((p, round(max(p, q) + 0.1, 2), round(min(p, q) - 0.1, 2), q))
            rows.extend(template)
    o, h, l, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    if mirror:
        o, h, l, c = 25.0 - o, 25.0 - l, 25.0 - h, 25.0 - c
    return o, h, l, c


def test_templates_fire():
    o, h, l, c = injected(1, reps=3)
    for name in TEMPLATES:
        assert np.count_nonzero(getattr(talib, name)(o, h, l, c)) == 3, name


def firing_inputs():
    yield injected(2)
    yield injected(3, mirror=True)
    yield tick_series(200_000, 11)
    yield tick_series(100_000, 12, tick=0.25, doji=0.3, bare=0.5, gap=0.3, vol=3)
    yield tick_series(100_000, 13, tick=1.0, doji=0.05, flat=0.0, bare=0.6, gap=0.5, vol=2)
    yield gbm_series(50_000, 5)
    yield penetration_ties(1000, 3, 0.3, False)
    yield penetration_ties(1000, 4, 0.3, True)


def test_every_pattern_fires():
    fired = dict.fromkeys(PATTERN_NAMES, 0)
    for o, h, l, c in firing_inputs():
        ref = talib_all(o, h, l, c)
        assert_same(detect(o, h, l, c), ref)
        for name in PATTERN_NAMES:
            fired[name] += int(np.count_nonzero(ref[name]))
    never = [name for name, count in fired.items() if count == 0]
    assert not never, f"never fired on the test inputs: {never}"


# --------------------------------------------------------------------------------------------------
# Kernel contract, incremental updates, universe


def test_kernels_leave_bars_before_the_lookback_alone():
    o, h, l, c = tick_series(400, 21, tick=0.25, vol=3)
    for name, kernel, lookback, state_size, param in PATTERNS_1:
        for start in (0, lookback - 1, lookback, lookback + 5, 200):
            out = np.full(400, SENTINEL, np.int32)
            state = np.zeros(max(state_size, 1))
            if start > lookback:  # a resumed run needs the state its earlier part left
                kernel(o[:start], h[:start], l[:start], c[:start], param, out[:start], state, 0)
                out[:start] = SENTINEL
            kernel(o, h, l, c, param, out, state, start)
            first = max(start, lookback)
            assert (out[:first] == SENTINEL).all(), (name, start)
            assert (out[first:] != SENTINEL).all(), (name, start)


@FAST
@given(ohlc(max_n=250), st.lists(st.integers(0, 250), max_size=4))
def test_kernels_resume_bit_for_bit(series, cuts):
    o, h, l, c = series
    n = o.shape[0]
    ref = talib_all(o, h, l, c)
    for name, kernel, _, state_size, param in PATTERNS_1:
        out = np.zeros(n, np.int32)
        state = np.zeros(max(state_size, 1))
        prev = 0
        for cut in [*sorted(x for x in cuts if x <= n), n]:
            kernel(o[:cut], h[:cut], l[:cut], c[:cut], param, out[:cut], state, prev)
            prev = cut
        assert np.array_equal(out, ref[name]), name


def test_run_series_resumes_across_blocks():
    o, h, l, c = tick_series(3 * K.BLOCK + 123, 31)
    pids = np.arange(61, dtype=np.int64)
    out = np.zeros((61, o.shape[0]), np.int32)
    states = np.zeros((61, K.MAX_STATE))
    prev = 0
    for cut in (7, K.BLOCK - 3, K.BLOCK + 17, o.shape[0]):
        K.run_series(o[:cut], h[:cut], l[:cut], c[:cut], pids, K.DEFAULT_PARAMS, out, states, prev)
        prev = cut
    ref = talib_all(o, h, l, c)
    assert_same({name: out[i] for i, name in enumerate(PATTERN_NAMES)}, ref)


@FAST
@given(ohlc(max_n=300), st.lists(st.integers(0, 300), max_size=5))
def test_pattern_state_equals_full_recompute(series, cuts):
    o, h, l, c = series
    n = o.shape[0]
    state = PatternState(params={"abandonedbaby": 0.5})
    for cut in [*sorted(x for x in cuts if x <= n), n]:
        got = state.update(o[:cut], h[:cut], l[:cut], c[:cut])
    full = detect(o, h, l, c, params={"abandonedbaby": 0.5})
    assert state.n == n
    assert_same(got, full)


def test_pattern_state_rejects_rewritten_or_shorter_history():
    o, h, l, c = tick_series(100, 41)
    state = PatternState(names=["doji", "hikkake"])
    first = state.update(o[:80], h[:80], l[:80], c[:80])
    snapshot = {k: v.copy() for k, v in first.items()}
    c2 = c.copy()
    c2[75] += 1.0
    with pytest.raises(InvalidInput) as err:
        state.update(o, h, l, c2)
    assert err.value.field == "close"
    with pytest.raises(InvalidInput):
        state.update(o[:50], h[:50], l[:50], c[:50])
    again = state.update(o, h, l, c)
    for name in snapshot:  # earlier results are stable snapshots
        assert np.array_equal(first[name], snapshot[name])
        assert np.array_equal(again[name][:80], snapshot[name])
    assert not again["CDLDOJI"].flags.writeable


def universe(seed, lengths):
    return [tick_series(n, seed + i, tick=0.05, vol=4) for i, n in enumerate(lengths)]


@pytest.mark.parametrize("lengths", [[300, 0, 14, 5000, 15, 2000, 1], [4000], [50, 60]])
def test_universe_equals_per_series(lengths):
    series = universe(51, lengths)
    got = detect_universe(series)
    assert len(got) == len(lengths)
    for s, (o, h, l, c) in enumerate(series):
        assert_same(got.symbol(s), talib_all(o, h, l, c), f"symbol {s}")
    concat = tuple(np.concatenate([x[j] for x in series]) for j in range(4))
    again = detect_universe(concat, offsets=got.offsets)
    assert np.array_equal(again.values, got.values)
    assert np.array_equal(got["doji"], again.values[PATTERN_NAMES.index("CDLDOJI")])


def test_universe_state_equals_full_recompute():
    full = universe(61, [1200, 40, 700, 3000])
    state = UniverseState()
    state.update([tuple(x[:cut] for x in s) for s, cut in zip(full[:3], (600, 10, 700), strict=True)])
    state.update([tuple(x[:cut] for x in s) for s, cut in zip(full, (900, 25, 700, 100), strict=True)])
    got = state.update(full)
    ref = detect_universe(full)
    assert np.array_equal(got.offsets, ref.offsets)
    assert np.array_equal(got.values, ref.values)


def test_talib_backend_is_the_reference():
    o, h, l, c = tick_series(500, 71)
    got = detect(o, h, l, c, backend="talib", params={"eveningstar": 0.7})
    assert np.array_equal(got["CDLEVENINGSTAR"], talib.CDLEVENINGSTAR(o, h, l, c, 0.7))
    uni = detect_universe([(o, h, l, c)], backend="talib")
    assert np.array_equal(uni.values, np.stack(list(detect(o, h, l, c).values())))


# --------------------------------------------------------------------------------------------------
# Input errors


def test_invalid_inputs_name_the_field():
    o, h, l, c = tick_series(50, 81)
    with pytest.raises(InvalidInput) as err:
        detect(o, h, l, c, names=["doji", "notapattern"])
    assert err.value.field == "patterns"
    with pytest.raises(InvalidInput) as err:
        detect(o, h[:-1], l, c)
    assert err.value.field == "high"
    bad = l.copy()
    bad[3] = np.nan
    with pytest.raises(InvalidInput) as err:
        detect(o, h, bad, c)
    assert err.value.field == "low"
    c_inf = c.copy()
    c_inf[-1] = np.inf
    with pytest.raises(InvalidInput) as err:
        detect(o, h, l, c_inf)
    assert err.value.field == "close"
    with pytest.raises(InvalidInput) as err:
        detect(o.reshape(5, 10), h, l, c)
    assert err.value.field == "open"
    with pytest.raises(InvalidInput) as err:
        detect(o, h, l, c, params={"doji": 0.3})
    assert err.value.field == "params"
    with pytest.raises(InvalidInput) as err:
        detect(o, h, l, c, params={"eveningstar": -1.0})
    assert err.value.field == "params"
    with pytest.raises(InvalidInput) as err:
        detect(o, h, l, c, backend="pandas")
    assert err.value.field == "backend"
    with pytest.raises(InvalidInput) as err:
        detect_universe((o, h, l, c), offsets=[0, 10, 60])
    assert err.value.field == "offsets"
