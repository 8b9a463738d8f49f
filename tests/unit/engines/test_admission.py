"""Admission control and code loading, engines called directly.

Each capped method: a request just over its cap is a 422 naming the field and the cap, refused before
any bars are read or anything is simulated (the reads and kernels are replaced by tripwires); one at
the cap works. User strategies load only from the admin's strategies directory or packages: any
other module named by a request is refused without being imported. Dask schedulers come from settings.
"""

from __future__ import annotations

import sys
import tracemalloc

import msgspec
import numpy as np
import pytest
from tests.support.paths import SUPPORT

from nautilus.core.admission import admit
from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.storage.bars import bars_extent, read_bars

START = 1_262_304_000_000_000_000  # 2010-01-01
SECOND = 10**9


def tripwire(*args, **kwargs):
    raise AssertionError("work was done for a request over the cap")


def refused(fn, *args, field: str, cap: str, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        fn(*args, **kwargs)
    exc = info.value
    assert exc.field == field and exc.status == 422, (exc.field, exc.message)
    assert cap in exc.message and f"NAUTILUS_{cap.upper()}" in exc.message, exc.message
    return exc


def test_admit_names_the_field_the_cost_and_the_cap() -> None:
    admit(2_000_000_000, 2_000_000_000, "paths", "max_mc_cells")  # at the cap: admitted
    with pytest.raises(InvalidInput) as info:
        admit(40_000_000_000, 2_000_000_000, "paths", "max_mc_cells", "paths x assets x horizon")
    assert info.value.field == "paths"
    assert info.value.message.startswith("paths x assets x horizon = 4.0e10 exceeds max_mc_cells 2.0e9 "
                                         "(NAUTILUS_MAX_MC_CELLS)")
    with pytest.raises(InvalidInput, match="n = 1,001 exceeds max_bars_per_request 1,000"):
        admit(1001, 1000, "n", "max_bars_per_request")


# Risk --------------------------------------------------------------------------------------------
@pytest.fixture
def risk(settings):
    from nautilus.engines.risk.engine import RiskEngine

    eng = RiskEngine(settings)
    eng.start()
    for k, symbol in enumerate(("AAA", "BBB", "CCC")):
        eng.catalog.write(gbm_bars(symbol, "1d", START, 300, seed=k))
    yield eng
    eng.close()


def _var(**kw):
    from nautilus.engines.risk.messages import VarRequest

    return VarRequest(**{"portfolio": {"AAA": 1e6, "BBB": -5e5, "CCC": 2e5}, "lookback": 250, **kw})


def test_monte_carlo_of_200m_paths_is_refused_before_any_allocation(risk, monkeypatch) -> None:
    """The request that grew the Risk engine to 15 GB: refused with nothing read, simulated or allocated."""
    import nautilus.engines.risk.engine as risk_engine
    from nautilus.risk import montecarlo

    monkeypatch.setattr(risk_engine, "read_bars", tripwire)
    monkeypatch.setattr(montecarlo, "simulate", tripwire)
    tracemalloc.start()
    try:
        exc = refused(risk.var, _var(method="mc", options={"paths": 200_000_000}), field="options.paths",
                      cap="max_mc_paths")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "2.0e8" in exc.message and peak < 16 * 2**20  # one float64 per path alone would be 1.6 GB


def test_monte_carlo_cells_and_paths_caps(risk, monkeypatch) -> None:
    risk.settings.max_mc_paths = 4_000
    risk.settings.max_mc_cells = 4_000 * 3 * 2  # paths x assets x horizon
    ok = risk.var(_var(method="mc", horizon=2, options={"paths": 4_000, "seed": 1}))
    assert ok.var > 0 and ok.details["paths"] == 4_000
    import nautilus.engines.risk.engine as risk_engine

    monkeypatch.setattr(risk_engine, "read_bars", tripwire)
    refused(risk.var, _var(method="mc", horizon=2, options={"paths": 4_001}), field="options.paths",
            cap="max_mc_paths")
    exc = refused(risk.var, _var(method="mc", horizon=3, options={"paths": 4_000}), field="options.paths",
                  cap="max_mc_cells")
    assert "paths x assets x horizon = 36,000" in exc.message
    with pytest.raises(InvalidInput) as info:  # not a number: a 422 too, before anything
        risk.var(_var(method="mc", options={"paths": "1e12"}))
    assert info.value.field == "options.paths"


def test_monte_carlo_scheduler_comes_from_settings_never_the_request(risk, monkeypatch) -> None:
    from nautilus.risk import montecarlo

    with pytest.raises(InvalidInput) as info:
        risk.var(_var(method="mc", options={"paths": 1000, "backend": "dask", "scheduler": "tcp://evil:8786"}))
    assert info.value.field == "options.scheduler"
    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise InvalidInput("stop here", field="x")

    monkeypatch.setattr(montecarlo, "simulate", fake)
    risk.settings.dask_scheduler = "tcp://10.0.0.5:8786"
    with pytest.raises(InvalidInput, match="stop here"):
        risk.var(_var(method="mc", options={"paths": 1000, "backend": "dask"}))
    assert seen["scheduler"] == "tcp://10.0.0.5:8786"
    seen.clear()
    with pytest.raises(InvalidInput, match="stop here"):
        risk.var(_var(method="mc", options={"paths": 1000, "chunk": 10**9}))
    assert "scheduler" not in seen and seen["chunk"] <= 32_000_000  # memory per chunk is bounded too


def test_var_backtest_windows_and_history_are_capped(risk, monkeypatch) -> None:
    from nautilus.engines.risk.messages import VarBacktestRequest

    risk.settings.max_matrix_cells = 50 * 200
    body = {"portfolio": {"AAA": 1e6}, "lookback": 250, "window": 50}
    assert risk.backtest(VarBacktestRequest(**body)).observations == 200
    import nautilus.engines.risk.engine as risk_engine

    monkeypatch.setattr(risk_engine, "read_bars", tripwire)
    refused(risk.backtest, VarBacktestRequest(**{**body, "window": 51}), field="window", cap="max_matrix_cells")
    risk.settings.max_matrix_cells = 3 * 10_000 - 1  # lookback x assets of the return history
    refused(risk.var, _var(lookback=10_000), field="lookback", cap="max_matrix_cells")


# The bar read path -------------------------------------------------------------------------------
@pytest.fixture
def catalog(settings):
    from nautilus.storage.catalog import BarCatalog

    cat = BarCatalog(settings.catalog_dir)
    cat.write(gbm_bars("SEC", "1s", START, 3_000, seed=2))
    return cat


def test_one_second_bars_over_the_whole_history_are_refused_before_decoding(catalog, monkeypatch) -> None:
    assert len(read_bars(catalog, "SEC", "1s", max_bars=3_000)) == 3_000  # at the cap
    real_read = catalog.read
    monkeypatch.setattr(catalog, "read", tripwire)
    refused(read_bars, catalog, "SEC", "1s", max_bars=2_999, field="start", cap="max_bars_per_request")
    refused(read_bars, catalog, "SEC", "1m", max_bars=2_999, field="start", cap="max_bars_per_request")
    monkeypatch.setattr(catalog, "read", real_read)
    # a narrow range costs no footer read; the last `limit` bars come from a window under the cap
    assert len(read_bars(catalog, "SEC", "1s", START, START + 1000 * SECOND, max_bars=1000)) == 1000
    last = read_bars(catalog, "SEC", "1s", limit=10, max_bars=100)
    np.testing.assert_array_equal(last.ts, START + np.arange(2990, 3000) * SECOND)
    minutes = read_bars(catalog, "SEC", "1m", limit=3, max_bars=500)
    np.testing.assert_array_equal(minutes.close, read_bars(catalog, "SEC", "1m").close[-3:])
    assert bars_extent(catalog, "SEC", "1s")[0] == 3_000
    assert bars_extent(catalog, "SEC", "1s", footers=False)[0] > 10**10  # every int64 second: unbounded


def test_marketdata_generate_and_resample_are_capped(settings, monkeypatch) -> None:
    from nautilus.engines.marketdata.engine import MarketDataEngine
    from nautilus.engines.marketdata.messages import BarsRequest, GenerateRequest, ResampleRequest

    settings.max_bars_per_request = 2_000
    eng = MarketDataEngine(settings)
    eng.start()
    try:
        assert eng.generate(GenerateRequest(symbol="GEN", timeframe="1m", n=2_000)).rows_written == 2_000
        assert eng.resample(ResampleRequest(symbol="GEN", source_timeframe="1m", timeframe="5m")).rows_written == 400
        assert len(eng.bars(BarsRequest(symbol="GEN", timeframe="1m"))) == 2_000
        settings.max_bars_per_request = 1_999
        monkeypatch.setattr(eng.catalog, "read", tripwire)
        import nautilus.marketdata.synthetic as synthetic

        monkeypatch.setattr(synthetic, "gbm_bars", tripwire)
        refused(eng.generate, GenerateRequest(symbol="GEN", n=2_000), field="n", cap="max_bars_per_request")
        refused(eng.generate, GenerateRequest(symbol="GEN", n=10**15), field="n", cap="max_bars_per_request")
        refused(eng.resample, ResampleRequest(symbol="GEN", source_timeframe="1m", timeframe="1h"),
                field="source_timeframe", cap="max_bars_per_request")
        refused(eng.bars, BarsRequest(symbol="GEN", timeframe="1m"), field="start", cap="max_bars_per_request")
    finally:
        eng.close()


# Strategy ----------------------------------------------------------------------------------------
@pytest.fixture
def strategy(settings):
    from nautilus.engines.strategy.engine import StrategyEngine

    eng = StrategyEngine(settings)
    eng.start()
    eng.catalog.write(gbm_bars("DAY", "1d", START, 400, seed=3))
    eng.catalog.write(gbm_bars("SEC", "1s", START, 3_000, seed=2))
    yield eng
    eng.close()


def test_sweep_size_and_sweep_cells_are_capped(strategy, monkeypatch) -> None:
    from nautilus.engines.strategy.messages import SweepRequest
    from nautilus.strategy import sweep

    strategy.settings.max_sweep_size = 6
    strategy.settings.max_matrix_cells = 6 * 400
    grid = {"fast": [5, 10, 20], "slow": [50, 100]}
    ok = strategy.sweep(SweepRequest(symbol="DAY", strategy="sma_cross", grid=grid))
    assert ok.evaluated == 6 and ok.backend == "local"
    import nautilus.engines.strategy.engine as strategy_engine

    monkeypatch.setattr(strategy_engine, "read_bars", tripwire)
    monkeypatch.setattr(sweep, "run_sweep", tripwire)
    big = {"fast": list(range(1, 1001)), "slow": list(range(2, 1002)), "x": list(range(10**6))}  # 1e12 sets
    refused(strategy.sweep, SweepRequest(symbol="DAY", strategy="sma_cross", grid=big), field="grid",
            cap="max_sweep_size")
    refused(strategy.sweep, SweepRequest(symbol="DAY", strategy="sma_cross", space={"fast": [2, 9]}, samples=7),
            field="samples", cap="max_sweep_size")
    monkeypatch.undo()
    monkeypatch.setattr(sweep, "run_sweep", tripwire)
    strategy.settings.max_matrix_cells = 6 * 400 - 1
    refused(strategy.sweep, SweepRequest(symbol="DAY", strategy="sma_cross", grid=grid), field="grid",
            cap="max_matrix_cells")


def test_sweep_requests_cannot_name_a_scheduler(strategy, monkeypatch) -> None:
    from nautilus.engines.strategy.messages import SweepRequest
    from nautilus.gateway.routers import convert_body
    from nautilus.strategy import sweep

    body = {"symbol": "DAY", "strategy": "sma_cross", "grid": {"fast": [5]}, "scheduler": "tcp://evil:8786"}
    with pytest.raises(InvalidInput, match="scheduler"):
        convert_body(body, SweepRequest)
    assert "scheduler" not in SweepRequest.__struct_fields__
    seen = {}
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **kw: seen.update(kw) or tripwire())
    strategy.settings.dask_scheduler = "tcp://10.0.0.5:8786"
    with pytest.raises(AssertionError):
        strategy.sweep(msgspec.convert({k: v for k, v in body.items() if k != "scheduler"}, SweepRequest))
    assert seen["scheduler"] == "tcp://10.0.0.5:8786"


