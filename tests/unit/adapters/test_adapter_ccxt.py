"""CcxtSource against recorded exchange payloads: ccxt's real code path runs, `responses` answers its HTTP calls.

Fixtures (tests/fixtures/ccxt, see its README) are binance's GET /api/v3/exchangeInfo and /api/v3/klines and
kraken's /0/public/Assets, AssetPairs and OHLC in their documented shapes. Expected bars are written out by
hand from those payloads (``HOURS`` below), not derived by the code under test.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import requests
import responses
from responses import matchers
from tests.support import paths

from nautilus.adapters import make_source
from nautilus.adapters.base import SourceRequest
from nautilus.adapters.crypto import CcxtSource
from nautilus.config import Settings
from nautilus.core.errors import (
    InvalidInput,
    NotFound,
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceUnreachable,
)

FIXTURES = paths.FIXTURES / "ccxt"
BINANCE = "https://api.binance.com/api/v3"
KRAKEN = "https://api.kraken.com/0/public"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in ms
H = 3_600_000  # one hour in ms
MS = 1_000_000

# BTCUSDT 1h as in the binance fixtures: hour -> (open, high, low, close, volume).
HOURS = {
    0: (42283.58, 42554.57, 42261.02, 42475.23, 1271.68108),
    1: (42475.23, 42775.00, 42431.65, 42613.56, 1196.37856),
    2: (42613.57, 42713.91, 42488.03, 42582.88, 867.29022),
    3: (42582.88, 42700.00, 42500.00, 42526.71, 615.71412),
    4: (42526.72, 42600.00, 42450.00, 42477.77, 506.59311),
    5: (42477.77, 42590.00, 42420.10, 42541.23, 534.91262),
    6: (42541.23, 42750.30, 42530.00, 42710.00, 788.20513),
    7: (42710.00, 42888.00, 42650.12, 42850.40, 975.33671),
}


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def all_klines() -> list[list]:
    return load("binance_klines_1h_p1.json") + load("binance_klines_1h_p2.json") + load("binance_klines_1h_p3.json")


def ns(hours: float) -> int:
    return int((T0 + hours * H) * MS)


def assert_hours(bars, hours: list[int]) -> None:
    """The bars are exactly the hand-written ``HOURS`` rows of ``hours``."""
    assert bars.ts.tolist() == [ns(h) for h in hours]
    table = np.column_stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    np.testing.assert_array_equal(table, np.array([HOURS[h] for h in hours]))


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make(tmp_path):
    made: list[CcxtSource] = []

    def build(now_hours: float = 10, sleeps: list[float] | None = None, **settings) -> CcxtSource:
        options = {"source_backoff_s": 0.0, "source_retries": 2, **settings}
        source = CcxtSource(Settings(home=tmp_path / "home", **options),
                            sleep=(sleeps if sleeps is not None else []).append, clock=lambda: ns(now_hours))
        made.append(source)
        return source

    yield build
    for source in made:
        source.close()


def exchange_info(http, base: str = BINANCE) -> None:
    http.get(f"{base}/exchangeInfo", json=load("binance_exchangeInfo.json"))


def klines(http, start_ms: int, limit: int = 3, base: str = BINANCE, **answer) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1h", "limit": str(limit), "startTime": str(start_ms)}
    http.get(f"{base}/klines", match=[matchers.query_param_matcher(params)], **answer)


def request(start_h: float = 0, end_h: float = 8, symbol: str = "BTC/USDT", timeframe: str = "1h",
            **options: str) -> SourceRequest:
    return SourceRequest(symbol=symbol, timeframe=timeframe, start_ns=ns(start_h), end_ns=ns(end_h),
                         options={"limit": "3", **options})


# History -------------------------------------------------------------------------------------------------
def test_registry_makes_a_live_ccxt_source(tmp_path):
    source = make_source("ccxt", Settings(home=tmp_path))
    assert isinstance(source, CcxtSource) and source.live and source.name == "ccxt"


def test_three_pages_are_stitched_exactly(http, make):
    exchange_info(http)
    klines(http, T0, json=load("binance_klines_1h_p1.json"))
    klines(http, T0 + 3 * H, json=load("binance_klines_1h_p2.json"))
    klines(http, T0 + 6 * H, json=load("binance_klines_1h_p3.json"))  # its 08:00 bar is past the end
    sleeps: list[float] = []
    progress: list[tuple] = []
    fetched = make(sleeps=sleeps).fetch(request(0, 8), lambda d, t, m: progress.append((d, t)))
    assert_hours(fetched.bars, list(range(8)))
    assert fetched.bars.symbol == "BTC/USDT" and fetched.bars.timeframe == "1h"
    assert fetched.requests == 4 == len(http.calls)  # exchangeInfo once, three klines pages
    assert progress == [(1, 3), (2, 3), (3, 3)]  # 8 hours in pages of 3
    assert (fetched.meta.asset_class, fetched.meta.currency, fetched.meta.exchange) == ("crypto", "USDT", "binance")
    assert all(s <= 0.05 for s in sleeps)  # only ccxt's pacing (rateLimit 50 ms x cost 1), through our sleep


def test_a_gap_in_klines_stays_a_gap(http, make):
    exchange_info(http)
    klines(http, T0, json=load("binance_klines_1h_p1.json"))
    klines(http, T0 + 3 * H, json=load("binance_klines_1h_after_gap.json"))  # no trading 03:00-05:00
    fetched = make().fetch(request(0, 8))
    assert_hours(fetched.bars, [0, 1, 2, 5, 6, 7])
    assert fetched.requests == 3


def test_range_bounds_and_the_open_last_bar(http, make):
    exchange_info(http)
    klines(http, T0 + 90 * 60_000, json=load("binance_klines_1h_p1.json"))  # 00:00 and 01:00 open before 01:30
    klines(http, T0 + 3 * H, json=load("binance_klines_1h_p2.json"))
    klines(http, T0 + 6 * H, json=load("binance_klines_1h_p3.json"))  # 08:00 is still open at 08:30
    fetched = make(now_hours=8.5).fetch(request(1.5, 10))
    assert_hours(fetched.bars, [2, 3, 4, 5, 6, 7])
    assert fetched.requests == 4  # no request for bars that cannot have closed yet


def test_default_page_is_the_exchange_maximum(http, make):
    exchange_info(http)
    klines(http, T0, limit=1000, json=all_klines())
    req = SourceRequest(symbol="BTC/USDT", timeframe="1h", start_ns=ns(0), end_ns=ns(8))
    fetched = make().fetch(req)
    assert_hours(fetched.bars, list(range(8)))
    assert fetched.requests == 2


def test_429_is_retried_after_the_servers_retry_after(http, make):
    exchange_info(http)
    limited = {"code": -1003, "msg": "Too many requests; current limit of IP is 6000 requests per minute."}
    klines(http, T0, status=429, json=limited, headers={"Retry-After": "7"})
    klines(http, T0, json=load("binance_klines_1h_p1.json"))
    sleeps: list[float] = []
    fetched = make(sleeps=sleeps).fetch(request(0, 3))
    assert_hours(fetched.bars, [0, 1, 2])
    assert sleeps.count(7.0) == 1
    assert fetched.requests == 3


def test_persistent_429_is_source_rate_limited(http, make):
    exchange_info(http)
    klines(http, T0, status=429, json={"code": -1003, "msg": "Too many requests."}, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    source = make(sleeps=sleeps)
    with pytest.raises(SourceRateLimited, match="ccxt: binance rate limits the requests"):
        source.fetch(request(0, 3))
    assert sleeps.count(7.0) == 2 and source.requests == 1 + 3  # source_retries=2


@pytest.mark.parametrize(("status", "body", "error"), [
    (418, "IP banned until 1704070800000", SourceRateLimited),  # binance's IP ban after ignored 429s
    (503, "Service Unavailable", SourceUnreachable),
    (504, "Gateway Timeout", SourceUnreachable),
])
def test_ip_ban_and_server_errors_fail_after_retries(http, make, status, body, error):
    exchange_info(http)
    klines(http, T0, status=status, body=body, headers={"Retry-After": "300"})
    sleeps: list[float] = []
    source = make(sleeps=sleeps, source_backoff_max_s=60)
    with pytest.raises(error) as raised:
        source.fetch(request(0, 3))
    assert raised.value.message.startswith("ccxt: ")
    assert source.requests == 1 + 3 and sleeps.count(60.0) == 2  # Retry-After honoured up to the cap


def test_a_failure_on_page_two_fails_the_whole_fetch(http, make):
    exchange_info(http)
    klines(http, T0, json=load("binance_klines_1h_p1.json"))
    klines(http, T0 + 3 * H, status=500, body="Internal Server Error")
    klines(http, T0 + 6 * H, json=load("binance_klines_1h_p3.json"))
    with pytest.raises(SourceUnreachable, match="binance"):
        make().fetch(request(0, 8))
    starts = [c.request.params.get("startTime") for c in http.calls]
    assert str(T0 + 6 * H) not in starts  # nothing after the failed page was asked for


def test_malformed_kline_is_a_source_error(http, make):
    exchange_info(http)
    rows = load("binance_klines_1h_p1.json")
    rows[1][1] = "n/a"
    klines(http, T0, json=rows)
    with pytest.raises(SourceError, match="malformed candle for BTC/USDT"):
        make().fetch(request(0, 3))


@pytest.mark.parametrize("payload", [{"unexpected": "shape"}, [[T0, "1", "1"]], ["not a row"]])
def test_klines_answer_of_the_wrong_shape_is_a_source_error(http, make, payload):
    exchange_info(http)
    klines(http, T0, json=payload)
    with pytest.raises(SourceError, match="ccxt: binance"):
        make().fetch(request(0, 3))


def test_kline_breaking_the_ohlc_rules_is_a_source_error(http, make):
    exchange_info(http)
    rows = load("binance_klines_1h_p1.json")
    rows[2][2] = "42500.00000000"  # high below the close 42582.88
    klines(http, T0, json=rows)
    with pytest.raises(SourceError, match="high is below max"):
        make().fetch(request(0, 3))


def test_unknown_symbol_is_not_found_without_a_klines_request(http, make):
    exchange_info(http)
    with pytest.raises(NotFound) as raised:
        make().fetch(request(symbol="XYZ/USDT"))
    assert raised.value.message == "ccxt: binance has no market 'XYZ/USDT'" and raised.value.field == "symbol"
    assert len(http.calls) == 1


def test_invalid_symbol_answer_is_not_found(http, make):
    exchange_info(http)
    klines(http, T0, status=400, json={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(NotFound, match="BTC/USDT"):
        make().fetch(request(0, 3))


def test_refused_key_is_an_auth_error(http, make):
    exchange_info(http)
    klines(http, T0, status=401, json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    with pytest.raises(SourceAuthError, match="binance"):
        make().fetch(request(0, 3))
    assert len(http.calls) == 2  # not retried


def test_connection_error_is_source_unreachable(http, make):
    http.get(f"{BINANCE}/exchangeInfo", body=requests.ConnectionError("[Errno 111] Connection refused"))
    source = make()
    with pytest.raises(SourceUnreachable, match="cannot reach binance"):
        source.fetch(request(0, 3))
    assert source.requests == len(http.calls) == 3


def test_source_url_replaces_the_exchange_host(http, make):
    mirror = "http://127.0.0.1:9/mirror"
    exchange_info(http, base=f"{mirror}/api/v3")
    klines(http, T0, base=f"{mirror}/api/v3", json=load("binance_klines_1h_p1.json"))
    fetched = make(source_urls={"ccxt": mirror}).fetch(request(0, 3))
    assert_hours(fetched.bars, [0, 1, 2])


# Checks made before any request ---------------------------------------------------------------------------
def test_unknown_exchange_is_invalid_input(http, make):
    with pytest.raises(InvalidInput) as raised:
        make().check(request(exchange="nosuchex"))
    assert raised.value.field == "exchange" and "binance" in raised.value.message and "kraken" in raised.value.message


def test_timeframe_the_exchange_lacks_is_invalid_input(http, make):
    with pytest.raises(InvalidInput) as raised:
        make().fetch(request(timeframe="4h", exchange="coinbase"))  # coinbase has no 4h candles
    assert raised.value.field == "timeframe" and "coinbase" in raised.value.message
    with pytest.raises(InvalidInput) as raised:
        make().check(request(timeframe="2h"))  # not one of ours
    assert raised.value.field == "timeframe"
    with pytest.raises(InvalidInput) as raised:
        make().check(request(limit="0"))
    assert raised.value.field == "limit"
    assert len(http.calls) == 0


# A second exchange: kraken's formats ----------------------------------------------------------------------
def test_kraken_ohlc(http, make):
    http.get(f"{KRAKEN}/Assets", json=load("kraken_Assets.json"))
    http.get(f"{KRAKEN}/AssetPairs", json=load("kraken_AssetPairs.json"))
    # ccxt asks for one interval before `since` (kraken's since is exclusive); 60 = minutes per bar
    http.get(f"{KRAKEN}/OHLC", json=load("kraken_OHLC_XXBTZUSD_60.json"), match=[matchers.query_param_matcher(
        {"pair": "XXBTZUSD", "interval": "60", "since": str(T0 // 1000 - 3600)})])
    req = SourceRequest(symbol="BTC/USD", timeframe="1h", start_ns=ns(0), end_ns=ns(6),
                        options={"exchange": "kraken"})
    fetched = make(now_hours=4.5).fetch(req)  # the 04:00 bar is still open
    assert fetched.bars.ts.tolist() == [ns(h) for h in range(4)]
    expected = [(42288.6, 42545.0, 42263.9, 42473.3, 71.30962341), (42473.3, 42760.0, 42440.0, 42611.1, 58.04771122),
                (42611.2, 42700.0, 42490.5, 42580.0, 40.51020064), (42580.0, 42695.1, 42502.2, 42530.4, 29.93457891)]
    table = np.column_stack([fetched.bars.open, fetched.bars.high, fetched.bars.low, fetched.bars.close,
                             fetched.bars.volume])
    np.testing.assert_array_equal(table, np.array(expected))  # volume is column 6, not the vwap
    assert fetched.requests == 3 and fetched.meta.currency == "USD" and fetched.meta.exchange == "kraken"


# Stream ---------------------------------------------------------------------------------------------------
class FakeStop(threading.Event):
    """A stop event whose waits advance a fake clock instead of sleeping; it sets itself after ``waits``."""

    def __init__(self, clock: list[int], waits: int) -> None:
        super().__init__()
        self.clock, self.left, self.timeouts = clock, waits, []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        self.clock[0] += int(timeout * 1e9)
        self.left -= 1
        if self.left == 0:
            self.set()
        return self.is_set()


def test_stream_emits_each_closed_bar_once(http, tmp_path, caplog):
    rows = all_klines()
    http.get(f"{BINANCE}/exchangeInfo", body=requests.ConnectionError("[Errno 101] Network is unreachable"))
    exchange_info(http)
    klines(http, T0, limit=1000, json=rows[:4])  # at 03:00:11 the 03:00 bar is open
    klines(http, T0 + 3 * H, limit=1000, json=rows[2:5])  # repeats 02:00 (before `since`); 04:00 open
    klines(http, T0 + 4 * H, limit=1000, status=503, body="Service Unavailable")
    klines(http, T0 + 4 * H, limit=1000, json=rows[4:6])
    clock = [ns(3) + 10 * 10**9]
    stop = FakeStop(clock, waits=5)
    source = CcxtSource(Settings(home=tmp_path, source_backoff_s=0), sleep=lambda s: None, clock=lambda: clock[0])
    emitted = []
    req = SourceRequest(symbol="BTC/USDT", timeframe="1h", start_ns=ns(0), end_ns=ns(1000))
    source.stream(req, emitted.append, stop)
    assert all(len(b) == 1 and b.symbol == "BTC/USDT" for b in emitted)
    assert [int(b.ts[0]) for b in emitted] == [ns(h) for h in range(5)]
    assert [float(b.close[0]) for b in emitted] == [HOURS[h][3] for h in range(5)]
    # 1 s after the failed market list, then until the next close + 2 s settle: 04:00:02 from 03:00:11;
    # 05:00:02 from 04:00:02; 1 s after the 503; then 06:00:02 from 05:00:03
    assert stop.timeouts == [1.0, 3591.0, 3600.0, 1.0, 3599.0]
    assert sum("cannot reach binance" in r.getMessage() for r in caplog.records) == 2  # both failures logged
    source.close()


def test_stream_catches_up_page_by_page_and_ends_at_end(http, tmp_path):
    rows = all_klines()
    exchange_info(http)
    klines(http, T0, json=rows[0:3])  # full pages: the next is asked for at once
    klines(http, T0 + 3 * H, json=rows[3:6])
    klines(http, T0 + 6 * H, json=rows[6:9])  # 08:00 is open at 08:30, and past the end anyway
    clock = [ns(8.5)]
    stop = FakeStop(clock, waits=1)
    source = CcxtSource(Settings(home=tmp_path), sleep=lambda s: None, clock=lambda: clock[0])
    emitted = []
    source.stream(request(0, 8), emitted.append, stop)
    assert [int(b.ts[0]) for b in emitted] == [ns(h) for h in range(8)]
    assert [float(b.volume[0]) for b in emitted] == [HOURS[h][4] for h in range(8)]
    assert stop.timeouts == [] and not stop.is_set()  # returned by itself: every bar before the end emitted
    source.close()


def test_stream_returns_promptly_when_stopped(http, tmp_path):
    exchange_info(http)
    klines(http, T0, limit=1000, json=[])
    source = CcxtSource(Settings(home=tmp_path), sleep=lambda s: None, clock=lambda: ns(0.5))
    stop = threading.Event()
    req = SourceRequest(symbol="BTC/USDT", timeframe="1h", start_ns=ns(0), end_ns=ns(1000))
    worker = threading.Thread(target=source.stream, args=(req, lambda bars: None, stop), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while len(http.calls) < 2 and time.monotonic() < deadline:  # wait until it polled and waits for a close
        time.sleep(0.01)
    assert len(http.calls) == 2
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    source.close()


def test_stream_unknown_symbol_raises(http, make):
    exchange_info(http)
    with pytest.raises(NotFound):
        make().stream(request(symbol="XYZ/USDT"), lambda bars: None, threading.Event())
