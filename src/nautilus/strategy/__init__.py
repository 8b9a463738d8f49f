"""Strategy kernels: indicators, candle and chart patterns, the scanner, backtests and sweeps (no I/O)."""