def test_strategy_reads_are_capped(strategy) -> None:
    from nautilus.engines.strategy.messages import BacktestRequest, IndicatorsRequest, PatternsRequest

    strategy.settings.max_bars_per_request = 2_999
    refused(strategy.indicators, IndicatorsRequest(symbol="SEC", timeframe="1s", indicators=["rsi(14)"]),
            field="start", cap="max_bars_per_request")
    refused(strategy.patterns, PatternsRequest(symbol="SEC", timeframe="1m"), field="start",
            cap="max_bars_per_request")
    refused(strategy.backtest, BacktestRequest(symbol="SEC", timeframe="1s", strategy="sma_cross", save=False),
            field="start", cap="max_bars_per_request")
    reply = strategy.indicators(IndicatorsRequest(symbol="SEC", timeframe="1s", indicators=["rsi(14)"], limit=500))
    assert len(reply.ts) == 500


# Features, factors, ML ---------------------------------------------------------------------------
def test_feature_matrix_is_capped_before_reading(settings, monkeypatch) -> None:
    from nautilus.engines.features.engine import FeaturesEngine
    from nautilus.engines.features.messages import ComputeRequest

    eng = FeaturesEngine(settings)
    eng.start()
    try:
        for k, s in enumerate(("AAA", "BBB")):
            eng.catalog.write(gbm_bars(s, "1d", START, 500, seed=k))
        req = ComputeRequest(name="standard", symbols=["AAA", "BBB"])
        reply = eng.compute(req)
        cells = reply.X.size + reply.y.size
        settings.max_matrix_cells = cells
        eng.cache = type(eng.cache)(0)
        assert eng.compute(req).X.shape == reply.X.shape
        settings.max_matrix_cells = cells - 1
        import nautilus.engines.features.engine as features_engine

        monkeypatch.setattr(features_engine, "read_bars", tripwire)
        refused(eng.compute, req, field="symbols", cap="max_matrix_cells")
    finally:
        eng.close()


