"""AlphaVantageSource against recorded Alpha Vantage answers (tests/fixtures/alphavantage), mocked with respx.

Oracle: the fixtures' values; intraday UTC times are worked by hand from US/Eastern (EST = UTC-5 until
2024-03-10 02:00 local, EDT = UTC-4 after), written as ISO literals.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import respx
from tests.support import paths

from nautilus.adapters import make_source
from nautilus.adapters.alphavantage import AlphaVantageSource
from nautilus.adapters.base import SourceRequest
from nautilus.adapters.ratelimit import RateLimiter, limiter_for, reset_limiters
from nautilus.config import Settings
from nautilus.core.errors import (
    InvalidInput,
    NotFound,
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceUnreachable,
)

FIXTURES = paths.FIXTURES / "alphavantage"
QUERY = "https://www.alphavantage.co/query"
KEY = "TESTKEY123"


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def stamps(*texts: str) -> list[int]:
    return [ns(t) for t in texts]


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def answer(name: str) -> httpx.Response:
    return httpx.Response(200, json=payload(name))


class FakeClock:
    """Monotonic time that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced(settings: Settings, clock: FakeClock, daily: int | None = None) -> RateLimiter:
    """Register the process-wide limiter the adapter would make, with a fake clock."""
    return limiter_for("alphavantage", lambda: RateLimiter(
        "alphavantage", settings.alphavantage_per_minute, per_s=60, burst=1,
        daily=daily or settings.alphavantage_per_day, clock=clock, sleep=clock.sleep, wall=lambda: 1.7e9))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, alphavantage_api_key=KEY, source_backoff_s=0, source_retries=2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _paced_limiter(settings, clock):
    """Every test starts with the adapter's limiter on a fake clock: pacing waits cost no time."""
    reset_limiters()
    paced(settings, clock)
    yield
    reset_limiters()


def request(symbol: str, timeframe: str, start: str, end: str, **options: str) -> SourceRequest:
    return SourceRequest(symbol=symbol, timeframe=timeframe, start_ns=ns(start), end_ns=ns(end),
                         options=options)


def source(settings: Settings, sleeps: list[float] | None = None) -> AlphaVantageSource:
    return AlphaVantageSource(settings, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def params(call) -> dict[str, str]:
    return dict(call.request.url.params)


# Data ---------------------------------------------------------------------------------------------------
@respx.mock
def test_daily_equity_bars_unadjusted_with_a_holiday_gap(settings):
    route = respx.get(QUERY).mock(return_value=answer("daily_IBM.json"))
    got = source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))

    bars = got.bars
    # 2024-01-15 (Martin Luther King Jr. Day) has no row; 2024-01-11 is before the range.
    assert bars.ts.tolist() == stamps("2024-01-12", "2024-01-16", "2024-01-17")
    assert bars.open.tolist() == [162.97, 165.80, 166.00]
    assert bars.high.tolist() == [165.98, 166.39, 166.54]
    assert bars.low.tolist() == [162.30, 164.89, 164.98]
    assert bars.close.tolist() == [165.80, 166.16, 166.08]
    assert bars.volume.tolist() == [4935400, 4955010, 4633456]
    assert got.actions == [] and got.adjusted is False and got.requests == 1
    assert got.meta.asset_class == "equity"
    assert params(route.calls.last) == {"function": "TIME_SERIES_DAILY", "symbol": "IBM",
                                        "outputsize": "full", "datatype": "json", "apikey": KEY}


