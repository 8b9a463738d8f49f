"""Indicators behind the declarative spec: catalogue, TA-Lib parity, spec parsing and errors, the
extras against independent oracles, warm-up lengths, and no look-ahead for every indicator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from talib import abstract

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import DAY_NS, gbm_bars
from nautilus.strategy import indicators as ind
from nautilus.strategy.indicators import registry, spec

START = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000_000_000
N = 300
BARS = gbm_bars("TEST", "1h", START, N, seed=7)
PERIODS = np.random.default_rng(3).integers(2, 30, N).astype(np.float64)  # MAVP's periods series
COLS = {"ts": BARS.ts, "open": BARS.open, "high": BARS.high, "low": BARS.low, "close": BARS.close,
        "volume": BARS.volume, "periods": PERIODS}
GROUPS = ("Overlap Studies", "Momentum Indicators", "Volatility Indicators", "Volume Indicators",
          "Price Transform", "Statistic Functions", "Cycle Indicators")
EXTRAS = ("vwap", "anchored_vwap", "supertrend", "ichimoku", "keltner", "donchian")
ANCHOR = int(BARS.ts[100])
CATALOGUE = {d["name"]: d for d in ind.list_indicators()}
TALIB_NAMES = sorted(n for n, d in CATALOGUE.items() if d["source"] == "talib")


def talib_func(name: str) -> str:
    return registry.catalogue()[name].talib_name


def flat_inputs(func: str) -> list[str]:
    cols: list[str] = []
    for v in abstract.Function(func).info["input_names"].values():
        cols.extend(v if isinstance(v, list) else [v])
    return cols


def direct_talib(func: str, params: dict, cols: dict) -> list[np.ndarray]:
    """TA-Lib called by hand: inputs from talib.abstract's input names, integer outputs padded
    with NaN through the lookback."""
    kwargs = {k: v for k, v in params.items() if k != "input"}
    names = flat_inputs(func)
    info = abstract.Function(func).info
    if "price" in info["input_names"]:
        names[list(info["input_names"]).index("price")] = params.get("input", "close")
    arrays = [cols[n] if n in cols else derived(n, cols) for n in names]
    out = getattr(talib, func)(*arrays, **kwargs)
    out = list(out) if isinstance(out, tuple | list) else [out]
    f = abstract.Function(func)
    f.set_parameters(kwargs)
    result = []
    for a in out:
        if np.issubdtype(a.dtype, np.integer):
            a = a.astype(np.float64)
            a[: f.lookback] = np.nan
        result.append(a)
    return result


def derived(name: str, cols: dict) -> np.ndarray:
    h, l, c, o = cols["high"], cols["low"], cols["close"], cols["open"]
    return {"hl2": (h + l) / 2, "hlc3": (h + l + c) / 3, "ohlc4": (o + h + l + c) / 4}[name]


def default_spec(name: str):
    return {"name": name, "anchor": ANCHOR} if name == "anchored_vwap" else name


def variant_params(name: str) -> dict:
    """Non-default values inside each parameter's range."""
    out = {}
    for p in CATALOGUE[name]["params"]:
        if p["type"] == "int":
            hi = p["max"] if p["max"] is not None else p["default"] + 3
            out[p["name"]] = min(p["default"] + 3, hi)
        elif p["type"] == "float":
            v = p["default"] * 1.1 if p["default"] else 0.1
            if p["max"] is not None:
                v = min(v, p["max"])
            out[p["name"]] = v
        elif p["type"] == "enum":
            out[p["name"]] = 1 if p["default"] != 1 else 0
        elif p["name"] == "input":
            out["input"] = "hlc3"
        elif p["type"] == "str":
            out[p["name"]] = p["choices"][-1]
        elif p["type"] == "bool":
            out[p["name"]] = not p["default"]
    return out


# Catalogue -------------------------------------------------------------------------------------
def test_every_talib_function_of_the_groups_is_listed():
    groups = talib.get_function_groups()
    expected = {f for g in GROUPS for f in groups[g]}
    listed = {d["name"]: d for d in CATALOGUE.values() if d["source"] == "talib"}
    by_func = {registry.catalogue()[n].talib_name: n for n in listed}
    assert expected <= set(by_func)
    for func in expected:
        name = by_func[func]
        assert name in (func.lower(), "ta_" + func.lower())
        d = listed[name]
        info = abstract.Function(func).info
        assert d["group"] == info["group"]
        assert d["inputs"] == flat_inputs(func)
        assert d["outputs"] == list(info["output_names"])
        talib_params = [p for p in d["params"] if p["name"] != "input"]
        assert [(p["name"], p["default"]) for p in talib_params] == list(info["parameters"].items())
        assert any(p["name"] == "input" for p in d["params"]) == ("price" in info["input_names"])


