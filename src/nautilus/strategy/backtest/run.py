"""The backtester's entry points (see the package docstring): signals or targets through the numba
simulator, built-in strategies, parameter grids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.strategy.backtest import kernel as _k
from nautilus.strategy.backtest import layout as _lay
from nautilus.strategy.backtest.config import BacktestConfig
from nautilus.strategy.backtest.layout import REASONS, STAT_NAMES, TRADE_DTYPE
from nautilus.strategy.backtest.signal_mode import rolling_vol_nb
from nautilus.strategy.backtest.strategies import (
    CONFIG_SWEEP_KEYS,
    SignalSet,
    Strategy,
    resolve_strategy,
    validate_params,
)

_SIZE_CODES = {"percent_equity": _lay.SIZE_PERCENT, "fixed": _lay.SIZE_FIXED, "value": _lay.SIZE_VALUE,
               "vol_target": _lay.SIZE_VOL}
_EXEC_CODES = {"next_open": _lay.EXEC_OPEN, "next_close": _lay.EXEC_CLOSE}
_DIR_CODES = {"long": _lay.DIR_LONG, "short": _lay.DIR_SHORT, "both": _lay.DIR_BOTH}
CHUNK_BYTES = 128 << 20  # working-set target of one run_param_grid chunk


def _trades_list(trades: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for rec in trades.tolist():
        d = dict(zip(TRADE_DTYPE.names, rec, strict=True))
        d["direction"] = "long" if d["direction"] > 0 else "short"
        d["exit_reason"] = REASONS[d["exit_reason"]]
        out.append(d)
    return out


@dataclass
class SimResult:
    """Result of ``run_signals`` / ``run_targets``: always two-dimensional (``k`` columns)."""

    trades: np.ndarray  # TRADE_DTYPE records, ordered by column then entry
    equity: np.ndarray | None  # [n, k] (Fortran-ordered) or None when not kept
    stats: dict[str, np.ndarray]  # statistic -> [k]
    config: dict[str, Any] = field(default_factory=dict)

    def stats_frame(self):
        import pandas as pd

        return pd.DataFrame(self.stats)

    def trades_list(self) -> list[dict[str, Any]]:
        return _trades_list(self.trades)


@dataclass
class BacktestResult:
    strategy: str
    params: dict[str, Any]
    config: dict[str, Any]
    ts: np.ndarray  # bar open times (int64 ns UTC)
    equity: np.ndarray  # [n] equity at each close
    trades: np.ndarray  # TRADE_DTYPE records (col is always 0)
    stats: dict[str, float]

    def trades_list(self) -> list[dict[str, Any]]:
        """Trades as dicts; ``direction`` is "long"/"short" and ``exit_reason`` a name ("open" = still open)."""
        return _trades_list(self.trades)

    def equity_series(self):
        import pandas as pd

        return pd.Series(self.equity, index=pd.to_datetime(self.ts, unit="ns", utc=True), name="equity")


# --------------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------------


def _prices(open_, high, low, close) -> tuple[np.ndarray, ...]:
    out = []
    n = None
    for name, x in (("open", open_), ("high", high), ("low", low), ("close", close)):
        a = _k.contiguous_1d(x)
        if n is None:
            n = a.shape[0]
        elif a.shape[0] != n:
            raise InvalidInput(f"{name} has {a.shape[0]} values, open has {n}", field=name)
        if not np.isfinite(a).all() or (a <= 0).any():
            raise InvalidInput(f"{name} prices must be finite and positive", field=name)
        out.append(a)
    if n < 2:
        raise InvalidInput("a backtest needs at least 2 bars", field="bars")
    return tuple(out)


def _signal_2d(x, n: int, name: str) -> np.ndarray | None:
    if x is None:
        return None
    a = np.asarray(x)
    if a.ndim == 1:
        a = a.reshape(n if a.shape[0] == n else -1, 1)
    if a.ndim != 2 or a.shape[0] != n:
        raise InvalidInput(f"{name} must have shape [n] or [n, k] with n = {n}, got {np.shape(x)}", field=name)
    if a.dtype != np.bool_:
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise InvalidInput(f"{name} contains NaN", field=name)
        a = a != 0
    return a


def _map_sides(direction: str, le, lx, se, sx):
    if direction == "long":
        return le, lx, None, None
    has_short = se is not None or sx is not None
    if direction == "short":
        return (None, None, se, sx) if has_short else (None, None, le, lx)
    if has_short:
        return le, lx, se, sx
    return le, None, lx, None


def _config(config: BacktestConfig | dict | None) -> BacktestConfig:
    if config is None:
        return BacktestConfig()
    if isinstance(config, dict):
        return BacktestConfig.from_dict(config)
    if not isinstance(config, BacktestConfig):
        raise InvalidInput("config must be a BacktestConfig or a dict", field="config")
    return config


def _column_settings(cfg: BacktestConfig, k: int, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Per-column size/stops/max_hold: the config's values, replaced by ``overrides`` ([k] arrays)."""
    cols: dict[str, Any] = {
        "size": cfg.size,
        "stop_loss": np.nan if cfg.stop_loss is None else cfg.stop_loss,
        "take_profit": np.nan if cfg.take_profit is None else cfg.take_profit,
        "trailing_stop": np.nan if cfg.trailing_stop is None else cfg.trailing_stop,
        "max_hold": 0 if cfg.max_hold is None else cfg.max_hold,
    }
    for key, value in (overrides or {}).items():
        if key not in cols:
            raise InvalidInput(f"unknown per-column setting {key!r}", field=key)
        a = np.asarray([np.nan if v is None else v for v in value] if isinstance(value, list) else value,
                       dtype=np.float64)
        if a.ndim == 0:
            a = np.full(k, float(a))
        if a.shape != (k,):
            raise InvalidInput(f"{key} must have one value per column ({k})", field=key)
        if key == "max_hold":
            a = np.where(np.isnan(a), 0, a)
            if (a < 0).any() or (a != np.round(a)).any():
                raise InvalidInput("max_hold must be a whole number of bars >= 1", field=key)
            a = a.astype(np.int64)
        elif key == "size":
            if not (np.isfinite(a) & (a > 0)).all():
                raise InvalidInput("size must be finite and > 0", field=key)
        elif ((a <= 0) | np.isinf(a)).any():
            raise InvalidInput(f"{key} must be > 0 (or None for off)", field=key)
        cols[key] = a
    return cols


