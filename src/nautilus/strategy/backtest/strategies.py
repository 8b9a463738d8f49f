"""Built-in strategies: a registry with parameter schemas and vectorized ``[n, k]`` signal builders.

Every builder takes the bars' arrays and a list of *validated* parameter dicts and returns a
``SignalSet`` of ``[n, k]`` boolean arrays (Fortran-ordered, one contiguous column per parameter
set). Indicators are computed once per distinct period and shared by every column that uses them.
A signal at bar ``t`` depends on data up to and including the close of ``t`` only; the kernel fills
it on the next bar.

=====================  =======================================================================
``sma_cross``          long entry when SMA(fast) crosses above SMA(slow): ``f[t] > s[t]`` and
                       ``f[t-1] <= s[t-1]``; long exit (and short entry) on the cross below.
``ema_cross``          the same with TA-Lib-style EMAs (seeded with the SMA of the first values).
``rsi_reversion``      Wilder RSI (as TA-Lib): long entry when RSI crosses below ``lower``
                       (``rsi[t] < lower <= rsi[t-1]``), long exit / short entry when it crosses
                       above ``upper``; short exit when it crosses below ``lower``.
``donchian_breakout``  long entry when the close breaks above the highest high of the previous
                       ``period`` bars, long exit when it breaks below the lowest low of the previous
                       ``exit_period`` bars; shorts mirror it (entry below the ``period`` low, exit
                       above the ``exit_period`` high).
``candle_pattern``     long entry on a bullish TA-Lib ``CDL<pattern>`` value (> 0), short entry on a
                       bearish one (< 0); the position is closed after ``hold`` bars (a time exit,
                       ``max_hold``); no other exits.
``model_signal``       from a caller-supplied ``predictions`` column aligned to the bars: long while
                       ``pred > threshold_long`` (exit when ``pred <= threshold_long``), short while
                       ``pred < threshold_short`` (exit when ``pred >= threshold_short``); NaN holds.
=====================  =======================================================================

The crossing strategies give ``short_entries = exits`` and ``short_exits = entries``, so with
``direction="both"`` a cross reverses the position.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput

# --------------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: Callable[[], tuple[str, ...]] | None = None
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "type": self.type.__name__, "default": self.default, "low": self.low,
             "high": self.high, "doc": self.doc}
        if self.choices is not None:
            d["choices"] = list(self.choices())
        return d


@dataclass
class SignalSet:
    """``[n, k]`` boolean signal arrays (None = not used) and optional per-column time exits."""

    entries: np.ndarray | None
    exits: np.ndarray | None
    short_entries: np.ndarray | None
    short_exits: np.ndarray | None
    max_hold: np.ndarray | None = None


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    params: tuple[Param, ...]
    build: Callable[..., SignalSet]
    check: Callable[[dict[str, Any]], None] | None = None
    needs_predictions: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "params": [p.to_dict() for p in self.params], "needs_predictions": self.needs_predictions}


# config settings a parameter dict may override per column (for sweeps over stops and sizes)
CONFIG_SWEEP_KEYS = ("size", "stop_loss", "take_profit", "trailing_stop", "max_hold")


def _coerce(p: Param, value: Any, field_name: str) -> Any:
    if p.type is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                value = int(value)
            else:
                raise InvalidInput(f"{p.name} must be an integer, got {value!r}", field=field_name)
        value = int(value)
    elif p.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InvalidInput(f"{p.name} must be a number, got {value!r}", field=field_name)
        value = float(value)
        if not math.isfinite(value):
            raise InvalidInput(f"{p.name} must be finite, got {value!r}", field=field_name)
    elif p.type is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{p.name} must be a string, got {value!r}", field=field_name)
        value = value.strip().upper()
        if value.startswith("CDL"):
            value = value[3:]
    if p.low is not None and value < p.low:
        raise InvalidInput(f"{p.name} must be >= {p.low:g}, got {value!r}", field=field_name)
    if p.high is not None and value > p.high:
        raise InvalidInput(f"{p.name} must be <= {p.high:g}, got {value!r}", field=field_name)
    if p.choices is not None and value not in p.choices():
        raise InvalidInput(f"{p.name} {value!r} is not one of the supported values", field=field_name)
    return value


def validate_params(strategy: str | Strategy, params: dict[str, Any] | None,
                    allow_config: bool = False) -> dict[str, Any]:
    """Defaults filled in, types coerced, bounds and cross-constraints checked (InvalidInput names
    ``params.<name>``). With ``allow_config`` the keys in ``CONFIG_SWEEP_KEYS`` pass through as well."""
    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInput("params must be an object", field="params")
    known = {p.name: p for p in strat.params}
    out: dict[str, Any] = {}
    for key in params:
        if key not in known and not (allow_config and key in CONFIG_SWEEP_KEYS):
            raise InvalidInput(f"unknown parameter {key!r} for strategy {strat.name!r}", field=f"params.{key}")
    for p in strat.params:
        out[p.name] = _coerce(p, params.get(p.name, p.default), f"params.{p.name}")
    if strat.check is not None:
        strat.check(out)
    if allow_config:
        for key in CONFIG_SWEEP_KEYS:
            if key in params and key not in known:
                out[key] = params[key]
    return out


# --------------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------------


def _alloc(n: int, k: int) -> np.ndarray:
    return np.empty((n, k), dtype=np.bool_, order="F")


def _cross_builder(kernel: str) -> Callable[..., SignalSet]:
    """Crossings of two lines of the indicator kernel ``kernel`` (a name in :mod:`.signal_kernels`)."""

    def build(o, h, l, c, param_list, predictions=None) -> SignalSet:
        from nautilus.strategy.backtest import signal_kernels as sk

        indicator = getattr(sk, kernel)
        n, k = c.shape[0], len(param_list)
        cache: dict[int, np.ndarray] = {}

        def line(p: int) -> np.ndarray:
            if p not in cache:
                cache[p] = indicator(c, p)
            return cache[p]

        up, down = _alloc(n, k), _alloc(n, k)
        for j, prm in enumerate(param_list):
            sk.cross_nb(line(prm["fast"]), line(prm["slow"]), up[:, j], down[:, j])
        return SignalSet(up, down, down, up)

    return build


def _build_rsi(o, h, l, c, param_list, predictions=None) -> SignalSet:
    from nautilus.strategy.backtest import signal_kernels as sk

    n, k = c.shape[0], len(param_list)
    cache: dict[int, np.ndarray] = {}
    below, above = _alloc(n, k), _alloc(n, k)
    for j, prm in enumerate(param_list):
        p = prm["period"]
        if p not in cache:
            cache[p] = sk.rsi_nb(c, p)
        sk.level_cross_nb(cache[p], float(prm["lower"]), float(prm["upper"]), below[:, j], above[:, j])
    return SignalSet(below, above, above, below)


def _build_donchian(o, h, l, c, param_list, predictions=None) -> SignalSet:
    from nautilus.strategy.backtest import signal_kernels as sk

    n, k = c.shape[0], len(param_list)
    highs: dict[int, np.ndarray] = {}
    lows: dict[int, np.ndarray] = {}

    def upper(p: int) -> np.ndarray:
        if p not in highs:
            highs[p] = sk.prior_extreme_nb(h, p, True)
        return highs[p]

    def lower(p: int) -> np.ndarray:
        if p not in lows:
            lows[p] = sk.prior_extreme_nb(l, p, False)
        return lows[p]

    le, lx, se, sx = _alloc(n, k), _alloc(n, k), _alloc(n, k), _alloc(n, k)
    for j, prm in enumerate(param_list):
        p, e = prm["period"], prm["exit_period"]
        np.greater(c, upper(p), out=le[:, j])
        np.less(c, lower(e), out=lx[:, j])
        np.less(c, lower(p), out=se[:, j])
        np.greater(c, upper(e), out=sx[:, j])
    return SignalSet(le, lx, se, sx)


@lru_cache(maxsize=1)
def candle_patterns() -> tuple[str, ...]:
    """Names accepted by ``candle_pattern`` (TA-Lib's ``CDL*`` functions without the prefix)."""
    import talib

    return tuple(sorted(name[3:] for name in talib.get_function_groups()["Pattern Recognition"]))


def candle_signal(pattern: str, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray) -> np.ndarray:
    """+1 on a bullish, -1 on a bearish, 0 on no ``pattern`` candle at each bar (int8).

    The single place that computes candle patterns: today TA-Lib's ``CDL<pattern>``, later the
    project's own candle backend.
    """
    import talib

    values = getattr(talib, "CDL" + pattern)(o, h, l, c)
    return np.sign(values).astype(np.int8)


def _build_candle(o, h, l, c, param_list, predictions=None) -> SignalSet:
    n, k = c.shape[0], len(param_list)
    cache: dict[str, np.ndarray] = {}
    le, se = _alloc(n, k), _alloc(n, k)
    hold = np.empty(k, dtype=np.int64)
    for j, prm in enumerate(param_list):
        pat = prm["pattern"]
        if pat not in cache:
            cache[pat] = candle_signal(pat, o, h, l, c)
        np.greater(cache[pat], 0, out=le[:, j])
        np.less(cache[pat], 0, out=se[:, j])
        hold[j] = prm["hold"]
    return SignalSet(le, None, se, None, max_hold=hold)


def _build_model(o, h, l, c, param_list, predictions=None) -> SignalSet:
    if predictions is None:
        raise InvalidInput("model_signal needs a predictions column aligned to the bars", field="predictions")
    pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if not pred.flags.writeable or not pred.flags.c_contiguous:
        pred = np.array(pred)
    if pred.shape[0] != c.shape[0]:
        raise InvalidInput(f"predictions has {pred.shape[0]} values for {c.shape[0]} bars", field="predictions")
    n, k = c.shape[0], len(param_list)
    le, lx, se, sx = _alloc(n, k), _alloc(n, k), _alloc(n, k), _alloc(n, k)
    for j, prm in enumerate(param_list):
        tl, ts = prm["threshold_long"], prm["threshold_short"]
        np.greater(pred, tl, out=le[:, j])
        np.less_equal(pred, tl, out=lx[:, j])
        np.less(pred, ts, out=se[:, j])
        np.greater_equal(pred, ts, out=sx[:, j])
    return SignalSet(le, lx, se, sx)


def _check_fast_slow(p: dict[str, Any]) -> None:
    if p["fast"] >= p["slow"]:
        raise InvalidInput(f"fast ({p['fast']}) must be smaller than slow ({p['slow']})", field="params.fast")


def _check_rsi(p: dict[str, Any]) -> None:
    if p["lower"] >= p["upper"]:
        raise InvalidInput(f"lower ({p['lower']}) must be below upper ({p['upper']})", field="params.lower")


def _check_model(p: dict[str, Any]) -> None:
    if p["threshold_short"] > p["threshold_long"]:
        raise InvalidInput("threshold_short must not exceed threshold_long", field="params.threshold_short")


_MAX_PERIOD = 1_000_000

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("sma_cross", "Long on SMA(fast) crossing above SMA(slow); exit/short on the cross below.",
                 (Param("fast", int, 10, 1, _MAX_PERIOD, doc="fast SMA period"),
                  Param("slow", int, 30, 2, _MAX_PERIOD, doc="slow SMA period")),
                 _cross_builder("sma_nb"), _check_fast_slow),
        Strategy("ema_cross", "Long on EMA(fast) crossing above EMA(slow); exit/short on the cross below.",
                 (Param("fast", int, 12, 1, _MAX_PERIOD, doc="fast EMA period"),
                  Param("slow", int, 26, 2, _MAX_PERIOD, doc="slow EMA period")),
                 _cross_builder("ema_nb"), _check_fast_slow),
        Strategy("rsi_reversion", "Long when RSI crosses below lower; exit/short when it crosses above upper.",
                 (Param("period", int, 14, 2, _MAX_PERIOD, doc="RSI period"),
                  Param("lower", float, 30.0, 0.0, 100.0, doc="oversold level"),
                  Param("upper", float, 70.0, 0.0, 100.0, doc="overbought level")),
                 _build_rsi, _check_rsi),
        Strategy("donchian_breakout", "Breakout of the prior period's high/low channel; exit on the exit channel.",
                 (Param("period", int, 20, 1, _MAX_PERIOD, doc="entry channel length (bars before t)"),
                  Param("exit_period", int, 10, 1, _MAX_PERIOD, doc="exit channel length (bars before t)")),
                 _build_donchian),
        Strategy("candle_pattern", "Enter on a TA-Lib candlestick pattern (bullish long, bearish short); "
                 "hold for a fixed number of bars.",
                 (Param("pattern", str, "ENGULFING", choices=candle_patterns, doc="TA-Lib CDL name, e.g. HAMMER"),
                  Param("hold", int, 5, 1, _MAX_PERIOD, doc="bars to hold")),
                 _build_candle),
        Strategy("model_signal", "Positions from a predictions column: long above threshold_long, short "
                 "below threshold_short.",
                 (Param("threshold_long", float, 0.0, doc="go/stay long while prediction > this"),
                  Param("threshold_short", float, 0.0, doc="go/stay short while prediction < this")),
                 _build_model, _check_model, needs_predictions=True),
    )
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}",
                           field="strategy") from None


