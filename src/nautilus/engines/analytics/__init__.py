"""The Analytics engine: performance and risk statistics of return series, backtests and paper accounts."""