def _simulate(o, h, l, c, le, lx, se, sx, cfg: BacktestConfig, overrides=None, keep_equity=True,
              record_trades=True, sig_col=None, warm_close=None):
    k = next(a for a in (le, lx, se, sx) if a is not None).shape[1] if sig_col is None else len(sig_col)
    cols = _column_settings(cfg, k, overrides)
    vol = None
    if cfg.size_type == "vol_target":  # measured over the warm-up too, then cut to the traded bars
        source = c if warm_close is None else warm_close
        vol = np.ascontiguousarray(rolling_vol_nb(source, cfg.vol_lookback, float(cfg.periods_per_year))
                                   [source.shape[0] - c.shape[0]:])
    return _k.simulate_signals(
        o, h, l, c, le, lx, se, sx, init_cash=cfg.init_cash, fee_rate=cfg.fee_rate, fixed_fee=cfg.fixed_fee,
        slippage=cfg.slippage, size_type=_SIZE_CODES[cfg.size_type], size=cols["size"],
        stop_loss=cols["stop_loss"], take_profit=cols["take_profit"], trailing_stop=cols["trailing_stop"],
        max_hold=cols["max_hold"], execution=_EXEC_CODES[cfg.execution], accumulate=cfg.accumulate,
        periods_per_year=cfg.periods_per_year, vol=vol, max_leverage=cfg.max_leverage,
        keep_equity=keep_equity, record_trades=record_trades, sig_col=sig_col)