def test_extras_listed_and_shadowed_talib_names_prefixed():
    for name in EXTRAS:
        assert CATALOGUE[name]["source"] == "nautilus"
    for name in ("ta_vwap", "ta_supertrend", "ta_donchian"):
        assert CATALOGUE[name]["source"] == "talib"
    assert list(CATALOGUE) == sorted(CATALOGUE)
    assert CATALOGUE["macd"]["outputs"] == ["macd", "macdsignal", "macdhist"]
    assert CATALOGUE["mfi"]["inputs"] == ["high", "low", "close", "volume"]
    assert CATALOGUE["rsi"]["inputs"] == ["close"]


def test_param_metadata_from_talib():
    rsi = {p["name"]: p for p in CATALOGUE["rsi"]["params"]}
    assert rsi["timeperiod"] == {**rsi["timeperiod"], "type": "int", "default": 14, "min": 2, "max": 100000}
    assert CATALOGUE["rsi"]["aliases"] == {"period": "timeperiod"}
    assert rsi["input"]["choices"] == list(ind.PRICE_SOURCES)
    bb = {p["name"]: p for p in CATALOGUE["bbands"]["params"]}
    assert bb["nbdevup"]["type"] == "float" and bb["nbdevup"]["min"] == 0.0 and bb["nbdevup"]["max"] is None
    assert bb["matype"]["type"] == "enum"
    assert bb["matype"]["choices"][:3] == [{"value": 0, "label": "SMA"}, {"value": 1, "label": "EMA"},
                                           {"value": 2, "label": "WMA"}]
    t3 = {p["name"]: p for p in CATALOGUE["t3"]["params"]}
    assert (t3["vfactor"]["min"], t3["vfactor"]["max"]) == (0.0, 1.0)


# TA-Lib parity ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TALIB_NAMES)
def test_talib_indicator_equals_direct_call(name):
    func = talib_func(name)
    for params in ({}, variant_params(name)):
        s = ind.parse_spec({"name": name, **params})
        got = ind.compute(s, COLS)
        expected = direct_talib(func, s.params, COLS)
        assert list(got) == s.columns
        for col, want in zip(s.columns, expected, strict=True):
            assert got[col].dtype == np.float64
            np.testing.assert_array_equal(got[col], want, err_msg=f"{s.key} {col}")


def test_bars_and_mapping_agree_and_input_column():
    a = ind.compute("bbands(10, 1.5, 2.5, 1)", BARS)
    b = ind.compute("bbands(10, 1.5, 2.5, 1)", COLS)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    hl2 = (BARS.high + BARS.low) / 2
    np.testing.assert_array_equal(ind.compute("rsi(9, input=hl2)", BARS)["rsi_9_hl2"], talib.RSI(hl2, 9))
    np.testing.assert_array_equal(ind.compute("sma(5, input=volume)", BARS)["sma_5_volume"],
                                  talib.SMA(BARS.volume, 5))


def test_compute_many_dedupes_and_keeps_order(monkeypatch):
    calls = []
    real = talib.RSI

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(talib, "RSI", counting)
    out = ind.compute_many(["rsi(14)", {"name": "RSI", "period": 14}, "sma(5)", "rsi", "macd"], BARS)
    assert len(calls) == 1
    assert list(out) == ["rsi_14", "sma_5", "macd_12_26_9.macd", "macd_12_26_9.macdsignal",
                         "macd_12_26_9.macdhist"]


def test_bars_problems_are_invalid_input():
    with pytest.raises(InvalidInput) as e:
        ind.compute("rsi", {"high": BARS.high})
    assert e.value.field == "close"
    with pytest.raises(InvalidInput) as e:
        ind.compute("atr", {"high": BARS.high, "low": BARS.low[:-1], "close": BARS.close})
    assert e.value.field == "low"
    with pytest.raises(InvalidInput) as e:
        ind.compute("mavp", BARS)
    assert e.value.field == "periods"
    with pytest.raises(InvalidInput) as e:
        ind.compute("rsi", [1, 2, 3])
    assert e.value.field == "bars"


