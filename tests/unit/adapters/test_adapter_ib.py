"""IBSource against a fake TWS on a real socket (tests/support/fake_tws.py): pagination, ranges, errors, pacing,
reconnects and the live 5-second bar stream. Expected values are the scripted bars, read off by hand."""

from __future__ import annotations

import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from tests.support.fake_tws import LOST_TEXT, PACING_TEXT, FakeTWS

from nautilus.adapters import make_source
from nautilus.adapters.base import SourceRequest
from nautilus.adapters.ib import IBSource
from nautilus.adapters.ratelimit import RateLimiter, limiter_for, reset_limiters
from nautilus.config import Settings
from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, NotFound, SourceError, SourceRateLimited, SourceUnreachable

NS = 1_000_000_000


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS


def epoch(text: str) -> int:
    return ns(text) // NS


@pytest.fixture(autouse=True)
def _limiters():
    reset_limiters()
    yield
    reset_limiters()


def make(tmp_path, port: int, sleeps: list[float] | None = None, **overrides) -> IBSource:
    values = {"home": tmp_path, "ib_port": port, "source_backoff_s": 0.0, "source_retries": 2, **overrides}
    record = sleeps if sleeps is not None else []
    return IBSource(Settings(**values), sleep=record.append)


def request(symbol: str, timeframe: str, start: str, end: str, **options: str) -> SourceRequest:
    return SourceRequest(symbol=symbol, timeframe=timeframe, start_ns=ns(start), end_ns=ns(end), options=options)


def rows(bars: Bars) -> list[tuple]:
    return [(int(t), float(o), float(h), float(lo), float(c), float(v))
            for t, o, h, lo, c, v in zip(bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume,
                                         strict=True)]


DAILY = {
    "AAPL": {
        "20240105 00:00:00 UTC": [("20230103", 130.28, 130.90, 124.17, 125.07, 112117500),
                                  ("20230104", 126.89, 128.66, 125.08, 126.36, 89113600),
                                  ("20240104", 182.15, 183.09, 180.88, 181.91, 71983600),
                                  ("20240105", 181.99, 182.76, 180.17, 181.18, 62303300)],
        "20230103 00:00:00 UTC": [("20220103", 177.83, 182.88, 177.71, 182.01, 104487900),
                                  ("20221230", 128.41, 129.95, 127.43, 129.93, 77034200),
                                  ("20230103", 1.0, 1.0, 1.0, 1.0, 1)],  # also on page 1: page 1's values win
        "20220103 00:00:00 UTC": [("20211229", 179.33, 180.63, 178.14, 179.38, 62348900),
                                  ("20211230", 179.47, 180.57, 178.09, 178.20, 59773000),
                                  ("20211231", 178.09, 179.23, 177.26, 177.57, 64062300)],
    },
}


