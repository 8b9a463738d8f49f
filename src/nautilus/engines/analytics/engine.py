"""Analytics engine handlers (no math here: it lives in ``nautilus.analytics``).

``stats`` and ``report`` take one source (see :mod:`nautilus.engines.analytics.messages`): inline series,
a saved backtest (equity curve and trades read from its artifact folder) or, later, a paper-trading
account. Each source is loaded into a :class:`Source` (times, a ``[n, k]`` returns matrix, the times of the
values the returns were made from, trades, timeframe); the statistics are then the same for all of them.
Replies carry JSON-safe numbers (NaN and infinities as null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.plain import plain
from nautilus.engines.analytics.messages import (
    BacktestRef,
    ReportReply,
    SeriesStats,
    StatsReply,
    StatsRequest,
)
from nautilus.engines.base import StorageEngine
from nautilus.runtime.engine import handler
from nautilus.storage import artifacts
from nautilus.storage.bars import read_bars
from nautilus.storage.paper import PaperStore
from nautilus.trading.book import round_trips

MAX_SERIES = 2_000
QUANTILE_METHODS = ("inverted_cdf", "linear")


def conventions(quantile_method: str) -> dict[str, str]:
    """The definitions a statistics reply used (docs/conventions.md)."""
    return {
        "annualisation": "periods_per_year from the calendar and timeframe unless given; CAGR counts every row",
        "quantile_method": quantile_method,
        "value_at_risk": ("k-th worst observed return, k = ceil(m * cutoff)" if quantile_method == "inverted_cdf"
                          else "numpy linear percentile (empyrical)"),
        "skew": "bias-corrected sample skewness (scipy bias=False); skew_biased: m3 / m2^1.5",
        "excess_kurtosis": "bias-corrected sample excess kurtosis (scipy bias=False); excess_kurtosis_biased",
        "missing_values": "null returns ignored by moments and quantiles, 0 for compounding, counted as periods",
    }
MAX_DRAWDOWNS = 50


@dataclass
class Source:
    kind: str  # inline | backtest | account
    names: list[str]
    ts: np.ndarray  # [n] int64 ns: the time of each return row
    returns: np.ndarray  # [n, k]
    price_ts: np.ndarray  # [n + 1] int64 ns: times of the values the returns compound (for a benchmark)
    trades: list[dict[str, Any]] | None = None
    timeframe: str | None = None
    backtest_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # a backtest's config (its periods_per_year)


class AnalyticsEngine(StorageEngine):
    name = "analytics"

    @handler
    def stats(self, req: StatsRequest) -> StatsReply:
        src = self._source(req)  # the statistics modules (numba, pandas) load once a source is found
        from nautilus.analytics import annual_returns, drawdown_table, summary, trade_stats

        how = self._annualisation(req, src)
        ppy = how["periods_per_year"]
        bench, bench_name = self._benchmark(req, src)
        table = summary(src.returns, bench, risk_free=req.risk_free, required_return=req.required_return,
                        periods_per_year=ppy, cutoff=req.cutoff, quantile_method=req.quantile_method)
        years = annual_returns(src.returns, src.ts)  # [years, k]
        labels = [str(y) for y in years["years"]]
        items = []
        for j, name in enumerate(src.names):
            items.append(SeriesStats(
                name=name,
                stats=plain({key: values[j] for key, values in table.items()}),
                drawdowns=plain(drawdown_table(src.returns[:, j], req.drawdowns, src.ts)),
                annual_returns=plain(dict(zip(labels, years["returns"][:, j], strict=True))),
            ))
        return StatsReply(source=src.kind, n=int(src.ts.shape[0]), first_ts=int(src.ts[0]), last_ts=int(src.ts[-1]),
                          periods_per_year=float(ppy), calendar=how["calendar"], timeframe=how["timeframe"],
                          periods_per_year_source=how["source"], conventions=conventions(req.quantile_method),
                          series=items, benchmark=bench_name,
                          backtest_id=src.backtest_id,
                          trades=None if src.trades is None else plain(trade_stats(src.trades)))

    @handler
    def report(self, req: StatsRequest) -> ReportReply:
        src = self._source(req)
        from nautilus.analytics.tearsheet import tear_sheet

        if len(src.names) != 1:
            raise InvalidInput("a report covers one series; give one (returns or equity, or one in series)",
                               field="series")
        ppy = self._annualisation(req, src)["periods_per_year"]
        bench, bench_name = self._benchmark(req, src)
        title = req.title or (f"Backtest {src.backtest_id}" if src.backtest_id is not None else "Tear sheet")
        # the benchmark is one 1-D series of returns (inline or from the catalog), not a column of a matrix
        page = tear_sheet(src.returns[:, 0], src.ts, benchmark=None if bench is None else np.ravel(bench),
                          trades=src.trades, title=title, name=src.names[0],
                          benchmark_name=bench_name or "benchmark", periods_per_year=ppy,
                          risk_free=req.risk_free, meta=src.meta)
        return ReportReply(html=page)

    @handler
    def backtest_stats(self, req: BacktestRef) -> StatsReply:
        return self.stats(StatsRequest(backtest_id=req.id))

    # Sources ------------------------------------------------------------------------------------
    def _source(self, req: StatsRequest) -> Source:
        given = [name for name, present in (("returns/equity/series", self._inline_given(req)),
                                            ("backtest_id", req.backtest_id is not None),
                                            ("account", req.account is not None)) if present]
        if len(given) != 1:
            raise InvalidInput("give exactly one source: inline ts with returns, equity or series; backtest_id; "
                               f"or account (got {', '.join(given) or 'none'})", field="source")
        self._check_options(req)
        if req.backtest_id is not None:
            return self._backtest_source(req.backtest_id)
        if req.account is not None:
            return self._account_source(req.account)
        return self._inline_source(req)

    @staticmethod
    def _inline_given(req: StatsRequest) -> bool:
        return req.returns is not None or req.equity is not None or req.series is not None

    @staticmethod
    def _check_options(req: StatsRequest) -> None:
        if not 0.0 < req.cutoff < 0.5:
            raise InvalidInput("cutoff must be between 0 and 0.5", field="cutoff")
        if not 0 <= req.drawdowns <= MAX_DRAWDOWNS:
            raise InvalidInput(f"drawdowns must be between 0 and {MAX_DRAWDOWNS}", field="drawdowns")
        if req.periods_per_year is not None and not (0 < req.periods_per_year <= 1e8):
            raise InvalidInput("periods_per_year must be positive", field="periods_per_year")
        if req.quantile_method not in QUANTILE_METHODS:
            raise InvalidInput(f"quantile_method must be one of {', '.join(QUANTILE_METHODS)}",
                               field="quantile_method")
        if not np.isfinite(req.risk_free) or not np.isfinite(req.required_return):
            raise InvalidInput("risk_free and required_return must be finite", field="risk_free")

    def _inline_source(self, req: StatsRequest) -> Source:
        if req.ts is None:
            raise InvalidInput("inline series need ts (one time per value)", field="ts")
        from nautilus.analytics import series as prep

        ts = prep.parse_ts(req.ts)
        bodies: list[tuple[str, Any, Any, str]] = []
        if req.series is not None:
            if req.returns is not None or req.equity is not None:
                raise InvalidInput("give series, or returns/equity, not both", field="series")
            if not 1 <= len(req.series) <= MAX_SERIES:
                raise InvalidInput(f"series must have 1 to {MAX_SERIES} entries", field="series")
            names = [s.name for s in req.series]
            if len(set(names)) != len(names):
                raise InvalidInput("series names must be unique", field="series")
            bodies = [(s.name, s.returns, s.equity, f"series[{i}]") for i, s in enumerate(req.series)]
        else:
            bodies = [("returns" if req.returns is not None else "equity", req.returns, req.equity, "")]
        kinds = set()
        columns = []
        for name, returns, equity, where in bodies:
            prefix = f"{where}." if where else ""
            if (returns is None) == (equity is None):
                raise InvalidInput(f"give returns or equity for {name!r}", field=f"{prefix}returns")
            kind = "returns" if returns is not None else "equity"
            kinds.add(kind)
            values = prep.as_values(returns if returns is not None else equity, prefix + kind)
            if values.shape[0] != ts.shape[0]:
                raise InvalidInput(f"{prefix}{kind} has {values.shape[0]} values, ts has {ts.shape[0]} "
                                   "(length mismatch)", field=prefix + kind)
            if kind == "equity":
                values = prep.returns_from_equity(values, prefix + kind)
            columns.append((prep.check_returns(values, prefix + kind), kind))
        if len(kinds) > 1:
            raise InvalidInput("all series must be returns or all equity", field="series")
        if kinds == {"equity"}:
            rows_ts, price_ts = ts[1:], ts
        else:
            step = ts[1] - ts[0] if ts.shape[0] > 1 else 0
            rows_ts, price_ts = ts, np.concatenate(([ts[0] - step], ts))
        matrix = np.column_stack([c for c, _ in columns])
        return Source(kind="inline", names=[b[0] for b in bodies], ts=rows_ts, returns=matrix, price_ts=price_ts,
                      timeframe=req.timeframe)

    def _backtest_source(self, run_id: int) -> Source:
        row = self.database.get_backtest(run_id)
        ts, equity, trades = artifacts.load(row["artifact"])
        if ts is None or equity is None:
            raise NotFound(f"backtest {run_id} has no saved equity curve", field="backtest_id")
        from nautilus.analytics import series as prep

        if equity.shape[0] < prep.MIN_RETURNS + 1:
            raise InvalidInput(f"backtest {run_id} has too few points for statistics", field="backtest_id")
        config = row.get("config") or {}
        ts = np.asarray(ts, np.int64)
        init = config.get("init_cash")
        if init is not None and float(init) > 0:
            # the backtest's own returns: the first bar's against the starting cash (its statistics count it),
            # so return row i is bar i; the starting cash stands one bar before the first
            returns = prep.returns_from_equity(np.concatenate(([float(init)], equity)), "equity")
            rows_ts, price_ts = ts, np.concatenate(([ts[0] - (ts[1] - ts[0])], ts))
        else:
            returns = prep.returns_from_equity(equity, "equity")
            rows_ts, price_ts = ts[1:], ts
        meta = {"backtest": run_id, "strategy": row["strategy"], "symbol": row["symbol"],
                "timeframe": row["timeframe"], "params": row["params"]}
        return Source(kind="backtest", names=[f"{row['strategy']} {row['symbol']}"], ts=rows_ts,
                      returns=returns[:, None], price_ts=price_ts, trades=trades,
                      timeframe=row["timeframe"], backtest_id=run_id, meta=meta, config=config)

    def _account_source(self, account: str) -> Source:
        """A paper account's equity history (one point per bar that moved it) and its round trips."""
        store = PaperStore(self.database)
        row = next((a for a in store.accounts() if a["name"] == account), None)
        if row is None:
            raise NotFound(f"unknown account {account!r}", field="account")
        from nautilus.analytics import series as prep

        points = store.equity(row["id"])
        if len(points) < prep.MIN_RETURNS + 1:
            raise InvalidInput(f"account {account!r} has {len(points)} equity points; statistics need "
                               f"{prep.MIN_RETURNS + 1}", field="account")
        ts = np.array([p["ts"] for p in points], dtype=np.int64)
        returns = prep.returns_from_equity(np.array([p["equity"] for p in points]), "equity")
        trades = []
        fills = store.fill_records(row["id"])
        for key in sorted({(f.strategy, f.symbol) for f in fills}):
            for trip in round_trips([f for f in fills if (f.strategy, f.symbol) == key]):
                trip |= {"strategy": key[0], "symbol": key[1],
                         "entry_idx": int(np.searchsorted(ts, trip["entry_ts"])),
                         "exit_idx": -1 if trip["exit_ts"] is None else int(np.searchsorted(ts, trip["exit_ts"])),
                         "exit_reason": "open" if trip["exit_ts"] is None else "signal"}
                trades.append(trip)
        return Source(kind="account", names=[account], ts=ts[1:], returns=returns[:, None], price_ts=ts,
                      trades=trades, timeframe=_spacing_timeframe(ts), meta={"account": account})

    # Options ------------------------------------------------------------------------------------
    @staticmethod
    def _annualisation(req: StatsRequest, src: Source) -> dict[str, Any]:
        """The periods per year the statistics use, and where they came from: the caller's value; a saved
        backtest's own (what its statistics used); else the calendar (given, or the instrument's) and the
        timeframe, by the platform's one rule (:func:`nautilus.strategy.backtest.config.resolve_periods_per_year`)."""
        from nautilus.strategy.backtest.config import resolve_periods_per_year

        own = src.config
        if req.periods_per_year is None and req.calendar is None and own.get("periods_per_year"):
            return {"periods_per_year": float(own["periods_per_year"]), "calendar": own.get("calendar"),
                    "timeframe": src.timeframe, "source": "backtest"}
        return resolve_periods_per_year(src.timeframe, calendar=req.calendar, symbol=src.meta.get("symbol"),
                                        periods_per_year=req.periods_per_year)

    def _benchmark(self, req: StatsRequest, src: Source) -> tuple[np.ndarray | None, str | None]:
        body = req.benchmark
        if body is None:
            return None, None
        if (body.returns is None) == (body.symbol is None):
            raise InvalidInput("benchmark needs returns or a symbol", field="benchmark")
        from nautilus.analytics import series as prep

        n = src.ts.shape[0]
        if body.returns is not None:
            values = prep.as_values(body.returns, "benchmark.returns")
            if values.shape[0] != n:
                raise InvalidInput(f"benchmark.returns has {values.shape[0]} values, the series has {n} returns "
                                   "(length mismatch)", field="benchmark.returns")
            return values, body.name or "benchmark"
        symbol = normalize_symbol(body.symbol or "")
        try:
            bars = read_bars(self.catalog, symbol, body.timeframe, None, int(src.price_ts[-1]) + 1)
        except NotFound:
            raise NotFound(f"no bars for benchmark symbol {symbol!r}", field="benchmark.symbol") from None
        if len(bars) < 2:
            raise InvalidInput(f"benchmark {symbol!r} has too few bars", field="benchmark.symbol")
        return prep.benchmark_asof(bars.ts, bars.close, src.price_ts), body.name or symbol


def _spacing_timeframe(ts: np.ndarray) -> str | None:
    """The bar timeframe an equity history's typical spacing suggests (``1d``, ``5m``, ...), for annualising."""
    if ts.shape[0] < 2:
        return None
    step = int(np.median(np.diff(ts))) // 1_000_000_000
    if step <= 0:
        return None
    for unit, seconds in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if step % seconds == 0:
            return f"{step // seconds}{unit}"
    return f"{step}s"
