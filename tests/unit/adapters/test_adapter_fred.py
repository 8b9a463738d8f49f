"""FredSource against recorded FRED answers (tests/fixtures/fred), HTTP mocked with respx.

Oracle: the values and dates written in the fixtures; the expected nanosecond timestamps are the
fixture dates at 00:00 UTC, written as ISO literals and converted by numpy.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import respx
from tests.support import paths

from nautilus.adapters import make_source
from nautilus.adapters.base import SourceRequest
from nautilus.adapters.fred import FredSource
from nautilus.adapters.ratelimit import limiter_for, reset_limiters
from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NotFound, SourceAuthError, SourceError, SourceUnreachable

FIXTURES = paths.FIXTURES / "fred"
API = "https://api.stlouisfed.org"
SERIES_URL = f"{API}/fred/series"
OBS_URL = f"{API}/fred/series/observations"
CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
KEY = "abcdefghijklmnopqrstuvwxyz012345"


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def stamps(*texts: str) -> list[int]:
    return [ns(t) for t in texts]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def answer(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=fixture(name), headers={"Content-Type": "application/json"})


@pytest.fixture(autouse=True)
def _fresh_limiters():
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def keyed(tmp_path) -> Settings:
    return Settings(home=tmp_path, fred_api_key=KEY, source_backoff_s=0, source_retries=2)


@pytest.fixture
def keyless(tmp_path) -> Settings:
    return Settings(home=tmp_path, fred_api_key=None, source_backoff_s=0, source_retries=2)


def request(symbol: str, timeframe: str, start: str, end: str) -> SourceRequest:
    return SourceRequest(symbol=symbol, timeframe=timeframe, start_ns=ns(start), end_ns=ns(end))


def source(settings: Settings, sleeps: list[float] | None = None) -> FredSource:
    return FredSource(settings, sleep=(sleeps.append if sleeps is not None else lambda s: None))


# The API (with a key) ----------------------------------------------------------------------------------
@respx.mock
def test_monthly_series_paginates_with_count_offset_limit(keyed):
    respx.get(SERIES_URL).mock(return_value=answer("series_CPIAUCSL.json"))
    pages = respx.get(OBS_URL).mock(side_effect=[answer("observations_CPIAUCSL_offset0.json"),
                                                 answer("observations_CPIAUCSL_offset3.json")])
    fred = source(keyed)
    fred.page_size = 3
    seen = []
    got = fred.fetch(request("CPIAUCSL", "1mo", "2023-01-01", "2023-06-01"),
                     progress=lambda done, total, msg: seen.append((done, total)))

    bars = got.bars
    assert bars.symbol == "CPIAUCSL" and bars.timeframe == "1mo"
    assert bars.ts.tolist() == stamps("2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01")
    assert bars.close.tolist() == [300.356, 301.509, 301.744, 302.976, 303.294]
    for column in (bars.open, bars.high, bars.low):
        assert column.tolist() == bars.close.tolist()
    assert bars.volume.tolist() == [0.0] * 5
    assert got.requests == 3 and got.actions == [] and got.adjusted is False
    assert got.meta.name == "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average"
    assert got.meta.asset_class == "economic" and got.meta.currency is None
    assert seen == [(1, 2), (2, 2)]

    first, second = (call.request.url.params for call in pages.calls)
    assert dict(first) == {"series_id": "CPIAUCSL", "api_key": KEY, "file_type": "json",
                           "observation_start": "2023-01-01", "observation_end": "2023-05-31",
                           "limit": "3", "offset": "0"}
    assert second["offset"] == "3"
    meta_params = respx.calls[0].request.url.params
    assert dict(meta_params) == {"series_id": "CPIAUCSL", "api_key": KEY, "file_type": "json"}


@respx.mock
def test_daily_spread_keeps_negative_and_zero_values_and_drops_missing(keyed):
    respx.get(SERIES_URL).mock(return_value=answer("series_T10Y2Y.json"))
    obs = respx.get(OBS_URL).mock(return_value=answer("observations_T10Y2Y.json"))
    got = source(keyed).fetch(request("T10Y2Y", "1d", "2024-01-01", "2024-01-09"))

    # 2024-01-01 is "." (New Year's Day): a gap, not a bar.
    assert got.bars.ts.tolist() == stamps("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",
                                          "2024-01-08")
    assert got.bars.close.tolist() == [-0.38, -0.42, -0.39, -0.35, 0.0]
    assert obs.calls.last.request.url.params["limit"] == "100000"
    assert got.requests == 2


@respx.mock
def test_frequency_mismatch_names_the_native_timeframe_before_fetching_observations(keyed):
    respx.get(SERIES_URL).mock(return_value=answer("series_CPIAUCSL.json"))
    obs = respx.get(OBS_URL).mock(return_value=answer("observations_CPIAUCSL_offset0.json"))
    with pytest.raises(InvalidInput) as err:
        source(keyed).fetch(request("CPIAUCSL", "1d", "2023-01-01", "2023-06-01"))
    assert err.value.message == "fred: CPIAUCSL is monthly (1mo), not 1d"
    assert err.value.field == "timeframe"
    assert not obs.called


@pytest.mark.parametrize(("short", "timeframe", "name"), [
    ("SA", "6mo", "semiannual"), ("BW", "2w", "biweekly"), ("Q", "1q", "quarterly"), ("A", "1y", "annual"),
    ("W", "1w", "weekly")])
@respx.mock
def test_other_native_frequencies_map_to_their_timeframes(keyed, short, timeframe, name):
    meta = {"seriess": [{"id": "X", "title": "X", "frequency_short": short}]}
    respx.get(SERIES_URL).mock(return_value=httpx.Response(200, json=meta))
    with pytest.raises(InvalidInput, match=rf"^fred: X is {name} \({timeframe}\), not 1mo$"):
        source(keyed).fetch(request("X", "1mo", "2020-01-01", "2021-01-01"))


@respx.mock
def test_semiannual_series_is_served_as_6mo(keyed):
    meta = {"seriess": [{"id": "SEMI", "title": "A semiannual series", "frequency_short": "SA"}]}
    page = {"count": 3, "offset": 0, "limit": 100000, "observations": [
        {"date": "2020-01-01", "value": "1.5"}, {"date": "2020-07-01", "value": "."},
        {"date": "2021-01-01", "value": "-2.25"}]}
    respx.get(SERIES_URL).mock(return_value=httpx.Response(200, json=meta))
    respx.get(OBS_URL).mock(return_value=httpx.Response(200, json=page))
    got = source(keyed).fetch(request("SEMI", "6mo", "2020-01-01", "2022-01-01"))
    assert got.bars.ts.tolist() == stamps("2020-01-01", "2021-01-01")
    assert got.bars.close.tolist() == [1.5, -2.25]


@respx.mock
def test_bad_key_is_an_auth_error_without_retries(keyed):
    route = respx.get(SERIES_URL).mock(return_value=answer("error_api_key.json", status=400))
    with pytest.raises(SourceAuthError, match="^fred: .*api_key is not registered"):
        source(keyed).fetch(request("CPIAUCSL", "1mo", "2023-01-01", "2023-06-01"))
    assert route.call_count == 1


@respx.mock
def test_unknown_series_is_not_found(keyed):
    respx.get(SERIES_URL).mock(return_value=answer("error_no_series.json", status=400))
    with pytest.raises(NotFound) as err:
        source(keyed).fetch(request("NOSUCH", "1d", "2023-01-01", "2023-06-01"))
    assert err.value.message == "fred: unknown series 'NOSUCH'"


@respx.mock
def test_server_errors_are_retried_then_unreachable(keyed):
    route = respx.get(SERIES_URL).mock(return_value=httpx.Response(503, text="Service Unavailable"))
    sleeps: list[float] = []
    with pytest.raises(SourceUnreachable, match="^fred: server error HTTP 503"):
        source(keyed, sleeps).fetch(request("CPIAUCSL", "1mo", "2023-01-01", "2023-06-01"))
    assert route.call_count == 3  # source_retries=2
    assert sleeps == [0.0, 0.0]  # source_backoff_s=0


@respx.mock
def test_a_server_error_then_success_recovers(keyed):
    respx.get(SERIES_URL).mock(side_effect=[httpx.Response(500, text="oops"), answer("series_T10Y2Y.json")])
    respx.get(OBS_URL).mock(return_value=answer("observations_T10Y2Y.json"))
    got = source(keyed).fetch(request("T10Y2Y", "1d", "2024-01-02", "2024-01-04"))
    assert got.bars.close.tolist() == [-0.38, -0.42]
    assert got.requests == 3


@pytest.mark.parametrize(("page", "match"), [
    ({"count": 1, "offset": 0, "limit": 100000}, "lacks observations/count/offset/limit"),
    ({"count": "1", "offset": 0, "limit": 100000, "observations": []}, "is malformed"),
    ({"count": 1, "offset": 0, "limit": 100000, "observations": [{"date": "2024-01-02"}]}, "is malformed"),
    ({"count": 1, "offset": 0, "limit": 100000, "observations": [{"date": "2024-01-02", "value": "n/a"}]},
     "on 2024-01-02 has the value 'n/a'"),
    ({"count": 1, "offset": 0, "limit": 100000, "observations": [{"date": "02/01/2024", "value": "1"}]},
     "dated '02/01/2024'"),
])
@respx.mock
def test_malformed_observations_are_source_errors(keyed, page, match):
    respx.get(SERIES_URL).mock(return_value=answer("series_T10Y2Y.json"))
    respx.get(OBS_URL).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(SourceError, match=f"^fred: .*{match}"):
        source(keyed).fetch(request("T10Y2Y", "1d", "2024-01-01", "2024-01-09"))


@respx.mock
def test_malformed_metadata_is_a_source_error(keyed):
    respx.get(SERIES_URL).mock(return_value=httpx.Response(200, json={"seriess": []}))
    with pytest.raises(SourceError, match="^fred: the series metadata of 'T10Y2Y' lacks"):
        source(keyed).fetch(request("T10Y2Y", "1d", "2024-01-01", "2024-01-09"))


def test_the_api_limiter_allows_120_requests_per_minute(keyed):
    with respx.mock:
        respx.get(SERIES_URL).mock(return_value=answer("series_T10Y2Y.json"))
        respx.get(OBS_URL).mock(return_value=answer("observations_T10Y2Y.json"))
        source(keyed).fetch(request("T10Y2Y", "1d", "2024-01-01", "2024-01-09"))
    limiter = limiter_for("fred", lambda: pytest.fail("the fetch registered no limiter"))
    assert limiter.rate == pytest.approx(2.0) and limiter.burst == 120 and limiter.daily is None


# The keyless CSV ---------------------------------------------------------------------------------------
@respx.mock
def test_keyless_csv_with_missing_values_and_lookback_window(keyless):
    route = respx.get(CSV_URL).mock(return_value=httpx.Response(200, text=fixture("fredgraph_T10Y2Y.csv")))
    got = source(keyless).fetch(request("T10Y2Y", "1d", "2024-01-02", "2024-01-09"))
    # 2024-01-01 (empty) and 2024-01-04 (".") are gaps; December rows are before the range.
    assert got.bars.ts.tolist() == stamps("2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08")
    assert got.bars.close.tolist() == [-0.38, -0.42, -0.35, -0.34]
    # cosd starts 800 days before 2024-01-02 so the spacing of any series shows.
    assert dict(route.calls.last.request.url.params) == {"id": "T10Y2Y", "cosd": "2021-10-24",
                                                         "coed": "2024-01-08"}
    assert got.requests == 1 and got.meta.asset_class == "economic" and got.meta.name is None
    assert source(keyless).missing_setup() is None  # keyless works: the key is optional


@respx.mock
def test_keyless_monthly_series_is_inferred_and_served(keyless):
    respx.get(CSV_URL).mock(return_value=httpx.Response(200, text=fixture("fredgraph_CPIAUCSL.csv")))
    got = source(keyless).fetch(request("CPIAUCSL", "1mo", "2023-01-01", "2023-06-01"))
    assert got.bars.ts.tolist() == stamps("2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01")
    assert got.bars.close.tolist() == [300.356, 301.509, 301.744, 302.976]


@respx.mock
def test_keyless_frequency_mismatch_is_invalid_input(keyless):
    respx.get(CSV_URL).mock(return_value=httpx.Response(200, text=fixture("fredgraph_CPIAUCSL.csv")))
    with pytest.raises(InvalidInput) as err:
        source(keyless).fetch(request("CPIAUCSL", "1d", "2023-01-01", "2023-06-01"))
    assert err.value.message == "fred: CPIAUCSL is monthly (1mo), not 1d"


@pytest.mark.parametrize(("dates", "native"), [
    (["2023-01-06", "2023-01-13", "2023-01-20", "2023-01-27"], "weekly (1w)"),
    (["2023-01-06", "2023-01-20", "2023-02-03"], "biweekly (2w)"),
    (["2022-01-01", "2022-04-01", "2022-07-01", "2022-10-01", "2023-01-01"], "quarterly (1q)"),
    (["2022-01-01", "2022-07-01", "2023-01-01"], "semiannual (6mo)"),
    (["2021-01-01", "2022-01-01", "2023-01-01"], "annual (1y)"),
])
@respx.mock
def test_keyless_frequency_is_inferred_from_date_spacing(keyless, dates, native):
    text = "observation_date,X\n" + "".join(f"{d},1.0\n" for d in dates)
    respx.get(CSV_URL).mock(return_value=httpx.Response(200, text=text))
    with pytest.raises(InvalidInput) as err:
        source(keyless).fetch(request("X", "1d", "2023-01-01", "2023-02-01"))
    assert err.value.message == f"fred: X is {native}, not 1d"


@respx.mock
def test_keyless_single_date_cannot_contradict_the_asked_timeframe(keyless):
    respx.get(CSV_URL).mock(return_value=httpx.Response(200, text="observation_date,NEW\n2023-01-01,4.5\n"))
    got = source(keyless).fetch(request("NEW", "1q", "2023-01-01", "2023-04-01"))
    assert got.bars.ts.tolist() == stamps("2023-01-01") and got.bars.close.tolist() == [4.5]


@respx.mock
def test_keyless_unknown_series_is_not_found(keyless):
    respx.get(CSV_URL).mock(return_value=httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(NotFound) as err:
        source(keyless).fetch(request("NOSUCH", "1d", "2023-01-01", "2023-02-01"))
    assert err.value.message == "fred: unknown series 'NOSUCH'"


@pytest.mark.parametrize(("text", "match"), [
    ("<!DOCTYPE html><html>maintenance</html>", "does not start with 'observation_date,X'"),
    ("observation_date,X\n2023-01-02,1.0,7\n", "a row without two columns"),
    ("observation_date,X\n2023-01-02,abc\n2023-01-03,1.0\n", "on 2023-01-02 has the value 'abc'"),
    ("observation_date,X\n2023-01-01,1\n2023-03-15,1\n2023-06-01,2\n", "cannot tell the frequency of X"),
])
@respx.mock
def test_keyless_malformed_csv_is_a_source_error(keyless, text, match):
    respx.get(CSV_URL).mock(return_value=httpx.Response(200, text=text))
    with pytest.raises(SourceError, match=f"^fred: .*{match}"):
        source(keyless).fetch(request("X", "1d", "2023-01-01", "2023-02-01"))


@respx.mock
def test_source_urls_replace_both_public_bases(tmp_path):
    mirror = "http://mirror.test/fred-root"
    for key in (KEY, None):
        settings = Settings(home=tmp_path, fred_api_key=key, source_urls={"fred": mirror + "/"})
        respx.get(f"{mirror}/fred/series").mock(return_value=answer("series_T10Y2Y.json"))
        respx.get(f"{mirror}/fred/series/observations").mock(return_value=answer("observations_T10Y2Y.json"))
        respx.get(f"{mirror}/graph/fredgraph.csv").mock(
            return_value=httpx.Response(200, text=fixture("fredgraph_T10Y2Y.csv")))
        got = make_source("fred", settings).fetch(request("T10Y2Y", "1d", "2024-01-02", "2024-01-04"))
        assert got.bars.close.tolist() == [-0.38, -0.42]
    assert [call.request.url.path for call in respx.calls] == [
        "/fred-root/fred/series", "/fred-root/fred/series/observations", "/fred-root/graph/fredgraph.csv"]


def test_unsupported_timeframe_is_rejected_before_any_request(keyed):
    with respx.mock, pytest.raises(InvalidInput, match="fred serves timeframes"):  # no route: no request
        source(keyed).fetch(request("DGS10", "1h", "2024-01-01", "2024-01-09"))
