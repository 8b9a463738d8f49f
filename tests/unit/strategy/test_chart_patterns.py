"""Chart patterns on constructed price paths whose answer is known by construction."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.strategy.chart import (
    CHART_PATTERN_KINDS,
    ChartPattern,
    Pivots,
    atr,
    detect_chart_patterns,
    support_resistance,
    zigzag,
)

SPREAD = 0.15  # bars' high/low stick out at most this far beyond the constructed path


def path(vertices, noise=0.05, seed=0):
    """OHLC bars along a piecewise-linear path through ``(bar, price)`` vertices, with seeded noise."""
    xs = np.array([v[0] for v in vertices], dtype=float)
    ys = np.array([v[1] for v in vertices], dtype=float)
    n = int(xs[-1]) + 1
    base = np.interp(np.arange(n), xs, ys)
    rng = np.random.default_rng(seed)
    close = base + rng.normal(0.0, noise, n)
    high = np.maximum(close, base) + SPREAD * rng.random(n)
    low = np.minimum(close, base) - SPREAD * rng.random(n)
    return high, low, close


def random_walk(n, seed, drift=0.0, vol=0.01):
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    high = close * (1 + 0.004 * rng.random(n))
    low = close * (1 - 0.004 * rng.random(n))
    return high, low, close


def only(patterns, kind):
    found = [p for p in patterns if p.kind == kind]
    assert len(found) == 1, [(p.kind, p.start, p.end) for p in patterns]
    return found[0]


def check_common(p: ChartPattern, n: int):
    assert 0.0 <= p.confidence <= 1.0
    assert 0 <= p.start < p.end < n
    assert [i for i, _ in p.points] == sorted(i for i, _ in p.points)
    assert p.points[0][0] == p.start or p.kind.endswith("flag")
    assert p.points[-1][0] == p.end
    assert p.lines and all(a[0] <= b[0] for a, b in p.lines)
    assert p.detected_at > p.end
    if p.confirmed:
        assert p.confirmed_at is not None and p.end < p.confirmed_at < n
    else:
        assert p.confirmed_at is None


def near(a, b, tol):
    return abs(a - b) <= tol


# ---------------------------------------------------------------------------------------- pivots


def test_zigzag_hand_worked_percent():
    c = np.array([100, 105, 112, 108, 99, 95, 101, 106, 104, 93.0])
    z = zigzag(c, c, pct=0.10)
    # 100 -> 112 (+12%) confirms the low at 0 on bar 2; 112 -> 99 (-11.6%) the high on bar 4;
    # 95 -> 106 (+11.6%) the low on bar 7; 106 -> 93 (-12.3%) the high on bar 9; 93 is the open leg.
    assert z.indices.tolist() == [0, 2, 5, 7, 9]
    assert z.prices.tolist() == [100, 112, 95, 106, 93]
    assert z.kinds.tolist() == [-1, 1, -1, 1, -1]
    assert z.confirmed_at.tolist() == [2, 4, 7, 9, -1]
    assert z.last_unconfirmed and z.confirmed.tolist() == [True] * 4 + [False]
    assert [p.index for p in z.to_list()] == [0, 2, 5, 7, 9]


def test_zigzag_hand_worked_atr():
    # steps of at most 0.45 on bars 1 wide keep every true range at exactly 1, so ATR == 1
    c = np.interp(np.arange(61), [0, 20, 30, 40, 60], [100, 104, 102.5, 107, 100])
    h, l = c + 0.5, c - 0.5
    assert np.allclose(atr(h, l, c, 14), 1.0)
    z = zigzag(h, l, c, atr_mult=2.9)
    # low 99.5@0 confirmed when a high reaches 102.4 (bar 10); the 104.5 -> 102 dip (2.5) is too
    # small; high 107.5@40 confirmed when a low reaches 104.6 (bar 46); the last leg is open.
    assert z.indices.tolist() == [0, 40, 60]
    assert np.allclose(z.prices, [99.5, 107.5, 99.5])
    assert z.confirmed_at.tolist() == [10, 46, -1]
    # a larger percent threshold on top of the ATR one makes the dip at 30 irrelevant and the
    # final drop (7%) still counts, so the result is unchanged; 10% removes the high
    assert zigzag(h, l, c, pct=0.05, atr_mult=2.9).indices.tolist() == [0, 40, 60]
    assert len(zigzag(h, l, c, pct=0.10, atr_mult=2.9).only_confirmed()) == 0


def test_atr_matches_talib_after_warmup():
    h, l, c = random_walk(300, seed=3)
    ours = atr(h, l, c, 14)
    ref = talib.ATR(h, l, c, timeperiod=14)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours[14:], ref[14:], rtol=1e-12)


def test_zigzag_edge_cases():
    assert len(zigzag(np.array([]), np.array([]), pct=0.05)) == 0
    flat = np.full(50, 10.0)
    assert len(zigzag(flat, flat, pct=0.01)) == 0
    assert len(zigzag(flat, flat, flat, atr_mult=1.0)) == 0
    h, l, c = random_walk(200, seed=1)
    h[50:55] = np.nan
    l[50:55] = np.nan
    z = zigzag(h, l, c, atr_mult=2.0)
    assert len(z) > 3 and not np.isin(z.indices, np.arange(50, 55)).any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 400),
    cut=st.floats(0.0, 1.0),
    mode=st.sampled_from(["pct", "atr", "both"]),
)
def test_zigzag_has_no_look_ahead(seed, n, cut, mode):
    h, l, c = random_walk(n, seed, vol=0.015)
    kw = {"pct": {"pct": 0.03}, "atr": {"atr_mult": 2.0}, "both": {"pct": 0.02, "atr_mult": 1.5}}[mode]
    full = zigzag(h, l, c, **kw)
    # structure: alternating kinds, increasing bars, confirmation strictly after the pivot
    assert np.all(np.diff(full.indices) > 0)
    assert np.all(full.kinds[1:] != full.kinds[:-1])
    conf = full.confirmed
    assert np.all(full.confirmed_at[conf] > full.indices[conf])
    assert conf[:-1].all() if len(full) else True
    for k, (i, p) in enumerate(zip(full.indices, full.prices, strict=True)):
        assert p == (h[i] if full.kinds[k] > 0 else l[i])
    # the zigzag of a prefix equals the full zigzag's pivots confirmed inside that prefix
    m = int(round(cut * n))
    part = zigzag(h[:m], l[:m], c[:m], **kw).only_confirmed()
    known = full.only_confirmed(before=m)
    for a, b in ((part.indices, known.indices), (part.prices, known.prices), (part.kinds, known.kinds),
                 (part.confirmed_at, known.confirmed_at)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cut=st.floats(0.2, 1.0))
def test_reversal_patterns_have_no_look_ahead(seed, cut):
    h, l, c = random_walk(300, seed)
    kinds = ["double_top", "double_bottom", "head_and_shoulders", "inverse_head_and_shoulders"]
    m = int(cut * 300)
    full = detect_chart_patterns(h, l, c, kinds=kinds)
    part = {(p.kind, tuple(p.points)): p for p in detect_chart_patterns(h[:m], l[:m], c[:m], kinds=kinds)}
    for p in full:
        if p.detected_at < m:  # known by bar m: the prefix run finds the very same pattern
            q = part[(p.kind, tuple(p.points))]
            if p.confirmed and p.confirmed_at < m:
                assert q.confirmed and q.confirmed_at == p.confirmed_at
            else:
                assert not q.confirmed


# ---------------------------------------------------------------------------------------- levels


def test_support_resistance_touch_counts_on_range():
    verts = [(0, 95)] + [(8 + 16 * k + d, p) for k in range(4) for d, p in ((0, 100), (8, 90))] + [(72, 95)]
    h, l, c = path(verts)
    levels = support_resistance(h, l, c, pct=0.03, tol_pct=0.01)
    by_kind = {lv.kind: lv for lv in levels}
    res, sup = by_kind["resistance"], by_kind["support"]
    assert res.touches == 4 and res.high_touches == 4 and res.low_touches == 0
    assert sup.touches == 4 and sup.low_touches == 4 and sup.high_touches == 0
    assert near(res.price, 100.0, 2 * SPREAD) and near(sup.price, 90.0, 2 * SPREAD)
    assert res.touch_indices == [8, 24, 40, 56] and (res.first_touch, res.last_touch) == (8, 56)
    assert sup.touch_indices == [16, 32, 48, 64]
    assert res.upper - res.lower <= 1.0 and 0.8 < res.strength <= 1.0
    # an ATR-based tolerance finds the same two levels; a demand for 5 touches finds none
    levels_atr = support_resistance(h, l, c, pct=0.03, tol_pct=None, tol_atr=0.5)
    assert sorted(lv.touches for lv in levels_atr) == [4, 4]
    assert support_resistance(h, l, c, pct=0.03, min_touches=5) == []
    msgspec.json.encode(levels)


# -------------------------------------------------------------------------------------- patterns

DOUBLE_TOP = [(0, 80), (20, 100), (35, 90), (50, 100), (70, 76)]


def test_double_top():
    h, l, c = path(DOUBLE_TOP)
    p = only(detect_chart_patterns(h, l, c), "double_top")
    check_common(p, h.size)
    assert p.direction == -1 and (p.start, p.end) == (20, 50)
    assert [i for i, _ in p.points] == [20, 35, 50]
    assert near(p.breakout_price, 90.0, 2 * SPREAD)  # neckline = the trough
    assert near(p.target_price, 80.0, 4 * SPREAD)  # neckline - (peak - neckline)
    assert near(p.height, 10.0, 2 * SPREAD)
    assert p.confirmed and near(p.confirmed_at, 50 + 10 * 20 / 24, 2)  # close under 90 on the way to 76
    assert p.confidence > 0.8


def test_double_bottom_is_the_mirror():
    h, l, c = path([(x, 200 - y) for x, y in DOUBLE_TOP])
    p = only(detect_chart_patterns(h, l, c), "double_bottom")
    check_common(p, h.size)
    assert p.direction == 1 and (p.start, p.end) == (20, 50)
    assert near(p.breakout_price, 110.0, 2 * SPREAD) and near(p.target_price, 120.0, 4 * SPREAD)


def test_double_top_negative_cases():
    # second peak 10 % higher: not a double top
    h, l, c = path([(0, 80), (20, 100), (35, 90), (50, 110), (70, 76)])
    assert not [p for p in detect_chart_patterns(h, l, c) if p.kind == "double_top"]
    # price closes above the peaks before breaking the neckline: negated
    h, l, c = path([(0, 80), (20, 100), (35, 90), (50, 100), (58, 94), (70, 106)])
    assert not [p for p in detect_chart_patterns(h, l, c) if p.kind == "double_top"]


def test_double_top_pending_until_neckline_breaks():
    h, l, c = path([(0, 80), (20, 100), (35, 90), (50, 100), (58, 93)])
    p = only(detect_chart_patterns(h, l, c, kinds="double_top"), "double_top")
    assert not p.confirmed and p.confirmed_at is None
    assert near(p.breakout_price, 90.0, 2 * SPREAD)
    assert p.detected_at < h.size


HS = [(0, 80), (15, 100), (25, 92), (40, 110), (55, 92), (70, 100), (90, 70)]


def test_head_and_shoulders():
    h, l, c = path(HS)
    p = only(detect_chart_patterns(h, l, c), "head_and_shoulders")
    check_common(p, h.size)
    assert p.direction == -1 and (p.start, p.end) == (15, 70)
    assert [i for i, _ in p.points] == [15, 25, 40, 55, 70]
    assert near(p.breakout_price, 92.0, 2 * SPREAD)
    assert near(p.height, 18.0, 2 * SPREAD)
    assert near(p.target_price, 74.0, 4 * SPREAD)
    assert p.confirmed and p.confirmed_at > 70
    assert p.confidence > 0.8
    (a, b), = p.lines  # the neckline, from the left shoulder to the breakout bar
    assert a[0] == 15 and b[0] == p.confirmed_at and near(a[1], 92.0, 2 * SPREAD)


def test_head_and_shoulders_sloped_neckline():
    verts = [(0, 80), (15, 100), (25, 92), (40, 110), (55, 95), (70, 102), (90, 70)]
    h, l, c = path(verts)
    p = only(detect_chart_patterns(h, l, c), "head_and_shoulders")
    check_common(p, h.size)

    def neck(x):
        return 92.0 + (95.0 - 92.0) * (x - 25) / 30

    assert p.confirmed
    assert near(p.breakout_price, neck(p.confirmed_at), 2 * SPREAD)
    assert near(p.height, 110.0 - neck(40), 3 * SPREAD)
    assert near(p.target_price, neck(p.confirmed_at) - (110.0 - neck(40)), 4 * SPREAD)


def test_inverse_head_and_shoulders():
    h, l, c = path([(x, 200 - y) for x, y in HS])
    p = only(detect_chart_patterns(h, l, c), "inverse_head_and_shoulders")
    check_common(p, h.size)
    assert p.direction == 1 and (p.start, p.end) == (15, 70)
    assert near(p.breakout_price, 108.0, 2 * SPREAD) and near(p.target_price, 126.0, 4 * SPREAD)


@pytest.mark.parametrize("seed", range(20))
def test_no_head_and_shoulders_in_trend_or_short_random_walk(seed):
    kinds = ["head_and_shoulders", "inverse_head_and_shoulders"]
    for drift in (0.004, -0.004):
        assert detect_chart_patterns(*random_walk(300, seed, drift=drift), kinds=kinds) == []
    assert detect_chart_patterns(*random_walk(80, seed), kinds=kinds) == []


def test_ascending_triangle():
    h, l, c = path([(0, 60), (10, 100), (20, 85), (30, 100), (40, 90), (50, 100), (60, 95), (72, 118)])
    p = only(detect_chart_patterns(h, l, c), "ascending_triangle")
    check_common(p, h.size)
    assert (p.start, p.end) == (10, 60) and len(p.points) == 6
    assert p.direction == 1 and p.confirmed and 60 < p.confirmed_at <= 64
    assert near(p.breakout_price, 100.0, 2 * SPREAD)
    # height = gap between the lines at the first pivot: lows rise 0.25/bar -> 82.5 at bar 10
    assert near(p.height, 17.5, 3 * SPREAD)
    assert near(p.target_price, 117.5, 5 * SPREAD)
    upper, lower = p.lines
    assert near(upper[0][1], 100.0, 2 * SPREAD) and near(upper[1][1], 100.0, 2 * SPREAD)
    assert near(lower[0][1], 82.5, 3 * SPREAD)


def test_descending_triangle_is_the_mirror():
    h, l, c = path([(x, 200 - y) for x, y in
                    [(0, 60), (10, 100), (20, 85), (30, 100), (40, 90), (50, 100), (60, 95), (72, 118)]])
    p = only(detect_chart_patterns(h, l, c), "descending_triangle")
    check_common(p, h.size)
    assert (p.start, p.end) == (10, 60) and p.direction == -1 and p.confirmed
    assert near(p.breakout_price, 100.0, 2 * SPREAD) and near(p.target_price, 82.5, 5 * SPREAD)


def test_symmetric_triangle():
    h, l, c = path([(0, 50), (10, 100), (20, 80), (30, 96), (40, 84), (50, 92), (60, 88), (72, 110)])
    p = only(detect_chart_patterns(h, l, c), "symmetric_triangle")
    check_common(p, h.size)
    assert (p.start, p.end) == (10, 60)
    # upper line 100 - 0.2 (x - 10), lower 78 + 0.2 (x - 10); broke upward
    assert p.confirmed and p.direction == 1
    x = p.confirmed_at
    assert near(p.breakout_price, 100 - 0.2 * (x - 10), 2 * SPREAD)
    assert near(p.height, 22.0, 3 * SPREAD)
    assert near(p.target_price, 100 - 0.2 * (x - 10) + 22.0, 5 * SPREAD)


def test_symmetric_triangle_pending_is_neutral():
    h, l, c = path([(0, 50), (10, 100), (20, 80), (30, 96), (40, 84), (50, 92), (60, 88), (63, 89.5)])
    p = only(detect_chart_patterns(h, l, c), "symmetric_triangle")
    assert p.direction == 0 and not p.confirmed
    # the trend into the triangle was up: the quoted breakout is on the upper line at the last bar
    assert near(p.breakout_price, 100 - 0.2 * (63 - 10), 2 * SPREAD)


CHANNEL = [(0, 95), (10, 80), (20, 90), (30, 85), (40, 95), (50, 90), (60, 100), (70, 95), (80, 85)]


def test_channel_up():
    h, l, c = path(CHANNEL)
    p = only(detect_chart_patterns(h, l, c), "channel_up")
    check_common(p, h.size)
    assert (p.start, p.end) == (10, 60) and len(p.points) == 6
    upper, lower = p.lines
    for (x0, y0), (x1, y1) in (upper, lower):
        assert near((y1 - y0) / (x1 - x0), 0.25, 0.02)  # both lines rise 0.25 per bar
    assert near(p.height, 7.5, 3 * SPREAD)
    # it ended by breaking down through the lower line (95 at bar 70)
    assert p.confirmed and p.direction == -1
    assert near(p.breakout_price, 80 + 0.25 * (p.confirmed_at - 10), 2 * SPREAD)
    assert near(p.target_price, p.breakout_price - p.height, 1e-9)


def test_channel_down_and_horizontal():
    h, l, c = path([(x, 200 - y) for x, y in CHANNEL])
    p = only(detect_chart_patterns(h, l, c), "channel_down")
    assert (p.start, p.end) == (10, 60) and p.direction == 1
    h, l, c = path([(0, 110), (10, 90), (20, 100), (30, 90), (40, 100), (50, 90), (60, 100), (70, 90), (85, 70)])
    p = only(detect_chart_patterns(h, l, c), "channel_horizontal")
    check_common(p, h.size)
    assert (p.start, p.end) == (10, 60) and near(p.height, 10.0, 3 * SPREAD)
    assert p.confirmed and p.direction == -1 and near(p.breakout_price, 90.0, 2 * SPREAD)


FLAG = [(0, 105), (10, 100), (18, 120), (22, 115), (26, 118), (30, 113), (34, 116), (38, 111), (48, 135)]


def test_bull_flag():
    h, l, c = path(FLAG)
    p = only(detect_chart_patterns(h, l, c, pct=0.02), "bull_flag")
    check_common(p, h.size)
    assert p.direction == 1 and (p.start, p.end) == (10, 38)
    assert [i for i, _ in p.points] == [10, 18, 22, 26, 30, 34, 38]  # pole start, pole top, flag
    assert p.confirmed and p.confirmed_at in (39, 40, 41)
    x = p.confirmed_at
    assert near(p.breakout_price, 120 - 0.25 * (x - 18), 2 * SPREAD)  # the falling upper flag line
    assert near(p.height, 20.0, 2 * SPREAD)  # pole
    assert near(p.target_price, 120 - 0.25 * (x - 18) + 20.0, 4 * SPREAD)


def test_bear_flag_is_the_mirror():
    h, l, c = path([(x, 200 - y) for x, y in FLAG])
    p = only(detect_chart_patterns(h, l, c, pct=0.02), "bear_flag")
    check_common(p, h.size)
    assert p.direction == -1 and (p.start, p.end) == (10, 38)
    x = p.confirmed_at
    assert near(p.target_price, 80 + 0.25 * (x - 18) - 20.0, 4 * SPREAD)


def test_flag_needs_a_sharp_pole():
    # the same flag after a slow 20-point climb over 60 bars is no flag
    slow = [(0, 105), (10, 100)] + [(x + 52, y) for x, y in FLAG[2:]]
    h, l, c = path(slow)
    assert not [p for p in detect_chart_patterns(h, l, c, pct=0.02) if p.kind == "bull_flag"]


# ----------------------------------------------------------------------------------- api surface


def test_results_serialise_and_kinds_filter():
    h, l, c = path(HS)
    patterns = detect_chart_patterns(h, l, c, kinds=["head_and_shoulders", "double_top"])
    assert {p.kind for p in patterns} <= {"head_and_shoulders", "double_top"}
    raw = msgspec.json.encode(patterns)
    back = msgspec.json.decode(raw, type=list[ChartPattern])
    assert back == patterns
    z = zigzag(h, l, c, pct=0.03)
    assert isinstance(z, Pivots)
    assert detect_chart_patterns(h, l, c, pivots=z) == detect_chart_patterns(h, l, c, pct=0.03)
    assert len(CHART_PATTERN_KINDS) == len(set(CHART_PATTERN_KINDS)) == 12


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kinds": ["double_top", "cup_and_handle"]}, "kinds"),
        ({"kinds": "wedge"}, "kinds"),
        ({"pct": 0.0}, "pct"),
        ({"pct": 5}, "pct"),
        ({"pct": float("nan")}, "pct"),
        ({"atr_mult": -1.0}, "atr_mult"),
        ({"atr_mult": 2.0, "atr_period": 0}, "atr_period"),
        ({"peak_tol": 0.0}, "peak_tol"),
        ({"shoulder_tol": 2.0}, "shoulder_tol"),
        ({"fit_tol": -0.1}, "fit_tol"),
        ({"min_touches": 2}, "min_touches"),
        ({"max_pivots": 3}, "max_pivots"),
        ({"pivots": [1, 2, 3]}, "pivots"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    h, l, c = path(HS)
    with pytest.raises(InvalidInput) as err:
        detect_chart_patterns(h, l, c, **kwargs)
    assert err.value.field == field


def test_bad_inputs_name_the_field():
    h, l, c = path(HS)
    with pytest.raises(InvalidInput) as err:
        detect_chart_patterns(h, l[:-1], c)
    assert err.value.field == "low"
    with pytest.raises(InvalidInput) as err:
        zigzag(h, l, pct=1.5)
    assert err.value.field == "pct"
    with pytest.raises(InvalidInput) as err:
        support_resistance(h, l, c, tol_pct=-0.01)
    assert err.value.field == "tol_pct"
    with pytest.raises(InvalidInput) as err:
        support_resistance(h, l, c, min_touches=0)
    assert err.value.field == "min_touches"
    assert detect_chart_patterns(np.array([]), np.array([]), np.array([])) == []