@respx.mock
def test_intraday_pages_by_month_and_converts_eastern_time_to_utc_across_dst(settings):
    months = {"2024-03": "intraday_IBM_5min_2024-03.json", "2024-04": "intraday_IBM_5min_2024-04.json"}
    route = respx.get(QUERY).mock(side_effect=lambda req: answer(months[req.url.params["month"]]))
    seen = []
    got = source(settings).fetch(request("IBM", "5m", "2024-03-08", "2024-04-02"),
                                 progress=lambda done, total, msg: seen.append((done, total)))

    # EST (UTC-5) on Fri 2024-03-08, EDT (UTC-4) from Sun 2024-03-10 on.
    assert got.bars.ts.tolist() == stamps("2024-03-08T14:30", "2024-03-08T20:55", "2024-03-11T13:30",
                                          "2024-03-11T13:35", "2024-04-01T13:30", "2024-04-01T19:55")
    assert got.bars.open.tolist() == [196.06, 195.70, 195.09, 191.10, 190.00, 189.70]
    assert got.bars.close.tolist() == [196.20, 195.95, 191.10, 191.25, 190.40, 189.83]
    assert got.bars.volume.tolist() == [210004, 302555, 402117, 81234, 198765, 350112]
    assert got.requests == 2 and seen == [(1, 2), (2, 2)]
    assert [params(c)["month"] for c in route.calls] == ["2024-03", "2024-04"]
    assert params(route.calls[0]) == {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min",
                                      "month": "2024-03", "outputsize": "full", "extended_hours": "false",
                                      "adjusted": "false", "datatype": "json", "apikey": KEY}


@respx.mock
def test_intraday_months_are_the_utc_months_of_the_range(settings):
    route = respx.get(QUERY).mock(return_value=answer("intraday_IBM_5min_2024-03.json"))
    # 2024-03-01 00:00 UTC is 2024-02-29 19:00 in New York, after the regular session: February is not asked.
    got = source(settings).fetch(request("IBM", "5m", "2024-03-01", "2024-03-09"))
    assert [params(c)["month"] for c in route.calls] == ["2024-03"]
    assert got.bars.ts.tolist() == stamps("2024-03-08T14:30", "2024-03-08T20:55")


@pytest.mark.parametrize(("start", "end", "months"), [
    ("1999-11-15", "2000-02-01", ["2000-01"]),  # intraday history starts in January 2000
    ("2099-01-01", "2099-03-01", []),  # months after the current one have nothing yet
])
@respx.mock
def test_months_without_intraday_history_are_not_requested(settings, start, end, months):
    route = respx.get(QUERY).mock(return_value=httpx.Response(
        200, json={"Meta Data": {"6. Time Zone": "US/Eastern"}, "Time Series (5min)": {}}))
    got = source(settings).fetch(request("IBM", "5m", start, end))
    assert [params(c)["month"] for c in route.calls] == months
    assert len(got.bars) == 0 and got.requests == len(months)


@respx.mock
def test_hourly_requests_the_60min_interval(settings):
    series = {"2024-03-08 10:30:00": {"1. open": "1", "2. high": "2", "3. low": "0.5", "4. close": "1.5",
                                      "5. volume": "10"}}
    body = {"Meta Data": {"6. Time Zone": "US/Eastern"}, "Time Series (60min)": series}
    route = respx.get(QUERY).mock(return_value=httpx.Response(200, json=body))
    got = source(settings).fetch(request("IBM", "1h", "2024-03-08", "2024-03-09"))
    assert params(route.calls.last)["interval"] == "60min"
    assert got.bars.ts.tolist() == stamps("2024-03-08T15:30")


@pytest.mark.parametrize(("symbol", "options"), [("EUR/USD", {}), ("EURUSD", {"sec_type": "fx"})])
@respx.mock
def test_fx_daily_has_no_volume(settings, symbol, options):
    route = respx.get(QUERY).mock(return_value=answer("fx_daily_EURUSD.json"))
    got = source(settings).fetch(request(symbol, "1d", "2024-06-13", "2024-06-15", **options))
    assert got.bars.symbol == symbol
    assert got.bars.ts.tolist() == stamps("2024-06-13", "2024-06-14")
    assert got.bars.open.tolist() == [1.0801, 1.0738]
    assert got.bars.high.tolist() == [1.0815, 1.0744]
    assert got.bars.low.tolist() == [1.0730, 1.0668]
    assert got.bars.close.tolist() == [1.0738, 1.0704]
    assert got.bars.volume.tolist() == [0.0, 0.0]
    assert got.meta.asset_class == "fx" and got.meta.currency == "USD"
    assert params(route.calls.last) == {"function": "FX_DAILY", "from_symbol": "EUR", "to_symbol": "USD",
                                        "outputsize": "full", "datatype": "json", "apikey": KEY}