def test_factor_panel_is_capped_before_reading(settings, monkeypatch) -> None:
    from nautilus.engines.factor.engine import FactorEngine
    from nautilus.engines.factor.messages import ComputeRequest
    from nautilus.factor import panel

    eng = FactorEngine(settings)
    eng.start()
    try:
        for k, s in enumerate(("AAA", "BBB", "CCC")):
            eng.catalog.write(gbm_bars(s, "1d", START, 400, seed=k))
        req = ComputeRequest(symbols=["AAA", "BBB", "CCC"], factor="momentum(20, 1)")
        settings.max_matrix_cells = 3 * 400 * 2  # dates x symbols, with room for the calendar-day bound
        assert eng.compute(req).values.shape == (400, 3)
        settings.max_matrix_cells = 3 * 399
        import nautilus.engines.factor.engine as factor_engine

        monkeypatch.setattr(factor_engine, "load_panel", tripwire)
        monkeypatch.setattr(panel, "read_bars", tripwire, raising=False)
        refused(eng.compute, req, field="symbols", cap="max_matrix_cells")
    finally:
        eng.close()


def test_ml_training_matrix_is_refused_before_the_job_starts(settings) -> None:
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.engines.ml.messages import TrainRequest

    eng = MLEngine(settings)
    eng.start()
    try:
        eng.catalog.write(gbm_bars("AAA", "1d", START, 500, seed=1))
        settings.max_matrix_cells = 1_000
        exc = refused(eng.train, TrainRequest(symbols=["AAA"], task="direction"), field="symbols",
                      cap="max_matrix_cells")
        assert "bars x features" in exc.message
        assert eng.jobs.all() == []  # no job was queued
    finally:
        eng.close()


