"""The Analytics engine through the gateway (in-process engines): statistics of inline series and of a
saved backtest (equal to nautilus.analytics on the artifact's equity, and to empyrical), the HTML tear
sheet, the CLI, and 4xx errors naming the field."""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pytest
from fastapi.testclient import TestClient

from nautilus import analytics as A
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
DAY = 86_400 * 10**9


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        for symbol, seed in (("AAA", 11), ("SPY", 12)):
            r = client.post("/api/v1/marketdata/generate", json={"symbol": symbol, "n": 600, "seed": seed})
            assert r.status_code == 201, r.text
        yield client


@pytest.fixture
def backtest(api) -> dict:
    r = api.post("/api/v1/strategy/backtest", json={"symbol": "AAA", "strategy": "sma_cross",
                                                    "params": {"fast": 5, "slow": 20}})
    assert r.status_code == 201, r.text
    return r.json()


def _none_to_nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_backtest_stats_equal_the_module_on_the_artifact_equity(api, backtest) -> None:
    run_id = backtest["id"]
    # the backtest's own returns: the first bar's against its starting cash, as its statistics
    equity = np.asarray([backtest["config"]["init_cash"], *backtest["equity"]], dtype=float)
    returns = equity[1:] / equity[:-1] - 1
    r = api.get(f"/api/v1/analytics/backtests/{run_id}/stats")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "backtest" and body["backtest_id"] == run_id and body["n"] == len(returns)
    stats = body["series"][0]["stats"]
    ppy = body["periods_per_year"]  # the backtest's own: its statistics and these use one value
    assert ppy == backtest["config"]["periods_per_year"] and body["periods_per_year_source"] == "backtest"
    assert body["calendar"] == backtest["config"]["calendar"] == "XNYS"
    expected = A.summary(returns, periods_per_year=ppy)
    for key, value in expected.items():
        if np.isfinite(value):
            assert stats[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
        else:
            assert stats[key] is None, key
    assert stats["sharpe"] == pytest.approx(ep.sharpe_ratio(returns, annualization=ppy), rel=1e-9)
    assert stats["max_drawdown"] == pytest.approx(ep.max_drawdown(returns), rel=1e-9)
    assert body["trades"]["n_trades"] == len([t for t in backtest["trades"] if t["exit_reason"] != "open"])
    assert body["series"][0]["drawdowns"][0]["depth"] == pytest.approx(stats["max_drawdown"], rel=1e-9)
    same = api.post("/api/v1/analytics/stats", json={"backtest_id": run_id}).json()
    assert same["series"][0]["stats"] == stats


def test_backtest_stats_with_a_catalog_benchmark(api, backtest) -> None:
    r = api.post("/api/v1/analytics/stats", json={"backtest_id": backtest["id"], "benchmark": {"symbol": "SPY"}})
    assert r.status_code == 200, r.text
    body = r.json()
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "SPY", "limit": 600})
    assert bars.status_code == 200, bars.text
    close = np.asarray(bars.json()["close"], dtype=float)
    bench = close[1:] / close[:-1] - 1  # same calendar as AAA: close-to-close returns
    equity = np.asarray(backtest["equity"], dtype=float)
    returns = equity[1:] / equity[:-1] - 1
    assert body["benchmark"] == "SPY"
    stats = body["series"][0]["stats"]
    assert stats["beta"] == pytest.approx(ep.beta(returns, bench), rel=1e-9)
    assert stats["alpha"] == pytest.approx(ep.alpha(returns, bench, annualization=body["periods_per_year"]),
                                           rel=1e-9)
    assert stats["information_ratio"] == pytest.approx(ep.excess_sharpe(returns, bench), rel=1e-9)
    missing = api.post("/api/v1/analytics/stats", json={"backtest_id": backtest["id"],
                                                        "benchmark": {"symbol": "NOPE"}})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "benchmark.symbol"