def test_short_and_empty_series():
    empty = Bars.empty("X", "1h")
    for name in CATALOGUE:
        if name == "mavp":
            continue
        s = ind.parse_spec(default_spec(name))
        out = ind.compute(s, empty)
        assert all(v.shape == (0,) for v in out.values())
        short = ind.compute(s, BARS.slice(0, 5))
        assert all(v.shape == (5,) and v.dtype == np.float64 for v in short.values())


# Spec parsing ----------------------------------------------------------------------------------
def test_spec_forms_agree_and_fill_defaults():
    forms = ["rsi(14)", "rsi", "RSI ( period = 14 )", "rsi(timeperiod=14)", {"name": "rsi", "period": 14},
             {"name": "rsi", "timeperiod": 14.0}, {"name": "rsi", "params": {"period": "14"}},
             {"name": "rsi", "input": "close"}]
    parsed = [ind.parse_spec(f) for f in forms]
    assert all(p == parsed[0] for p in parsed)
    assert parsed[0].params == {"timeperiod": 14, "input": "close"}
    assert parsed[0].key == "rsi_14"
    assert len({hash(p) for p in parsed}) == 1
    bb = ind.parse_spec("bbands(20,2,2)")
    assert bb.params == {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0, "input": "close"}
    assert bb.key == "bbands_20_2_2_0"
    assert bb.columns == [f"bbands_20_2_2_0.{o}" for o in ("upperband", "middleband", "lowerband")]
    assert ind.parse_spec("sma(period=50)").key == "sma_50"
    assert ind.parse_spec("bbands(20, matype=ema)").params["matype"] == 1
    assert ind.parse_spec("bbands(20, matype='T3')").params["matype"] == 8


@pytest.mark.parametrize(("raw", "key"), [
    ("macd", "macd_12_26_9"),
    ("bbands(20, 2.5, 2.5, 1)", "bbands_20_2p5_2p5_1"),
    ("sar", "sar_0p02_0p2"),
    ("rsi(14, input=hl2)", "rsi_14_hl2"),
    ("obv", "obv"),
    ("obv(input=ohlc4)", "obv_ohlc4"),
    ("ht_trendmode", "ht_trendmode"),
    ("vwap", "vwap"),
    ("vwap(session=none)", "vwap_none"),
    ("vwap(session=w)", "vwap_w"),
    ("anchored_vwap('2024-01-05T04:00:00Z')", f"anchored_vwap_{START + 4 * DAY_NS + 4 * HOUR}"),
    ("supertrend", "supertrend_10_3"),
    ("keltner(20, 1.5, atr_period=14)", "keltner_20_1p5_14"),
    ("donchian(55, exclude_current=true)", "donchian_55_exclude_current"),
    ("donchian(55, exclude_current=false)", "donchian_55"),
    ("ichimoku", "ichimoku_9_26_52_26"),
    ("ta_vwap", "ta_vwap"),
])
def test_keys(raw, key):
    s = ind.parse_spec(raw)
    assert s.key == key
    assert set(s.key) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


def test_every_spec_round_trips():
    for name in CATALOGUE:
        for raw in (default_spec(name), {"name": name, **variant_params(name)} if name != "anchored_vwap"
                    else {"name": name, "anchor": "2024-01-02"}):
            s = ind.parse_spec(raw)
            assert ind.parse_spec(s.to_string()) == s, s.to_string()
            assert ind.parse_spec(s.to_dict()) == s
            assert ind.parse_spec(ind.spec_dict(s)) == s
            assert ind.parse_spec(s) is s
            assert ind.output_columns(raw) == s.columns
            assert "." not in s.key
            assert len(s.columns) == len(CATALOGUE[name]["outputs"])


def test_anchor_forms():
    ns = START + DAY_NS
    for raw in (ns, str(ns), "2024-01-02", "2024-01-02T00:00:00Z", "2024-01-02T01:00:00+01:00",
                np.datetime64("2024-01-02T00:00:00", "ns"), pd.Timestamp("2024-01-02", tz="UTC")):
        assert ind.parse_spec({"name": "anchored_vwap", "anchor": raw}).params["anchor"] == ns


def test_spec_dict_shape():
    d = ind.spec_dict("macd")
    assert d == {"name": "macd", "params": {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9,
                                            "input": "close"},
                 "key": "macd_12_26_9", "columns": ind.output_columns("macd")}
    with pytest.raises(InvalidInput) as e:
        ind.parse_spec({**d, "key": "macd_1_2_3"})
    assert e.value.field == "key"


