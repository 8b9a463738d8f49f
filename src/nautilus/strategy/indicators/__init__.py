"""Technical indicators behind a small declarative spec.

Every TA-Lib function of the overlap, momentum, volatility, volume, price-transform, statistic,
cycle and math groups is available under its lower-case name, plus the extras TA-Lib lacks or that
we define our own way (vwap, anchored_vwap, supertrend, ichimoku, keltner, donchian; see
:mod:`.extra`). A spec is ``{"name": "rsi", "period": 14}``, ``"rsi(14)"`` or ``"sma(period=50)"``
(see :mod:`.spec` for the forms, the validation errors and the column key rule)::

    spec = parse_spec("bbands(20, 2, 2)")      # key "bbands_20_2_2_0"
    compute(spec, bars)                        # {"bbands_20_2_2_0.upperband": array, ...}
    compute_many(["rsi(14)", {"name": "rsi", "period": 14}, "vwap"], bars)  # rsi computed once

``bars`` is a :class:`~nautilus.core.bars.Bars` or a mapping of equal-length arrays ("open", "high",
"low", "close", "volume", plus "ts" for the VWAPs and "periods" for MAVP). Outputs are float64 with
NaN through the warm-up (integer TA-Lib outputs included); no output at index ``t`` depends on bars
after ``t``. TA-Lib functions with one ``price`` input take ``input`` = close (default), open, high,
low, volume, hl2, hlc3 or ohlc4.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import talib
from talib import abstract

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput
from nautilus.strategy.indicators import extra, registry
from nautilus.strategy.indicators.registry import PRICE_SOURCES, Indicator, Param
from nautilus.strategy.indicators.spec import (
    IndicatorSpec,
    indicator,
    output_columns,
    parse_spec,
    spec_dict,
)

__all__ = [
    "PRICE_SOURCES",
    "Indicator",
    "IndicatorSpec",
    "Param",
    "compute",
    "compute_many",
    "describe_indicator",
    "list_indicators",
    "lookback",
    "output_columns",
    "parse_spec",
    "spec_dict",
    "warmup",
]

SpecLike = IndicatorSpec | Mapping[str, Any] | str
_DERIVED = {"hl2": ("high", "low"), "hlc3": ("high", "low", "close"), "ohlc4": ("open", "high", "low", "close")}


def list_indicators() -> list[dict[str, Any]]:
    """The catalogue, sorted by name: name, group, description, source ("talib"/"nautilus"),
    inputs, params (name, type, default, min, max, choices, description), aliases, outputs,
    unstable (value depends on how much history precedes it)."""
    return [ind.to_dict() for ind in registry.catalogue().values()]


def describe_indicator(name: str) -> dict[str, Any]:
    """One catalogue entry as in :func:`list_indicators`; InvalidInput(field="name") if unknown."""
    return indicator(name).to_dict()


def lookback(spec: SpecLike) -> int:
    """Warm-up bars: how many leading outputs are NaN on gap-free input (the most of any output)."""
    s = parse_spec(spec)
    ind = s.indicator
    if ind.talib_name is None:
        return extra.lookback(s.name, s.params)
    return _talib_lookback(ind.talib_name, tuple((k, v) for k, v in s.params.items() if k != "input"))


def warmup(spec: SpecLike, bar_ns: int | None = None) -> int | None:
    """Bars to load before the first requested bar so every value equals the full-history one (within
    :data:`.warmups.RTOL` of the output's scale); ``None``: the whole stored history (running totals, ratchets).
    ``bar_ns`` (the bar length) bounds session-reset indicators (VWAP). See :mod:`.warmups`."""
    from nautilus.strategy.indicators import warmups as _warmup

    s = parse_spec(spec)
    return _warmup.warmup_bars(s.name, s.indicator.unstable, s.params, lookback(s), bar_ns)


@functools.lru_cache(maxsize=4096)
def _talib_lookback(func: str, kwargs: tuple[tuple[str, Any], ...]) -> int:
    fn = abstract.Function(func)
    fn.set_parameters(dict(kwargs))
    return int(fn.lookback)


class _Frame:
    """Bar columns as contiguous float64 arrays (ts as int64), derived prices made once."""

    def __init__(self, bars: Bars | Mapping[str, Any]) -> None:
        if isinstance(bars, Bars):
            self._source: Mapping[str, Any] | Bars = bars
        elif isinstance(bars, Mapping):
            self._source = bars
        else:
            raise InvalidInput("bars must be Bars or a mapping of column arrays", field="bars")
        self._cols: dict[str, np.ndarray] = {}
        self.n: int | None = len(bars) if isinstance(bars, Bars) else None

    def _raw(self, name: str) -> Any:
        if isinstance(self._source, Bars):
            return getattr(self._source, name, None)
        return self._source.get(name)

    def __getitem__(self, name: str) -> np.ndarray:
        col = self._cols.get(name)
        if col is not None:
            return col
        if name in _DERIVED and self._raw(name) is None:
            parts = [self[p] for p in _DERIVED[name]]
            col = np.ascontiguousarray(sum(parts[1:], parts[0]) / len(parts))
        else:
            raw = self._raw(name)
            if raw is None:
                raise InvalidInput(f"bars have no {name!r} column", field=name)
            try:
                col = np.ascontiguousarray(raw, dtype=np.int64 if name == "ts" else np.float64)
            except (TypeError, ValueError):
                raise InvalidInput(f"bars column {name!r} is not numeric", field=name) from None
            if col.ndim != 1:
                raise InvalidInput(f"bars column {name!r} must be one-dimensional", field=name)
            if self.n is None:
                self.n = col.shape[0]
            elif col.shape[0] != self.n:
                raise InvalidInput(f"bars column {name!r} has {col.shape[0]} rows, expected {self.n}",
                                   field=name)
        self._cols[name] = col
        return col


def compute(spec: SpecLike, bars: Bars | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Compute one indicator: ``{column: float64 array}`` with the spec's columns, in output order."""
    return _compute(parse_spec(spec), bars if isinstance(bars, _Frame) else _Frame(bars))


def compute_many(specs: Iterable[SpecLike], bars: Bars | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Compute several indicators over the same bars; identical specs (same key) are computed once.
    Columns come in the order of first appearance."""
    frame = _Frame(bars)
    parsed: dict[str, IndicatorSpec] = {}
    for raw in specs:
        s = parse_spec(raw)
        parsed.setdefault(s.key, s)
    out: dict[str, np.ndarray] = {}
    for s in parsed.values():
        out.update(_compute(s, frame))
    return out


def _compute(s: IndicatorSpec, frame: _Frame) -> dict[str, np.ndarray]:
    ind = s.indicator
    if ind.fn is not None:
        result = ind.fn(*[frame[c] for c in ind.inputs], **s.params)
    else:
        result = _run_talib(ind, s, frame)
    arrays = result if isinstance(result, tuple) else (result,)
    return {col: np.asarray(a, dtype=np.float64) for col, a in zip(s.columns, arrays, strict=True)}


def _run_talib(ind: Indicator, s: IndicatorSpec, frame: _Frame) -> tuple[np.ndarray, ...]:
    columns = list(ind.inputs)
    if ind.price_slot is not None:
        columns[ind.price_slot] = s.params["input"]
    inputs = [frame[c] for c in columns]
    kwargs = {k: v for k, v in s.params.items() if k != "input"}
    assert ind.talib_name is not None
    try:
        result = getattr(talib, ind.talib_name)(*inputs, **kwargs)
    except Exception as exc:
        raise InvalidInput(f"{s.name}: TA-Lib failed: {exc}", field="name") from None
    arrays = result if isinstance(result, tuple) else (result,)
    out = []
    for a in arrays:
        if np.issubdtype(a.dtype, np.integer):  # TA-Lib pads integer outputs with 0: make it NaN
            f = a.astype(np.float64)
            finite = np.ones(f.shape[0], dtype=bool)
            for x in inputs:
                finite &= ~np.isnan(x)
            first = int(np.argmax(finite)) if finite.any() else f.shape[0]
            f[: first + _talib_lookback(ind.talib_name, tuple(kwargs.items()))] = np.nan
            a = f
        out.append(a)
    return tuple(out)
