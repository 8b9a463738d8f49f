"""MarketData engine: bar ingest, fetches and streams from sources; its kernels live in nautilus.marketdata."""
