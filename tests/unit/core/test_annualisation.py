"""One periods-per-year across the platform: ``nautilus.core.calendars.periods_per_year`` (calendar, timeframe)
through ``resolve_periods_per_year``, used by the backtester's config, the Analytics engine, the portfolio
optimiser and the CLI; every statistics reply says which value it used and where it came from.

The acceptance test: the same 5m equity curve gets the same Sharpe from /strategy/backtest and
/analytics/stats (by backtest id and inline), and both replies carry the periods_per_year they used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from nautilus import analytics as A
from nautilus.core.calendars import periods_per_year
from nautilus.core.errors import InvalidInput
from nautilus.strategy.backtest.config import BacktestConfig, config_for, resolve_periods_per_year


@pytest.mark.parametrize("calendar, timeframe", [("XNYS", "1d"), ("XNYS", "5m"), ("XNYS", "1h"), ("24/7", "1h"),
                                                 ("24/7", "1d"), ("24/5", "5m"), ("XNYS", "1w")])
def test_config_and_resolver_use_the_calendar_function(calendar: str, timeframe: str) -> None:
    want = periods_per_year(calendar, timeframe)
    how = resolve_periods_per_year(timeframe, calendar=calendar)
    assert how == {"periods_per_year": want, "calendar": calendar, "timeframe": timeframe, "source": "calendar"}
    cfg = config_for({}, timeframe, calendar=calendar)
    assert cfg.periods_per_year == want and cfg.calendar == calendar and cfg.periods_per_year_source == "calendar"


def test_the_instrument_picks_the_calendar_and_an_explicit_value_wins() -> None:
    assert config_for({}, "1h", symbol="BTC/USDT").calendar == "24/7"
    assert config_for({}, "1h", symbol="BTC/USDT").periods_per_year == periods_per_year("24/7", "1h")
    assert config_for({}, "1d", symbol="AAA").periods_per_year == periods_per_year("XNYS", "1d")
    given = config_for({"periods_per_year": 252}, "5m", symbol="AAA")
    assert given.periods_per_year == 252 and given.periods_per_year_source == "given" and given.calendar is None
    # a config read back from a reply round-trips (its value is then the caller's)
    again = config_for(config_for({}, "5m").to_dict(), "5m")
    assert again.periods_per_year == periods_per_year("XNYS", "5m") and again.calendar == "XNYS"
    with pytest.raises(InvalidInput) as err:
        config_for({"calendar": "NOPE"}, "1d")
    assert err.value.field == "calendar"
    with pytest.raises(InvalidInput) as err:
        resolve_periods_per_year("1d", periods_per_year=-1)
    assert err.value.field == "periods_per_year"
    assert BacktestConfig().periods_per_year_source == "given"


def test_the_old_derivations_are_gone() -> None:
    # 1h bars: the backtester once used 252 x 24 and analytics 252 x 6.5; both are now the calendar's
    xnys = periods_per_year("XNYS", "1h")
    assert resolve_periods_per_year("1h")["periods_per_year"] == xnys
    assert not math.isclose(xnys, 252 * 24) and not math.isclose(xnys, 252 * 6.5) or xnys == 252 * 6.5


@pytest.fixture
def api(settings):
    from nautilus.gateway.app import create_app

    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/marketdata/generate",
                        json={"symbol": "AAA", "n": 800, "seed": 5, "timeframe": "5m"})
        assert r.status_code == 201, r.text
        yield client


@pytest.mark.integration
def test_same_5m_equity_curve_same_sharpe_from_backtest_and_analytics(api) -> None:
    r = api.post("/api/v1/strategy/backtest", json={"symbol": "AAA", "timeframe": "5m", "strategy": "sma_cross",
                                                    "params": {"fast": 5, "slow": 20}})
    assert r.status_code == 201, r.text
    bt = r.json()
    ppy = periods_per_year("XNYS", "5m")
    assert bt["config"]["periods_per_year"] == pytest.approx(ppy)
    assert bt["config"]["calendar"] == "XNYS" and bt["config"]["periods_per_year_source"] == "calendar"
    by_id = api.get(f"/api/v1/analytics/backtests/{bt['id']}/stats").json()
    assert by_id["periods_per_year"] == bt["config"]["periods_per_year"]
    assert by_id["periods_per_year_source"] == "backtest" and by_id["calendar"] == "XNYS"
    curve = [bt["config"]["init_cash"], *bt["equity"]]  # the curve the backtest's statistics compound
    ts = [1_700_000_000 * 10**9 + i * 300 * 10**9 for i in range(len(curve))]
    inline = api.post("/api/v1/analytics/stats", json={"ts": ts, "equity": curve, "timeframe": "5m"}).json()
    assert inline["periods_per_year"] == pytest.approx(ppy) and inline["periods_per_year_source"] == "calendar"
    assert inline["conventions"]["quantile_method"] == "inverted_cdf"
    sharpe = bt["stats"]["sharpe"]
    assert by_id["series"][0]["stats"]["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert inline["series"][0]["stats"]["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    equity = np.asarray(curve, dtype=float)
    assert sharpe == pytest.approx(A.sharpe_ratio(equity[1:] / equity[:-1] - 1, 0.0, ppy), rel=1e-9)
    # an explicit value wins and the reply says so
    given = api.post("/api/v1/analytics/stats", json={"backtest_id": bt["id"], "periods_per_year": 252}).json()
    assert given["periods_per_year"] == 252 and given["periods_per_year_source"] == "given"


@pytest.mark.integration
@pytest.mark.parametrize("body, field", [
    ({"ts": [1, 2, 3], "returns": [0.01, 0.02, 0.03], "calendar": "NOPE"}, "calendar"),
    ({"ts": [1, 2, 3], "returns": [0.01, 0.02, 0.03], "quantile_method": "nearest"}, "quantile_method"),
    ({"ts": [1, 2, 3], "returns": [0.01, 0.02, 0.03], "timeframe": "7x"}, "timeframe"),
    ({"ts": [1, 2, 3], "returns": [None, None, None]}, "returns"),
    ({"ts": [], "returns": []}, "returns"),
])
def test_bad_or_empty_input_is_a_4xx_naming_the_field(api, body: dict, field: str) -> None:
    r = api.post("/api/v1/analytics/stats", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["field"] == field


@pytest.mark.integration
def test_degenerate_series_give_null_statistics_not_500(api) -> None:
    for returns in ([0.0, 0.0, 0.0, 0.0], [0.05, -1.0, 0.02, 0.01], [None, 0.01, 0.01, None]):
        r = api.post("/api/v1/analytics/stats", json={"ts": [1, 2, 3, 4], "returns": returns})
        assert r.status_code == 200, r.text
        stats = r.json()["series"][0]["stats"]
        if returns[1] != -1.0:
            assert stats["skew"] is None and stats["excess_kurtosis"] is None  # constant or too few
        if returns[1] != 0.01:
            assert stats["stability"] is None  # all zeros, or a total loss (log 0)


def test_a_panel_is_annualised_on_the_calendar_with_the_fewest_sessions() -> None:
    """Aligned returns keep the dates every symbol has: a crypto coin beside an equity trades XNYS days."""
    from nautilus.core.calendars import periods_per_year
    from nautilus.strategy.backtest.config import panel_calendar

    assert panel_calendar(["BTCUSDT"]) == "24/7"
    assert panel_calendar(["BTCUSDT", "EURUSD"]) == "24/5"
    assert panel_calendar(["BTCUSDT", "EURUSD", "AAPL"]) == "XNYS"
    assert periods_per_year(panel_calendar(["BTCUSDT", "AAPL"]), "1d") == periods_per_year("XNYS", "1d")
