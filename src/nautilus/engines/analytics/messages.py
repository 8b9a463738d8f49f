"""Request and reply types of the Analytics engine (light: the gateway and CLI import these).

A statistics request names exactly one source:

- inline: ``ts`` with ``returns`` or ``equity`` (one series), or ``ts`` with ``series`` (several named
  series sharing the times, each with ``returns`` or ``equity``);
- ``backtest_id``: a saved backtest of the Strategy engine (its equity curve and trades);
- ``account``: a paper-trading account's equity history (reserved; answered with a 422 until supported).

Returns are simple per-period returns (null = no observation, leading nulls allowed); an equity curve
must be finite and positive and becomes ``equity[t] / equity[t-1] - 1`` at times ``ts[1:]``.
"""

from __future__ import annotations

from typing import Any

import msgspec

Times = list[int | str]  # epoch ns or ISO 8601
Values = list[float | None]


class SeriesBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    returns: Values | None = None
    equity: Values | None = None


class BenchmarkBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Inline ``returns`` (one per return row of the series) or a catalog ``symbol`` whose close-to-close
    returns are sampled at the series' times (the last close at or before each)."""

    returns: Values | None = None
    symbol: str | None = None
    timeframe: str = "1d"
    name: str | None = None


class StatsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ts: Times | None = None
    returns: Values | None = None
    equity: Values | None = None
    series: list[SeriesBody] | None = None
    backtest_id: int | None = None
    account: str | None = None  # reserved for paper-trading accounts
    benchmark: BenchmarkBody | None = None
    timeframe: str | None = None  # with the calendar, sets periods_per_year for inline series ("1d" when none)
    calendar: str | None = None  # "XNYS", "24/7", "24/5", ... (default: the instrument's, else XNYS)
    periods_per_year: float | None = None  # wins over the calendar's (the reply says "given")
    quantile_method: str = "inverted_cdf"  # VaR/CVaR: inverted_cdf (k-th worst, the platform's) | linear (empyrical)
    risk_free: float = 0.0  # per period
    required_return: float = 0.0  # Sortino: per period; Omega: annual (empyrical)
    cutoff: float = 0.05  # VaR / CVaR tail
    drawdowns: int = 5  # top N drawdowns per series
    title: str | None = None  # tear sheet title (report only)


class BacktestRef(msgspec.Struct, kw_only=True):
    id: int


class SeriesStats(msgspec.Struct, kw_only=True):
    name: str
    stats: dict[str, float | None]
    drawdowns: list[dict[str, Any]]
    annual_returns: dict[str, float | None]


class StatsReply(msgspec.Struct, kw_only=True):
    source: str  # inline | backtest | account
    n: int  # return rows
    first_ts: int | None
    last_ts: int | None
    periods_per_year: float
    series: list[SeriesStats]
    calendar: str | None = None  # the calendar periods_per_year came from (None when given)
    timeframe: str | None = None
    periods_per_year_source: str = "calendar"  # calendar | given | backtest (the backtest's own)
    conventions: dict[str, str] = {}  # the definitions the statistics used (docs/conventions.md)
    benchmark: str | None = None
    backtest_id: int | None = None
    trades: dict[str, float | None] | None = None  # trade statistics (backtest source)


class ReportReply(msgspec.Struct, kw_only=True):
    html: str
