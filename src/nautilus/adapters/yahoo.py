"""Yahoo Finance bars, splits and dividends from the chart API (the endpoint yfinance reads).

``GET {base}/v8/finance/chart/{symbol}?period1=&period2=&interval=&events=div,splits&includeAdjustedClose=true``
answers ``{"chart": {"result": [{"meta": {...}, "timestamp": [...], "events": {"dividends": {...}, "splits":
{...}}, "indicators": {"quote": [{"open": [...], ...}], "adjclose": [{"adjclose": [...]}]}}], "error": null}}``;
an unknown symbol is HTTP 404 with ``error.description`` "No data found, symbol may be delisted".

Yahoo's ``open/high/low/close`` are adjusted for splits (not dividends), ``volume`` too, and so are the
dividend amounts in ``events``. This adapter returns the series *as traded*: every price before a split is
multiplied back by the split ratio and the volume divided by it; dividends likewise. The MarketData engine
then back-adjusts with :mod:`nautilus.adapters.adjust`, which reproduces Yahoo's ``adjclose``.

Timestamps: intraday bars carry their open time; a daily or monthly bar carries the session's open time,
which becomes 00:00 UTC of its local date in the exchange's time zone (``meta.exchangeTimezoneName``).

Limits (Yahoo's, enforced before any request): 1m bars exist for the last 30 days and come 7 days per
request; 2m-30m for the last 60 days; 1h for the last 730 days; daily and longer without limit. If Yahoo
answers 401 (cookie/crumb required), the adapter gets a cookie and a crumb once and repeats the request.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from nautilus.adapters.base import (
    CorporateAction,
    Fetched,
    InstrumentMeta,
    Progress,
    Source,
    SourceRequest,
    finish_bars,
    now_ns,
)
from nautilus.adapters.http import HttpClient
from nautilus.adapters.ranges import windows
from nautilus.adapters.ratelimit import RateLimiter, limiter_for
from nautilus.core.errors import InvalidInput, NotFound, SourceAuthError, SourceError
from nautilus.core.timeframe import calendar_floor, calendar_months

PUBLIC = "https://query2.finance.yahoo.com"
COOKIE_URL = "https://fc.yahoo.com"
DAY_NS = 86_400_000_000_000
NS = 1_000_000_000

INTERVALS = {"1m": "1m", "2m": "2m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "60m",
             "1d": "1d", "1mo": "1mo", "1q": "3mo"}
# (history kept, span per request) in days; None = no limit.
LIMITS: dict[str, tuple[int | None, int | None]] = {
    "1m": (30, 7), "2m": (60, 60), "5m": (60, 60), "15m": (60, 60), "30m": (60, 60), "1h": (730, 365),
    "1d": (None, None), "1mo": (None, None), "1q": (None, None),
}
ASSET_CLASS = {"EQUITY": "equity", "ETF": "etf", "MUTUALFUND": "fund", "INDEX": "index", "CURRENCY": "fx",
               "CRYPTOCURRENCY": "crypto", "FUTURE": "future", "OPTION": "option"}


class YahooSource(Source):
    name = "yahoo"
    title = "Yahoo Finance"
    timeframes = tuple(INTERVALS)
    corporate_actions = True

    def __init__(self, settings: Any, http: HttpClient | None = None) -> None:
        super().__init__(settings)
        limiter = limiter_for(self.name, lambda: RateLimiter(self.name, 2.0, per_s=1.0, burst=4))
        self.http = http or HttpClient(self.name, settings, limiter)
        self._crumb: str | None = None

    def close(self) -> None:
        self.http.close()

    def check(self, req: SourceRequest) -> None:
        super().check(req)
        keep_days, _ = LIMITS[req.timeframe]
        if keep_days is not None and req.start_ns < now_ns() - keep_days * DAY_NS:
            raise InvalidInput(f"yahoo keeps {req.timeframe} bars for the last {keep_days} days only: start "
                               f"{np.datetime64(req.start_ns, 's')} is older", field="start")

    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        self.check(req)
        _, span_days = LIMITS[req.timeframe]
        pages = windows(req.start_ns, req.end_ns, span_days * DAY_NS) if span_days else [(req.start_ns, req.end_ns)]
        parts: list[dict[str, Any]] = []
        before = self.http.requests
        for i, (lo, hi) in enumerate(pages):
            parts.append(self._chart(req.symbol, req.timeframe, lo, hi))
            if progress is not None:
                progress(i + 1, len(pages), f"yahoo {req.symbol} {req.timeframe}: page {i + 1} of {len(pages)}")
        return self._assemble(req, parts, self.http.requests - before)

    # Requests -----------------------------------------------------------------------------------------
    def _chart(self, symbol: str, timeframe: str, start_ns: int, end_ns: int) -> dict[str, Any]:
        # Daily and longer bars are stamped at the session open, after 00:00 UTC of their date: widen by a day
        # on both sides so the first and last dates are in the answer; finish_bars trims to the range.
        pad = DAY_NS if timeframe in ("1d", "1mo", "1q") else 0
        params: dict[str, Any] = {
            "period1": max(0, (start_ns - pad) // NS), "period2": -(-(end_ns + pad) // NS),
            "interval": INTERVALS[timeframe], "events": "div,splits", "includeAdjustedClose": "true",
            "includePrePost": "false",
        }
        url = f"{self.base_url(PUBLIC)}/v8/finance/chart/{symbol}"
        not_found = f"yahoo: unknown symbol {symbol!r} (no data found; it may be delisted or misspelt)"
        try:
            payload = self._get_chart(url, params, symbol, not_found)
        except SourceAuthError:
            self._refresh_crumb()
            payload = self._get_chart(url, params, symbol, not_found)
        return _result(payload, symbol)

    def _get_chart(self, url: str, params: dict[str, Any], symbol: str, not_found: str) -> Any:
        if self._crumb is not None:
            params = {**params, "crumb": self._crumb}
        return self.http.get_json(url, params, what=f"chart {symbol}", not_found=not_found)

    def _refresh_crumb(self) -> None:
        """Yahoo's cookie + crumb handshake (needed when the chart endpoint answers 401)."""
        try:
            self.http.get(COOKIE_URL if self.base_url(PUBLIC) == PUBLIC else self.base_url(PUBLIC), what="cookie")
        except NotFound:
            pass  # fc.yahoo.com answers 404 while setting the cookie
        crumb = self.http.get(f"{self.base_url(PUBLIC)}/v1/test/getcrumb", what="crumb").text.strip()
        if not crumb or "<" in crumb or " " in crumb:
            raise SourceAuthError(f"yahoo: could not get a crumb (answer {crumb[:80]!r})", field="source")
        self._crumb = crumb

    # Parsing ------------------------------------------------------------------------------------------
    def _assemble(self, req: SourceRequest, parts: list[dict[str, Any]], requests: int) -> Fetched:
        meta = parts[0].get("meta") or {}
        zone = _zone(meta)
        ts_list, cols = [], {c: [] for c in ("open", "high", "low", "close", "volume")}
        splits: dict[int, float] = {}
        dividends: dict[int, float] = {}
        for part in parts:
            ts, quote = _quote(part, req.symbol)
            ts_list.append(_stamp(ts, req.timeframe, zone))
            for c in cols:
                cols[c].append(quote[c])
            events = part.get("events") or {}
            for item in (events.get("splits") or {}).values():
                splits[_stamp_one(item, req.timeframe, zone)] = _split_ratio(item, req.symbol)
            for item in (events.get("dividends") or {}).values():
                dividends[_stamp_one(item, req.timeframe, zone)] = _number(item, "amount", req.symbol)
        ts = np.concatenate(ts_list) if ts_list else np.empty(0, np.int64)
        columns = {c: np.concatenate(v) if v else np.empty(0) for c, v in cols.items()}
        # Undo Yahoo's split adjustment: a price before a split of ratio r was divided by r.
        factor = np.ones(len(ts))
        for split_ts, ratio in splits.items():
            factor[ts < split_ts] *= ratio
        for c in ("open", "high", "low", "close"):
            columns[c] = columns[c] * factor
        columns["volume"] = columns["volume"] / factor
        actions = [CorporateAction(ts=t, kind="split", value=r) for t, r in splits.items()]
        for div_ts, amount in dividends.items():
            later = [r for t, r in splits.items() if t > div_ts]
            actions.append(CorporateAction(ts=div_ts, kind="dividend", value=amount * float(np.prod(later))))
        actions.sort(key=lambda a: (a.ts, a.kind))
        bars = finish_bars(self.name, req.symbol, req.timeframe, ts, columns, req.start_ns, req.end_ns)
        info = InstrumentMeta(name=meta.get("longName") or meta.get("shortName"),
                              asset_class=ASSET_CLASS.get(str(meta.get("instrumentType", "")).upper()),
                              currency=meta.get("currency"), exchange=meta.get("fullExchangeName")
                              or meta.get("exchangeName"))
        return Fetched(bars=bars, actions=[a for a in actions if req.start_ns <= a.ts < req.end_ns],
                       meta=info, requests=requests)