@respx.mock
def test_fx_intraday_premium_endpoint_is_a_source_error_naming_it(settings):
    route = respx.get(QUERY).mock(return_value=answer("information_premium.json"))
    with pytest.raises(SourceError, match="^alphavantage: FX_INTRADAY .*premium endpoint") as err:
        source(settings).fetch(request("EUR/USD", "5m", "2024-06-13", "2024-06-14"))
    assert type(err.value) is SourceError
    assert route.call_count == 1
    assert params(route.calls.last)["function"] == "FX_INTRADAY"
    assert params(route.calls.last)["interval"] == "5min"


@respx.mock
def test_fx_intraday_answer_is_utc(settings):
    series = {"2024-06-14 21:55:00": {"1. open": "1.0705", "2. high": "1.0706", "3. low": "1.0703",
                                      "4. close": "1.0704"}}
    body = {"Meta Data": {"7. Time Zone": "UTC"}, "Time Series FX (5min)": series}
    respx.get(QUERY).mock(return_value=httpx.Response(200, json=body))
    got = source(settings).fetch(request("EUR/USD", "5m", "2024-06-14", "2024-06-15"))
    assert got.bars.ts.tolist() == stamps("2024-06-14T21:55")
    assert got.bars.volume.tolist() == [0.0]


# Errors -------------------------------------------------------------------------------------------------
def test_no_key_fails_before_any_request(tmp_path):
    settings = Settings(home=tmp_path, alphavantage_api_key=None)
    with respx.mock:
        route = respx.get(QUERY).mock(return_value=answer("daily_IBM.json"))
        with pytest.raises(SourceAuthError) as err:
            make_source("alphavantage", settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
        assert not route.called
    assert err.value.message == "alphavantage: no API key: set NAUTILUS_ALPHAVANTAGE_API_KEY"
    setup = make_source("alphavantage", settings).missing_setup()
    assert setup == "no API key: set NAUTILUS_ALPHAVANTAGE_API_KEY"


@pytest.mark.parametrize("name", ["error_apikey.json", "information_demo_key.json"])
@respx.mock
def test_refused_key_is_an_auth_error(settings, name):
    route = respx.get(QUERY).mock(return_value=answer(name))
    with pytest.raises(SourceAuthError, match="^alphavantage: the API key was refused"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 1


@respx.mock
def test_invalid_api_call_is_an_unknown_symbol(settings):
    route = respx.get(QUERY).mock(return_value=answer("error_invalid_call.json"))
    with pytest.raises(NotFound, match="^alphavantage: unknown symbol 'NOSUCHCO' ") as err:
        source(settings).fetch(request("NOSUCHCO", "1d", "2024-01-12", "2024-01-18"))
    assert err.value.field == "symbol"
    assert route.call_count == 1


@respx.mock
def test_call_frequency_note_is_retried_after_a_minute_then_succeeds(settings):
    route = respx.get(QUERY).mock(side_effect=[answer("note_call_frequency.json"), answer("daily_IBM.json")])
    sleeps: list[float] = []
    got = source(settings, sleeps).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert len(got.bars) == 3 and got.requests == 2 and route.call_count == 2
    assert sleeps == [60.0]


@respx.mock
def test_persistent_call_frequency_note_ends_rate_limited(settings):
    route = respx.get(QUERY).mock(return_value=answer("note_call_frequency.json"))
    sleeps: list[float] = []
    with pytest.raises(SourceRateLimited, match="^alphavantage: rate limited on TIME_SERIES_DAILY"):
        source(settings, sleeps).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 3  # source_retries=2
    assert sleeps == [60.0, 60.0]


@respx.mock
def test_daily_limit_answer_fails_at_once_and_spends_the_quota(settings):
    route = respx.get(QUERY).mock(return_value=answer("information_daily_limit.json"))
    with pytest.raises(SourceRateLimited, match="^alphavantage: the daily request limit is reached"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 1
    with pytest.raises(SourceRateLimited, match="daily quota of 25 requests is used up"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 1


@respx.mock
def test_spent_daily_quota_raises_without_a_request(settings, clock):
    reset_limiters()
    paced(settings, clock, daily=2)
    route = respx.get(QUERY).mock(return_value=answer("daily_IBM.json"))
    for _ in range(2):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 2
    with pytest.raises(SourceRateLimited, match="^alphavantage: the daily quota of 2 requests is used up"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 2


@respx.mock
def test_requests_are_paced_five_per_minute_with_a_burst_of_one(settings, clock):
    months = {"2024-03": "intraday_IBM_5min_2024-03.json", "2024-04": "intraday_IBM_5min_2024-04.json"}
    respx.get(QUERY).mock(side_effect=lambda req: answer(months[req.url.params["month"]]))
    source(settings).fetch(request("IBM", "5m", "2024-03-08", "2024-04-02"))
    assert clock.sleeps == [pytest.approx(12.0)]  # 60 s / 5 requests between the two months


@respx.mock
def test_the_adapter_registers_the_documented_limiter(settings):
    reset_limiters()  # drop the fake-clock one: one request, so the real limiter does not wait
    respx.get(QUERY).mock(return_value=answer("daily_IBM.json"))
    source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    limiter = limiter_for("alphavantage", lambda: pytest.fail("the fetch registered no limiter"))
    assert limiter.rate == pytest.approx(5 / 60) and limiter.burst == 1 and limiter.daily == 25


@respx.mock
def test_server_errors_are_retried_then_unreachable(settings):
    route = respx.get(QUERY).mock(return_value=httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(SourceUnreachable, match="^alphavantage: server error HTTP 502"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert route.call_count == 3


def _daily_with(row: dict) -> dict:
    body = payload("daily_IBM.json")
    body["Time Series (Daily)"]["2024-01-16"] = row
    return body


@pytest.mark.parametrize(("body", "match"), [
    ({"Meta Data": {"2. Symbol": "IBM"}}, "has no 'Time Series \\(Daily\\)' object"),
    (_daily_with({"1. open": "165.8", "2. high": "166.39", "3. low": "164.89", "5. volume": "1"}),
     "at '2024-01-16': missing '4. close'"),
    (_daily_with({"1. open": "abc", "2. high": "166.39", "3. low": "164.89", "4. close": "166.16",
                  "5. volume": "1"}), "at '2024-01-16': could not convert string to float: 'abc'"),
    (_daily_with({"1. open": "165.8", "2. high": "160.0", "3. low": "164.89", "4. close": "166.16",
                  "5. volume": "1"}), "high is below max"),
    ([1, 2, 3], "answered with a JSON list"),
    ({"Information": "We are down for maintenance."}, "answered with a notice instead of data"),
])
@respx.mock
def test_malformed_answers_are_source_errors_naming_the_source(settings, body, match):
    respx.get(QUERY).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match=f"^alphavantage: .*{match}"):
        source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))


@respx.mock
def test_intraday_answer_without_time_zone_is_a_source_error(settings):
    body = payload("intraday_IBM_5min_2024-04.json")
    del body["Meta Data"]["6. Time Zone"]
    respx.get(QUERY).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match="^alphavantage: the TIME_SERIES_INTRADAY answer has no 'Meta"):
        source(settings).fetch(request("IBM", "5m", "2024-04-01", "2024-04-02"))


@pytest.mark.parametrize(("symbol", "options"), [("EURO/USD", {}), ("EURUS", {"sec_type": "fx"})])
def test_bad_fx_symbol_is_invalid_input(settings, symbol, options):
    with respx.mock, pytest.raises(InvalidInput, match="is not a currency pair"):
        source(settings).fetch(request(symbol, "1d", "2024-06-13", "2024-06-15", **options))


def test_unsupported_timeframe_is_invalid_input(settings):
    with respx.mock, pytest.raises(InvalidInput, match="alphavantage serves timeframes"):
        source(settings).fetch(request("IBM", "4h", "2024-06-13", "2024-06-15"))


@respx.mock
def test_source_urls_replace_the_public_base(tmp_path):
    """A configured source reports no missing setup; its base URL comes from source_urls."""
    settings = Settings(home=tmp_path, alphavantage_api_key=KEY,
                        source_urls={"alphavantage": "http://recorded.test/av"})
    route = respx.get("http://recorded.test/av/query").mock(return_value=answer("daily_IBM.json"))
    got = source(settings).fetch(request("IBM", "1d", "2024-01-12", "2024-01-18"))
    assert len(got.bars) == 3 and route.call_count == 1
    assert source(settings).missing_setup() is None