def _stats_dict(stats: np.ndarray) -> dict[str, np.ndarray]:
    return {name: stats[:, i].copy() for i, name in enumerate(STAT_NAMES)}


# --------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------


def run_signals(open, high, low, close, entries, exits=None, config: BacktestConfig | dict | None = None, *,
                short_entries=None, short_exits=None, overrides: dict[str, Any] | None = None,
                keep_equity: bool = True, record_trades: bool = True) -> SimResult:
    """Backtest ``[n]`` or ``[n, k]`` boolean signals (see the module docstring for the sides).

    ``overrides`` maps ``size``/``stop_loss``/``take_profit``/``trailing_stop``/``max_hold`` to one
    value per column. With ``keep_equity=False`` and ``record_trades=False`` only the per-column
    statistics are produced (no ``[n, k]`` arrays are allocated).
    """
    cfg = _config(config)
    o, h, l, c = _prices(open, high, low, close)
    n = c.shape[0]
    sides = [_signal_2d(x, n, name) for x, name in ((entries, "entries"), (exits, "exits"),
                                                    (short_entries, "short_entries"), (short_exits, "short_exits"))]
    given = [a for a in sides if a is not None]
    if not given:
        raise InvalidInput("no signals given", field="entries")
    k = given[0].shape[1]
    for a, name in zip(sides, ("entries", "exits", "short_entries", "short_exits"), strict=True):
        if a is not None and a.shape[1] != k:
            raise InvalidInput(f"{name} has {a.shape[1]} columns, expected {k}", field=name)
    le, lx, se, sx = _map_sides(cfg.direction, *sides)
    if le is None and se is None:
        raise InvalidInput(f"no entry signals for direction {cfg.direction!r}", field="entries")
    trades, eq, stats = _simulate(o, h, l, c, le, lx, se, sx, cfg, overrides, keep_equity, record_trades)
    return SimResult(trades=trades, equity=eq, stats=_stats_dict(stats), config=cfg.to_dict())


def run_targets(open, close, targets, config: BacktestConfig | dict | None = None, *, keep_equity: bool = True,
                record_trades: bool = True) -> SimResult:
    """Backtest target exposures: ``targets[t, j]`` (signed fraction of equity, NaN = keep) decided at
    the close of ``t`` and rebalanced at the next open (or close), skipping changes smaller than
    ``config.rebalance_threshold``. Sizing settings, stops and ``max_hold`` do not apply."""
    cfg = _config(config)
    for name in ("stop_loss", "take_profit", "trailing_stop", "max_hold"):
        if getattr(cfg, name) is not None:
            raise InvalidInput(f"{name} is not supported in target-position mode", field=name)
    o, _, _, c = _prices(open, open, open, close)
    n = c.shape[0]
    tg = np.asarray(targets, dtype=np.float64)
    if tg.ndim == 1:
        tg = tg.reshape(-1, 1)
    if tg.ndim != 2 or tg.shape[0] != n:
        raise InvalidInput(f"targets must have shape [n] or [n, k] with n = {n}", field="targets")
    if np.isinf(tg).any():
        raise InvalidInput("targets must be finite (NaN keeps the position)", field="targets")
    trades, eq, stats = _k.simulate_targets(
        o, c, tg, init_cash=cfg.init_cash, fee_rate=cfg.fee_rate, fixed_fee=cfg.fixed_fee,
        slippage=cfg.slippage, execution=_EXEC_CODES[cfg.execution], direction=_DIR_CODES[cfg.direction],
        rebalance_threshold=cfg.rebalance_threshold, periods_per_year=cfg.periods_per_year,
        keep_equity=keep_equity, record_trades=record_trades)
    return SimResult(trades=trades, equity=eq, stats=_stats_dict(stats), config=cfg.to_dict())