@pytest.mark.parametrize(("raw", "field", "text"), [
    ("xyz", "name", "unknown indicator 'xyz'"),
    ({"name": "rsii"}, "name", "did you mean 'rsi'"),
    ({"period": 14}, "name", "needs a name"),
    ({"name": 5}, "name", "needs a name"),
    ({"name": "rsi", "foo": 1}, "foo", "unknown parameter 'foo'"),
    ("rsi(peroid=5)", "peroid", "did you mean 'period'"),
    ({"name": "macd", "period": 5}, "period", "unknown parameter 'period'"),
    ("rsi(1)", "timeperiod", ">= 2"),
    ({"name": "rsi", "period": 1}, "period", ">= 2"),
    ({"name": "rsi", "period": 100001}, "period", "<= 100000"),
    ({"name": "rsi", "period": 14.5}, "period", "integer"),
    ({"name": "rsi", "period": True}, "period", "integer"),
    ({"name": "rsi", "period": "abc"}, "period", "integer"),
    ({"name": "rsi", "period": None}, "period", "integer"),
    ({"name": "bbands", "nbdevup": -1}, "nbdevup", ">= 0"),
    ({"name": "bbands", "nbdevdn": float("nan")}, "nbdevdn", "finite"),
    ({"name": "bbands", "matype": 14}, "matype", "one of"),
    ({"name": "bbands", "matype": "foo"}, "matype", "one of"),
    ({"name": "t3", "vfactor": 1.5}, "vfactor", "<= 1"),
    ({"name": "supertrend", "multiplier": -3}, "multiplier", ">= 0"),
    ({"name": "supertrend", "period": 0}, "period", ">= 1"),
    ({"name": "keltner", "multiplier": -1}, "multiplier", ">= 0"),
    ({"name": "donchian", "exclude_current": "maybe"}, "exclude_current", "true or false"),
    ({"name": "vwap", "session": "H"}, "session", "one of"),
    ({"name": "rsi", "input": "foo"}, "input", "one of"),
    ({"name": "anchored_vwap"}, "anchor", "needs parameter 'anchor'"),
    ({"name": "anchored_vwap", "anchor": "yesterday"}, "anchor", "ISO 8601"),
    ({"name": "ichimoku", "displacement": -1}, "displacement", ">= 0"),
    ({"name": "sma", "period": 5, "timeperiod": 6}, "timeperiod", "twice"),
    ({"name": "mavp", "minperiod": 40}, "minperiod", "TA-Lib rejects"),
    ({"name": "mavp", "minperiod": 20, "maxperiod": 10}, "maxperiod", "TA-Lib rejects"),
    ({"name": "rsi", "params": [14]}, "params", "params"),
    ("rsi(14", "spec", "cannot parse"),
    ("rsi(14,,2)", "spec", "empty argument"),
    ("rsi(period=14, 2)", "spec", "positional"),
    ("rsi(1,2,3)", "spec", "at most"),
    ("rsi(input='hl2)", "spec", "quote"),
    (42, "spec", "indicator spec"),
])
def test_invalid_specs(raw, field, text):
    with pytest.raises(InvalidInput) as e:
        ind.parse_spec(raw)
    assert e.value.field == field
    assert text in e.value.message
    assert e.value.status == 422


def test_validation_without_c_metadata(monkeypatch):
    """If the C range metadata can't be read, TA-Lib's own check still names the parameter."""
    monkeypatch.setattr(registry, "_c_param_info", lambda *a: None)
    registry.catalogue.cache_clear()
    try:
        with pytest.raises(InvalidInput) as e:
            ind.parse_spec("rsi(1)")
        assert e.value.field == "timeperiod"
        assert ind.parse_spec("bbands(20, matype=ema)").params["matype"] == 1
        assert ind.parse_spec("rsi(14)").key == "rsi_14"
    finally:
        monkeypatch.undo()
        registry.catalogue.cache_clear()
    assert spec.indicator("rsi").param("timeperiod").min == 2


# Extras against oracles ------------------------------------------------------------------------
def frame() -> pd.DataFrame:
    return pd.DataFrame({c: getattr(BARS, c) for c in ("open", "high", "low", "close", "volume")},
                        index=pd.to_datetime(BARS.ts, unit="ns", utc=True))


