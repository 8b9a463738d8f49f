"""Alpha Vantage (https://www.alphavantage.co/documentation/) equity and FX bars, as traded.

Every call is ``GET {base}/query?function=...&apikey=KEY`` (public base ``https://www.alphavantage.co``;
``settings.source_urls["alphavantage"]`` replaces it). The key is ``settings.alphavantage_api_key``;
without one the fetch fails with ``SourceAuthError`` before any request.

What is asked for:

- equity ``1d``: ``TIME_SERIES_DAILY`` (``outputsize=full``, unadjusted: no corporate actions are known,
  so ``Fetched.actions`` is empty) → ``"Time Series (Daily)"``, dates stamped 00:00 UTC;
- equity intraday (``1m 5m 15m 30m 1h`` = ``1min 5min 15min 30min 60min``): ``TIME_SERIES_INTRADAY`` with
  ``month=YYYY-MM``, ``outputsize=full``, ``extended_hours=false``, ``adjusted=false``: one request per
  month of the range. Months are the UTC months of the range's ends: the regular session (09:30-16:00
  US/Eastern, 13:30-20:00 UTC in summer, 14:30-21:00 UTC in winter) keeps its calendar date in UTC, so
  no other Eastern month holds a bar in range (a request saved from the daily quota). Months before
  2000-01 (no intraday history) and after the current one are not requested. Intraday times are local to
  the answer's ``Meta Data`` "Time Zone" (``US/Eastern``) and label the bar's open; they are converted to
  UTC with the zone's rules (DST included).
- FX (a symbol with ``/`` such as ``EUR/USD``, or ``EURUSD`` with option ``sec_type=fx``): ``FX_DAILY``
  (``from_symbol``, ``to_symbol``, ``outputsize=full``) → ``"Time Series FX (Daily)"``, or ``FX_INTRADAY``
  (a premium function) → ``"Time Series FX (5min)"`` in UTC; FX has no volume (0).

Alpha Vantage answers errors with HTTP 200 and a one-key JSON object, checked on every answer:

- ``"Error Message"`` naming the ``apikey`` → ``SourceAuthError``; any other ``"Error Message"`` ("Invalid
  API call ...") → ``NotFound``: every other parameter is built here from a fixed, documented set, so the
  symbol is the one value that can be invalid;
- ``"Note"`` / ``"Information"`` about the call frequency or rate limit → retried like HTTP 429, waiting
  out a minute, then ``SourceRateLimited``; one that says the *daily* limit is reached ("... 25 requests
  per day", with no per-minute figure) → ``SourceRateLimited`` at once, and the process-wide limiter's
  quota is marked spent so later fetches fail without a request;
- ``"Information"`` about a premium endpoint or feature → ``SourceError`` naming the function; about the
  API key (the demo key) → ``SourceAuthError``; any other → ``SourceError`` quoting it.

Pacing: one process-wide limiter, ``settings.alphavantage_per_minute`` per minute with a burst of one,
and ``settings.alphavantage_per_day`` per UTC day (a spent quota raises ``SourceRateLimited`` at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from nautilus.adapters.base import (
    Fetched,
    InstrumentMeta,
    Progress,
    Source,
    SourceRequest,
    finish_bars,
    now_ns,
)
from nautilus.adapters.http import HttpClient, RetryLater
from nautilus.adapters.ratelimit import RateLimiter, limiter_for
from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NotFound, SourceAuthError, SourceError, SourceRateLimited

PUBLIC = "https://www.alphavantage.co"
INTERVALS = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "60min"}
FIELDS = ("1. open", "2. high", "3. low", "4. close")
VOLUME = "5. volume"
FIRST_MONTH = (2000, 1)  # intraday history starts in January 2000
RATE_WORDS = ("rate limit", "call frequency", "call volume", "requests per", "calls per", "sparingly")
RATE_RETRY_AFTER_S = 60.0  # a per-minute window
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_NS = 1_000_000_000


class AlphaVantageSource(Source):
    """Alpha Vantage equities (``IBM``) and FX pairs (``EUR/USD``); see the module docstring."""

    name = "alphavantage"
    title = "Alpha Vantage"
    timeframes = ("1m", "5m", "15m", "30m", "1h", "1d")
    option_names = ("sec_type",)  # "fx": the symbol is a currency pair (EURUSD)

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(settings)
        self._sleep = sleep

    def missing_setup(self) -> str | None:
        if not self.settings.alphavantage_api_key:
            return "no API key: set NAUTILUS_ALPHAVANTAGE_API_KEY"
        return None

    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        self.check(req)
        setup = self.missing_setup()
        if setup is not None:
            raise SourceAuthError(f"alphavantage: {setup}", field="source")
        key = self.settings.alphavantage_api_key
        pair = _fx_pair(req)
        calls = self._calls(req, pair)
        settings = self.settings
        limiter = limiter_for(self.name, lambda: RateLimiter(
            self.name, settings.alphavantage_per_minute, per_s=60, burst=1,
            daily=settings.alphavantage_per_day))
        client = HttpClient(self.name, settings, limiter, sleep=self._sleep)
        stamps: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        try:
            for i, (params, series_key) in enumerate(calls):
                function = params["function"]
                label = f"{function} {params.get('month', '')}".strip()
                payload = client.get_json(f"{self.base_url(PUBLIC)}/query", {**params, "apikey": key},
                                          what=label, check=_checker(function, req.symbol, limiter))
                ts, values = _series(payload, series_key, function, req.symbol,
                                     intraday=req.timeframe != "1d", volume=pair is None)
                stamps.append(ts)
                rows.append(values)
                if progress is not None:
                    progress(i + 1, len(calls), f"alphavantage: {req.symbol} {label}")
        finally:
            client.close()
        ts = np.concatenate(stamps) if stamps else np.empty(0, dtype=np.int64)
        values = np.concatenate(rows) if rows else np.empty((0, 5))
        columns = {c: values[:, j] for j, c in enumerate(("open", "high", "low", "close", "volume"))}
        bars = finish_bars(self.name, req.symbol, req.timeframe, ts, columns, req.start_ns, req.end_ns)
        if pair is None:
            meta = InstrumentMeta(asset_class="equity")
        else:
            meta = InstrumentMeta(name=f"{pair[0]}/{pair[1]}", asset_class="fx", currency=pair[1])
        return Fetched(bars=bars, actions=[], meta=meta, requests=client.requests, adjusted=False)

    def _calls(self, req: SourceRequest, pair: tuple[str, str] | None) -> list[tuple[dict[str, str], str]]:
        """(query parameters without the key, the answer's time series key) of each request to make."""
        if pair is not None:
            fx = {"from_symbol": pair[0], "to_symbol": pair[1], "outputsize": "full", "datatype": "json"}
            if req.timeframe == "1d":
                return [({"function": "FX_DAILY", **fx}, "Time Series FX (Daily)")]
            interval = INTERVALS[req.timeframe]
            return [({"function": "FX_INTRADAY", **fx, "interval": interval}, f"Time Series FX ({interval})")]
        if req.timeframe == "1d":
            return [({"function": "TIME_SERIES_DAILY", "symbol": req.symbol, "outputsize": "full",
                      "datatype": "json"}, "Time Series (Daily)")]
        interval = INTERVALS[req.timeframe]
        return [({"function": "TIME_SERIES_INTRADAY", "symbol": req.symbol, "interval": interval,
                  "month": month, "outputsize": "full", "extended_hours": "false", "adjusted": "false",
                  "datatype": "json"},
                 f"Time Series ({interval})") for month in _months(req.start_ns, req.end_ns)]


def _fx_pair(req: SourceRequest) -> tuple[str, str] | None:
    """(from, to) currencies of an FX request, None for an equity."""
    symbol = req.symbol.strip().upper()
    if "/" in symbol:
        parts = symbol.split("/")
    elif req.options.get("sec_type", "").lower() == "fx":
        parts = [symbol[:3], symbol[3:]] if len(symbol) == 6 else []
    else:
        return None
    if len(parts) != 2 or not all(len(p) == 3 and p.isalpha() for p in parts):
        raise InvalidInput(f"alphavantage: FX symbol {req.symbol!r} is not a currency pair like EUR/USD "
                           "or EURUSD", field="symbol")
    return parts[0], parts[1]


def _months(start_ns: int, end_ns: int) -> list[str]:
    """YYYY-MM of every UTC month from ``start_ns``'s to ``end_ns - 1``'s, from 2000-01 to the current month
    (months with no intraday history are not asked for)."""
    first = datetime.fromtimestamp(start_ns // SECOND_NS, UTC)
    last = datetime.fromtimestamp(min(end_ns - 1, now_ns()) // SECOND_NS, UTC)
    year, month = max((first.year, first.month), FIRST_MONTH)
    out = []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _checker(function: str, symbol: str, limiter: RateLimiter) -> Callable[[Any], None]:
    """The payload check of one request: Alpha Vantage's HTTP 200 error answers → the errors they mean."""

    def check(payload: Any) -> None:
        if not isinstance(payload, dict):
            raise SourceError(f"alphavantage: {function} answered with a JSON {type(payload).__name__}, "
                              "not an object", field="source")
        if "Error Message" in payload:
            message = str(payload["Error Message"])
            if "apikey" in message.lower():
                raise SourceAuthError(f"alphavantage: the API key was refused: {message}", field="source")
            raise NotFound(f"alphavantage: unknown symbol {symbol!r} ({function} answered: {message})",
                           field="symbol")
        for field in ("Note", "Information"):
            if field in payload:
                _notice(str(payload[field]), function, limiter)

    return check


def _notice(message: str, function: str, limiter: RateLimiter) -> None:
    """Raise what a "Note"/"Information" answer means (it always replaces the data)."""
    low = message.lower()
    if any(word in low for word in RATE_WORDS):
        if "per day" in low and "per minute" not in low and "per second" not in low:
            if limiter.daily is not None:
                limiter.seed_daily(limiter.daily)
            raise SourceRateLimited(f"alphavantage: the daily request limit is reached: {message}",
                                    field="source")
        raise RetryLater(SourceRateLimited(f"alphavantage: rate limited on {function}, still after retries: "
                                           f"{message}", field="source"), retry_after=RATE_RETRY_AFTER_S)
    if "premium" in low:
        raise SourceError(f"alphavantage: {function} (as asked) is a premium endpoint this API key cannot "
                          f"use: {message}", field="source")
    if "api key" in low or "apikey" in low:
        raise SourceAuthError(f"alphavantage: the API key was refused: {message}", field="source")
    raise SourceError(f"alphavantage: {function} answered with a notice instead of data: {message}",
                      field="source")


def _series(payload: dict[str, Any], key: str, function: str, symbol: str, intraday: bool,
            volume: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ts ns UTC, rows of open/high/low/close/volume) of one answer's time series."""
    series = payload.get(key)
    if not isinstance(series, dict):
        raise SourceError(f"alphavantage: the {function} answer for {symbol} has no {key!r} object "
                          f"(keys: {', '.join(payload)})", field="source")
    zone = _zone(payload, function) if intraday else None
    ts = np.empty(len(series), dtype=np.int64)
    values = np.zeros((len(series), 5), dtype=np.float64)
    for i, (stamp, row) in enumerate(series.items()):
        try:
            ts[i] = _stamp_ns(stamp, zone)
            values[i, :4] = [float(row[f]) for f in FIELDS]
            if volume:
                values[i, 4] = float(row[VOLUME])
        except (KeyError, ValueError, TypeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise SourceError(f"alphavantage: malformed {function} answer for {symbol} at {stamp!r}: "
                              f"{detail}", field="source") from None
    return ts, values


def _zone(payload: dict[str, Any], function: str) -> ZoneInfo:
    meta = payload.get("Meta Data")
    zones = [v for k, v in meta.items() if k.endswith("Time Zone")] if isinstance(meta, dict) else []
    name = zones[0] if zones else None
    if not isinstance(name, str):
        raise SourceError(f"alphavantage: the {function} answer has no 'Meta Data' time zone", field="source")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(f"alphavantage: the {function} answer's time zone {name!r} is unknown",
                          field="source") from None


def _stamp_ns(stamp: str, zone: ZoneInfo | None) -> int:
    """A daily ``YYYY-MM-DD`` → 00:00 UTC; an intraday ``YYYY-MM-DD HH:MM:SS`` local to ``zone`` → UTC."""
    if zone is None:
        day = date.fromisoformat(stamp)
        return (day - date(1970, 1, 1)).days * 86_400 * SECOND_NS
    local = datetime.fromisoformat(stamp)
    if local.tzinfo is not None:
        raise ValueError(f"unexpected UTC offset in {stamp!r}")
    return (local.replace(tzinfo=zone) - EPOCH) // timedelta(seconds=1) * SECOND_NS
