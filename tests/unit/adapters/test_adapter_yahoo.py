"""Yahoo adapter against recorded chart responses (respx: the real httpx path runs)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import respx
from tests.support import paths

from nautilus.adapters.adjust import back_adjust
from nautilus.adapters.base import SourceRequest, now_ns
from nautilus.adapters.http import HttpClient
from nautilus.adapters.ratelimit import reset_limiters
from nautilus.adapters.yahoo import YahooSource
from nautilus.config import Settings
from nautilus.core.errors import (
    InvalidInput,
    NotFound,
    SourceError,
    SourceRateLimited,
    SourceUnreachable,
)

FIXTURES = paths.FIXTURES / "yahoo"
BASE = "https://query2.finance.yahoo.com/v8/finance/chart"
DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000


def ns(date: str) -> int:
    return int(np.datetime64(date, "ns").astype(np.int64))


@pytest.fixture
def chart() -> dict:
    return json.loads((FIXTURES / "chart_AAPL_1d.json").read_text())


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def source(tmp_path, sleeps) -> YahooSource:
    reset_limiters()
    settings = Settings(home=tmp_path, source_retries=3, source_backoff_s=0.5)
    src = YahooSource(settings, HttpClient("yahoo", settings, sleep=sleeps.append))
    yield src
    src.close()


def request(start: str = "2020-08-01", end: str = "2020-09-08", timeframe: str = "1d", symbol: str = "AAPL"):
    return SourceRequest(symbol=symbol, timeframe=timeframe, start_ns=ns(start), end_ns=ns(end))


@respx.mock
def test_daily_bars_are_as_traded_with_actions(source, chart):
    route = respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, json=chart))
    fetched = source.fetch(request())
    bars = fetched.bars
    quote = chart["chart"]["result"][0]["indicators"]["quote"][0]
    assert len(bars) == 25
    # stamped 00:00 UTC of the New York trading date
    assert bars.ts[0] == ns("2020-08-03") and bars.ts[-1] == ns("2020-09-04")
    # before the 4:1 split Yahoo's prices were divided by 4 and volumes multiplied by 4: undone here
    assert bars.close[0] == pytest.approx(435.75, rel=1e-12)
    assert bars.close[19] == pytest.approx(499.23, rel=1e-12)  # 2020-08-28, last pre-split session
    assert bars.close[20] == pytest.approx(129.04, rel=1e-12)
    assert bars.volume[0] == pytest.approx(quote["volume"][0] / 4)
    assert bars.volume[20] == quote["volume"][20]
    kinds = [(a.kind, a.ts, a.value) for a in fetched.actions]
    assert kinds == [("dividend", ns("2020-08-07"), pytest.approx(0.82)), ("split", ns("2020-08-31"), 4.0)]
    assert fetched.meta.name == "Apple Inc." and fetched.meta.currency == "USD"
    assert fetched.meta.asset_class == "equity" and fetched.meta.exchange == "NasdaqGS"
    assert fetched.requests == 1
    params = route.calls.last.request.url.params
    assert params["interval"] == "1d" and params["events"] == "div,splits"
    assert int(params["period1"]) <= ns("2020-08-01") // 10**9 and int(params["period2"]) >= ns("2020-09-08") // 10**9


@respx.mock
def test_back_adjustment_reproduces_yahoo_adjclose(source, chart):
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, json=chart))
    fetched = source.fetch(request())
    adjusted = back_adjust(fetched.bars, fetched.actions, "total")
    result = chart["chart"]["result"][0]
    np.testing.assert_allclose(adjusted.close, result["indicators"]["adjclose"][0]["adjclose"], rtol=1e-6)
    # split-only adjustment equals Yahoo's split-adjusted quote, volumes included
    splits = back_adjust(fetched.bars, fetched.actions, "splits")
    np.testing.assert_allclose(splits.close, result["indicators"]["quote"][0]["close"], rtol=1e-12)
    np.testing.assert_allclose(splits.volume, result["indicators"]["quote"][0]["volume"], rtol=1e-12)


@respx.mock
def test_range_bounds_and_gap_rows(source, chart):
    quote = chart["chart"]["result"][0]["indicators"]["quote"][0]
    for key in ("open", "high", "low", "close", "volume"):
        quote[key][5] = None  # 2020-08-10 reported as a gap
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, json=chart))
    bars = source.fetch(request("2020-08-05", "2020-08-12")).bars
    dates = [str(np.datetime64(int(t), "ns"))[:10] for t in bars.ts]
    assert dates == ["2020-08-05", "2020-08-06", "2020-08-07", "2020-08-11"]


@respx.mock
def test_unknown_symbol_is_not_found(source):
    body = {"chart": {"result": None, "error": {"code": "Not Found",
                                                 "description": "No data found, symbol may be delisted"}}}
    respx.get(f"{BASE}/NOSUCH").mock(return_value=httpx.Response(404, json=body))
    with pytest.raises(NotFound, match="yahoo: unknown symbol 'NOSUCH'"):
        source.fetch(request(symbol="NOSUCH"))


@respx.mock
def test_rate_limit_is_retried_with_backoff_then_succeeds(source, chart, sleeps):
    route = respx.get(f"{BASE}/AAPL").mock(side_effect=[
        httpx.Response(429, text="Too Many Requests"),
        httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "7"}),
        httpx.Response(200, json=chart),
    ])
    fetched = source.fetch(request())
    assert len(fetched.bars) == 25 and route.call_count == 3 and fetched.requests == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] < 0.5  # full jitter under base * 2**0
    assert sleeps[1] == 7.0  # Retry-After beats the (shorter) backoff


@respx.mock
def test_persistent_rate_limit_fails_naming_the_source(source, sleeps):
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(429, text="Too Many Requests"))
    with pytest.raises(SourceRateLimited, match="yahoo: rate limited"):
        source.fetch(request())
    assert len(sleeps) == 3


@respx.mock
def test_server_errors_and_network_down(source):
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(SourceUnreachable, match="HTTP 503"):
        source.fetch(request())
    respx.get(f"{BASE}/MSFT").mock(side_effect=httpx.ConnectError("Name or service not known"))
    with pytest.raises(SourceUnreachable, match="yahoo: cannot reach query2.finance.yahoo.com"):
        source.fetch(request(symbol="MSFT"))


@respx.mock
def test_malformed_payloads(source, chart):
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(SourceError, match="not JSON"):
        source.fetch(request())
    broken = json.loads(json.dumps(chart))
    del broken["chart"]["result"][0]["indicators"]
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, json=broken))
    with pytest.raises(SourceError, match="malformed quote"):
        source.fetch(request())
    inverted = json.loads(json.dumps(chart))
    quote = inverted["chart"]["result"][0]["indicators"]["quote"][0]
    quote["high"][3], quote["low"][3] = quote["low"][3], quote["high"][3]
    respx.get(f"{BASE}/AAPL").mock(return_value=httpx.Response(200, json=inverted))
    with pytest.raises(SourceError, match=r"yahoo: malformed bar for AAPL at 2020-08-06"):
        source.fetch(request())


@respx.mock
def test_cookie_and_crumb_handshake_on_401(source, chart):
    unauthorized = httpx.Response(401, json={"finance": {"error": {"code": "Unauthorized",
                                                                  "description": "Invalid Crumb"}}})
    route = respx.get(f"{BASE}/AAPL").mock(side_effect=[unauthorized, httpx.Response(200, json=chart)])
    respx.get("https://fc.yahoo.com").mock(
        return_value=httpx.Response(404, headers={"Set-Cookie": "A3=abc; Domain=.yahoo.com; Path=/"}))
    respx.get("https://query2.finance.yahoo.com/v1/test/getcrumb").mock(return_value=httpx.Response(200, text="Xy9z"))
    assert len(source.fetch(request()).bars) == 25
    assert route.calls.last.request.url.params["crumb"] == "Xy9z"


def _intraday_chart(ts_s: list[int], step_s: int) -> dict:
    n = len(ts_s)
    close = [100.0 + i for i in range(n)]
    return {"chart": {"result": [{
        "meta": {"currency": "USD", "symbol": "SPY", "exchangeTimezoneName": "America/New_York",
                 "instrumentType": "ETF", "dataGranularity": f"{step_s // 60}m"},
        "timestamp": ts_s,
        "indicators": {"quote": [{"open": close, "high": [x + 0.5 for x in close], "low": [x - 0.5 for x in close],
                                  "close": close, "volume": [1000] * n}]}}], "error": None}}


@respx.mock
def test_hourly_history_pages_by_365_days_and_drops_the_open_bar(source):
    now = now_ns()
    start = now - now % HOUR - 500 * DAY
    calls = []

    def answer(req: httpx.Request) -> httpx.Response:
        lo, hi = int(req.url.params["period1"]), int(req.url.params["period2"])
        calls.append((lo, hi))
        first = -(-lo // 3600) * 3600
        return httpx.Response(200, json=_intraday_chart(list(range(first, min(hi, now // 10**9 + 1), 3600 * 24)), 3600))

    respx.get(f"{BASE}/SPY").mock(side_effect=answer)
    progress = []
    fetched = source.fetch(SourceRequest(symbol="SPY", timeframe="1h", start_ns=start, end_ns=now + HOUR),
                           lambda d, t, m: progress.append((d, t)))
    assert len(calls) == 2 and calls[0][1] <= calls[1][0] + 1
    assert progress == [(1, 2), (2, 2)]
    bars = fetched.bars
    assert np.all(np.diff(bars.ts) > 0)
    assert bars.ts[0] >= start and bars.ts[-1] + HOUR <= now  # the still-open hour is not a bar
    assert fetched.meta.asset_class == "etf"


def test_minute_bars_older_than_30_days_are_refused_before_any_request(source):
    now = now_ns()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/SPY")
        with pytest.raises(InvalidInput, match="last 30 days"):
            source.fetch(SourceRequest(symbol="SPY", timeframe="1m", start_ns=now - 40 * DAY, end_ns=now))
        assert route.call_count == 0


def test_unsupported_timeframe(source):
    with pytest.raises(InvalidInput, match="yahoo serves timeframes"):
        source.fetch(request(timeframe="4h"))