def test_vwap_hand_worked():
    ts = np.array([0, HOUR, DAY_NS, DAY_NS + HOUR], dtype=np.int64)
    h = np.array([12.0, 14.0, 20.0, 22.0])
    l = np.array([9.0, 11.0, 17.0, 19.0])
    c = np.array([9.0, 11.0, 20.0, 22.0])  # typical prices 10, 12, 19, 21
    v = np.array([1.0, 3.0, 0.0, 2.0])
    bars = {"ts": ts, "high": h, "low": l, "close": c, "volume": v}
    np.testing.assert_allclose(ind.compute("vwap", bars)["vwap"], [10.0, 11.5, np.nan, 21.0])
    np.testing.assert_allclose(ind.compute("vwap(session=none)", bars)["vwap_none"],
                               [10.0, 11.5, 11.5, (10 + 36 + 42) / 6])
    np.testing.assert_allclose(ind.compute({"name": "anchored_vwap", "anchor": HOUR}, bars)[f"anchored_vwap_{HOUR}"],
                               [np.nan, 12.0, 12.0, (36 + 42) / 5])


@pytest.mark.parametrize(("session", "freq"), [("D", "D"), ("W", "W-SUN"), ("M", "M")])
def test_vwap_sessions_match_pandas(session, freq):
    bars = gbm_bars("V", "4h", START, 600, seed=11)
    df = bars.to_pandas()
    tp = (df.high + df.low + df.close) / 3
    periods = df.index.tz_localize(None).to_period(freq)
    want = (tp * df.volume).groupby(periods).cumsum() / df.volume.groupby(periods).cumsum()
    got = ind.compute({"name": "vwap", "session": session}, bars)
    col = "vwap" if session == "D" else f"vwap_{session.lower()}"
    np.testing.assert_allclose(got[col], want.to_numpy(), rtol=1e-12)
    assert periods.nunique() > 1


def test_vwap_cumulative_matches_talib_and_anchor():
    df = frame()
    tp = (df.high + df.low + df.close) / 3
    cum = ((tp * df.volume).cumsum() / df.volume.cumsum()).to_numpy()
    np.testing.assert_allclose(ind.compute("vwap(session=none)", BARS)["vwap_none"], cum, rtol=1e-12)
    np.testing.assert_allclose(ind.compute("ta_vwap", BARS)["ta_vwap"], cum, rtol=1e-12)
    anchored = ind.compute({"name": "anchored_vwap", "anchor": ANCHOR}, BARS)[f"anchored_vwap_{ANCHOR}"]
    after = df.index >= pd.Timestamp(ANCHOR, unit="ns", tz="UTC")
    want = np.full(N, np.nan)
    want[after] = ((tp * df.volume)[after].cumsum() / df.volume[after].cumsum()).to_numpy()
    np.testing.assert_allclose(anchored, want, rtol=1e-12)
    assert np.isnan(anchored[:100]).all() and not np.isnan(anchored[100:]).any()
    late = ind.compute({"name": "anchored_vwap", "anchor": int(BARS.ts[-1]) + 1}, BARS)
    assert np.isnan(next(iter(late.values()))).all()


def test_donchian_hand_worked_and_pandas():
    bars = {"high": np.array([1.0, 3.0, 2.0, 5.0, 4.0]), "low": np.array([0.0, 1.0, 1.0, 2.0, 3.0])}
    got = ind.compute("donchian(3)", bars)
    nan = np.nan
    np.testing.assert_array_equal(got["donchian_3.upper"], [nan, nan, 3, 5, 5])
    np.testing.assert_array_equal(got["donchian_3.lower"], [nan, nan, 0, 1, 1])
    np.testing.assert_array_equal(got["donchian_3.middle"], [nan, nan, 1.5, 3, 3])
    prev = ind.compute("donchian(3, exclude_current=true)", bars)
    np.testing.assert_array_equal(prev["donchian_3_exclude_current.upper"], [nan, nan, nan, 3, 5])
    np.testing.assert_array_equal(prev["donchian_3_exclude_current.lower"], [nan, nan, nan, 0, 1])

    df = frame()
    for period in (1, 2, 20, 55):
        upper = df.high.rolling(period).max()
        lower = df.low.rolling(period).min()
        got = ind.compute({"name": "donchian", "period": period}, BARS)
        k = f"donchian_{period}"
        np.testing.assert_array_equal(got[f"{k}.upper"], upper.to_numpy())
        np.testing.assert_array_equal(got[f"{k}.lower"], lower.to_numpy())
        np.testing.assert_array_equal(got[f"{k}.middle"], ((upper + lower) / 2).to_numpy())
        prev = ind.compute({"name": "donchian", "period": period, "exclude_current": True}, BARS)
        np.testing.assert_array_equal(prev[f"{k}_exclude_current.upper"], upper.shift(1).to_numpy())
        np.testing.assert_array_equal(prev[f"{k}_exclude_current.lower"], lower.shift(1).to_numpy())
        if period >= 2:
            ta = talib.DONCHIAN(BARS.high, BARS.low, timeperiod=period)
            np.testing.assert_array_equal(got[f"{k}.upper"], ta[0])
    # a monotonically falling series is the rolling max's worst case: still exact
    falling = np.linspace(100, 1, 1000)
    got = ind.compute("donchian(50)", {"high": falling, "low": falling})["donchian_50.upper"]
    np.testing.assert_array_equal(got, pd.Series(falling).rolling(50).max().to_numpy())


