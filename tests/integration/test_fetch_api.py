"""Fetching through the gateway and the CLI against a local server answering like Yahoo (recorded responses, nautilus.bench.sourceserver):
202 + a background job, progress over /ws, the bars queryable, the record kept, errors as 4xx / exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nautilus.adapters.ratelimit import reset_limiters
from nautilus.bench.sourceserver import SourceServer
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def server():
    with SourceServer(synthetic=("SYN",), fixtures=Path(__file__).parent.parent / "fixtures") as srv:
        yield srv


@pytest.fixture
def api(settings, server):
    reset_limiters()
    settings.source_urls = {"yahoo": server.url}
    settings.source_retries = 1
    settings.source_backoff_s = 0.0
    settings.ws_poll_timeout_s = 0.2
    with TestClient(create_app(settings)) as client:
        yield client


def wait_job(api, job_id: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api.get(f"/api/v1/marketdata/fetch/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(job)


def test_fetch_job_over_http_with_progress_on_the_websocket(api, server) -> None:
    with api.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channels": ["marketdata.fetch.*"]})
        while ws.receive_json()["type"] != "subscribed":  # what is published after the ack is delivered
            pass
        r = api.post("/api/v1/marketdata/fetch", json={"source": "yahoo", "symbol": "AAPL", "timeframe": "1d",
                                                       "start": "2020-08-01", "end": "2020-09-08"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["symbol"] == "AAPL" and job["status"] in ("queued", "running")
        statuses = []
        while not statuses or statuses[-1] not in ("ok", "failed", "rejected"):
            frame = ws.receive_json()
            if frame["type"] == "message":
                assert frame["channel"] == f"marketdata.fetch.{job['id']}"
                statuses.append(frame["data"]["status"])
        assert statuses[-1] == "ok" and "running" in statuses
    done = wait_job(api, job["id"])
    assert done["rows"] == 25 and done["requests"] == 1 and done["error"] is None
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "AAPL", "start": "2020-08-03",
                                                      "end": "2020-08-05"}).json()
    assert bars["count"] == 2 and bars["t"][0] == 1596412800000
    # back-adjusted: 2020-08-03 closed at 435.75 as traded → /4 for the split, x(1 - 0.82/455.61) for the dividend
    assert bars["close"][0] == pytest.approx(435.75 / 4 * (1 - 0.82 / 455.61), rel=1e-9)
    raw = api.get("/api/v1/marketdata/bars", params={"symbol": "AAPL.RAW", "limit": 1}).json()
    assert raw["close"] == [pytest.approx(120.96)]
    listed = api.get("/api/v1/marketdata/fetches", params={"limit": 5}).json()["fetches"]
    assert listed[0]["id"] == job["id"] and listed[0]["status"] == "ok"
    again = wait_job(api, api.post("/api/v1/marketdata/fetch", json={
        "source": "yahoo", "symbol": "AAPL", "start": "2020-08-01", "end": "2020-09-08"}).json()["id"])
    assert again["message"] == "already up to date" and len(server.requests) == 1


def test_bad_requests_are_4xx_naming_the_field(api) -> None:
    cases = [({"source": "nope", "symbol": "AAPL", "start": "2020-01-01"}, 422, "source"),
             ({"source": "yahoo", "symbol": "AAPL", "timeframe": "4h", "start": "2020-01-01"}, 422, "timeframe"),
             ({"source": "yahoo", "symbol": "AAPL", "start": "2021-01-01", "end": "2020-01-01"}, 422, "end"),
             ({"source": "yahoo", "symbol": "AAPL", "start": "yesterday"}, 422, "start"),
             ({"source": "yahoo", "symbol": "AAPL"}, 422, "start"),
             ({"source": "yahoo", "symbol": "AAPL", "start": "2020-01-01", "adjust": "some"}, 422, "adjust")]
    for body, status, field in cases:
        r = api.post("/api/v1/marketdata/fetch", json=body)
        assert r.status_code == status, (body, r.text)
        assert field in json.dumps(r.json()), (body, r.json())
    assert api.get("/api/v1/marketdata/fetch/999").status_code == 404
    r = api.post("/api/v1/marketdata/streams", json={"source": "yahoo", "symbol": "AAPL", "timeframe": "1d"})
    assert r.status_code == 422 and "no live bar stream" in r.json()["error"]["message"]


def test_unknown_symbol_job_is_rejected_with_the_reason_and_writes_nothing(api) -> None:
    job = api.post("/api/v1/marketdata/fetch", json={"source": "yahoo", "symbol": "NOSUCH", "start": "2020-01-01",
                                                     "end": "2020-02-01"}).json()
    done = wait_job(api, job["id"])
    assert done["status"] == "rejected" and done["error"].startswith("yahoo: unknown symbol 'NOSUCH'")
    assert api.get("/api/v1/marketdata/bars", params={"symbol": "NOSUCH"}).status_code == 404


def test_update_all_continues_from_the_coverage(api, server) -> None:
    first = wait_job(api, api.post("/api/v1/marketdata/fetch", json={
        "source": "yahoo", "symbol": "SYN", "start": "2023-01-01", "end": "2023-07-01"}).json()["id"])
    assert first["status"] == "ok" and first["rows"] > 100
    r = api.post("/api/v1/marketdata/update", json={})
    assert r.status_code == 202
    jobs = r.json()["fetches"]
    assert [(j["symbol"], j["start_ns"]) for j in jobs] == [("SYN", first["end_ns"])]
    done = wait_job(api, jobs[0]["id"])
    assert done["status"] == "ok"
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "SYN", "limit": 1}).json()
    assert bars["t"][0] / 1000 > time.time() - 8 * 86_400  # up to (nearly) today
    period1 = int(server.requests[-1].split("period1=")[1].split("&")[0])
    assert period1 >= first["end_ns"] // 10**9 - 86_400  # only the missing range was asked for


def test_cli_fetch_and_exit_codes(stack_env, server, tmp_path) -> None:
    env = dict(stack_env, NAUTILUS_SOURCE_URLS=json.dumps({"yahoo": server.url}), NAUTILUS_SOURCE_RETRIES="0")
    cli = [str(Path(sys.executable).with_name("nautilus"))]
    ok = subprocess.run([*cli, "fetch", "yahoo", "AAPL", "--start", "2020-08-01", "--end", "2020-09-08"],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "AAPL/1d: 25 bars from yahoo" in ok.stdout
    missing = subprocess.run([*cli, "fetch", "yahoo", "NOSUCH", "--start", "2020-01-01"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "yahoo: unknown symbol 'NOSUCH'" in missing.stdout
    bad = subprocess.run([*cli, "fetch", "nope", "AAPL", "--start", "2020-01-01"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "unknown source 'nope'" in bad.stderr
    listed = subprocess.run([*cli, "fetches"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "rejected" in listed.stdout and "ok" in listed.stdout
    bars = subprocess.run([*cli, "bars", "AAPL", "--start", "2020-09-01", "--end", "2020-09-03"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert bars.returncode == 0 and "134.18" in bars.stdout


def test_a_live_source_stream_drives_paper_trading(api) -> None:
    """Bars a live source streams are stored, published on bars.<SYMBOL>, and fill paper orders."""
    import threading

    import numpy as np

    from nautilus.adapters.base import Source, finish_bars

    minute = 60 * 10**9
    t0 = (time.time_ns() // minute - 10) * minute
    order_placed = threading.Event()

    class Live(Source):
        name = "ccxt"
        timeframes = ("1m",)
        live = True

        def __init__(self) -> None:
            pass

        def fetch(self, req, progress=None):
            raise AssertionError("not used")

        def stream(self, req, emit, stop):
            for k in range(3):
                if k == 1:
                    order_placed.wait(10)
                price = np.array([100.0 + k])
                emit(finish_bars("ccxt", req.symbol, "1m", np.array([t0 + k * minute]),
                                 {"open": price, "high": price + 1, "low": price - 1, "close": price,
                                  "volume": np.array([50.0])}, 0, 2**62))
            stop.wait(30)

    marketdata = api.app.state.writers["marketdata"].engine
    marketdata.streams._sources["ccxt"] = Live()
    assert api.post("/api/v1/portfolio/feeds", json={"symbols": ["BTCUSDT"]}).status_code == 200
    r = api.post("/api/v1/marketdata/streams", json={"source": "ccxt", "symbol": "BTC/USDT", "timeframe": "1m"})
    assert r.status_code == 201, r.text
    stream = r.json()
    deadline = time.monotonic() + 20
    while api.get("/api/v1/portfolio/feeds").json()["received"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    r = api.post("/api/v1/portfolio/orders", json={"symbol": "BTCUSDT", "side": "buy", "quantity": 2})
    assert r.status_code in (200, 201), r.text
    order_id = r.json()["order"]["id"]
    order_placed.set()
    while time.monotonic() < deadline:
        state = api.get(f"/api/v1/portfolio/orders/{order_id}").json()["order"]
        if state["status"] == "filled":
            break
        time.sleep(0.05)
    assert state["status"] == "filled" and state["avg_fill_price"] == pytest.approx(101.0)  # the next bar's open
    bars = api.get("/api/v1/marketdata/bars", params={"symbol": "BTCUSDT", "timeframe": "1m", "limit": 10}).json()
    assert bars["close"] == [100.0, 101.0, 102.0]
    listed = api.get("/api/v1/marketdata/streams").json()["streams"]
    assert listed[0]["bars"] == 3 and listed[0]["symbol"] == "BTCUSDT"
    assert api.delete(f"/api/v1/marketdata/streams/{stream['id']}").json()["status"] == "stopped"
