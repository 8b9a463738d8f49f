"""Compile (or load from numba's on-disk cache) every numba kernel once, on tiny inputs.

``nautilus warmup`` runs this; ``start.sh`` and ``test.sh`` call it so the first real request, and
the first test, do not pay numba's compile time (minutes for the 61 exact pattern kernels on a
fresh checkout, well under a second from the cache afterwards).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nautilus.core.bars import Bars

N = 300


def _bars(symbol: str = "WARM") -> Bars:
    rng = np.random.default_rng(0)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, N))), 2)
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) + 0.1
    low = np.minimum(open_, close) - 0.1
    ts = np.arange(N, dtype=np.int64) * 86_400 * 10**9
    return Bars(symbol=symbol, timeframe="1d", ts=ts, open=open_, high=high, low=low, close=close,
                volume=np.full(N, 1e6))


def steps() -> list[tuple[str, Callable[[], object]]]:
    from nautilus.analytics.summary import warm as warm_analytics
    from nautilus.features.kernels import warm as warm_feature_kernels
    from nautilus.ml.serving.warmup import warm as warm_ml_serving
    from nautilus.strategy import backtest, candles, chart, indicators, scanner

    bars = _bars()

    def scan() -> None:
        spec = scanner.ScanSpec.build(patterns=["CDLDOJI"], conditions=[
            {"indicator": ind, "op": ">", "value": 0} for ind in ("sma(5)", "rsi(5)", "atr(5)")])
        sc = scanner.UniverseScanner(spec, ["WARM"])
        sc.load({"WARM": bars.slice(0, N - 1)})
        sc.append({"WARM": bars.slice(N - 1, N)})

    return [
        ("candlestick kernels", lambda: candles.detect(bars.open, bars.high, bars.low, bars.close)),
        ("indicators", lambda: indicators.compute_many(
            [indicators.parse_spec(s) for s in ("supertrend", "keltner", "donchian", "vwap", "ichimoku")], bars)),
        ("chart patterns", lambda: chart.detect_chart_patterns(bars.high, bars.low, bars.close)),
        ("scanner", scan),
        ("backtester", lambda: [backtest.run_backtest(bars, s["name"], {}, backtest.BacktestConfig())
                                for s in backtest.list_strategies() if not s.get("needs_predictions")]),
        ("feature kernels", warm_feature_kernels),
        ("ml serving kernels", warm_ml_serving),
        ("risk kernels", _warm_risk),
        ("analytics kernels", warm_analytics),
    ]


def _warm_risk() -> None:
    from nautilus.risk import montecarlo
    from nautilus.risk.options import OptionPositions

    book = OptionPositions.create(underlying=[0], option_type="call", strike=100.0, expiry=0.5, quantity=1.0,
                                  implied_vol=0.2, spot=[100.0, 100.0])
    montecarlo.simulate(np.eye(2) * 1e-4, [1.0, 1.0], paths=1_000, backend="numba", options=book)


def warm(report: Callable[[str], None] | None = None) -> None:
    for name, step in steps():
        if report:
            report(name)
        step()
