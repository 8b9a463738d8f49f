"""Universe scanner: pattern values equal TA-Lib's, conditions equal TA-Lib's indicators, and an
incremental update equals a full recompute over the same bars."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.strategy.scanner import ScannerCache, ScanSpec, UniverseScanner

DAY = 86_400 * 10**9
START = 1_600_000_000 * 10**9 // DAY * DAY
PATTERNS = ["CDLENGULFING", "CDLHARAMI", "CDLDOJI", "CDLHAMMER", "CDL3OUTSIDE", "CDLHIKKAKE", "CDLMORNINGSTAR"]
CONDITIONS = [
    {"indicator": "rsi(14)", "op": "<", "value": 50.0},
    {"indicator": "sma(10)", "op": "crosses_above", "other": "sma(30)"},
    {"indicator": "close", "op": ">", "other": {"name": "ema", "period": 20}},
    {"indicator": "atr(14)", "op": ">", "value": 0.0},
    {"indicator": {"name": "macd", "output": "macdhist"}, "op": ">", "value": 0.0},  # TA-Lib path
]


def universe(n_symbols: int = 12, n: int = 400) -> dict[str, Bars]:
    out = {}
    for k in range(n_symbols):
        b = gbm_bars(f"S{k:02d}", "1d", START, n, seed=100 + k)
        for col in ("open", "high", "low", "close"):
            setattr(b, col, np.round(getattr(b, col), 2))  # a tick grid: ties happen, as in real data
        b.high = np.maximum.reduce([b.high, b.open, b.close])
        b.low = np.minimum.reduce([b.low, b.open, b.close])
        out[b.symbol] = b
    return out


def spec(**kw) -> ScanSpec:
    args = dict(patterns=PATTERNS, conditions=CONDITIONS, within=5, history=1000)
    args.update(kw)
    return ScanSpec.build(**args)


def full(bars: dict[str, Bars], sp: ScanSpec) -> UniverseScanner:
    sc = UniverseScanner(sp, sorted(bars))
    sc.load(bars)
    return sc


def test_pattern_values_equal_talib_over_the_window() -> None:
    bars = universe()
    sc = full(bars, spec())
    fired = 0
    for s, b in bars.items():
        i = sc.index[s]
        for p, name in enumerate(sc.spec.patterns):
            ref = getattr(talib, name)(b.open, b.high, b.low, b.close)[-5:]
            np.testing.assert_array_equal(sc.recent[i, p], ref, err_msg=f"{s} {name}")
            fired += int(np.count_nonzero(ref))
    assert fired > 0


def test_condition_values_equal_talib() -> None:
    bars = universe(4)
    rows = {r.symbol: r for r in full(bars, spec()).rows()}
    for s, b in bars.items():
        row = rows[s]
        rsi = talib.RSI(b.close, 14)
        assert row.values["rsi_14"] == pytest.approx(rsi[-1], rel=1e-9)
        assert row.conditions["rsi_14 < 50.0"] == (rsi[-1] < 50)
        fast, slow = talib.SMA(b.close, 10), talib.SMA(b.close, 30)
        assert row.conditions["sma_10 crosses_above sma_30"] == bool(fast[-2] <= slow[-2] and fast[-1] > slow[-1])
        assert row.conditions["close > ema_20"] == bool(b.close[-1] > talib.EMA(b.close, 20)[-1])
        hist = talib.MACD(b.close)[2]
        assert row.values["macd_12_26_9.macdhist"] == pytest.approx(hist[-1], rel=1e-12)
        assert row.matched == (all(row.conditions.values()) and bool(row.patterns))


@pytest.mark.parametrize("steps", [[1], [1, 1, 1], [7], [3, 1, 20]])
def test_incremental_update_equals_full_recompute(steps) -> None:
    bars = universe()
    n = 400
    cut = n - sum(steps)
    sp = spec()
    inc = full({s: b.slice(0, cut) for s, b in bars.items()}, sp)
    at = cut
    for k in steps:
        inc.append({s: b.slice(at, at + k) for s, b in bars.items()})
        at += k
    ref = full(bars, sp)
    np.testing.assert_array_equal(inc.recent, ref.recent)
    np.testing.assert_array_equal(inc.pstates, ref.pstates)
    np.testing.assert_array_equal(inc.last2, ref.last2)
    assert inc.rows() == ref.rows()


def test_partial_updates_touch_only_changed_symbols() -> None:
    bars = universe(5)
    sp = spec()
    inc = full({s: b.slice(0, 399) for s, b in bars.items()}, sp)
    inc.append({"S01": bars["S01"].slice(399, 400)})
    ref = full({s: (b if s == "S01" else b.slice(0, 399)) for s, b in bars.items()}, sp)
    assert inc.rows() == ref.rows()


def test_append_rejects_old_bars() -> None:
    bars = universe(2)
    sc = full(bars, spec())
    with pytest.raises(InvalidInput):
        sc.append({"S00": bars["S00"].slice(10, 11)})


def test_cache_switches_to_incremental_and_matches() -> None:
    bars = universe(6)
    store = {s: b.slice(0, 390) for s, b in bars.items()}

    def load(symbol, after_ns):
        b = store[symbol]
        return b if after_ns is None else b.slice(int(np.searchsorted(b.ts, after_ns, "right")), len(b))

    cache = ScannerCache()
    first = cache.scan(spec(), "1d", sorted(bars), load)
    assert first.mode == "full"
    store = bars
    second = cache.scan(spec(), "1d", sorted(bars), load)
    assert second.mode == "incremental"
    assert second.rows == full(bars, spec()).rows()


@pytest.mark.parametrize(("kw", "field"), [
    ({"patterns": ["CDLNOPE"]}, "patterns"),
    ({"conditions": [{"indicator": "nope(3)", "op": "<", "value": 1}]}, "conditions[0].indicator"),
    ({"conditions": [{"indicator": "rsi", "op": "!=", "value": 1}]}, "conditions[0].op"),
    ({"conditions": [{"indicator": "rsi", "op": "<"}]}, "conditions[0].value"),
    ({"within": 0}, "within"),
    ({"patterns": [], "conditions": []}, "patterns"),
    ({"chart_kinds": ["triangle_of_doom"]}, "chart"),
])
def test_bad_specs_name_the_field(kw, field) -> None:
    with pytest.raises(InvalidInput) as info:
        spec(**kw)
    assert info.value.field == field


def test_bar_event_equals_full_recompute() -> None:
    bars = universe()
    sp = spec()
    inc = full({s: b.slice(0, 399) for s, b in bars.items()}, sp)
    symbols = sorted(bars)
    cols = [np.array([getattr(bars[s], c)[399] for s in symbols]) for c in ("ts", "open", "high", "low", "close",
                                                                            "volume")]
    inc.append_bar(symbols, *cols)
    ref = full(bars, sp)
    np.testing.assert_array_equal(inc.recent, ref.recent)
    assert inc.rows() == ref.rows()
    with pytest.raises(InvalidInput) as info:
        inc.append_bar(symbols, *cols)  # the same bar again
    assert info.value.field == "ts"