_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
USER_MODULE_PREFIX = "nautilus_user_strategies"  # sys.modules name of modules loaded from a strategies dir


def resolve_strategy(name: str, *, strategies_dir: str | Path | None = None,
                     packages: Sequence[str] = ()) -> Strategy:
    """A built-in strategy by name, or a user's :class:`Strategy` given as ``"module:attr"``.

    User code loads only from the places an administrator allowed (settings ``strategies_dir`` and
    ``strategy_packages``; a request never widens them): ``module`` is a file ``module.py`` (dots:
    sub-folders) under ``strategies_dir``, or a module of one of ``packages`` (the package itself or
    below it). Any other name is refused (422 naming ``strategy``) *without importing anything*, so a
    request cannot run the module-level code of an arbitrary installed module (``this:x``, ``os:system``).

    A user's strategy has the built-ins' interface: ``name``, ``params`` (``Param`` schema) and
    ``build(o, h, l, c, param_list, predictions) -> SignalSet``, causal (signals at ``t`` use data up
    to ``t``), so the same object runs in backtests, sweeps and paper trading.
    """
    if not isinstance(name, str) or ":" not in name:
        return get_strategy(name)
    module, _, attr = name.partition(":")
    if not _MODULE.match(module) or not _ATTR.match(attr):
        raise InvalidInput(f"strategy {name!r} must be module:attribute (letters, digits, _ and dots)",
                           field="strategy")
    path = _strategy_file(module, strategies_dir)
    if path is None and not any(module == p or module.startswith(p + ".") for p in packages if p):
        where = [f"files under {strategies_dir}"] if strategies_dir is not None else []
        where += [f"packages {', '.join(packages)}"] if packages else []
        raise InvalidInput(f"strategy {name!r} is not in an allowed place ({'; '.join(where) or 'none set'}): "
                           "user strategies load only from the strategies directory or packages the "
                           "administrator configured (NAUTILUS_STRATEGIES_DIR, NAUTILUS_STRATEGY_PACKAGES)",
                           field="strategy")
    try:
        mod = _load_file(module, path) if path is not None else importlib.import_module(module)
        obj = getattr(mod, attr)
    except Exception as exc:  # the admin's code may raise anything on import: a 4xx naming it, not a 500
        raise InvalidInput(f"cannot load strategy {name!r}: {type(exc).__name__}: {exc}", field="strategy") from None
    if isinstance(obj, type):
        obj = obj()
    if not all(hasattr(obj, a) for a in ("name", "params", "build")):
        raise InvalidInput(f"{name!r} is not a strategy (it needs name, params and build)", field="strategy")
    return obj