def test_keltner_matches_talib_ema_atr():
    got = ind.compute("keltner(20, 1.5, 14)", BARS)
    mid = talib.EMA(BARS.close, 20)
    atr = talib.ATR(BARS.high, BARS.low, BARS.close, 14)
    k = "keltner_20_1p5_14"
    np.testing.assert_allclose(got[f"{k}.middle"], mid, rtol=1e-14)
    np.testing.assert_allclose(got[f"{k}.upper"], mid + 1.5 * atr, rtol=1e-14)
    np.testing.assert_allclose(got[f"{k}.lower"], mid - 1.5 * atr, rtol=1e-14)
    assert np.isnan(got[f"{k}.upper"][:19]).all() and not np.isnan(got[f"{k}.upper"][19:]).any()


def supertrend_loop(h, l, c, period, mult):
    """Reference written out plainly: Wilder ATR bands, ratchet, flips; starts in an uptrend."""
    atr = talib.ATR(h, l, c, period)
    line, direction = [np.nan] * len(c), [np.nan] * len(c)
    final_up = final_dn = None
    trend = 1
    for i in range(len(c)):
        if np.isnan(atr[i]):
            continue
        up = (h[i] + l[i]) / 2 + mult * atr[i]
        dn = (h[i] + l[i]) / 2 - mult * atr[i]
        if final_up is None:
            final_up, final_dn = up, dn
        else:
            final_up = up if (up < final_up or c[i - 1] > final_up) else final_up
            final_dn = dn if (dn > final_dn or c[i - 1] < final_dn) else final_dn
            if trend == 1 and c[i] < final_dn:
                trend = -1
            elif trend == -1 and c[i] > final_up:
                trend = 1
        line[i] = final_dn if trend == 1 else final_up
        direction[i] = trend
    return np.array(line), np.array(direction, dtype=float)


@pytest.mark.parametrize(("period", "mult"), [(10, 3.0), (7, 1.0), (3, 0.5), (14, 2.0)])
def test_supertrend_matches_loop_and_talib(period, mult):
    got = ind.compute({"name": "supertrend", "period": period, "multiplier": mult}, BARS)
    key = ind.parse_spec({"name": "supertrend", "period": period, "multiplier": mult}).key
    line, direction = supertrend_loop(BARS.high, BARS.low, BARS.close, period, mult)
    np.testing.assert_allclose(got[f"{key}.supertrend"], line, rtol=1e-14)
    np.testing.assert_array_equal(got[f"{key}.direction"], direction)
    assert set(np.unique(direction[period:])) <= {-1.0, 1.0}
    assert (direction[period:] == -1).any() and (direction[period:] == 1).any()
    ta_line, ta_trend = talib.SUPERTREND(BARS.high, BARS.low, BARS.close, timeperiod=period, multiplier=mult)
    np.testing.assert_allclose(got[f"{key}.supertrend"], ta_line, rtol=1e-12)
    np.testing.assert_array_equal(got[f"{key}.direction"][period:], ta_trend[period:])
    up, down = direction == 1, direction == -1  # the line is a stop: below the close in an uptrend
    assert (line[up] <= BARS.close[up]).all() and (line[down] >= BARS.close[down]).all()


