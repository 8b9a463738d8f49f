"""Bench cases, one module each; importing this package registers them in the order below."""

import importlib

CASE_MODULES = ("engine_roundtrip", "shm_handoff", "gateway_load", "bars_range_query", "candle_patterns",
                "universe_scan", "backtest_signals", "sweep_memory", "risk_montecarlo",
                "risk_check_order", "risk_option_paths", "ml_serving", "ml_predict_socket", "features_universe",
                "portfolio_order_fill", "paper_fencing", "analytics_stats", "websocket_fanout", "production_path", "marketdata_update")

for _module in CASE_MODULES:
    importlib.import_module(f"{__name__}.{_module}")