def _check_warmup(warmup: int, n: int) -> int:
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise InvalidInput("warmup must be a whole number of bars >= 0", field="warmup")
    if n - int(warmup) < 2:
        raise InvalidInput(f"a backtest needs at least 2 bars after the {int(warmup)} warm-up bars", field="bars")
    return int(warmup)


def _cut(skip: int, prices: tuple[np.ndarray, ...], sig: SignalSet) -> tuple[tuple[np.ndarray, ...], SignalSet]:
    """Prices and signals from bar ``skip`` on: the warm-up bars fed the indicators, they are never traded."""
    if not skip:
        return prices, sig

    def rows(a):
        return None if a is None else np.asfortranarray(a[skip:])

    return (tuple(np.ascontiguousarray(x[skip:]) for x in prices),
            SignalSet(rows(sig.entries), rows(sig.exits), rows(sig.short_entries), rows(sig.short_exits),
                      sig.max_hold))


def _strategy_inputs(bars, strategy: str | Strategy, predictions):
    strat = resolve_strategy(strategy) if isinstance(strategy, str) else strategy
    o, h, l, c = _prices(bars.open, bars.high, bars.low, bars.close)
    if predictions is not None and strat.needs_predictions:
        predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    return strat, (o, h, l, c), predictions


def _split_overrides(cfg: BacktestConfig, param_list: list[dict[str, Any]]) -> dict[str, list] | None:
    used = [key for key in CONFIG_SWEEP_KEYS if any(key in p for p in param_list)]
    if not used:
        return None
    checked: set[tuple] = set()
    out: dict[str, list] = {key: [] for key in used}
    for p in param_list:
        combo = tuple(p.get(key, getattr(cfg, key)) for key in used)
        if combo not in checked:  # validate each distinct combination once through the config rules
            cfg.replace(**dict(zip(used, combo, strict=True)))
            checked.add(combo)
        for key, value in zip(used, combo, strict=True):
            out[key].append(value)
    return out


def signal_sides(cfg: BacktestConfig, sig: SignalSet):
    """The (long entry, long exit, short entry, short exit) signals the simulation acts on for ``cfg.direction``."""
    le, lx, se, sx = _map_sides(cfg.direction, sig.entries, sig.exits, sig.short_entries, sig.short_exits)
    if cfg.direction == "both" and sig.short_entries is None and sig.short_exits is None:
        le, lx, se, sx = sig.entries, sig.exits, None, None
    if le is None and se is None:
        raise InvalidInput(f"the strategy gives no entries for direction {cfg.direction!r}", field="direction")
    return le, lx, se, sx


def _strategy_overrides(sig: SignalSet, overrides: dict[str, list] | None,
                        sig_col: np.ndarray | None = None) -> dict[str, Any] | None:
    if sig.max_hold is None:
        return overrides
    out = dict(overrides or {})
    hold = sig.max_hold if sig_col is None else sig.max_hold[sig_col]
    out.setdefault("max_hold", hold)  # a max_hold given with the parameters wins
    return out


def run_backtest(bars, strategy: str | Strategy, params: dict[str, Any] | None = None,
                 config: BacktestConfig | dict | None = None, predictions=None, warmup: int = 0) -> BacktestResult:
    """Run one strategy (a built-in's name, ``"package.module:attr"`` or a :class:`Strategy`) on ``bars``.

    The first ``warmup`` bars only warm the indicators up (signals are computed over all bars): nothing is
    traded or measured on them; the result (equity, trades, statistics, ``ts``) covers the bars after them."""
    cfg = _config(config)
    strat, (o, h, l, c), predictions = _strategy_inputs(bars, strategy, predictions)
    skip = _check_warmup(warmup, c.shape[0])
    p = validate_params(strat, params, allow_config=True)
    overrides = _split_overrides(cfg, [p])
    warm_close = c
    (o, h, l, c), sig = _cut(skip, (o, h, l, c), strat.build(o, h, l, c, [p], predictions))
    le, lx, se, sx = signal_sides(cfg, sig)
    trades, eq, stats = _simulate(o, h, l, c, le, lx, se, sx, cfg, _strategy_overrides(sig, overrides),
                                  warm_close=warm_close)
    return BacktestResult(strategy=strat.name, params=p, config=cfg.to_dict(), ts=np.asarray(bars.ts)[skip:],
                          equity=np.ascontiguousarray(eq[:, 0]), trades=trades,
                          stats={name: float(stats[0, i]) for i, name in enumerate(STAT_NAMES)})


