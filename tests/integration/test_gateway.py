"""The gateway over a real MarketData engine process: ingest, bars, 4xx errors, auth, metrics."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from nautilus.core.timeframe import pandas_rule
from nautilus.gateway.app import create_app
from nautilus.runtime.sockets import SocketTransport

pytestmark = pytest.mark.integration


@pytest.fixture
def engine_process(settings, stack_env):
    proc = subprocess.Popen([sys.executable, "-m", "nautilus.runtime.host", "marketdata"], env=stack_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        transport = SocketTransport("unix", "marketdata", settings)
        try:
            transport.ping(0.5)
            break
        except Exception:
            time.sleep(0.1)
        finally:
            transport.reset()
    else:
        proc.kill()
        raise AssertionError("marketdata engine did not start")
    yield proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def api(settings, engine_process):
    with TestClient(create_app(settings)) as client:
        yield client


def daily_csv(n: int = 30, start: str = "2024-01-01", seed: int = 0) -> tuple[bytes, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    frame = pd.DataFrame({"Date": pd.date_range(start, periods=n, freq="D").strftime("%Y-%m-%d"),
                          "Open": open_, "High": high, "Low": low, "Close": close,
                          "Volume": rng.integers(1000, 5000, n).astype(float)})
    return frame.to_csv(index=False, float_format="%.10g").encode(), frame


def upload(api, data: bytes, symbol: str = "ACME", timeframe: str = "1d", **form):
    return api.post("/api/v1/marketdata/ingest", files={"file": ("prices.csv", io.BytesIO(data), "text/csv")},
                    data={"symbol": symbol, "timeframe": timeframe, **form})


def test_ingest_then_query_returns_exactly_the_file(api):
    data, frame = daily_csv()
    response = upload(api, data)
    assert response.status_code == 201, response.text
    assert response.json()["rows_written"] == 30
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "ACME", "timeframe": "1d",
                                                      "start": "2024-01-05", "end": "2024-01-10"}).json()
    assert bars["count"] == 5
    expected = frame.iloc[4:9]
    assert bars["t"] == [int(pd.Timestamp(d, tz="UTC").value // 1_000_000) for d in expected["Date"]]
    np.testing.assert_allclose(bars["close"], expected["Close"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(bars["volume"], expected["Volume"].to_numpy())
    instruments = api.get("/api/v1/marketdata/instruments").json()["instruments"]
    acme = next(i for i in instruments if i["symbol"] == "ACME")
    assert acme["series"][0]["rows"] == 30


def test_bad_file_is_rejected_whole_and_catalog_untouched(api):
    data, _ = daily_csv()
    assert upload(api, data).status_code == 201
    before = api.get("/api/v1/marketdata/bars", params={"symbol": "ACME"}).json()
    bad_data, bad = daily_csv(seed=1, start="2024-03-01")
    bad.loc[6, "High"] = bad.loc[6, "Low"] * 0.5  # high below low on data row 7
    response = upload(api, bad.to_csv(index=False).encode())
    assert response.status_code == 422
    error = response.json()["error"]
    assert "row 7" in error["message"] and "high" in error["message"]
    assert api.get("/api/v1/marketdata/bars", params={"symbol": "ACME"}).json() == before


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"timeframe": "1d"}, 422, "symbol"),
        ({"symbol": "ACME", "timeframe": "daily"}, 422, "timeframe"),
        ({"symbol": "ACME", "start": "yesterday"}, 422, "start"),
        ({"symbol": "ACME", "start": "2024-02-01", "end": "2024-01-01"}, 422, "end"),
        ({"symbol": "ACME", "limit": 0}, 422, "limit"),
        ({"symbol": "NOPE"}, 404, "symbol"),
        ({"symbol": "ACME", "timeframe": "7m"}, 404, "timeframe"),
    ],
)
def test_bad_queries_get_4xx_naming_the_field(api, params, status, field):
    data, _ = daily_csv()
    upload(api, data)
    response = api.get("/api/v1/marketdata/bars", params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_bad_ingest_form_fields_are_named(api):
    data, _ = daily_csv()
    assert upload(api, data, symbol="").json()["error"]["field"] == "symbol"
    assert upload(api, data, timeframe="1x").json()["error"]["field"] == "timeframe"
    assert upload(api, data, columns="{not json").json()["error"]["field"] == "columns"
    response = api.post("/api/v1/marketdata/ingest", files={"symbol": (None, "ACME")})  # multipart, no file
    assert response.status_code == 422 and response.json()["error"]["field"] == "file"
    urlencoded = api.post("/api/v1/marketdata/ingest", data={"symbol": "ACME"})  # uploads are multipart only
    assert urlencoded.status_code == 415


def test_finer_bars_are_resampled_on_request_like_pandas(api):
    rng = np.random.default_rng(5)
    n = 600
    index = pd.date_range("2024-01-02 09:30", periods=n, freq="min", tz="UTC")
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[50.0], close[:-1]])
    frame = pd.DataFrame({"ts": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": open_,
                          "high": np.maximum(open_, close) + 0.01, "low": np.minimum(open_, close) - 0.01,
                          "close": close, "volume": rng.integers(1, 100, n).astype(float)})
    keep = np.ones(n, bool)
    keep[100:130] = False  # a gap: no fabricated bars
    frame = frame[keep]
    assert upload(api, frame.to_csv(index=False, float_format="%.12g").encode(), symbol="MIN",
                  timeframe="1m").status_code == 201
    got = api.get("/api/v1/marketdata/bars", params={"symbol": "MIN", "timeframe": "15m"}).json()
    ref = frame.assign(ts=pd.to_datetime(frame["ts"])).set_index("ts").astype(float)
    ref = ref.resample(pandas_rule("15m"), origin="epoch", label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}).dropna()
    assert got["t"] == [int(t.value // 1_000_000) for t in ref.index]
    np.testing.assert_allclose(got["open"], ref["open"], rtol=1e-9)
    np.testing.assert_allclose(got["high"], ref["high"], rtol=1e-9)
    np.testing.assert_allclose(got["low"], ref["low"], rtol=1e-9)
    np.testing.assert_allclose(got["close"], ref["close"], rtol=1e-9)
    np.testing.assert_allclose(got["volume"], ref["volume"])


def test_health_and_metrics_report_engine_path(api):
    deadline = time.time() + 10
    while time.time() < deadline:
        health = api.get("/api/v1/system/health").json()
        engine = health["engines"]["marketdata"]
        if engine["status"] == "up" and engine["pid"]:  # the pid arrives with the first health probe
            break
        time.sleep(0.1)
    engine = health["engines"]["marketdata"]
    assert engine["status"] == "up" and engine["path"] == "unix" and engine["pid"]
    api.get("/api/v1/marketdata/instruments")
    text = api.get("/metrics").text
    assert 'nautilus_engine_up{engine="marketdata",transport="unix"} 1.0' in text
    assert 'nautilus_http_requests_total{method="GET",route="/api/v1/marketdata/instruments",status="200"}' in text
    assert 'nautilus_engine_calls_total{engine="marketdata",method="instruments",outcome="ok",transport="unix"}' in text
    assert "nautilus_shm_pool_bytes" in text

    def served(name: str, labels: str) -> float:
        line = next(ln for ln in api.get("/metrics").text.splitlines() if ln.startswith(f"{name}{{{labels}}}"))
        return float(line.rsplit(" ", 1)[1])

    route = 'method="GET",route="/api/v1/marketdata/instruments"'
    before = (served("nautilus_http_requests_total", f'{route},status="200"'),
              served("nautilus_http_request_seconds_count", route))
    for _ in range(3):
        api.get("/api/v1/marketdata/instruments")
    assert served("nautilus_http_requests_total", f'{route},status="200"') == before[0] + 3
    assert served("nautilus_http_request_seconds_count", route) == before[1] + 3


def test_api_keys_guard_api_routes_but_not_health(settings, engine_process):
    settings.api_keys = ["s3cret"]
    settings.auth_mode = "keys"
    with TestClient(create_app(settings)) as api:
        assert api.get("/api/v1/marketdata/instruments").status_code == 401
        assert api.get("/api/v1/marketdata/instruments", headers={"X-API-Key": "wrong"}).status_code == 401
        assert api.get("/api/v1/marketdata/instruments", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert api.get("/health").status_code == 200
        assert api.get("/metrics").status_code == 401  # detailed metrics need a key once keys are on
        assert api.get("/metrics", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert api.get("/openapi.json").status_code == 401  # the API's description needs a key too
        assert api.get("/openapi.json", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_generate_follows_the_instruments_calendar_unless_one_is_named(api):
    """Equities get XNYS sessions (no weekends, no 2024-12-25), crypto every day; a named calendar wins; an
    unknown one is a 422 naming `calendar`."""
    import exchange_calendars as xcals
    import pandas as pd

    def days(symbol: str) -> list[str]:
        bars = api.get("/api/v1/marketdata/bars", params={"symbol": symbol, "limit": 100}).json()
        return [pd.Timestamp(t, unit="ms").strftime("%Y-%m-%d") for t in bars["t"]]

    r = api.post("/api/v1/marketdata/generate", json={"symbol": "CALEQ", "n": 20, "start": "2024-12-16"})
    assert r.status_code == 201 and r.json()["calendar"] == "XNYS"
    want = xcals.get_calendar("XNYS").sessions_in_range("2024-12-16", "2025-01-31")[:20]
    assert days("CALEQ") == [d.strftime("%Y-%m-%d") for d in want]
    r = api.post("/api/v1/marketdata/generate", json={"symbol": "BTCUSDT", "n": 20, "start": "2024-12-16"})
    assert r.status_code == 201 and r.json()["calendar"] == "24/7"
    assert days("BTCUSDT") == [d.strftime("%Y-%m-%d") for d in pd.date_range("2024-12-16", periods=20)]
    r = api.post("/api/v1/marketdata/generate", json={"symbol": "CALFX", "n": 5, "start": "2024-12-20",
                                                      "calendar": "24/5"})
    assert r.status_code == 201 and days("CALFX") == ["2024-12-20", "2024-12-23", "2024-12-24", "2024-12-25",
                                                      "2024-12-26"]
    r = api.post("/api/v1/marketdata/generate", json={"symbol": "CALX", "n": 5, "calendar": "nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "calendar"
