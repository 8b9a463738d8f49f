"""Vectorized backtester: numba simulation of many parameter columns from signals or target positions.

Entry points
------------
``run_backtest(bars, strategy, params, config, predictions=None) -> BacktestResult``
    One built-in strategy (``list_strategies()``) on ``nautilus.core.bars.Bars``: trades, the equity
    curve and the statistics.
``run_param_grid(bars, strategy, param_list, config, keep_equity=False) -> pandas.DataFrame``
    One row per parameter dict (strategy parameters plus optional per-column ``size``, ``stop_loss``,
    ``take_profit``, ``trailing_stop``, ``max_hold``) with every statistic. Columns are simulated in
    chunks in stats-only mode (no equity curves or trade records kept) so sweeps of any size run in
    bounded memory; ``keep_equity=True`` returns ``(frame, equity [n, k])`` instead.
``run_signals(open, high, low, close, entries, exits, config, ...) -> SimResult``
    Raw ``[n]`` or ``[n, k]`` boolean signals sharing one OHLC series.
``run_targets(open, close, targets, config, ...) -> SimResult``
    Target exposure (signed fraction of equity) per bar and column, rebalanced on the next bar.

Signal sides
------------
``direction="long"``: ``entries`` open longs, ``exits`` close them. ``"short"``: ``short_entries`` /
``short_exits`` when given, else ``entries`` open shorts and ``exits`` close them. ``"both"``: with
``short_entries``/``short_exits`` all four act as named; without them ``entries`` go long and ``exits``
go short (each reverses the other, vectorbt's convention).

Execution, fees, slippage, sizing, stops, trade records and statistics are documented in ``config``,
``kernel`` (and the modules it names) and ``stats``; ``reference`` re-implements the rules as a plain event loop for the tests.
Timing model in one line: a signal at bar ``t`` fills at ``open[t+1]`` (or ``close[t+1]``), equity
is marked at every close, and an open position at the end is valued at the last close.

Equivalent vectorbt call
------------------------
``run_signals(o, h, l, c, entries, exits, BacktestConfig(init_cash=C, fees_bps=F, fixed_fee=X,
slippage_bps=S, size=P))`` (long only, ``percent_equity``, ``next_open``, no stops) trades like::

    vbt.Portfolio.from_signals(
        close=c, price=o,                           # fill at the open, value at the close
        entries=entries shifted one bar later (False on bar 0), exits=exits shifted likewise,
        size=P, size_type="percent", fees=F / 1e4, fixed_fees=X, slippage=S / 1e4,
        init_cash=C, direction="longonly", accumulate=False)

Both buy ``(P * cash - X) / (1 + F / 1e4)`` of notional at ``o * (1 + S / 1e4)``; entry/exit
indices (the fill bars), fees, pnl and the final value agree. Known differences: vectorbt rejects
an exit whose fees exceed its proceeds (only after near-total ruin) and reverses with one order
(one fixed fee) where this engine sends two; its stop options follow other rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus.core.lazy import lazy_exports

# Names are loaded on first use (PEP 562): listing or validating strategies must not load numba, which the
# simulator and the signal kernels need (~120 MB per process).
_HOMES = {
    "REASONS": "layout", "STAT_NAMES": "layout", "TRADE_DTYPE": "layout",
    "BacktestConfig": "config",
    "performance_stats": "stats",
    "build_signals": "strategies", "list_strategies": "strategies", "resolve_strategy": "strategies",
    "validate_params": "strategies",
    "BacktestResult": "run", "SimResult": "run", "run_backtest": "run", "run_param_grid": "run",
    "run_signals": "run", "run_targets": "run", "signal_sides": "run",
}
__all__ = [
    "REASONS", "STAT_NAMES", "TRADE_DTYPE", "BacktestConfig", "BacktestResult", "SimResult", "build_signals",
    "list_strategies", "performance_stats", "resolve_strategy", "run_backtest", "run_param_grid", "run_signals",
    "run_targets", "signal_sides", "validate_params",
]

if TYPE_CHECKING:
    from nautilus.strategy.backtest.config import BacktestConfig
    from nautilus.strategy.backtest.layout import REASONS, STAT_NAMES, TRADE_DTYPE
    from nautilus.strategy.backtest.run import (
        BacktestResult,
        SimResult,
        run_backtest,
        run_param_grid,
        run_signals,
        run_targets,
        signal_sides,
    )
    from nautilus.strategy.backtest.stats import performance_stats
    from nautilus.strategy.backtest.strategies import (
        build_signals,
        list_strategies,
        resolve_strategy,
        validate_params,
    )

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