def test_ichimoku_hand_worked():
    h = np.array([10.0, 12.0, 11.0, 15.0, 13.0])
    l = np.array([8.0, 9.0, 7.0, 12.0, 11.0])
    c = np.array([9.0, 11.0, 10.0, 14.0, 12.0])
    got = ind.compute("ichimoku(2, 3, 4, 2)", {"high": h, "low": l, "close": c})
    k = "ichimoku_2_3_4_2"
    nan = np.nan
    np.testing.assert_array_equal(got[f"{k}.tenkan"], [nan, 10, 9.5, 11, 13])
    np.testing.assert_array_equal(got[f"{k}.kijun"], [nan, nan, 9.5, 11, 11])
    np.testing.assert_array_equal(got[f"{k}.senkou_a"], [nan, nan, 9.5, 11, 12])
    np.testing.assert_array_equal(got[f"{k}.senkou_b"], [nan, nan, nan, 11, 11])
    np.testing.assert_array_equal(got[f"{k}.chikou"], [nan, nan, 9, 11, 10])


def test_ichimoku_matches_pandas():
    df = frame()

    def mid(p):
        return ((df.high.rolling(p).max() + df.low.rolling(p).min()) / 2).to_numpy()

    got = ind.compute("ichimoku", BARS)
    k = "ichimoku_9_26_52_26"
    np.testing.assert_array_equal(got[f"{k}.tenkan"], mid(9))
    np.testing.assert_array_equal(got[f"{k}.kijun"], mid(26))
    np.testing.assert_array_equal(got[f"{k}.senkou_a"], (mid(9) + mid(26)) / 2)
    np.testing.assert_array_equal(got[f"{k}.senkou_b"], mid(52))
    np.testing.assert_array_equal(got[f"{k}.chikou"], df.close.shift(26).to_numpy())
    zero = ind.compute("ichimoku(displacement=0)", BARS)["ichimoku_9_26_52_0.chikou"]
    np.testing.assert_array_equal(zero, BARS.close)


# Warm-up ---------------------------------------------------------------------------------------
def test_lookback_is_the_leading_nan_count():
    for name in CATALOGUE:
        if name in ("acos", "asin", "anchored_vwap"):  # NaN from the domain / before the anchor
            continue
        for raw in (name, {"name": name, **variant_params(name)}):
            s = ind.parse_spec(raw)
            out = ind.compute(s, COLS)
            lead = max(int(np.argmax(~np.isnan(v))) if (~np.isnan(v)).any() else N for v in out.values())
            assert ind.lookback(s) == lead, s.key
    assert ind.lookback("rsi(14)") == 14
    assert ind.lookback("ichimoku") == 51
    assert ind.lookback("donchian(20, exclude_current=true)") == 20


# No look-ahead ---------------------------------------------------------------------------------
LOOKAHEAD_SPECS = [default_spec(n) for n in CATALOGUE] + [
    "donchian(5, exclude_current=true)", "vwap(session=none)", "vwap(session=W)", "vwap(session=M)",
    "ichimoku(3, 5, 8, 4)", "rsi(5, input=ohlc4)", "supertrend(3, 1)", "keltner(5, 1, 3)",
    {"name": "anchored_vwap", "anchor": int(BARS.ts[250])},
]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=st.integers(0, N - 2), seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["new", "scale", "spike"]),
       gap=st.integers(0, 500))
def test_no_lookahead(t, seed, mode, gap):
    rng = np.random.default_rng(seed)
    changed = {k: v.copy() for k, v in COLS.items()}
    m = N - t - 1
    if mode == "new":
        other = gbm_bars("O", "1h", START, m, seed=seed % 1000, s0=float(rng.uniform(50, 150)))
        for c in ("open", "high", "low", "close", "volume"):
            changed[c][t + 1:] = getattr(other, c)
    elif mode == "scale":
        for c in ("open", "high", "low", "close", "volume"):
            changed[c][t + 1:] *= rng.uniform(0.5, 2.0)
    else:
        changed["high"][t + 1:] *= 3.0
        changed["low"][t + 1:] *= 0.3
        changed["volume"][t + 1:] = 0.0
    changed["ts"][t + 1:] += gap * HOUR
    changed["periods"][t + 1:] = rng.integers(2, 30, m)
    before = ind.compute_many(LOOKAHEAD_SPECS, COLS)
    after = ind.compute_many(LOOKAHEAD_SPECS, changed)
    assert len(before) > 190
    for col, values in before.items():
        np.testing.assert_array_equal(values[: t + 1], after[col][: t + 1], err_msg=col)
