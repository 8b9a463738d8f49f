"""FRED (Federal Reserve Economic Data, St. Louis Fed) economic series as bars, one bar per observation.

Two paths, chosen by ``settings.fred_api_key``:

- with a key, the FRED API (public base ``https://api.stlouisfed.org``): ``GET /fred/series`` gives the
  title and the native frequency (``frequency_short``), then ``GET /fred/series/observations`` the values,
  paged with the answer's ``count``/``offset``/``limit`` fields. FRED answers errors with HTTP 400 and a
  JSON body ``{"error_code": 400, "error_message": "Bad Request.  ..."}``: a message naming ``api_key``
  (not registered, not set, malformed) is a ``SourceAuthError``, "The series does not exist." is
  ``NotFound``. The FRED API allows 120 requests per minute per key.
- without a key, the keyless graph CSV (public base ``https://fred.stlouisfed.org``):
  ``GET /graph/fredgraph.csv?id=ID&cosd=YYYY-MM-DD&coed=YYYY-MM-DD`` with columns ``observation_date,ID``
  (older files say ``DATE``). The CSV carries no metadata, so the native frequency is inferred from the
  median spacing of the dates (the window asked for starts 800 days early so that even an annual series
  shows two dates); an unknown series is HTTP 404 → ``NotFound``.

``settings.source_urls["fred"]``, when set, replaces *both* public bases (a mirror or a test server
serves both paths, which differ).

Bars: ``open = high = low = close = value``, ``volume = 0``; a missing value (``"."`` or empty) is a gap
and dropped; values may be zero or negative (rates, spreads, growth). ``ts`` is the observation date at
00:00 UTC: FRED stamps a period by its first day (``2024-01-01`` is January's CPI) — weekly series by
the day FRED gives (often the week's last day). The value was published later than ``ts``; there is no
vintage (ALFRED) handling: each fetch returns the latest revision.

Native frequency → timeframe: D→1d, W→1w, BW→2w, M→1mo, Q→1q, SA→6mo, A→1y. Asking for another
timeframe is ``InvalidInput`` naming the native one (aggregation is the engine's job, not the source's).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import numpy as np

from nautilus.adapters.base import Fetched, InstrumentMeta, Progress, Source, SourceRequest, finish_bars
from nautilus.adapters.http import HttpClient
from nautilus.adapters.ratelimit import RateLimiter, limiter_for
from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NotFound, SourceAuthError, SourceError

API_PUBLIC = "https://api.stlouisfed.org"
CSV_PUBLIC = "https://fred.stlouisfed.org"
PER_MINUTE = 120  # documented FRED API limit per key

FREQUENCIES = {"D": "1d", "W": "1w", "BW": "2w", "M": "1mo", "Q": "1q", "SA": "6mo", "A": "1y"}
NAMES = {"1d": "daily", "1w": "weekly", "2w": "biweekly", "1mo": "monthly", "1q": "quarterly",
         "6mo": "semiannual", "1y": "annual"}
# Median spacing of observation dates in days → timeframe (the keyless path); inclusive bounds.
SPACINGS = ((1, 4, "1d"), (6, 8, "1w"), (13, 15, "2w"), (28, 31, "1mo"), (89, 92, "1q"), (181, 184, "6mo"),
            (365, 366, "1y"))
LOOKBACK_DAYS = 800  # keyless CSV: earlier start so two dates of any series show its spacing
MISSING = (".", "")
DAY_NS = 86_400 * 1_000_000_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class FredSource(Source):
    """FRED series by id (``CPIAUCSL``, ``DGS10``, ``T10Y2Y``); see the module docstring."""

    name = "fred"
    title = "FRED (St. Louis Fed economic data)"
    timeframes = ("1d", "1w", "2w", "1mo", "1q", "6mo", "1y")
    page_size = 100_000  # observations per page (the API's maximum ``limit``)

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(settings)
        self._sleep = sleep

    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        self.check(req)
        limiter = limiter_for(self.name, lambda: RateLimiter(self.name, PER_MINUTE, per_s=60))
        client = HttpClient(self.name, self.settings, limiter, sleep=self._sleep)
        try:
            if self.settings.fred_api_key:
                ts, values, meta = self._from_api(client, req, progress)
            else:
                ts, values, meta = self._from_csv(client, req, progress)
        finally:
            client.close()
        columns = {"open": values, "high": values, "low": values, "close": values,
                   "volume": np.zeros(len(values))}
        bars = finish_bars(self.name, req.symbol, req.timeframe, ts, columns, req.start_ns, req.end_ns,
                           positive=False)
        return Fetched(bars=bars, actions=[], meta=meta, requests=client.requests, adjusted=False)

    # The API (with a key) ------------------------------------------------------------------------------
    def _from_api(self, client: HttpClient, req: SourceRequest,
                  progress: Progress | None) -> tuple[np.ndarray, np.ndarray, InstrumentMeta]:
        base = self.base_url(API_PUBLIC)
        series = req.symbol
        auth = {"series_id": series, "api_key": self.settings.fred_api_key, "file_type": "json"}
        payload = _api_call(client, series, f"{base}/fred/series", auth, "series metadata")
        title, native = _series_facts(payload, series)
        _require_timeframe(series, native, req.timeframe)
        params = {**auth, "observation_start": _day(req.start_ns), "observation_end": _day(req.end_ns - 1),
                  "limit": self.page_size}
        dates: list[str] = []
        values: list[str] = []
        offset, page = 0, 0
        while True:
            payload = _api_call(client, series, f"{base}/fred/series/observations",
                                {**params, "offset": offset}, "observations")
            observations, count, limit = _observations_page(payload, series)
            for item in observations:
                dates.append(item["date"])
                values.append(item["value"])
            page += 1
            offset += limit  # the next page starts where the answer's limit ended this one
            if progress is not None:
                progress(page, max(1, math.ceil(count / limit)), f"fred: {series} observations page {page}")
            if offset >= count:
                break
        ts, vals = _parse(series, dates, values)
        return ts, vals, InstrumentMeta(name=title, asset_class="economic", currency=None)

    # The keyless CSV -----------------------------------------------------------------------------------
    def _from_csv(self, client: HttpClient, req: SourceRequest,
                  progress: Progress | None) -> tuple[np.ndarray, np.ndarray, InstrumentMeta]:
        series = req.symbol
        url = f"{self.base_url(CSV_PUBLIC)}/graph/fredgraph.csv"
        first = _day(req.start_ns - LOOKBACK_DAYS * DAY_NS)
        params = {"id": series, "cosd": first, "coed": _day(req.end_ns - 1)}
        response = client.get(url, params, what="graph CSV", not_found=f"fred: unknown series {series!r}")
        dates, values = _csv_rows(response.text, series)
        if progress is not None:
            progress(1, 1, f"fred: {series} graph CSV")
        ts, vals = _parse(series, dates, values)
        native = _infer_timeframe(series, ts)
        _require_timeframe(series, native or req.timeframe, req.timeframe)
        return ts, vals, InstrumentMeta(name=None, asset_class="economic", currency=None)


def _api_call(client: HttpClient, series: str, url: str, params: dict[str, Any], what: str) -> Any:
    """One FRED API request; FRED's HTTP 400 messages become the error they mean."""

    def on_error(response: httpx.Response) -> None:
        try:
            message = str(response.json().get("error_message", ""))
        except (ValueError, AttributeError):
            return
        if "api_key" in message:
            raise SourceAuthError(f"fred: the API key was refused (check NAUTILUS_FRED_API_KEY): {message}",
                                  field="source")
        if "series does not exist" in message:
            raise NotFound(f"fred: unknown series {series!r}", field="symbol")

    return client.get_json(url, params, what=what, not_found=f"fred: unknown series {series!r}", on_error=on_error)