def _result(payload: Any, symbol: str) -> dict[str, Any]:
    try:
        chart = payload["chart"]
        error = chart.get("error")
        if error:
            raise SourceError(f"yahoo: chart {symbol}: {error.get('code')}: {error.get('description')}",
                              field="source")
        return chart["result"][0]
    except (KeyError, IndexError, TypeError, AttributeError):
        raise SourceError(f"yahoo: chart {symbol}: the answer is not a chart result", field="source") from None


def _quote(part: dict[str, Any], symbol: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    stamps = part.get("timestamp")
    if stamps is None:  # a range with no trading at all
        return np.empty(0, np.int64), {c: np.empty(0) for c in ("open", "high", "low", "close", "volume")}
    try:
        quote = part["indicators"]["quote"][0]
        ts = np.asarray(stamps, dtype=np.int64) * NS
        cols = {c: np.array([np.nan if v is None else v for v in quote[c]], dtype=np.float64)
                for c in ("open", "high", "low", "close", "volume")}
    except (KeyError, IndexError, TypeError, ValueError):
        raise SourceError(f"yahoo: chart {symbol}: malformed quote arrays", field="source") from None
    if any(len(v) != len(ts) for v in cols.values()):
        raise SourceError(f"yahoo: chart {symbol}: quote arrays and timestamps differ in length", field="source")
    return ts, cols


def _zone(meta: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(meta.get("exchangeTimezoneName") or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _stamp(ts: np.ndarray, timeframe: str, zone: ZoneInfo) -> np.ndarray:
    """Bar open times: intraday as given; daily and longer → 00:00 UTC of the local trading date."""
    if timeframe not in ("1d", "1mo", "1q") or len(ts) == 0:
        return ts
    import pandas as pd

    local = pd.to_datetime(ts, unit="ns", utc=True).tz_convert(zone).tz_localize(None).normalize()
    out = local.as_unit("ns").asi8.astype(np.int64)
    months = calendar_months(timeframe)
    return out if months is None else calendar_floor(out, months)


def _stamp_one(item: dict[str, Any], timeframe: str, zone: ZoneInfo) -> int:
    """An event's ex-date as the open time of the daily bar it belongs to (events are dated by session)."""
    try:
        ts = np.array([int(item["date"]) * NS], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise SourceError("yahoo: an event has no valid date", field="source") from None
    return int(_stamp(ts, "1d", zone)[0]) if timeframe in ("1d", "1mo", "1q") else int(ts[0])


def _split_ratio(item: dict[str, Any], symbol: str) -> float:
    num, den = _number(item, "numerator", symbol), _number(item, "denominator", symbol)
    if num <= 0 or den <= 0:
        raise SourceError(f"yahoo: {symbol}: split {item.get('splitRatio')!r} is not a positive ratio",
                          field="source")
    return num / den


def _number(item: dict[str, Any], key: str, symbol: str) -> float:
    try:
        value = float(item[key])
    except (KeyError, TypeError, ValueError):
        raise SourceError(f"yahoo: {symbol}: event field {key!r} is missing or not a number", field="source") from None
    if not np.isfinite(value):
        raise SourceError(f"yahoo: {symbol}: event field {key!r} is not finite", field="source")
    return value
