"""MarketData engine: the bar catalog's front door (import, generate, resample, query).

Orchestration only: parsing and validation live in ``ingest``, generators in ``synthetic``,
aggregation in ``resample``, storage in :mod:`nautilus.storage`.
"""

from __future__ import annotations

import threading

import msgspec
from prometheus_client import Gauge

from nautilus.config import Settings
from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, NautilusError
from nautilus.core.timeframe import timeframe_ns
from nautilus.engines.base import StorageEngine
from nautilus.engines.marketdata import ingest, resample, synthetic
from nautilus.engines.marketdata.messages import (
    BarsRequest,
    GenerateRequest,
    IngestRequest,
    InstrumentInfo,
    InstrumentList,
    ResampleRequest,
    SampleReply,
    SampleRequest,
    SeriesInfo,
    SeriesSummary,
)
from nautilus.engines.marketdata.query import MAX_LIMIT, normalize_symbol, read_bars
from nautilus.runtime.engine import handler

LAST_BAR = Gauge("nautilus_data_last_bar_timestamp_seconds", "Open time of the newest stored bar (data freshness)",
                 ["symbol", "timeframe"])


class MarketDataEngine(StorageEngine):
    name = "marketdata"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._write_lock = threading.Lock()

    # Writes -------------------------------------------------------------------------------------
    def _store(self, bars: Bars, mode: str, run_id: int | None = None) -> SeriesSummary:
        with self._write_lock:
            summary = self.catalog.write(bars, mode=mode)
            self.database.upsert_instrument(bars.symbol)
            self.database.record_series(bars.symbol, bars.timeframe, summary.first_ts, summary.last_ts,
                                        summary.rows)
        result = SeriesSummary(symbol=bars.symbol, timeframe=bars.timeframe, rows_written=len(bars),
                               first_ts=summary.first_ts, last_ts=summary.last_ts, total_rows=summary.rows,
                               run_id=run_id)
        self.bus.publish(f"marketdata.bars.{bars.symbol}.{bars.timeframe}", msgspec.structs.asdict(result))
        return result

    def update_metrics(self) -> None:
        for instrument in self.database.list_instruments():
            for series in instrument["series"]:
                LAST_BAR.labels(instrument["symbol"], series["timeframe"]).set(series["last_ts"] / 1e9)

    @handler(idempotent=False)
    def ingest(self, req: IngestRequest) -> SeriesSummary:
        symbol = normalize_symbol(req.symbol)
        timeframe_ns(req.timeframe)
        db = self.database
        run_id = db.start_ingest_run(symbol, req.timeframe, req.source or req.fmt, req.filename)
        try:
            bars = ingest.parse_bars(
                req.data, fmt=req.fmt, symbol=symbol, timeframe=req.timeframe, columns=req.columns,
                tz=req.tz, timestamp_unit=req.timestamp_unit, datetime_format=req.datetime_format,
            )
            summary = self._store(bars, req.mode, run_id)
        except NautilusError as exc:
            db.finish_ingest_run(run_id, "rejected", 0, exc.message)
            raise
        except Exception as exc:
            db.finish_ingest_run(run_id, "failed", 0, f"{type(exc).__name__}: {exc}")
            raise
        db.finish_ingest_run(run_id, "ok", len(bars))
        db.audit("marketdata", "ingest", f"{symbol}/{req.timeframe}",
                 {"rows": len(bars), "file": req.filename, "mode": req.mode})
        return summary

    @handler(idempotent=False)
    def generate(self, req: GenerateRequest) -> SeriesSummary:
        symbol = normalize_symbol(req.symbol)
        if not 1 <= req.n <= MAX_LIMIT:
            raise InvalidInput(f"n must be between 1 and {MAX_LIMIT}", field="n")
        if not 0 <= req.seed < 2**63:
            raise InvalidInput("seed must be a non-negative integer below 2**63", field="seed")
        common = dict(s0=req.s0, mu=req.mu, sigma=req.sigma, seed=req.seed, sessions=req.sessions)
        make = synthetic.gbm_bars if req.model == "gbm" else synthetic.garch_bars
        bars = make(symbol, req.timeframe, req.start_ns, req.n, **common)
        return self._store(bars, "replace")

    @handler(idempotent=False)
    def resample(self, req: ResampleRequest) -> SeriesSummary:
        source = self.catalog.read(normalize_symbol(req.symbol), req.source_timeframe)
        return self._store(resample.resample(source, req.timeframe), "replace")

    @handler(idempotent=False)
    def load_sample(self, req: SampleRequest) -> SampleReply:
        symbols = req.symbols or list(self.settings.sample_symbols)
        universe = synthetic.sample_universe(symbols, seed=req.seed)
        return SampleReply([self._store(bars, "replace") for bars in universe.values()])

    # Reads --------------------------------------------------------------------------------------
    @handler
    def bars(self, req: BarsRequest) -> Bars:
        return read_bars(self.catalog, req.symbol, req.timeframe, req.start_ns, req.end_ns, req.limit)

    @handler
    def instruments(self) -> InstrumentList:
        out = []
        for row in self.database.list_instruments():
            series = [SeriesInfo(timeframe=s["timeframe"], first_ts=s["first_ts"], last_ts=s["last_ts"],
                                 rows=s["rows"]) for s in row.get("series", [])]
            out.append(InstrumentInfo(symbol=row["symbol"], name=row.get("name"),
                                      asset_class=row.get("asset_class"), currency=row.get("currency"),
                                      exchange=row.get("exchange"), series=series))
        return InstrumentList(out)

