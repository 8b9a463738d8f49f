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
