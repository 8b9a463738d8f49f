"""The MarketData engine with its SQL state in PostgreSQL (the production database path)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import URL

from nautilus.config import Settings
from nautilus.core.errors import InvalidInput
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.engines.marketdata.messages import BarsRequest, IngestRequest

pytestmark = pytest.mark.integration

CSV = (b"date,open,high,low,close,volume\n"
       b"2024-01-02,10,11,9.5,10.5,100\n"
       b"2024-01-03,10.5,12,10,11.5,200\n"
       b"2024-01-04,11.5,11.6,10.9,11,150\n")


def test_ingest_query_and_rejection_recorded_in_postgresql(settings: Settings, pg_url: URL):
    settings.database_url = pg_url.render_as_string(hide_password=False)
    engine = MarketDataEngine(settings)
    engine.start()
    try:
        summary = engine.ingest(IngestRequest(symbol="acme", timeframe="1d", data=CSV, filename="a.csv"))
        assert (summary.symbol, summary.rows_written, summary.total_rows) == ("ACME", 3, 3)
        bars = engine.bars(BarsRequest(symbol="ACME", timeframe="1d"))
        np.testing.assert_array_equal(bars.close, [10.5, 11.5, 11.0])
        bad = CSV.replace(b"11.6,10.9", b"11.6,11.9")  # low above min(open, close) on row 3
        with pytest.raises(InvalidInput, match="row 3"):
            engine.ingest(IngestRequest(symbol="ACME", timeframe="1d", data=bad, mode="replace"))
        np.testing.assert_array_equal(engine.bars(BarsRequest(symbol="ACME")).close, [10.5, 11.5, 11.0])
        [inst] = engine.instruments().instruments
        assert inst.symbol == "ACME" and inst.series[0].rows == 3
        runs = engine.database.list_ingest_runs()
        assert [r["status"] for r in runs] == ["rejected", "ok"]
        assert "row 3" in runs[0]["error"]
    finally:
        engine.close()


def test_fetch_records_and_corporate_actions_in_postgresql(settings: Settings, pg_url: URL):
    import json
    import time
    from pathlib import Path

    import httpx
    import respx

    from nautilus.adapters.ratelimit import reset_limiters
    from nautilus.engines.marketdata.messages import FetchJobRequest, FetchRequest, UpdateRequest
    from nautilus.storage.fetches import FetchStore

    reset_limiters()
    settings.database_url = pg_url.render_as_string(hide_password=False)
    chart = json.loads((Path(__file__).parent.parent / "fixtures" / "yahoo" / "chart_AAPL_1d.json").read_text())
    day = 86_400 * 10**9
    start, end = 1596240000 * 10**9, 1599523200 * 10**9  # 2020-08-01, 2020-09-08
    engine = MarketDataEngine(settings)
    engine.start()
    try:
        with respx.mock:
            respx.get("https://query2.finance.yahoo.com/v8/finance/chart/AAPL").mock(
                return_value=httpx.Response(200, json=chart))
            for window in ((start, start + 10 * day), (start, end)):  # the second fetches only what is missing
                job = engine.fetch_start(FetchRequest(source="yahoo", symbol="AAPL", start_ns=window[0],
                                                      end_ns=window[1]))
                while (job := engine.fetch_job(FetchJobRequest(job_id=job.id))).status in ("queued", "running"):
                    time.sleep(0.02)
                assert job.status == "ok", job.error
        store = FetchStore(engine.database)
        assert sorted(tuple(r) for r in store.covered("yahoo", "AAPL", "1d")) == [(start, start + 10 * day),
                                                                                 (start + 10 * day, end)]
        assert [(a.kind, a.value) for a in store.actions("AAPL")] == [("dividend", 0.82), ("split", 4.0)]
        store.save_actions("AAPL", "yahoo", store.actions("AAPL"))  # upsert: no duplicates
        assert len(store.actions("AAPL")) == 2
        assert store.requests_today("yahoo") == 2
        assert [t["symbol"] for t in store.update_targets()] == ["AAPL"]
        assert store.interrupt_orphans() == 0
        assert len(engine.catalog.read("AAPL", "1d")) == 25
        with respx.mock:
            respx.get("https://query2.finance.yahoo.com/v8/finance/chart/AAPL").mock(
                return_value=httpx.Response(200, json=chart))
            job = engine.update(UpdateRequest(symbols=["AAPL"])).fetches[0]
            assert job.start_ns == end
            while (job := engine.fetch_job(FetchJobRequest(job_id=job.id))).status in ("queued", "running"):
                time.sleep(0.02)
            assert job.status == "ok" and job.rows == 0  # the fixture has nothing after 2020-09-04
    finally:
        engine.close()
