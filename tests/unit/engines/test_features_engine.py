"""The Features engine called directly: saved sets (validated, atomic), compute from the catalog,
cache hits, invalidation when the catalog changes, and incremental == full on appended bars."""

from __future__ import annotations

import numpy as np
import pytest

from nautilus.core.errors import Conflict, InvalidInput, NotFound
from nautilus.engines.features.engine import FeaturesEngine
from nautilus.engines.features.messages import ComputeRequest, FeatureSetName, SaveFeatureSetRequest
from nautilus.features import builtin_feature_sets, compute, load_feature_set
from nautilus.marketdata.synthetic import gbm_bars

START = 1_262_304_000_000_000_000  # 2010-01-01


@pytest.fixture
def engine(settings):
    eng = FeaturesEngine(settings)
    eng.start()
    yield eng
    eng.close()


def test_compute_equals_pure_api_and_caches(engine) -> None:
    bars = {s: gbm_bars(s, "1d", START, 900, seed=k) for k, s in enumerate(["AAA", "BBB"])}
    for b in bars.values():
        engine.catalog.write(b)
    req = ComputeRequest(name="standard", symbols=["bbb", "AAA"])
    reply = engine.compute(req)
    assert reply.symbols == ["AAA", "BBB"] and reply.counts == [900, 900]
    assert reply.cache == {"AAA": "miss", "BBB": "miss"}
    fs = builtin_feature_sets()["standard"]
    for i, symbol in enumerate(reply.symbols):
        rows = slice(900 * i, 900 * (i + 1))
        ref = compute(fs, bars[symbol])
        np.testing.assert_array_equal(reply.X[rows], ref.X)
        np.testing.assert_array_equal(reply.y[rows], ref.y)
        np.testing.assert_array_equal(reply.ts[rows], bars[symbol].ts)
    again = engine.compute(req)
    assert again.cache == {"AAA": "hit", "BBB": "hit"}
    np.testing.assert_array_equal(again.X, reply.X)


def test_appended_bars_computed_incrementally_equal_full(engine) -> None:
    full = gbm_bars("AAA", "1d", START, 1200, seed=4)
    engine.catalog.write(full.slice(0, 1000))
    fs = builtin_feature_sets()["regime"]  # horizon 20: the last targets must be filled in
    req = ComputeRequest(name="regime", symbols=["AAA"])
    first = engine.compute(req)
    assert np.isnan(first.y[-20:]).all()
    engine.catalog.write(full.slice(1000, 1200))  # new bars only
    grown = engine.compute(req)
    assert grown.cache == {"AAA": "incremental"}
    ref = compute(fs, full)
    np.testing.assert_array_equal(grown.X, ref.X)
    np.testing.assert_array_equal(grown.y, ref.y)
    assert np.isfinite(grown.y[980:1180]).all()


def test_changed_history_invalidates_the_cache(engine) -> None:
    bars = gbm_bars("AAA", "1d", START, 800, seed=5)
    engine.catalog.write(bars)
    req = ComputeRequest(name="standard", symbols=["AAA"])
    before = engine.compute(req)
    edited = bars.slice(100, 101).copy()
    edited.close[:] *= 1.5  # rewrite one old bar (an earlier year file)
    engine.catalog.write(edited)
    after = engine.compute(req)
    assert after.cache == {"AAA": "miss"}
    changed = bars.copy()
    changed.close[100] *= 1.5
    np.testing.assert_array_equal(after.X, compute(builtin_feature_sets()["standard"], changed).X)
    assert not np.array_equal(after.X, before.X, equal_nan=True)
    # an edit in the last year together with appended bars is not an append either
    tail = gbm_bars("AAA", "1d", int(bars.ts[-1]) - 86_400_000_000_000, 5, seed=9)
    engine.catalog.write(tail)
    assert engine.compute(req).cache == {"AAA": "miss"}


