"""MarketData engine: bar ingest, synthetic generators and resampling."""