def test_daily_pages_are_stitched_and_the_range_is_respected(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port:
        progress: list[tuple] = []
        source = make(tmp_path, port)
        got = source.fetch(request("AAPL", "1d", "2021-12-30", "2024-01-05"), lambda *a: progress.append(a))
    # page 1 ends at end_ns; each next page ends at the previous page's first bar; page 3 reaches start_ns
    assert [(r.end, r.duration, r.bar_size, r.what_to_show, r.use_rth, r.format_date) for r in fake.historical] == [
        ("20240105 00:00:00 UTC", "1 Y", "1 day", "TRADES", "1", "2"),
        ("20230103 00:00:00 UTC", "1 Y", "1 day", "TRADES", "1", "2"),
        ("20220103 00:00:00 UTC", "1 Y", "1 day", "TRADES", "1", "2"),
    ]
    assert fake.contract_requests == ["AAPL"]
    assert got.requests == 4  # 1 contract lookup + 3 pages
    assert [p[:2] for p in progress] == [(1, None), (2, None), (3, None)]
    assert progress[0][2] == "ib: AAPL 1d: 4 bars back to 2023-01-03T00:00:00"
    # 2021-12-29 is before start, 2024-01-05 is the (exclusive) end: both dropped
    assert rows(got.bars) == [
        (ns("2021-12-30"), 179.47, 180.57, 178.09, 178.20, 59773000.0),
        (ns("2021-12-31"), 178.09, 179.23, 177.26, 177.57, 64062300.0),
        (ns("2022-01-03"), 177.83, 182.88, 177.71, 182.01, 104487900.0),
        (ns("2022-12-30"), 128.41, 129.95, 127.43, 129.93, 77034200.0),
        (ns("2023-01-03"), 130.28, 130.90, 124.17, 125.07, 112117500.0),
        (ns("2023-01-04"), 126.89, 128.66, 125.08, 126.36, 89113600.0),
        (ns("2024-01-04"), 182.15, 183.09, 180.88, 181.91, 71983600.0),
    ]
    assert got.bars.symbol == "AAPL" and got.bars.timeframe == "1d"
    assert got.meta is not None
    assert (got.meta.name, got.meta.asset_class, got.meta.currency, got.meta.exchange) == (
        "AAPL Test Corp", "equity", "USD", "NASDAQ")
    assert not got.adjusted


def test_intraday_pages_until_ib_has_no_more_data(tmp_path):
    page1 = [(epoch("2024-03-04 14:00"), 10.0, 10.5, 9.9, 10.2, 1000),
             (epoch("2024-03-04 15:00"), 10.2, 10.6, 10.1, 10.4, 1100)]
    page2 = [(epoch("2024-02-05 14:00"), 9.0, 9.4, 8.8, 9.1, 900),
             (epoch("2024-02-05 15:00"), 9.1, 9.3, 9.0, 9.2, 950)]
    page3 = [(epoch("2024-01-05 19:00"), 8.0, 8.2, 7.9, 8.1, 800)]
    fake = FakeTWS(bars_by_symbol={"MSFT": {"20240305 00:00:00 UTC": page1,
                                            "20240304 14:00:00 UTC": page2,
                                            "20240205 14:00:00 UTC": page3}})
    with fake as port:
        got = make(tmp_path, port).fetch(request("MSFT", "1h", "2023-06-01", "2024-03-05"))
    assert [(r.end, r.duration, r.bar_size, r.format_date) for r in fake.historical] == [
        ("20240305 00:00:00 UTC", "1 M", "1 hour", "2"),
        ("20240304 14:00:00 UTC", "1 M", "1 hour", "2"),
        ("20240205 14:00:00 UTC", "1 M", "1 hour", "2"),
        ("20240105 19:00:00 UTC", "1 M", "1 hour", "2"),  # answered "HMDS query returned no data": the end
    ]
    assert got.requests == 5
    assert rows(got.bars) == [
        (ns("2024-01-05 19:00"), 8.0, 8.2, 7.9, 8.1, 800.0),
        (ns("2024-02-05 14:00"), 9.0, 9.4, 8.8, 9.1, 900.0),
        (ns("2024-02-05 15:00"), 9.1, 9.3, 9.0, 9.2, 950.0),
        (ns("2024-03-04 14:00"), 10.0, 10.5, 9.9, 10.2, 1000.0),
        (ns("2024-03-04 15:00"), 10.2, 10.6, 10.1, 10.4, 1100.0),
    ]


def test_an_end_in_the_future_asks_ib_for_bars_up_to_now(tmp_path):
    fake = FakeTWS(bars_by_symbol={"MSFT": {"": [(epoch("2024-03-04 14:00"), 10.0, 10.5, 9.9, 10.2, 1000)]}})
    with fake as port:
        got = make(tmp_path, port).fetch(request("MSFT", "1h", "2024-03-04", "2100-01-01"))
    assert [r.end for r in fake.historical] == ["", "20240304 14:00:00 UTC"]
    assert rows(got.bars) == [(ns("2024-03-04 14:00"), 10.0, 10.5, 9.9, 10.2, 1000.0)]


def test_parallel_fetches_from_worker_threads_each_use_their_own_client_id(tmp_path):
    page = {"20240105 00:00:00 UTC": [("20240104", 10.0, 11.0, 9.0, 10.5, 100)]}
    symbols = ["AAA", "BBB", "CCC", "DDD"]
    fake = FakeTWS(bars_by_symbol={s: page for s in symbols})
    barrier = threading.Barrier(len(symbols))

    def fetch(source: IBSource, symbol: str) -> list[tuple]:
        barrier.wait(timeout=5)
        return rows(source.fetch(request(symbol, "1d", "2024-01-04", "2024-01-05")).bars)

    with fake as port, ThreadPoolExecutor(max_workers=len(symbols)) as pool:
        source = make(tmp_path, port)
        results = list(pool.map(lambda s: fetch(source, s), symbols))
    assert results == [[(ns("2024-01-04"), 10.0, 11.0, 9.0, 10.5, 100.0)]] * len(symbols)
    assert sorted(fake.contract_requests) == symbols
    # one startApi per fetch: however the fetches overlapped, no client id was refused (error 326)
    assert len(fake.client_ids) == len(symbols) and min(fake.client_ids) == 17


def test_forex_midpoint_bars_have_zero_volume(tmp_path):
    fake = FakeTWS(bars_by_symbol={"EURUSD": {"20240104 00:00:00 UTC": [
        ("20240102", 1.1040, 1.1046, 1.0940, 1.0942, -1), ("20240103", 1.0942, 1.0955, 1.0892, 1.0921, -1)]}})
    with fake as port:
        got = make(tmp_path, port).fetch(request("EURUSD", "1d", "2024-01-02", "2024-01-04", sec_type="CASH"))
    assert fake.contract_requests == ["EURUSD"]
    assert [(r.what_to_show, r.use_rth) for r in fake.historical] == [("MIDPOINT", "0")]
    assert rows(got.bars) == [(ns("2024-01-02"), 1.1040, 1.1046, 1.0940, 1.0942, 0.0),
                              (ns("2024-01-03"), 1.0942, 1.0955, 1.0892, 1.0921, 0.0)]
    assert got.meta is not None and got.meta.asset_class == "fx"


@pytest.mark.parametrize(("symbol", "options", "contract", "what_to_show", "use_rth", "asset_class"), [
    ("AAPL", {}, ("AAPL", "STK", "", "SMART", "USD"), "TRADES", "1", "equity"),
    ("SAP", {"exchange": "IBIS", "currency": "EUR", "use_rth": "0"}, ("SAP", "STK", "", "IBIS", "EUR"),
     "TRADES", "0", "equity"),
    ("GBPJPY", {"sec_type": "CASH"}, ("GBP", "CASH", "", "IDEALPRO", "JPY"), "MIDPOINT", "0", "fx"),
    ("BTC", {"sec_type": "CRYPTO"}, ("BTC", "CRYPTO", "", "PAXOS", "USD"), "AGGTRADES", "0", "crypto"),
    ("SPX", {"sec_type": "IND", "exchange": "CBOE"}, ("SPX", "IND", "", "CBOE", "USD"), "TRADES", "0", "index"),
    ("ES", {"sec_type": "FUT", "exchange": "CME", "expiry": "202403", "what_to_show": "bid"},
     ("ES", "FUT", "202403", "CME", "USD"), "BID", "0", "future"),
])
def test_options_pick_the_contract_and_what_ib_shows(tmp_path, symbol, options, contract, what_to_show, use_rth,
                                                     asset_class):
    key = contract[0] + contract[4] if contract[1] == "CASH" else contract[0]
    fake = FakeTWS(bars_by_symbol={key: {"20240104 00:00:00 UTC": [("20240103", 2.0, 3.0, 1.0, 2.5, 7)]}})
    with fake as port:
        got = make(tmp_path, port).fetch(request(symbol, "1d", "2024-01-03", "2024-01-04", **options))
    assert fake.contracts == [contract]
    assert [(r.symbol, r.what_to_show, r.use_rth) for r in fake.historical] == [(key, what_to_show, use_rth)]
    assert rows(got.bars) == [(ns("2024-01-03"), 2.0, 3.0, 1.0, 2.5, 7.0)] and got.bars.symbol == symbol
    assert got.meta is not None and got.meta.asset_class == asset_class


def test_unknown_symbol_is_not_found(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port, pytest.raises(NotFound, match="ib: no security definition for ZZZZ"):
        make(tmp_path, port).fetch(request("ZZZZ", "1d", "2023-01-01", "2024-01-01"))
    assert fake.historical == []


def test_pacing_violation_is_retried_after_15_s_then_succeeds(tmp_path):
    bars = {"AAPL": {"20220104 00:00:00 UTC": [("20220103", 177.83, 182.88, 177.71, 182.01, 104487900)]}}
    fake = FakeTWS(bars_by_symbol=bars)
    sleeps: list[float] = []
    with fake as port:
        fake.fail_historical(162, PACING_TEXT, times=2)
        got = make(tmp_path, port, sleeps).fetch(request("AAPL", "1d", "2022-01-03", "2022-01-04"))
    assert sleeps == [15.0, 15.0]
    assert len(fake.historical) == 3 and {r.end for r in fake.historical} == {"20220104 00:00:00 UTC"}
    assert got.requests == 4
    assert rows(got.bars) == [(ns("2022-01-03"), 177.83, 182.88, 177.71, 182.01, 104487900.0)]


def test_persistent_pacing_violation_is_rate_limited(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port:
        fake.fail_historical(162, PACING_TEXT, times=100)
        with pytest.raises(SourceRateLimited, match="pacing violation.*2 retries"):
            make(tmp_path, port).fetch(request("AAPL", "1d", "2023-01-01", "2024-01-05"))
    assert len(fake.historical) == 3  # the first try and 2 retries


def test_other_ib_error_is_a_source_error(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port:
        fake.fail_historical(162, "Historical Market Data Service error message:No market data permissions")
        with pytest.raises(SourceError, match="ib: error 162: .*No market data permissions") as info:
            make(tmp_path, port).fetch(request("AAPL", "1d", "2023-01-01", "2024-01-05"))
    assert type(info.value) is SourceError
    assert len(fake.historical) == 1


def test_lost_connectivity_reconnects_and_retries(tmp_path):
    bars = {"AAPL": {"20220104 00:00:00 UTC": [("20220103", 177.83, 182.88, 177.71, 182.01, 104487900)]}}
    fake = FakeTWS(bars_by_symbol=bars)
    with fake as port:
        fake.fail_historical(1100, LOST_TEXT, global_=True)  # TWS says so with reqId -1 and never answers
        got = make(tmp_path, port).fetch(request("AAPL", "1d", "2022-01-03", "2022-01-04"))
    assert fake.connections == 2
    assert len(fake.historical) == 2
    assert rows(got.bars) == [(ns("2022-01-03"), 177.83, 182.88, 177.71, 182.01, 104487900.0)]


def test_lost_connectivity_announced_with_req_id_minus_1_fails_the_request_at_once(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port:
        fake.fail_historical(1100, LOST_TEXT, global_=True)
        # a 2 s timeout bounds the test if the announcement were missed; the message tells which path failed
        with pytest.raises(SourceUnreachable, match=r"ib: historical 1 day bars of AAPL \(STK SMART USD\) ending "
                                                    r"20240105 00:00:00 UTC failed at 127.0.0.1:\d+ \(error 1100: "
                                                    r"connectivity lost\)"):
            make(tmp_path, port, source_retries=0, source_timeout_s=2).fetch(
                request("AAPL", "1d", "2023-01-01", "2024-01-05"))


def test_persistent_lost_connectivity_is_unreachable(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY)
    with fake as port:
        fake.fail_historical(1100, LOST_TEXT, times=100)
        with pytest.raises(SourceUnreachable, match="error 1100"):
            make(tmp_path, port).fetch(request("AAPL", "1d", "2023-01-01", "2024-01-05"))
    assert len(fake.historical) == 3 and fake.connections == 3


def test_no_tws_listening_is_unreachable_naming_the_address(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        sleeps: list[float] = []
        with pytest.raises(SourceUnreachable, match=f"cannot connect to TWS/IB Gateway at 127.0.0.1:{port} "
                                                    r"\(.*\); is it running with the API enabled\?"):
            make(tmp_path, port, sleeps, source_retries=1).fetch(request("AAPL", "1d", "2023-01-01", "2024-01-01"))
    assert len(sleeps) == 1  # one retry


def test_tws_that_never_answers_times_out(tmp_path):
    fake = FakeTWS(handshake=False)
    with fake as port, pytest.raises(SourceUnreachable, match=r"TimeoutError: no answer within 0.3 s"):
        make(tmp_path, port, source_retries=0, source_timeout_s=0.3).fetch(
            request("AAPL", "1d", "2023-01-01", "2024-01-01"))


def test_a_client_id_in_use_elsewhere_moves_to_the_next(tmp_path):
    bars = {"AAPL": {"20220104 00:00:00 UTC": [("20220103", 177.83, 182.88, 177.71, 182.01, 104487900)]}}
    fake = FakeTWS(bars_by_symbol=bars, taken_client_ids=(17,))
    with fake as port:
        got = make(tmp_path, port).fetch(request("AAPL", "1d", "2022-01-03", "2022-01-04"))
    assert fake.client_ids == [17, 18]
    assert len(got.bars) == 1


def test_every_client_id_tried_in_use_is_unreachable(tmp_path):
    fake = FakeTWS(bars_by_symbol=DAILY, taken_client_ids=(17, 18, 19))
    with fake as port, pytest.raises(SourceUnreachable, match="refused client id 19 \\(error 326"):
        make(tmp_path, port).fetch(request("AAPL", "1d", "2023-01-01", "2024-01-05"))
    assert fake.client_ids == [17, 18, 19]


def test_malformed_bar_is_a_source_error(tmp_path):
    bars = {"AAPL": {"20220105 00:00:00 UTC": [("20220103", 177.83, 182.88, 177.71, 182.01, 100),
                                               ("20220104", 182.63, 180.00, 182.50, 181.00, 100)]}}
    fake = FakeTWS(bars_by_symbol=bars)
    with fake as port, pytest.raises(SourceError, match="ib: malformed bar for AAPL at 2022-01-04"):
        make(tmp_path, port).fetch(request("AAPL", "1d", "2022-01-03", "2022-01-05"))


def test_every_historical_request_is_paced_60_per_10_minutes(tmp_path):
    clock = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        clock[0] += s

    limiter_for("ib", lambda: RateLimiter("ib", 60, per_s=600, burst=6, clock=lambda: clock[0], sleep=sleep))
    day = 86_400
    start = epoch("2024-01-01")
    pages = {}
    for i in range(8):  # 8 one-bar 5-second pages, one per day backwards from 2024-01-09
        end = datetime.fromtimestamp(start + (8 - i) * day, UTC).strftime("%Y%m%d %H:%M:%S UTC")
        t = start + (7 - i) * day
        pages[end] = [(t, 1.0, 1.0, 1.0, 1.0, 1)]
    fake = FakeTWS(bars_by_symbol={"IBM": pages})
    with fake as port:
        source = make(tmp_path, port)
        got = source.fetch(request("IBM", "5s", "2024-01-01", "2024-01-09"))
    assert len(got.bars) == 8 and len(fake.historical) == 8
    assert waits == pytest.approx([10.0, 10.0])  # burst 6, then one every 600/60 s
    assert all(r.duration == "3600 S" and r.bar_size == "5 secs" for r in fake.historical)


def test_the_ib_limiter_is_60_per_600_s_with_burst_6(tmp_path):
    source = make(tmp_path, 1)
    assert source.limiter.rate == pytest.approx(60 / 600) and source.limiter.burst == 6
    assert limiter_for("ib", lambda: None) is source.limiter  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(("timeframe", "options", "message"), [
    ("2h", {}, "ib serves timeframes"),
    ("1d", {"sec_type": "BOND"}, "sec_type 'BOND' is not supported"),
    ("1d", {"sec_type": "FUT", "exchange": "CME"}, "needs the option 'expiry'"),
    ("1d", {"sec_type": "IND"}, "needs the option 'exchange'"),
    ("1d", {"use_rth": "yes"}, "use_rth is '0' or '1'"),
    ("1d", {"what_to_show": "VOLUME"}, "what_to_show 'VOLUME' is not supported"),
])
def test_bad_requests_fail_before_any_connection(tmp_path, timeframe, options, message):
    source = make(tmp_path, 1)  # nothing listens on port 1: a connection attempt would be unreachable
    with pytest.raises(InvalidInput, match=message):
        source.fetch(request("ES", timeframe, "2023-01-01", "2024-01-01", **options))


def test_stream_accepts_5s_only(tmp_path):
    with pytest.raises(InvalidInput, match="use timeframe '5s'"):
        make(tmp_path, 1).stream(request("AAPL", "1m", "2024-01-01", "2024-01-02"), lambda b: None,
                                 threading.Event())


def test_registry_makes_the_ib_source(tmp_path):
    source = make_source("ib", Settings(home=tmp_path))
    assert isinstance(source, IBSource) and source.live and "5s" in source.timeframes


def test_stream_emits_5s_bars_survives_a_drop_and_stops_promptly(tmp_path):
    fake = FakeTWS(symbols=("AAPL",))
    got: queue.Queue[Bars] = queue.Queue()
    failures: list[BaseException] = []
    stop = threading.Event()
    t0 = epoch("2024-03-04 14:30:00")
    with fake as port:
        source = make(tmp_path, port)

        def run() -> None:
            try:
                source.stream(request("AAPL", "5s", "2024-03-04", "2024-03-05"), got.put, stop)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert fake.wait_until(lambda: fake.subscriptions("AAPL") == 1)
        fake.push_bar("AAPL", (t0, 170.0, 170.5, 169.8, 170.2, 1200))
        fake.push_bar("AAPL", (t0 + 5, 170.2, 170.4, 170.0, 170.1, 800))
        first, second = got.get(timeout=5), got.get(timeout=5)
        # a fetch while the stream holds client id 17 connects as 18
        fetched = source.fetch(request("AAPL", "5s", "2024-03-04", "2024-03-05"))
        assert len(fetched.bars) == 0 and fake.client_ids == [17, 18]
        assert (first.symbol, first.timeframe, rows(first)) == (
            "AAPL", "5s", [(t0 * NS, 170.0, 170.5, 169.8, 170.2, 1200.0)])
        assert rows(second) == [((t0 + 5) * NS, 170.2, 170.4, 170.0, 170.1, 800.0)]

        fake.drop()  # TWS goes away: the stream reconnects and resubscribes
        assert fake.wait_until(lambda: fake.connections == 3 and fake.subscriptions("AAPL") == 1)
        fake.push_bar("AAPL", (t0 + 5, 170.2, 170.4, 170.0, 170.1, 800))  # already emitted: skipped
        fake.push_bar("AAPL", (t0 + 10, 170.1, 170.3, 169.9, 170.3, 500))
        third = got.get(timeout=5)
        assert rows(third) == [((t0 + 10) * NS, 170.1, 170.3, 169.9, 170.3, 500.0)]

        stop.set()
        asked = time.monotonic()
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - asked < 2.0
        assert fake.wait_until(lambda: fake.realtime_cancels == 1 and fake.subscriptions("AAPL") == 0)
    assert failures == []
    assert got.empty()
    assert fake.realtime_requests == [("AAPL", "5", "TRADES", "1")] * 2
    assert fake.client_ids == [17, 18, 17]  # the fetch released 18; the reconnect takes 17 again


def test_stream_unknown_symbol_is_not_found(tmp_path):
    fake = FakeTWS(symbols=("AAPL",))
    with fake as port, pytest.raises(NotFound, match="no security definition for NOPE"):
        make(tmp_path, port).stream(request("NOPE", "5s", "2024-03-04", "2024-03-05"), lambda b: None,
                                    threading.Event())


def test_stream_returns_at_once_when_stopped_before_connecting(tmp_path):
    stop = threading.Event()
    stop.set()
    fake = FakeTWS(symbols=("AAPL",))
    with fake as port:
        make(tmp_path, port).stream(request("AAPL", "5s", "2024-03-04", "2024-03-05"), lambda b: None, stop)
    assert fake.connections == 0


def start_stream(source: IBSource, symbol: str, got: queue.Queue, stop: threading.Event,
                 failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            source.stream(request(symbol, "5s", "2024-03-04", "2024-03-05"), got.put, stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_stream_moves_to_the_next_client_id_when_reconnecting_finds_its_id_taken(tmp_path):
    fake = FakeTWS(symbols=("SPY",))
    got: queue.Queue[Bars] = queue.Queue()
    failures: list[BaseException] = []
    stop = threading.Event()
    t0 = epoch("2024-03-04 15:00:00")
    with fake as port:
        thread = start_stream(make(tmp_path, port), "SPY", got, stop, failures)
        assert fake.wait_until(lambda: fake.subscriptions("SPY") == 1)
        fake.taken_client_ids = {17}  # another program grabs id 17 while we are away
        fake.drop()
        assert fake.wait_until(lambda: fake.subscriptions("SPY") == 1)
        fake.push_bar("SPY", (t0, 510.0, 510.2, 509.9, 510.1, 300))
        assert rows(got.get(timeout=5)) == [(t0 * NS, 510.0, 510.2, 509.9, 510.1, 300.0)]
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert failures == []
    assert fake.client_ids == [17, 17, 18]


def test_stream_error_on_the_subscription_is_a_source_error(tmp_path):
    fake = FakeTWS(symbols=("SPY",))
    failures: list[BaseException] = []
    stop = threading.Event()
    with fake as port:
        thread = start_stream(make(tmp_path, port), "SPY", queue.Queue(), stop, failures)
        assert fake.wait_until(lambda: fake.subscriptions("SPY") == 1)
        fake.push_error("SPY", 354, "Requested market data is not subscribed.")
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert len(failures) == 1 and type(failures[0]) is SourceError
    assert str(failures[0]) == ("ib: error 354: Requested market data is not subscribed. "
                                "(on real-time bars of SPY (STK SMART USD))")


def test_stream_without_tws_is_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(SourceUnreachable, match=f"cannot connect to TWS/IB Gateway at 127.0.0.1:{port}"):
            make(tmp_path, port, source_retries=1).stream(request("SPY", "5s", "2024-03-04", "2024-03-05"),
                                                          lambda b: None, threading.Event())