def test_saved_sets_round_trip_and_errors(engine, settings) -> None:
    definition = {"features": [{"kind": "return", "window": 3}, {"kind": "calendar", "field": "month"}],
                  "targets": [{"kind": "direction"}]}
    info = engine.save_feature_set(SaveFeatureSetRequest(name="mine", definition=definition))
    assert info.feature_names == ["ret_3", "month"] and not info.builtin
    assert (settings.data_dir / "features" / "mine.yaml").is_file()
    got = engine.get_feature_set(FeatureSetName(name="mine"))
    assert load_feature_set(got.definition).digest() == info.digest
    names = {item["name"]: item for item in engine.list_feature_sets().items}
    assert names["mine"]["builtin"] is False and names["standard"]["builtin"] is True
    bad = {"features": [{"kind": "return"}, {"kind": "rolling", "stat": "mean", "window": "x"}]}
    with pytest.raises(InvalidInput) as err:
        engine.save_feature_set(SaveFeatureSetRequest(name="mine", definition=bad))
    assert err.value.field == "features[1].window"
    assert engine.get_feature_set(FeatureSetName(name="mine")).digest == info.digest  # untouched
    assert sorted(p.name for p in (settings.data_dir / "features").iterdir()) == ["mine.yaml"]
    with pytest.raises(Conflict):
        engine.save_feature_set(SaveFeatureSetRequest(name="standard", definition=definition))
    with pytest.raises(InvalidInput) as err:
        engine.save_feature_set(SaveFeatureSetRequest(name="other", definition={"name": "x", **definition}))
    assert err.value.field == "name"
    engine.delete_feature_set(FeatureSetName(name="mine"))
    with pytest.raises(NotFound):
        engine.get_feature_set(FeatureSetName(name="mine"))
    with pytest.raises(Conflict):
        engine.delete_feature_set(FeatureSetName(name="standard"))


def test_compute_request_errors(engine) -> None:
    engine.catalog.write(gbm_bars("AAA", "1d", START, 100, seed=1))
    cases = [
        (ComputeRequest(symbols=["AAA"]), "name"),
        (ComputeRequest(name="nope", symbols=["AAA"]), "name"),
        (ComputeRequest(name="standard", symbols=[]), "symbols"),
        (ComputeRequest(name="standard", symbols=["ZZZ"]), "symbol"),
        (ComputeRequest(definition={"features": [{"kind": "rolling", "stat": "mean"}]}, symbols=["AAA"]),
         "definition.features[0].window"),
        (ComputeRequest(definition={"features": [{"kind": "cross_asset", "symbol": "QQQ", "what": "beta"}]},
                        symbols=["AAA"]), "symbol"),
    ]
    cases.append((ComputeRequest(definition="features: [{kind: return, window: [}", symbols=["AAA"]), "definition"))
    for req, field in cases:
        with pytest.raises((InvalidInput, NotFound)) as err:
            engine.compute(req)
        assert err.value.field == field, (req, err.value)
    text = "features:\n  - kind: return\n    window: 3\ntargets:\n  - kind: forward_return\n    h: 2\n"
    reply = engine.compute(ComputeRequest(definition=text, symbols=["AAA"]))
    close = engine.catalog.read("AAA", "1d").close
    np.testing.assert_array_equal(reply.X[3:, 0], close[3:] / close[:-3] - 1)
    np.testing.assert_array_equal(reply.y[:-2, 0], close[2:] / close[:-2] - 1)


def test_cache_is_a_byte_bounded_lru() -> None:
    from nautilus.engines.features.cache import Entry, FeatureCache

    def entry(n: int) -> Entry:
        bars = gbm_bars("AAA", "1d", START, n, seed=1)
        return Entry(versions={}, bars=bars, X=np.zeros((n, 2)), y=np.zeros((n, 1)))

    one = entry(100).nbytes  # 100 rows: 6 bar columns + 3 matrix columns of 8 bytes
    assert one == 100 * 8 * 9
    cache = FeatureCache(max_bytes=3 * one)
    for k in range(3):
        cache.put(("d", f"S{k}", "1d", None, None, None), entry(100))
    assert cache.get(("d", "S0", "1d", None, None, None)) is not None  # S0 is now the most recent
    cache.put(("d", "S3", "1d", None, None, None), entry(100))
    assert len(cache) == 3 and cache.size == 3 * one
    assert cache.get(("d", "S1", "1d", None, None, None)) is None  # least recently used went first
    assert cache.get(("d", "S0", "1d", None, None, None)) is not None
    cache.put(("d", "BIG", "1d", None, None, None), entry(400))  # larger than the whole cache: not kept
    assert cache.get(("d", "BIG", "1d", None, None, None)) is None and len(cache) == 3
