"""The one interface every market data source implements, and the value types it returns.

A source turns "bars of SYMBOL at TIMEFRAME in [start, end)" into canonical ``Bars`` (UTC open times,
float prices), plus the corporate actions and instrument facts it knows. It does network I/O and
parsing only: planning which ranges are missing, adjusting for splits and dividends, writing to the
catalog and recording the fetch are the MarketData engine's job (``engines/marketdata/fetch.py``).

Contract of :meth:`Source.fetch`:

- returns only *complete* bars whose open time is in ``[start_ns, end_ns)``, sorted, unique, with
  finite positive prices, ``low <= min(open, close)``, ``high >= max(open, close)``, ``volume >= 0``
  (:func:`finish_bars` enforces it: rows the source marks as gaps, all-null rows, are dropped; any
  other broken row is a :class:`~nautilus.core.errors.SourceError` naming the source and the row);
- raises ``NotFound`` for an unknown symbol, ``InvalidInput`` for a timeframe or range the source
  cannot serve, and the ``Source*`` errors of :mod:`nautilus.core.errors` for everything the remote
  side does wrong (bad key, rate limit after retries, unreachable after retries, malformed payload);
- reports progress through ``progress(done, total, message)`` (pages or requests).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Literal

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput, SourceError
from nautilus.core.timeframe import calendar_floor, calendar_months, timeframe_ns

Progress = Callable[[int, int | None, str], None]
BarSink = Callable[[Bars], None]


class CorporateAction(msgspec.Struct, frozen=True, kw_only=True):
    """A split or cash dividend effective at ``ts`` (the ex-date's bar open time, ns UTC).

    ``value``: for a split the ratio new shares per old share (a 4-for-1 split is 4.0, a 1-for-10 reverse
    split 0.1); for a dividend the cash amount per share in the instrument's currency.
    """

    ts: int
    kind: Literal["split", "dividend"]
    value: float


class InstrumentMeta(msgspec.Struct, kw_only=True):
    name: str | None = None
    asset_class: str | None = None  # equity, fx, crypto, economic, index, future, ...
    currency: str | None = None
    exchange: str | None = None


class SourceRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What to fetch. ``symbol`` is the source's own spelling (``BTC/USDT``, ``DGS10``, ``EURUSD=X``)."""

    symbol: str
    timeframe: str
    start_ns: int
    end_ns: int  # exclusive
    options: dict[str, str] = {}


class Fetched(msgspec.Struct, kw_only=True):
    bars: Bars  # unadjusted, as traded (a source that only serves adjusted data says so in `adjusted`)
    actions: list[CorporateAction] = []
    meta: InstrumentMeta | None = None
    requests: int = 0  # HTTP requests / API calls made (pages, retries included)
    adjusted: bool = False


class Source(ABC):
    """A market data source. Instances are cheap; one is made per fetch or stream."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    timeframes: ClassVar[tuple[str, ...]]
    live: ClassVar[bool] = False  # implements stream()
    corporate_actions: ClassVar[bool] = False  # reports splits and dividends (the engine keeps a .RAW series)
    option_names: ClassVar[tuple[str, ...]] = ()  # keys of SourceRequest.options it understands

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def missing_setup(self) -> str | None:
        """Why this source cannot work with the current settings (a missing API key ...), or None."""
        return None

    def base_url(self, public: str) -> str:
        """``public``, or the URL ``settings.source_urls`` gives for this source (mirrors, proxies, tests)."""
        return self.settings.source_urls.get(self.name, public).rstrip("/")

    def check(self, req: SourceRequest) -> None:
        """Reject what this source cannot serve before any request is made."""
        if req.timeframe not in self.timeframes:
            raise InvalidInput(f"{self.name} serves timeframes {', '.join(self.timeframes)}, not {req.timeframe!r}",
                               field="timeframe")
        if req.end_ns <= req.start_ns:
            raise InvalidInput("end must be after start", field="end")

    @abstractmethod
    def fetch(self, req: SourceRequest, progress: Progress | None = None) -> Fetched:
        """Bars of ``req.symbol`` in ``[req.start_ns, req.end_ns)``; see the module docstring."""

    def stream(self, req: SourceRequest, emit: BarSink, stop: threading.Event) -> None:
        """Call ``emit`` with each new complete bar until ``stop`` is set (blocking; reconnects itself)."""
        raise InvalidInput(f"{self.name} has no live bar stream", field="source")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def now_ns() -> int:
    return time.time_ns()


def finish_bars(source: str, symbol: str, timeframe: str, ts: np.ndarray, columns: dict[str, np.ndarray],
                start_ns: int, end_ns: int, now: int | None = None, positive: bool = True) -> Bars:
    """Canonical ``Bars`` from raw columns: gap rows dropped, range and completeness applied, rules checked.

    Rows where every price is NaN are gaps (sources mark halts and holidays that way) and are dropped.
    Rows outside ``[start_ns, end_ns)`` and bars still open at ``now`` (open time + timeframe > now) are
    dropped. Duplicates keep the last row. Anything else that breaks the bar rules raises ``SourceError``
    naming the row's time: a fetch with a broken row writes nothing. ``positive=False`` admits zero and
    negative values (economic series: rates, spreads, growth).
    """
    ts = np.asarray(ts, dtype=np.int64)
    cols = {c: np.asarray(columns[c], dtype=np.float64) for c in COLUMNS}
    prices = np.vstack([cols[c] for c in ("open", "high", "low", "close")])
    gap = np.isnan(prices).all(axis=0)
    keep = ~gap & (ts >= start_ns) & (ts < end_ns)
    limit = now_ns() if now is None else now
    months = calendar_months(timeframe)
    if months is None:
        keep &= ts + timeframe_ns(timeframe) <= limit
    else:  # a calendar bar is complete once the next period has begun
        keep &= ts < calendar_floor(np.array([limit], dtype=np.int64), months)[0]
    ts = ts[keep]
    cols = {c: np.nan_to_num(v[keep], nan=0.0) if c == "volume" else v[keep] for c, v in cols.items()}
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    cols = {c: v[order] for c, v in cols.items()}
    if len(ts) > 1:
        last = np.append(ts[1:] != ts[:-1], True)  # keep the last of equal timestamps
        ts = ts[last]
        cols = {c: v[last] for c, v in cols.items()}
    _check_rules(source, symbol, ts, cols, positive)
    return Bars(symbol=symbol, timeframe=timeframe, ts=np.ascontiguousarray(ts),
                **{c: np.ascontiguousarray(cols[c]) for c in COLUMNS})


def _check_rules(source: str, symbol: str, ts: np.ndarray, v: dict[str, np.ndarray], positive: bool) -> None:
    top = np.maximum(v["open"], v["close"])
    bottom = np.minimum(v["open"], v["close"])
    rules = [
        (~np.isfinite(np.vstack([v[c] for c in COLUMNS])).all(axis=0), "a value is missing or not finite"),
        (positive & ((v["open"] <= 0) | (v["high"] <= 0) | (v["low"] <= 0) | (v["close"] <= 0)),
         "a price is not positive"),
        (v["high"] < top - 1e-9 * np.abs(top), "high is below max(open, close)"),
        (v["low"] > bottom + 1e-9 * np.abs(bottom), "low is above min(open, close)"),
        (v["volume"] < 0, "volume is negative"),
    ]
    for mask, reason in rules:
        if mask.any():
            i = int(np.argmax(mask))
            when = np.datetime64(int(ts[i]), "ns")
            row = {c: float(v[c][i]) for c in COLUMNS}
            raise SourceError(f"{source}: malformed bar for {symbol} at {when}: {reason} ({row})", field="source")
    # Sources round high/low and open/close independently; tiny inversions (<= 1e-9 relative) are clamped.
    np.maximum(v["high"], top, out=v["high"])
    np.minimum(v["low"], bottom, out=v["low"])
