"""Interactive Brokers bars through a running TWS or IB Gateway (API enabled), with ib_async.

Connection: ``settings.ib_host:ib_port``, read-only, with no start-up sync of orders or accounts, as API client
``settings.ib_client_id`` or the next id up that is free: parallel calls in one process each hold their own id,
and TWS's error 326 (id in use by another program) moves the next attempt to the next id. A refused or timed-out
connection is retried (``with_retries``) and then raises ``SourceUnreachable`` naming the address. Each
``fetch``/``stream`` call owns one ``IB()`` and a private asyncio event loop that it runs explicitly and never
installs as the thread's loop (so it works from any thread with no running loop, the engine's worker threads
included), and disconnects and closes both on every path.

Symbols and ``options``: ``sec_type`` STK (default), CASH (``EURUSD``), CRYPTO, IND or FUT; ``exchange``
(SMART for STK, IDEALPRO for CASH, PAXOS for CRYPTO; required for IND and FUT); ``currency`` (USD; CASH takes
it from the pair); ``expiry`` (FUT, ``YYYYMM`` or ``YYYYMMDD``); ``what_to_show`` (TRADES; MIDPOINT for CASH,
AGGTRADES for CRYPTO); ``use_rth`` ("1" for STK, else "0"). The contract is qualified first: IB error 200 or
no match is ``NotFound``.

Historical bars page backwards from ``end_ns``: each request ends (``endDateTime``) where the previous page
began and asks for the longest ``durationStr`` IB allows for the bar size, until a page reaches ``start_ns``
or IB has no more (error 162 "HMDS query returned no data", or an empty page). Longest durations, from IB's
"Historical Data Limitations" table "Valid Duration and Bar Size Settings" (duration → bar sizes allowed):
60 S: 1 sec-1 min, 120 S: 1 sec-2 mins, 1800 S: 1 sec-30 mins, 3600 S: 5 secs-1 hour, 14400 S: 10 secs-3 hours,
28800 S: 30 secs-8 hours, 1 D: 1 min-1 day, 2 D: 2 mins-1 day, 1 W: 3 mins-1 week, 1 M: 30 mins-1 month,
1 Y: 1 day-1 month; hence

    ====== ========== ========
    ours   bar size   duration
    ====== ========== ========
    5s     5 secs     3600 S
    1m     1 min      1 D
    5m     5 mins     1 W
    15m    15 mins    1 W
    30m    30 mins    1 M
    1h     1 hour     1 M
    4h     4 hours    1 M
    1d     1 day      1 Y
    1w     1 week     1 Y
    ====== ========== ========

Pages are stitched oldest first; a bar two pages both hold keeps the newer page's values. Times: intraday bars
are requested with ``formatDate=2`` (epoch seconds, the bar's open); daily and weekly bars come as dates and are
stamped 00:00 UTC of that date. A volume of -1 (IB's "none", e.g. MIDPOINT FX bars) is 0.

Pacing (IB: 60 historical requests per 10 minutes, no identical request within 15 s): every historical request
takes a token of the process-wide ``ib`` limiter (60 per 600 s, burst 6). Error 162 "pacing violation" is
retried after 15 s (then ``SourceRateLimited``); errors 504/1100 (not connected, connectivity lost), a dropped
socket and a request unanswered within ``settings.source_timeout_s`` reconnect and retry (then
``SourceUnreachable``); any other IB error during a request is ``SourceError("ib: error CODE: text")``.

Live: ``stream`` subscribes to IB's real-time 5-second bars (timeframe "5s" only) and emits each as a one-row
``Bars``; on a dropped connection or error 1100 it reconnects with backoff (``source_backoff_s`` doubling up to
``source_backoff_max_s``, at least 0.1 s) and resubscribes, until ``stop`` is set; it notices ``stop`` within
0.1 s, cancels the subscription and disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import numpy as np
from ib_async import IB, Contract, Crypto, Forex, Future, Index, RequestError, StartupFetchNONE, Stock
from ib_async.contract import ContractDetails
from ib_async.objects import BarData, RealTimeBar, RealTimeBarList

from nautilus.adapters.base import (
    BarSink,
    Fetched,
    InstrumentMeta,
    Progress,
    Source,
    SourceRequest,
    finish_bars,
    now_ns,
)
from nautilus.adapters.http import RetryLater, with_retries
from nautilus.adapters.ratelimit import RateLimiter, limiter_for
from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NotFound, SourceError, SourceRateLimited, SourceUnreachable

# ib_async logs ordinary outcomes as errors (162 "no data" ends every history fetch); this adapter turns the
# ones that matter into exceptions naming the cause, so its loggers only speak for the unexpected.
for _name in ("ib_async.wrapper", "ib_async.client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

T = TypeVar("T")

NS = 1_000_000_000
DAY_NS = 86_400 * NS
BAR_SIZES = {"5s": "5 secs", "1m": "1 min", "5m": "5 mins", "15m": "15 mins", "30m": "30 mins", "1h": "1 hour",
             "4h": "4 hours", "1d": "1 day", "1w": "1 week"}
DURATIONS = {"5s": "3600 S", "1m": "1 D", "5m": "1 W", "15m": "1 W", "30m": "1 M", "1h": "1 M", "4h": "1 M",
             "1d": "1 Y", "1w": "1 Y"}
ASSET_CLASS = {"STK": "equity", "CASH": "fx", "CRYPTO": "crypto", "IND": "index", "FUT": "future"}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "AGGTRADES")  # bars with OHLC meaning
REALTIME_WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK")
PACING_RETRY_S = 15.0  # IB refuses an identical historical request within 15 s
LOST_CODES = (504, 1100)  # not connected, connectivity between TWS and IB lost
CLIENT_ID_IN_USE = 326
POLL_S = 0.05  # how often a stream looks at `stop` and the connection
MIN_RECONNECT_S = 0.1


@dataclass(frozen=True)
class ContractSpec:
    """What a request asks IB for: the contract before qualification and the bar flags."""

    contract: Contract
    what_to_show: str
    use_rth: bool
    label: str  # the contract in words, for messages


def contract_spec(req: SourceRequest) -> ContractSpec:
    """The unqualified contract and request flags ``req`` asks for; ``InvalidInput`` naming a bad option."""
    opts = req.options
    sec_type = opts.get("sec_type", "STK").upper()
    if sec_type not in ASSET_CLASS:
        raise InvalidInput(f"ib: sec_type {sec_type!r} is not supported: use one of {', '.join(ASSET_CLASS)}",
                           field="options")
    symbol = req.symbol.upper()
    exchange = opts.get("exchange")
    currency = opts.get("currency", "USD")
    if sec_type in ("IND", "FUT") and not exchange:
        raise InvalidInput(f"ib: sec_type {sec_type} needs the option 'exchange' (e.g. CBOE, CME)", field="options")
    contract: Contract
    if sec_type == "STK":
        contract = Stock(symbol, exchange or "SMART", currency)
    elif sec_type == "CASH":
        if len(symbol) != 6 or not symbol.isalpha():
            raise InvalidInput(f"ib: a CASH symbol is a currency pair like EURUSD, not {req.symbol!r}", field="symbol")
        contract = Forex(symbol, exchange=exchange or "IDEALPRO")
    elif sec_type == "CRYPTO":
        contract = Crypto(symbol, exchange or "PAXOS", currency)
    elif sec_type == "IND":
        contract = Index(symbol, exchange, currency)
    else:
        expiry = opts.get("expiry", "")
        if not (expiry.isdigit() and len(expiry) in (6, 8)):
            raise InvalidInput(f"ib: a FUT needs the option 'expiry' as YYYYMM or YYYYMMDD, not {expiry!r}",
                               field="options")
        contract = Future(symbol, expiry, exchange, currency=currency)
    default_what = {"CASH": "MIDPOINT", "CRYPTO": "AGGTRADES"}.get(sec_type, "TRADES")
    what = opts.get("what_to_show", default_what).upper()
    if what not in WHAT_TO_SHOW:
        raise InvalidInput(f"ib: what_to_show {what!r} is not supported: use one of {', '.join(WHAT_TO_SHOW)}",
                           field="options")
    use_rth = opts.get("use_rth", "1" if sec_type == "STK" else "0")
    if use_rth not in ("0", "1"):
        raise InvalidInput(f"ib: use_rth is '0' or '1', not {use_rth!r}", field="options")
    label = f"{req.symbol} ({sec_type} {contract.exchange} {contract.currency})"
    return ContractSpec(contract, what, use_rth == "1", label)


class IBSource(Source):
    name = "ib"
    title = "Interactive Brokers"
    timeframes = tuple(BAR_SIZES)
    option_names = ("sec_type", "exchange", "currency", "expiry", "what_to_show", "use_rth")
    live = True

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep) -> None:
        """``sleep`` waits between retries of a fetch (tests pass a recorder); streams wait on ``stop``."""
        super().__init__(settings)
        self._sleep = sleep
        self.limiter = limiter_for(self.name, lambda: RateLimiter(self.name, 60, per_s=600, burst=6))

    def check(self, req: SourceRequest) -> None:
        super().check(req)
        contract_spec(req)

    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        self.check(req)
        spec = contract_spec(req)
        session = _Session(self.settings, self._sleep)
        try:
            session.connect()
            contract, details = session.qualify(spec)
            pages = self._pages(session, req, spec, contract, progress)
        finally:
            session.close()
        ts, cols = _columns(pages)
        bars = finish_bars(self.name, req.symbol, req.timeframe, ts, cols, req.start_ns, req.end_ns)
        meta = InstrumentMeta(name=details.longName or None, asset_class=ASSET_CLASS.get(contract.secType),
                              currency=contract.currency or None,
                              exchange=contract.primaryExchange or contract.exchange or None)
        return Fetched(bars=bars, meta=meta, requests=session.requests)

    def _pages(self, session: _Session, req: SourceRequest, spec: ContractSpec, contract: Contract,
               progress: Progress | None) -> list[list[BarData]]:
        """Pages of bars, oldest first, from ``end_ns`` back to ``start_ns`` (or as far as IB has data)."""
        pages: list[list[BarData]] = []
        end = req.end_ns
        while True:
            # an end in the future is "now" to IB ("" = the current time)
            end_text = "" if end >= now_ns() else _ib_time(end)
            page = session.history(contract, spec, end_text, req.timeframe, self.limiter)
            if not page:
                break
            pages.insert(0, page)
            first = min(_bar_ns(bar.date) for bar in page)
            if progress is not None:
                progress(len(pages), None, f"ib: {req.symbol} {req.timeframe}: {len(page)} bars back to "
                                           f"{np.datetime64(first // NS, 's')}")
            if first <= req.start_ns or first >= end:
                break
            end = first
        return pages

    def stream(self, req: SourceRequest, emit: BarSink, stop: threading.Event) -> None:
        self.check(req)
        if req.timeframe != "5s":
            raise InvalidInput(f"ib streams 5-second real-time bars only: use timeframe '5s', not {req.timeframe!r}",
                               field="timeframe")
        spec = contract_spec(req)
        if spec.what_to_show not in REALTIME_WHAT_TO_SHOW:
            raise InvalidInput(f"ib: real-time bars show one of {', '.join(REALTIME_WHAT_TO_SHOW)}, not "
                               f"{spec.what_to_show!r}", field="options")
        session = _Session(self.settings, stop.wait)
        try:
            if not session.connect(stop):
                return
            contract, _ = session.qualify(spec)
            _Streamer(self.settings, session, req.symbol, contract, spec, emit, stop).run()
        finally:
            session.close()


class _ClientIdInUse(Exception):
    """TWS refused the client id (error 326)."""


# API client ids held by this process's sessions: parallel fetches and streams each need their own.
_client_ids: set[int] = set()
_client_ids_lock = threading.Lock()


def _take_client_id(lowest: int) -> int:
    """The lowest client id from ``lowest`` up that no session of this process holds, now held."""
    with _client_ids_lock:
        client_id = lowest
        while client_id in _client_ids:
            client_id += 1
        _client_ids.add(client_id)
        return client_id


def _release_client_id(client_id: int) -> None:
    with _client_ids_lock:
        _client_ids.discard(client_id)


class _Session:
    """One ``IB()`` on a private event loop, driven synchronously from the calling thread."""

    def __init__(self, settings: Settings, sleep: Callable[[float], Any]) -> None:
        self.settings = settings
        self.where = f"{settings.ib_host}:{settings.ib_port}"
        self.requests = 0  # API requests sent (contract lookups and historical pages, retries included)
        self._sleep = sleep
        self.loop = asyncio.new_event_loop()  # private: never set as the thread's loop, always run explicitly
        self.ib = IB()
        self.ib.RaiseRequestErrors = True  # a request's IB error raises RequestError instead of an empty answer
        self.ib.errorEvent += self._on_error
        self._lost: asyncio.Future[int] = self.loop.create_future()
        self._refused: asyncio.Future[int] = self.loop.create_future()
        self.client_id = _take_client_id(settings.ib_client_id)
        self.subscription_error: RequestError | None = None
        self.subscription_id: int | None = None

    # Connection ------------------------------------------------------------------------------------------
    def connect(self, stop: threading.Event | None = None) -> bool:
        """Connect, retrying; False when ``stop`` got set first."""

        def once() -> bool:
            if stop is not None and stop.is_set():
                return False
            return self.connect_once(stop)

        return with_retries(self.settings, once, sleep=self._sleep)

    def connect_once(self, stop: threading.Event | None = None) -> bool:
        """One connection attempt: True when connected, False when ``stop`` got set; ``RetryLater`` otherwise."""
        self.drop()
        self._refused = self.loop.create_future()
        self._lost = self.loop.create_future()  # before connecting: the first message may already say 1100
        attempt = self._connect(self.client_id)
        try:
            if stop is None:
                self.run(attempt)
            elif self.run_unless_stopped(attempt, stop) is None:
                return False
        except _ClientIdInUse:
            refused = self.client_id
            _release_client_id(refused)
            self.client_id = _take_client_id(refused + 1)
            raise RetryLater(SourceUnreachable(
                f"ib: TWS/IB Gateway at {self.where} refused client id {refused} (error 326: already in use by "
                "another API client)", field="source")) from None
        except (OSError, ConnectionError) as exc:  # refused, reset, timed out (TimeoutError is an OSError)
            reason = str(exc) or f"no answer within {self.settings.source_timeout_s:g} s"
            raise RetryLater(SourceUnreachable(
                f"ib: cannot connect to TWS/IB Gateway at {self.where} ({type(exc).__name__}: {reason}); "
                "is it running with the API enabled?", field="source")) from None
        return True

    async def _connect(self, client_id: int) -> IB:
        connecting = asyncio.ensure_future(self.ib.connectAsync(
            self.settings.ib_host, self.settings.ib_port, client_id, timeout=self.settings.source_timeout_s,
            readonly=True, fetchFields=StartupFetchNONE))
        try:
            await asyncio.wait({connecting, self._refused}, return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                return connecting.result()
            raise _ClientIdInUse  # TWS said 326 and hangs up; ib_async would wait for its timeout
        finally:
            connecting.cancel()  # no-op once done; stops the attempt on 326 or when we are cancelled

    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and not self._lost.done()

    def drop(self) -> None:
        """Disconnect (whatever state the connection is in)."""
        if self.ib.isConnected():
            self.ib.disconnect()
        else:
            self.ib.client.disconnect()

    def close(self) -> None:
        _release_client_id(self.client_id)
        try:
            self.drop()
            self.loop.run_until_complete(asyncio.sleep(0))  # let the transport close its socket
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.run_until_complete(asyncio.sleep(0))
        finally:
            self.loop.close()

    def run(self, aw: Awaitable[T]) -> T:
        """Run ``aw`` to completion on the session loop."""
        return self.loop.run_until_complete(aw)

    def run_unless_stopped(self, aw: Awaitable[T], stop: threading.Event) -> T | None:
        """Run ``aw`` on the session loop; None (``aw`` cancelled) as soon as ``stop`` is set."""

        async def watched() -> T | None:
            task = asyncio.ensure_future(aw)
            while not task.done():
                if stop.is_set():
                    task.cancel()
                    return None
                await asyncio.wait({task}, timeout=POLL_S)
            return task.result()

        return self.loop.run_until_complete(watched())

    def _on_error(self, req_id: int, code: int, text: str, contract: Contract | None) -> None:
        if code == CLIENT_ID_IN_USE and not self._refused.done():
            self._refused.set_result(code)
        elif code in LOST_CODES and not self._lost.done():
            self._lost.set_result(code)
        elif req_id == self.subscription_id and self.subscription_error is None and not _is_warning(code):
            self.subscription_error = RequestError(req_id, code, text)

    # Requests --------------------------------------------------------------------------------------------
    def call(self, make: Callable[[], Coroutine[Any, Any, T]], what: str, limiter: RateLimiter | None = None) -> T:
        """One logical request: ``make()``'s answer, reconnecting and retrying what may succeed later."""

        def once() -> T:
            if not self.connected:
                self.connect_once()
            if limiter is not None:
                limiter.acquire()
            self.requests += 1
            return self.run(self._answer(make(), what))

        return with_retries(self.settings, once, sleep=self._sleep)

    async def _answer(self, request: Coroutine[Any, Any, T], what: str) -> T:
        task = asyncio.ensure_future(request)
        done, _ = await asyncio.wait({task, self._lost}, timeout=self.settings.source_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            self.drop()  # start over on a fresh connection
            cause = (f"error {self._lost.result()}: connectivity lost" if self._lost.done()
                     else f"no answer within {self.settings.source_timeout_s:g} s")
            raise RetryLater(SourceUnreachable(f"ib: {what} failed at {self.where} ({cause})", field="source"))
        try:
            return task.result()
        except RequestError as exc:
            if exc.code == 162 and "pacing violation" in exc.message.lower():
                raise RetryLater(SourceRateLimited(
                    f"ib: historical data pacing violation (error 162) on {what}, still after "
                    f"{self.settings.source_retries} retries: {exc.message}", field="source"),
                    retry_after=PACING_RETRY_S) from None
            if exc.code in LOST_CODES:
                self.drop()
                raise RetryLater(SourceUnreachable(
                    f"ib: {what} failed at {self.where} (error {exc.code}: {exc.message})", field="source")) from None
            raise SourceError(f"ib: error {exc.code}: {exc.message} (on {what})", field="source") from None
        except ConnectionError:
            raise RetryLater(SourceUnreachable(
                f"ib: the connection to TWS/IB Gateway at {self.where} dropped during {what}", field="source")
            ) from None

    def qualify(self, spec: ContractSpec) -> tuple[Contract, ContractDetails]:
        """The one contract IB defines for ``spec``: ``NotFound`` for none, ``InvalidInput`` for several."""

        async def details() -> list[ContractDetails]:
            try:
                return await self.ib.reqContractDetailsAsync(spec.contract)
            except RequestError as exc:
                if exc.code == 200:
                    return []
                raise

        found = self.call(details, f"contract lookup of {spec.label}")
        if not found:
            raise NotFound(f"ib: no security definition for {spec.label}", field="symbol")
        if len(found) > 1:
            where = ", ".join(sorted({d.contract.primaryExchange or d.contract.exchange for d in found if d.contract}))
            raise InvalidInput(f"ib: {spec.label} is ambiguous, {len(found)} contracts match ({where}): set the "
                               "options 'exchange' and 'currency'", field="symbol")
        contract = found[0].contract
        assert contract is not None
        if spec.contract.exchange == "SMART":  # IB may answer the primary exchange; keep smart routing
            contract.exchange = "SMART"
        return contract, found[0]

    def history(self, contract: Contract, spec: ContractSpec, end: str, timeframe: str,
                limiter: RateLimiter) -> list[BarData]:
        """One page of bars ending at ``end`` (IB's ``endDateTime``); [] when IB has no data there."""

        async def page() -> list[BarData]:
            try:
                return list(await self.ib.reqHistoricalDataAsync(
                    contract, end, DURATIONS[timeframe], BAR_SIZES[timeframe], spec.what_to_show, spec.use_rth,
                    formatDate=2, timeout=0))
            except RequestError as exc:
                if exc.code == 162 and "no data" in exc.message.lower():
                    return []
                raise

        return self.call(page, f"historical {BAR_SIZES[timeframe]} bars of {spec.label} ending {end or 'now'}",
                         limiter)


class _Streamer:
    """Keeps one real-time bar subscription alive across reconnects and emits its new bars."""

    def __init__(self, settings: Settings, session: _Session, symbol: str, contract: Contract, spec: ContractSpec,
                 emit: BarSink, stop: threading.Event) -> None:
        self.settings, self.session, self.symbol = settings, session, symbol
        self.contract, self.spec, self.emit, self.stop = contract, spec, emit, stop
        self.last_ns = -1

    def run(self) -> None:
        delay = self.settings.source_backoff_s
        while not self.stop.is_set():
            if not self.session.connected:
                try:
                    if not self.session.connect_once(self.stop):
                        return
                except RetryLater:
                    self.stop.wait(max(MIN_RECONNECT_S, delay))
                    delay = min(self.settings.source_backoff_max_s, max(MIN_RECONNECT_S, delay) * 2)
                    continue
                delay = self.settings.source_backoff_s
            bars = self.session.run(self._subscribe())
            self.session.run(self._watch(bars))
            error = self.session.subscription_error
            if error is not None:
                raise SourceError(f"ib: error {error.code}: {error.message} (on real-time bars of "
                                  f"{self.spec.label})", field="source")
            if self.session.connected:
                self.session.run(self._cancel(bars))
            self.session.drop()  # stopped, or the socket is gone or IB lost connectivity: start over

    async def _subscribe(self) -> RealTimeBarList:
        bars = self.session.ib.reqRealTimeBars(self.contract, 5, self.spec.what_to_show, self.spec.use_rth)
        self.session.subscription_id = bars.reqId  # before the loop can read an answer to it
        return bars

    async def _cancel(self, bars: RealTimeBarList) -> None:
        self.session.ib.cancelRealTimeBars(bars)

    async def _watch(self, bars: RealTimeBarList) -> None:
        """Emit new bars until ``stop``, a lost connection or an error on the subscription."""
        session = self.session
        while not self.stop.is_set() and session.connected and session.subscription_error is None:
            await asyncio.sleep(POLL_S)
            received = list(bars)
            bars.clear()
            for bar in received:
                self._emit(bar)

    def _emit(self, bar: RealTimeBar) -> None:
        ts = int(bar.time.timestamp()) * NS
        if ts <= self.last_ns:
            return  # seen before a reconnect
        step = 5 * NS
        row = finish_bars("ib", self.symbol, "5s", np.array([ts]),
                          {"open": [bar.open_], "high": [bar.high], "low": [bar.low], "close": [bar.close],
                           "volume": [np.nan if bar.volume == -1 else bar.volume]},
                          ts, ts + step, now=ts + step)  # IB sends a real-time bar once it is complete
        self.last_ns = ts
        self.emit(row)


def _is_warning(code: int) -> bool:
    return 2100 <= code < 2200 or code in (165, 10167)


def _ib_time(ns: int) -> str:
    """IB's UTC ``endDateTime`` spelling of ``ns``, rounded up to the second (IB's resolution)."""
    return datetime.fromtimestamp(-(-ns // NS), UTC).strftime("%Y%m%d %H:%M:%S UTC")


def _bar_ns(when: date | datetime) -> int:
    """Open time of an IB bar: epoch seconds (aware datetime) for intraday, 00:00 UTC of the date otherwise."""
    if isinstance(when, datetime):
        return int(when.timestamp()) * NS
    return (when - date(1970, 1, 1)).days * DAY_NS


def _columns(pages: list[list[BarData]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    bars = [bar for page in pages for bar in page]
    ts = np.array([_bar_ns(b.date) for b in bars], dtype=np.int64)
    volume = np.array([b.volume for b in bars], dtype=np.float64)
    cols = {
        "open": np.array([b.open for b in bars], dtype=np.float64),
        "high": np.array([b.high for b in bars], dtype=np.float64),
        "low": np.array([b.low for b in bars], dtype=np.float64),
        "close": np.array([b.close for b in bars], dtype=np.float64),
        "volume": np.where(volume == -1, np.nan, volume),  # IB's "no volume"; finish_bars makes it 0
    }
    return ts, cols