# Code loading ------------------------------------------------------------------------------------
EVIL = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
Strategy = None
"""


def test_strategies_load_only_from_the_admins_places(tmp_path, monkeypatch) -> None:
    from nautilus.strategy.backtest.strategies import USER_MODULE_PREFIX, resolve_strategy

    # a module with import-time side effects, importable from sys.path but not an allowed place
    outside = tmp_path / "site"
    outside.mkdir()
    marker = tmp_path / "side-effect"
    (outside / "evil_strategy_mod.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(outside))
    allowed = tmp_path / "strategies"
    allowed.mkdir()
    source = SUPPORT / "user_strategy.py"  # the tests' user strategy, copied there
    (allowed / "momo.py").write_text(source.read_text())
    for name in ("evil_strategy_mod:Strategy", "this:x", "os:system", "subprocess:run", "nautilus.config:Settings",
                 "tests.support.user_strategy:Momentum", "../site/evil_strategy_mod:Strategy", "momo:"):
        with pytest.raises(InvalidInput) as info:
            resolve_strategy(name, strategies_dir=allowed, packages=["tests.other"])
        assert info.value.field == "strategy" and info.value.status == 422
    assert "evil_strategy_mod" not in sys.modules and "this" not in sys.modules
    assert not marker.exists()
    strat = resolve_strategy("momo:Momentum", strategies_dir=allowed)  # a file in the strategies dir
    assert strat.name == "user_momentum" and f"{USER_MODULE_PREFIX}.momo" in sys.modules
    pkg = resolve_strategy("tests.support.user_strategy:Momentum", packages=["tests.support"])  # an allowed package
    assert pkg.name == "user_momentum"
    with pytest.raises(InvalidInput, match="not in an allowed place"):  # no places at all: nothing loads
        resolve_strategy("momo:Momentum")
    link = allowed / "linked.py"  # a link out of the directory does not count as inside it
    link.symlink_to(outside / "evil_strategy_mod.py")
    with pytest.raises(InvalidInput):
        resolve_strategy("linked:Strategy", strategies_dir=allowed)
    assert not marker.exists()
