"""Crypto exchange bars through ccxt's sync API (ccxt 4.5): any exchange ccxt knows that has ``fetchOHLCV``.

The exchange is ``req.options["exchange"]`` or ``settings.ccxt_exchange`` (a ccxt id: ``binance``, ``kraken``,
...); symbols are ccxt unified ones (``BTC/USDT``). Timeframes keep their spelling (ccxt's and ours agree for
``1m 5m 15m 30m 1h 4h 1d 1w``); one the exchange does not offer is refused before any request.

History pages forward: ``fetch_ohlcv(symbol, tf, since=cursor, limit=page)``, the cursor moving to the bar
after the last one returned, until ``end_ns``, the last bar that can be complete now, an empty page, or a
page that does not move the cursor forward. ``page`` is ``req.options["limit"]`` or the exchange's own maximum
(``exchange.features``: 1000 for binance, 720 for kraken), else 500. Rows come back as the exchange sent
them: a gap in trading is a gap in the bars, never a fabricated bar. Kraken's OHLC endpoint only ever
serves its last 720 bars; older history is not there to page through.

Pacing: ccxt's own throttle (``enableRateLimit``: ``rateLimit`` ms times the endpoint's cost between calls),
with the sleep injectable. Retries: :func:`~nautilus.adapters.http.with_retries` around every call (market
loading and each page), waiting at least the ``Retry-After`` the exchange sends (up to
``settings.source_backoff_max_s``). Errors: ``BadSymbol`` →
``NotFound``; ``AuthenticationError``/``PermissionDenied`` → ``SourceAuthError``; ``RateLimitExceeded``/
``DDoSProtection`` (HTTP 429, binance's 418 IP ban) → ``SourceRateLimited`` and ``NetworkError`` (timeouts,
connection errors, 5xx, ``ExchangeNotAvailable``) → ``SourceUnreachable``, both after retries; any other ccxt
error or a malformed candle → ``SourceError``. A page that fails fails the whole fetch.

``settings.source_urls["ccxt"]`` (a mirror, a proxy, a recorded-response server) replaces the scheme, host
and port of every API base URL of the exchange and prefixes its path: with ``http://127.0.0.1:9000`` binance's
``https://api.binance.com/api/v3/klines`` becomes ``http://127.0.0.1:9000/api/v3/klines``.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

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
from nautilus.adapters.http import RetryLater, retry_after, snippet, with_retries
from nautilus.config import Settings
from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import (
    InvalidInput,
    NautilusError,
    NotFound,
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceUnreachable,
)
from nautilus.core.timeframe import timeframe_ns

if TYPE_CHECKING:  # ccxt (~65 MB) loads with the first fetch or stream, not with the source list
    import ccxt

log = logging.getLogger("nautilus.adapters.ccxt")

MS = 1_000_000  # ns per ms
DEFAULT_PAGE = 500
STREAM_SETTLE_S = 2.0  # poll this long after a bar closes: exchanges finalise a candle a moment later
STREAM_MIN_BACKOFF_S = 1.0
# Per-exchange ccxt options: binance loads spot markets only (one exchangeInfo request, not three).
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {"binance": {"fetchMarkets": {"types": ["spot"]}}}
# A payload ccxt could not parse raises one of these from its parsing code.
PARSE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError)


class CcxtSource(Source):
    """Bars from a crypto exchange through ccxt; ``sleep`` and ``clock`` (ns) are injectable for tests."""

    name = "ccxt"
    title = "Crypto exchanges (ccxt)"
    timeframes = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
    live = True
    option_names = ("exchange", "limit")

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], int] = now_ns, rng: random.Random | None = None) -> None:
        super().__init__(settings)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._exchanges: dict[str, ccxt.Exchange] = {}
        self.requests = 0  # HTTP calls sent through ccxt by this instance, retries included

    # Source interface ------------------------------------------------------------------------------
    def check(self, req: SourceRequest) -> None:
        super().check(req)
        exchange = self._exchange(req)
        if not exchange.has.get("fetchOHLCV"):
            raise InvalidInput(f"ccxt: {exchange.id} serves no candles (fetchOHLCV)", field="exchange")
        if req.timeframe not in (exchange.timeframes or {}):
            offered = [tf for tf in self.timeframes if tf in (exchange.timeframes or {})]
            raise InvalidInput(f"ccxt: {exchange.id} has no {req.timeframe!r} candles; it serves "
                               f"{', '.join(offered) or 'none of ours'}", field="timeframe")
        _page_option(req)

    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        self.check(req)
        exchange = self._exchange(req)
        sent = self.requests
        market = self._market(exchange, req.symbol)
        page = _page_option(req) or _page_limit(exchange, market)
        tf_ns = timeframe_ns(req.timeframe)
        now = self._clock()
        last_open = min(req.end_ns, now - tf_ns + 1)  # a bar opening at or after this is outside or still open
        total = max(1, math.ceil((last_open - req.start_ns) / (tf_ns * page)))
        rows: list[list[float]] = []
        cursor, done = req.start_ns, 0
        while cursor < last_open:
            batch = self._retrying(lambda c=cursor: self._page(exchange, req, c, page))
            done += 1
            if progress is not None:
                progress(done, max(total, done), f"ccxt {exchange.id} {req.symbol} {req.timeframe}: "
                                                 f"page {done}, {len(batch)} candles")
            if not batch or batch[-1][0] * MS < cursor:
                break  # nothing more, or a page that does not move forward
            rows.extend(batch)
            cursor = batch[-1][0] * MS + tf_ns
        bars = _bars(req, rows, req.start_ns, req.end_ns, now)
        meta = InstrumentMeta(name=market["symbol"], asset_class="crypto", currency=market.get("quote"),
                              exchange=exchange.id)
        return Fetched(bars=bars, meta=meta, requests=self.requests - sent)

    def stream(self, req: SourceRequest, emit: BarSink, stop: threading.Event) -> None:
        """Emit each complete bar with open time in ``[start_ns, end_ns)`` once, as a one-row ``Bars``.

        Polls ``fetch_ohlcv(since=cursor)`` ``STREAM_SETTLE_S`` after each bar closes (at once while a full
        page shows more history to catch up on); the cursor moves past every emitted bar, so none is emitted
        twice. Failures that may pass (rate limits, network, a bad answer) are logged and retried after a
        growing pause (the market list included); an unknown symbol or refused credentials end the stream with
        their error. Every wait is ``stop.wait``: setting ``stop`` ends the stream at once. It returns by itself
        once every bar before ``end_ns`` is emitted.
        """
        self.check(req)
        exchange = self._exchange(req)
        page = _page_option(req)
        tf_ns = timeframe_ns(req.timeframe)
        cursor, failures = req.start_ns, 0
        while not stop.is_set() and cursor < req.end_ns:
            try:
                if page is None:
                    page = _page_limit(exchange, self._market_once(exchange, req.symbol))
                batch = self._page(exchange, req, cursor, page)
                now = self._clock()
                bars = _bars(req, batch, cursor, req.end_ns, now)
            except (NotFound, SourceAuthError, InvalidInput):
                raise
            except (RetryLater, SourceError) as exc:
                failures += 1
                error = exc.error if isinstance(exc, RetryLater) else exc
                after = exc.retry_after if isinstance(exc, RetryLater) else None
                backoff = max(after or 0.0, self.settings.source_backoff_s * 2 ** (failures - 1))
                delay = max(STREAM_MIN_BACKOFF_S, min(self.settings.source_backoff_max_s, backoff))
                log.warning("%s; polling again in %.1f s", error.message, delay)
                stop.wait(delay)
                continue
            failures = 0
            for i in range(len(bars)):
                if stop.is_set():
                    return
                emit(bars.slice(i, i + 1))
            if len(bars):
                cursor = int(bars.ts[-1]) + tf_ns
            if cursor >= req.end_ns:
                return
            if len(batch) >= page and cursor + tf_ns <= now:
                continue  # catching up: the next page is already there
            stop.wait(_until_next_close(batch, tf_ns, now) / 1e9 + STREAM_SETTLE_S)

    def close(self) -> None:
        for exchange in self._exchanges.values():
            exchange.close()
        self._exchanges.clear()

    # ccxt plumbing ---------------------------------------------------------------------------------
    def _exchange(self, req: SourceRequest) -> ccxt.Exchange:
        """The ccxt exchange of ``req`` (made once per id): paced by our sleep, counting its HTTP calls,
        refusing candles it cannot read."""
        import ccxt

        exchange_id = req.options.get("exchange") or self.settings.ccxt_exchange
        if exchange_id in self._exchanges:
            return self._exchanges[exchange_id]
        if exchange_id not in ccxt.exchanges:
            raise InvalidInput(f"ccxt: unknown exchange {exchange_id!r}: use a ccxt exchange id such as binance, "
                               f"kraken, coinbase, okx or bybit ({len(ccxt.exchanges)} in all)", field="exchange")
        exchange: ccxt.Exchange = getattr(ccxt, exchange_id)({
            "enableRateLimit": True,
            "timeout": int(self.settings.source_timeout_s * 1000),
            "options": EXCHANGE_OPTIONS.get(exchange_id, {}),
        })
        base = self.settings.source_urls.get(self.name)
        if base:
            exchange.urls = {**exchange.urls, "api": _rebase(exchange.urls["api"], base)}
        send = exchange.fetch

        def counted_fetch(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return send(*args, **kwargs)

        def throttle(cost: float | None = None) -> None:  # ccxt's Exchange.throttle, with our sleep
            gap_ms = exchange.rateLimit * (1 if cost is None else cost)
            elapsed_ms = exchange.milliseconds() - exchange.lastRestRequestTimestamp
            if elapsed_ms < gap_ms:
                self._sleep((gap_ms - elapsed_ms) / 1000)

        parse = exchange.parse_ohlcv

        def checked_parse(raw: Any, market: dict[str, Any] | None = None) -> list:
            # ccxt drops a candle it cannot read (no time) and keeps None prices: both are malformed answers
            row = parse(raw, market)
            if not (isinstance(row, list) and len(row) >= 6 and isinstance(row[0], int)
                    and all(isinstance(v, int | float) for v in row[1:5])
                    and (row[5] is None or isinstance(row[5], int | float))):
                symbol = (market or {}).get("symbol")
                raise SourceError(f"ccxt: {exchange.id} sent a malformed candle for {symbol}: "
                                  f"{snippet(repr(raw))}", field="source")
            return row

        exchange.fetch = counted_fetch
        exchange.throttle = throttle
        exchange.parse_ohlcv = checked_parse
        self._exchanges[exchange_id] = exchange
        return exchange

    def _market(self, exchange: ccxt.Exchange, symbol: str) -> dict[str, Any]:
        return self._retrying(lambda: self._market_once(exchange, symbol))

    def _market_once(self, exchange: ccxt.Exchange, symbol: str) -> dict[str, Any]:
        """The ccxt market of ``symbol``, loading the exchange's markets on first use (a single attempt)."""
        markets = self._once(exchange, symbol, exchange.load_markets)
        if symbol not in markets:
            raise NotFound(f"ccxt: {exchange.id} has no market {symbol!r}", field="symbol")
        return markets[symbol]

    def _page(self, exchange: ccxt.Exchange, req: SourceRequest, cursor_ns: int, page: int) -> list[list[float]]:
        """One ``fetch_ohlcv`` call from ``cursor_ns`` (a single attempt): ``[ms, o, h, l, c, v]`` rows."""
        return self._once(exchange, req.symbol,
                          lambda: exchange.fetch_ohlcv(req.symbol, req.timeframe, since=cursor_ns // MS, limit=page))

    def _retrying(self, call: Callable[[], Any]) -> Any:
        return with_retries(self.settings, call, sleep=self._sleep, rng=self._rng)

    def _once(self, exchange: ccxt.Exchange, symbol: str, call: Callable[[], Any]) -> Any:
        """``call()`` with ccxt's errors turned into ours (``RetryLater`` for those worth retrying)."""
        import ccxt

        exchange.last_response_headers = None
        try:
            return call()
        except ccxt.BaseError as exc:
            raise _translate(exchange, symbol, exc, self.settings.source_retries) from None
        except PARSE_ERRORS as exc:
            raise SourceError(f"ccxt: {exchange.id} sent an answer ccxt cannot read for {symbol} "
                              f"({type(exc).__name__}: {snippet(str(exc))})", field="source") from None


def _translate(exchange: ccxt.Exchange, symbol: str, exc: ccxt.BaseError, retries: int) -> Exception:
    import ccxt

    detail = snippet(str(exc))
    if isinstance(exc, ccxt.BadSymbol):
        return NotFound(f"ccxt: {exchange.id} has no market {symbol!r} ({detail})", field="symbol")
    if isinstance(exc, ccxt.AuthenticationError):  # PermissionDenied included
        return SourceAuthError(f"ccxt: {exchange.id} refused access: {detail}", field="source")
    if isinstance(exc, ccxt.DDoSProtection):  # RateLimitExceeded included
        error: NautilusError = SourceRateLimited(
            f"ccxt: {exchange.id} rate limits the requests (retried up to {retries} times): {detail}", field="source")
        return RetryLater(error, retry_after=retry_after(exchange.last_response_headers))
    if isinstance(exc, ccxt.NetworkError):  # RequestTimeout, ExchangeNotAvailable included
        error = SourceUnreachable(f"ccxt: cannot reach {exchange.id} (retried up to {retries} times; "
                                  f"{type(exc).__name__}: {detail})", field="source")
        return RetryLater(error, retry_after=retry_after(exchange.last_response_headers))
    return SourceError(f"ccxt: {exchange.id} failed ({type(exc).__name__}: {detail})", field="source")


def _bars(req: SourceRequest, rows: list[list[float]], start_ns: int, end_ns: int, now: int) -> Bars:
    table = np.array([row[:6] for row in rows], dtype=np.float64).reshape(-1, 6)
    ts = np.array([row[0] for row in rows], dtype=np.int64) * MS
    return finish_bars("ccxt", req.symbol, req.timeframe, ts,
                       {c: table[:, i + 1] for i, c in enumerate(COLUMNS)}, start_ns, end_ns, now=now)


def _page_option(req: SourceRequest) -> int | None:
    text = req.options.get("limit")
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"ccxt: option limit (candles per request) must be a positive integer, not {text!r}",
                           field="limit")
    return int(text)


def _page_limit(exchange: ccxt.Exchange, market: dict[str, Any]) -> int:
    """The exchange's most candles per ``fetch_ohlcv`` for this market type (``features``), else 500."""
    features = (exchange.features or {}).get(market.get("type") or "spot") or {}
    if "fetchOHLCV" not in features:  # swap/future features are split into linear and inverse
        features = features.get("linear" if market.get("linear") else "inverse") or {}
    limit = (features.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else DEFAULT_PAGE


def _until_next_close(batch: list[list[float]], tf_ns: int, now: int) -> int:
    """ns from ``now`` until the next bar closes: the bar after the exchange's last, else the epoch grid's."""
    close = batch[-1][0] * MS + tf_ns if batch else (now // tf_ns + 1) * tf_ns
    if close <= now:
        close += ((now - close) // tf_ns + 1) * tf_ns
    return close - now


def _rebase(urls: Any, base: str) -> Any:
    """``urls`` (a URL or nested dict of them) with scheme and host from ``base`` and its path as a prefix."""
    if isinstance(urls, dict):
        return {key: _rebase(value, base) for key, value in urls.items()}
    if not isinstance(urls, str):
        return urls
    target, url = urlsplit(base), urlsplit(urls)
    return urlunsplit((target.scheme, target.netloc, target.path.rstrip("/") + url.path, url.query, url.fragment))