def _strategy_file(module: str, strategies_dir: str | Path | None) -> Path | None:
    """``strategies_dir/a/b.py`` for module ``a.b`` when that file exists inside the directory (no link out)."""
    if strategies_dir is None:
        return None
    root = Path(strategies_dir).resolve()
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    try:
        resolved = path.resolve(strict=True)
    except (FileNotFoundError, OSError):
        return None
    return resolved if resolved.is_file() and resolved.is_relative_to(root) else None


_load_lock = threading.Lock()


def _load_file(module: str, path: Path) -> ModuleType:
    """The module in ``path`` under a private name; loaded again only when the file changed."""
    key = f"{USER_MODULE_PREFIX}.{module}"
    stat = path.stat()
    version = (str(path), stat.st_mtime_ns, stat.st_size)
    with _load_lock:
        loaded = sys.modules.get(key)
        if loaded is not None and getattr(loaded, "__nautilus_version__", None) == version:
            return loaded
        spec = importlib.util.spec_from_file_location(key, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod  # dataclasses and pickling look a class's module up here
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(key, None)
            raise
        mod.__nautilus_version__ = version  # type: ignore[attr-defined]
        return mod


def _candle_lookback(pattern: str) -> int:
    from talib import abstract

    return int(abstract.Function("CDL" + pattern).lookback)


def strategy_warmup(strategy: str | Strategy, params: dict[str, Any]) -> int | None:
    """Bars before the first traded bar that the signals of ``params`` (validated) read, so a signal there
    equals the full-history one: crossings need the lines at ``t - 1`` too; EMA and RSI lines their
    convergence (:mod:`nautilus.strategy.indicators.warmups`). ``None``: the whole history (a user strategy
    that declares nothing; it may define ``warmup(params) -> int | None``)."""
    from nautilus.strategy.indicators.warmups import MAX_WARMUP, convergence_bars

    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    name = strat.name if strat is STRATEGIES.get(strat.name) else None
    if name == "sma_cross":
        return int(params["slow"])
    if name == "ema_cross":
        bars = int(params["slow"]) + convergence_bars(params["slow"], 2)
        return None if bars > MAX_WARMUP else bars
    if name == "rsi_reversion":
        bars = int(params["period"]) + 1 + convergence_bars(params["period"], 2)
        return None if bars > MAX_WARMUP else bars
    if name == "donchian_breakout":
        return max(int(params["period"]), int(params["exit_period"]))
    if name == "candle_pattern":
        return _candle_lookback(params["pattern"])
    if name == "model_signal":
        return 0  # predictions come aligned to the bars, computed from their own warm-up
    declared = getattr(strat, "warmup", None)
    if callable(declared):
        value = declared(params)
        return None if value is None else max(0, int(value))
    return None


def list_strategies() -> list[dict[str, Any]]:
    return [s.to_dict() for s in STRATEGIES.values()]


def build_signals(strategy: str | Strategy, o, h, l, c, param_list: list[dict[str, Any]],
                  predictions=None) -> SignalSet:
    """Signals for already-validated parameter dicts (see ``validate_params``)."""
    from nautilus.strategy.backtest.kernel import contiguous_1d

    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    o, h, l, c = (contiguous_1d(x) for x in (o, h, l, c))
    if predictions is not None:
        predictions = contiguous_1d(predictions)
    return strat.build(o, h, l, c, param_list, predictions)