def _series_facts(payload: Any, series: str) -> tuple[str | None, str]:
    """(title, native timeframe) of a ``/fred/series`` answer."""
    try:
        info = payload["seriess"][0]
        frequency = info["frequency_short"]
        title = info.get("title")
    except (KeyError, IndexError, TypeError):
        raise SourceError(f"fred: the series metadata of {series!r} lacks seriess[0].frequency_short",
                          field="source") from None
    if frequency not in FREQUENCIES:
        raise SourceError(f"fred: {series} has frequency {frequency!r}, which Nautilus does not map "
                          f"(known: {', '.join(FREQUENCIES)})", field="source")
    return title, FREQUENCIES[frequency]


def _observations_page(payload: Any, series: str) -> tuple[list[dict[str, str]], int, int]:
    """(observations, count, limit) of one ``/fred/series/observations`` page, checked."""
    try:
        observations = payload["observations"]
        count, offset, limit = (payload[k] for k in ("count", "offset", "limit"))
    except (KeyError, TypeError):
        raise SourceError(f"fred: an observations page of {series} lacks observations/count/offset/limit",
                          field="source") from None
    rows_ok = isinstance(observations, list) and all(
        isinstance(o, dict) and "date" in o and "value" in o for o in observations)
    if not (rows_ok and all(isinstance(v, int) for v in (count, offset, limit)) and limit > 0):
        raise SourceError(f"fred: an observations page of {series} is malformed (count={count!r}, "
                          f"offset={offset!r}, limit={limit!r})", field="source")
    return observations, count, limit