def run_param_grid(bars, strategy: str, param_list: list[dict[str, Any]],
                   config: BacktestConfig | dict | None = None, keep_equity: bool = False, predictions=None,
                   chunk_size: int | None = None, warmup: int = 0):
    """Statistics for every parameter dict, one row each (in ``param_list`` order).

    Columns are grouped by parameter values (so indicator lines are shared) and simulated in chunks of
    ``chunk_size`` columns (default: sized to ~128 MB of working memory) in stats-only mode. Returns
    a pandas DataFrame, or ``(DataFrame, equity [n, k])`` with ``keep_equity=True``. The first ``warmup``
    bars only warm the indicators up (see :func:`run_backtest`); ``n`` counts the bars after them.
    """
    import pandas as pd

    cfg = _config(config)
    strat, (o, h, l, c), predictions = _strategy_inputs(bars, strategy, predictions)
    if not isinstance(param_list, (list, tuple)) or not param_list:
        raise InvalidInput("param_list must be a non-empty list of parameter dicts", field="param_list")
    validated = [validate_params(strat, p, allow_config=True) for p in param_list]
    overrides = _split_overrides(cfg, validated)
    skip = _check_warmup(warmup, c.shape[0])
    warm = (o, h, l, c)
    k = len(validated)
    n = c.shape[0] - skip
    names = [p.name for p in strat.params]
    order = sorted(range(k), key=lambda i: tuple(validated[i][nm] for nm in names))
    per_col = 12 * n + (8 * n if keep_equity else 0)
    chunk = int(chunk_size) if chunk_size else max(2, min(k, CHUNK_BYTES // max(per_col, 1)))
    stats_all = np.empty((k, len(STAT_NAMES)))
    equity_all = np.empty((n, k), order="F") if keep_equity else None
    for start in range(0, k, chunk):
        idx = np.asarray(order[start:start + chunk], dtype=np.int64)
        # columns that differ only in config overrides (stops, size, ...) share one signal column
        distinct: dict[tuple, int] = {}
        sig_col = np.empty(idx.size, dtype=np.int64)
        for pos, i in enumerate(idx):
            sig_col[pos] = distinct.setdefault(tuple(validated[i][nm] for nm in names), len(distinct))
        firsts = {}
        for pos, i in enumerate(idx):
            firsts.setdefault(int(sig_col[pos]), validated[i])
        prices, sig = _cut(skip, warm, strat.build(*warm, [firsts[u] for u in range(len(distinct))], predictions))
        le, lx, se, sx = signal_sides(cfg, sig)
        sub = None if overrides is None else {key: [vals[i] for i in idx] for key, vals in overrides.items()}
        _, eq, stats = _simulate(*prices, le, lx, se, sx, cfg, _strategy_overrides(sig, sub, sig_col),
                                 keep_equity=keep_equity, record_trades=False, sig_col=sig_col, warm_close=c)
        stats_all[idx] = stats
        if keep_equity:
            equity_all[:, idx] = eq
    frame = pd.DataFrame([{key: p[key] for key in p} for p in validated])
    for i, name in enumerate(STAT_NAMES):
        frame[name] = stats_all[:, i]
    return (frame, equity_all) if keep_equity else frame