def test_inline_series_returns_equity_and_several(api) -> None:
    rng = np.random.default_rng(3)
    n = 300
    ts = (1_600_000_000 * 10**9 + np.arange(n) * DAY).tolist()
    a, b = rng.normal(0.0005, 0.01, n), rng.normal(0.0002, 0.012, n)
    a_json = [None, None, *a[2:].tolist()]
    body = {"ts": ts, "series": [{"name": "a", "returns": a_json}, {"name": "b", "returns": b.tolist()}],
            "benchmark": {"returns": b.tolist(), "name": "b"}, "periods_per_year": 52, "drawdowns": 3}
    r = api.post("/api/v1/analytics/stats", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [s["name"] for s in out["series"]] == ["a", "b"] and out["periods_per_year"] == 52
    sa = out["series"][0]["stats"]
    assert sa["sharpe"] == pytest.approx(ep.sharpe_ratio(a[2:], annualization=52), rel=1e-9)
    # every row is a period, the leading nulls included (empyrical's len)
    want = ep.annual_return(np.r_[np.nan, np.nan, a[2:]], annualization=52)
    assert sa["annual_return"] == pytest.approx(want, rel=1e-9)
    assert sa["beta"] == pytest.approx(ep.beta(a[2:], b[2:]), rel=1e-9)
    assert out["series"][1]["stats"]["beta"] == pytest.approx(1.0)
    assert len(out["series"][0]["drawdowns"]) == 3
    # an equity curve gives the same as its returns; ISO times work too
    equity = 100 * np.cumprod(1 + np.r_[0.0, b])
    iso = [f"2024-01-{d:02d}" for d in range(1, 32)]
    eq = api.post("/api/v1/analytics/stats", json={"ts": iso, "equity": equity[:31].tolist()}).json()
    rt = api.post("/api/v1/analytics/stats", json={"ts": iso[1:], "returns": b[:30].tolist()}).json()
    assert eq["series"][0]["stats"]["sharpe"] == pytest.approx(rt["series"][0]["stats"]["sharpe"], rel=1e-9)
    assert eq["first_ts"] == rt["first_ts"]
    # a constant series: undefined statistics are null, not NaN
    flat = api.post("/api/v1/analytics/stats", json={"ts": ts[:5], "returns": [0.0] * 5}).json()
    assert flat["series"][0]["stats"]["sharpe"] is None


def test_report_html(api, backtest) -> None:
    r = api.get(f"/api/v1/analytics/report/{backtest['id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.startswith("<!DOCTYPE html>") and "<h2>Trades</h2>" in page and page.count("<svg") == 5
    assert f"Backtest {backtest['id']}" in page
    assert api.get("/api/v1/analytics/report/999999").status_code == 404
    inline = api.post("/api/v1/analytics/report", json={"ts": list(range(1, 101)),
                                                        "returns": [0.01, -0.01] * 50, "title": "<x>"})
    assert inline.status_code == 200 and "&lt;x&gt;" in inline.text and "<x>" not in inline.text


@pytest.mark.parametrize(("body", "field"), [
    ({"ts": [1, 2, 3], "returns": [0.01, 0.02]}, "returns"),  # length mismatch
    ({"ts": [1], "returns": [0.01]}, "returns"),  # too few points
    ({"ts": [1, 2, 3], "equity": [100.0, None, 101.0]}, "equity"),  # non-finite equity
    ({"ts": [1, 2, 3], "equity": [100.0, -1.0, 101.0]}, "equity"),
    ({"ts": [3, 2, 1], "returns": [0.0, 0.01, 0.02]}, "ts"),
    ({"ts": ["yesterday", "2024-01-02"], "returns": [0.0, 0.01]}, "ts"),
    ({"returns": [0.0, 0.01]}, "ts"),
    ({}, "source"),
    ({"backtest_id": 1, "returns": [0.1, 0.2], "ts": [1, 2]}, "source"),
    ({"ts": [1, 2, 3], "returns": [0.0, 0.01, 0.02], "benchmark": {"returns": [0.1]}}, "benchmark.returns"),
    ({"ts": [1, 2, 3], "returns": [0.0, 0.01, 0.02], "cutoff": 0.9}, "cutoff"),
    ({"ts": [1, 2, 3], "series": [{"name": "x", "returns": [0.0, 0.1, 0.2]},
                                  {"name": "y", "returns": [0.1]}]}, "series[1].returns"),
])
def test_bad_input_is_422_naming_the_field(api, body, field) -> None:
    r = api.post("/api/v1/analytics/stats", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.json()


def test_accounts_unknown_or_without_history(api) -> None:
    assert api.post("/api/v1/analytics/stats", json={"account": "ghost"}).status_code == 404
    api.get("/api/v1/portfolio/accounts")  # the Portfolio engine makes the default account
    r = api.post("/api/v1/analytics/stats", json={"account": "default"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "account"


def test_unknown_backtest_is_404(api) -> None:
    assert api.get("/api/v1/analytics/backtests/424242/stats").status_code == 404
    assert api.post("/api/v1/analytics/stats", json={"backtest_id": 424242}).status_code == 404


def test_cli_report_and_stats(api, backtest, stack_env, monkeypatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from nautilus import config
    from nautilus.cli import app

    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    try:
        out = runner.invoke(app, ["report", str(backtest["id"])])
        assert out.exit_code == 0, out.output
        path = tmp_path / f"report-{backtest['id']}.html"
        assert out.output.strip() == str(path.name) and path.read_text().startswith("<!DOCTYPE html>")
        custom = runner.invoke(app, ["report", str(backtest["id"]), "--out", str(tmp_path / "x.html")])
        assert custom.exit_code == 0 and (tmp_path / "x.html").exists()
        assert runner.invoke(app, ["report", "999999"]).exit_code == 2
        rng = np.random.default_rng(2)
        r1, r2 = rng.normal(0.001, 0.01, 60), rng.normal(0.0, 0.02, 60)
        lines = ["date,alpha,beta"] + [f"2024-01-01T00:00:00+00:00,{a},{b}".replace("01-01", f"{1 + i // 28:02d}-"
                                                                                    f"{1 + i % 28:02d}")
                                       for i, (a, b) in enumerate(zip(r1, r2, strict=True))]
        (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
        stats = runner.invoke(app, ["analytics", "stats", "r.csv"])
        assert stats.exit_code == 0, stats.output
        assert "alpha" in stats.output and "beta" in stats.output and "sharpe" in stats.output
        from nautilus.core.calendars import periods_per_year

        daily = periods_per_year("XNYS", "1d")  # no timeframe given: daily bars on the default calendar
        assert f"{daily:g} per year" in stats.output
        assert f"{ep.sharpe_ratio(r1, annualization=daily):.4f}" in stats.output
        equity = 100 * np.cumprod(1 + r1)
        (tmp_path / "e.csv").write_text("date,eq\n" + "\n".join(
            f"2024-{1 + i // 28:02d}-{1 + i % 28:02d},{v}" for i, v in enumerate(equity)) + "\n")
        eq = runner.invoke(app, ["analytics", "stats", "e.csv", "--equity"])
        assert eq.exit_code == 0 and f"{ep.sharpe_ratio(r1[1:], annualization=daily):.4f}" in eq.output
        bad = runner.invoke(app, ["analytics", "stats", "missing.csv"])
        assert bad.exit_code == 2 and "no such file" in bad.output
        (tmp_path / "short.csv").write_text("date,x\n2024-01-01,0.1\n")
        short = runner.invoke(app, ["analytics", "stats", "short.csv"])
        assert short.exit_code == 2 and "too few points" in short.output
    finally:
        config.get_settings.cache_clear()


def test_paper_account_stats_follow_its_equity_and_round_trips(api) -> None:
    """An account's statistics are the summary of its equity history; its closed round trips are the trades."""
    import numpy as np

    from nautilus.analytics import summary

    day = 86_400 * 10**9
    t0 = 1_900_000_000 * 10**9 // day * day
    api.post("/api/v1/portfolio/accounts", json={"name": "stats", "cash": 10_000, "fee_bps": 5})
    for i in range(40):
        if i % 10 in (0, 5):
            r = api.post("/api/v1/portfolio/orders", json={"account": "stats", "symbol": "AAA", "quantity": 10,
                                                            "side": "buy" if i % 10 == 0 else "sell"})
            assert r.status_code == 201, r.text
        px = 100 + 5 * np.sin(i / 4)
        bar = [t0 + i * day, px, px + 1, px - 1, px + 0.3, 1e6]
        assert api.post("/api/v1/portfolio/bars", json={"symbol": "AAA", "bars": [bar]}).status_code == 200
    equity = api.get("/api/v1/portfolio/equity", params={"account": "stats"}).json()["items"]
    r = api.post("/api/v1/analytics/stats", json={"account": "stats"})
    assert r.status_code == 200, r.text
    got = r.json()
    from nautilus.core.calendars import periods_per_year

    ppy = periods_per_year("XNYS", "1d")  # daily spacing on the default calendar
    assert got["source"] == "account" and got["periods_per_year"] == ppy and got["calendar"] == "XNYS"
    stats = got["series"][0]["stats"]
    values = np.array([p["equity"] for p in equity])
    want = summary((values[1:] / values[:-1] - 1)[:, None], periods_per_year=ppy)
    assert stats["sharpe"] == pytest.approx(float(want["sharpe"][0]), rel=1e-9)
    assert stats["max_drawdown"] == pytest.approx(float(want["max_drawdown"][0]), rel=1e-9)
    assert got["trades"]["n_trades"] == 4