def _csv_rows(text: str, series: str) -> tuple[list[str], list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows or len(rows[0]) != 2 or rows[0][0].strip().lower() not in ("observation_date", "date"):
        head = text[:80].replace("\n", " ")
        raise SourceError(f"fred: the graph CSV of {series} does not start with 'observation_date,{series}' "
                          f"({head!r})", field="source")
    body = rows[1:]
    bad = next((row for row in body if len(row) != 2), None)
    if bad is not None:
        raise SourceError(f"fred: the graph CSV of {series} has a row without two columns: {bad!r}",
                          field="source")
    return [row[0] for row in body], [row[1] for row in body]


def _parse(series: str, dates: list[str], values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Observation dates → int64 ns (00:00 UTC) and values → float64, NaN where FRED marks a missing value."""
    ts = np.empty(len(dates), dtype=np.int64)
    out = np.empty(len(dates), dtype=np.float64)
    for i, (day, value) in enumerate(zip(dates, values, strict=True)):
        try:
            ts[i] = (date.fromisoformat(str(day)).toordinal() - EPOCH_ORDINAL) * DAY_NS
        except ValueError:
            raise SourceError(f"fred: {series} has an observation dated {day!r}, not YYYY-MM-DD",
                              field="source") from None
        text = str(value).strip()
        if text in MISSING:
            out[i] = np.nan
            continue
        try:
            out[i] = float(text)
        except ValueError:
            out[i] = np.nan
        if not math.isfinite(out[i]):
            raise SourceError(f"fred: {series} on {day} has the value {value!r}, not a number or '.'",
                              field="source")
    return ts, out


def _infer_timeframe(series: str, ts: np.ndarray) -> str | None:
    """The native timeframe from the median spacing of the dates; None with fewer than two dates."""
    if len(ts) < 2:
        return None
    spacing = float(statistics.median((np.diff(np.sort(ts)) // DAY_NS).tolist()))
    for low, high, timeframe in SPACINGS:
        if low <= spacing <= high:
            return timeframe
    raise SourceError(f"fred: cannot tell the frequency of {series} from its dates (median spacing "
                      f"{spacing:g} days)", field="source")


def _require_timeframe(series: str, native: str, asked: str) -> None:
    if native != asked:
        raise InvalidInput(f"fred: {series} is {NAMES[native]} ({native}), not {asked}", field="timeframe")


def _day(ns: int) -> str:
    """The UTC calendar date of ``ns`` as YYYY-MM-DD."""
    return date.fromordinal(EPOCH_ORDINAL + ns // DAY_NS).isoformat()
