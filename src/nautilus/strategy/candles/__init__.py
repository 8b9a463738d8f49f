"""TA-Lib's 61 candlestick patterns, bit for bit, from a fused and parallel numba backend.

``detect`` runs any set of patterns over one series; ``detect_universe`` over many series at once (in
parallel over symbols); ``PatternState`` and ``UniverseState`` keep the kernels' rolling state so that,
given the same arrays extended by new bars, only the new bars are computed, with results identical to a
full recompute. Outputs are TA-Lib's: int32 arrays of 0, +-100, +-200 (hikkake confirmations) or +-80
(engulfing/harami with a matching body end), zero for the first ``lookback`` bars.

``backend="talib"`` calls ``talib.CDLxxx`` itself and is the reference the numba backend is tested
against. Names are accepted case-insensitively, with or without the ``CDL`` prefix (``"doji"``,
``"CDLDOJI"``, ``"3blackcrows"``). ``params`` maps a pattern to its penetration, for the seven
patterns that take one (abandoned baby, dark cloud cover, evening (doji) star, mat hold, morning
(doji) star).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.strategy.candles import kernel as _k

PATTERN_NAMES: tuple[str, ...] = _k.NAMES
"""The 61 TA-Lib pattern function names, in TA-Lib's (alphabetical) order."""

PENETRATION_PATTERNS = frozenset(n for n, p in zip(_k.NAMES, _k.DEFAULT_PARAMS, strict=True) if p != 0.0)
"""Patterns that take a penetration parameter."""

MAX_LOOKBACK = int(_k.LOOKBACKS.max())

_HUMAN = {
    "CDL2CROWS": "Two Crows",
    "CDL3BLACKCROWS": "Three Black Crows",
    "CDL3INSIDE": "Three Inside Up/Down",
    "CDL3LINESTRIKE": "Three-Line Strike",
    "CDL3OUTSIDE": "Three Outside Up/Down",
    "CDL3STARSINSOUTH": "Three Stars In The South",
    "CDL3WHITESOLDIERS": "Three Advancing White Soldiers",
    "CDLABANDONEDBABY": "Abandoned Baby",
    "CDLADVANCEBLOCK": "Advance Block",
    "CDLBELTHOLD": "Belt-hold",
    "CDLBREAKAWAY": "Breakaway",
    "CDLCLOSINGMARUBOZU": "Closing Marubozu",
    "CDLCONCEALBABYSWALL": "Concealing Baby Swallow",
    "CDLCOUNTERATTACK": "Counterattack",
    "CDLDARKCLOUDCOVER": "Dark Cloud Cover",
    "CDLDOJI": "Doji",
    "CDLDOJISTAR": "Doji Star",
    "CDLDRAGONFLYDOJI": "Dragonfly Doji",
    "CDLENGULFING": "Engulfing Pattern",
    "CDLEVENINGDOJISTAR": "Evening Doji Star",
    "CDLEVENINGSTAR": "Evening Star",
    "CDLGAPSIDESIDEWHITE": "Up/Down-gap side-by-side white lines",
    "CDLGRAVESTONEDOJI": "Gravestone Doji",
    "CDLHAMMER": "Hammer",
    "CDLHANGINGMAN": "Hanging Man",
    "CDLHARAMI": "Harami Pattern",
    "CDLHARAMICROSS": "Harami Cross Pattern",
    "CDLHIGHWAVE": "High-Wave Candle",
    "CDLHIKKAKE": "Hikkake Pattern",
    "CDLHIKKAKEMOD": "Modified Hikkake Pattern",
    "CDLHOMINGPIGEON": "Homing Pigeon",
    "CDLIDENTICAL3CROWS": "Identical Three Crows",
    "CDLINNECK": "In-Neck Pattern",
    "CDLINVERTEDHAMMER": "Inverted Hammer",
    "CDLKICKING": "Kicking",
    "CDLKICKINGBYLENGTH": "Kicking - bull/bear determined by the longer marubozu",
    "CDLLADDERBOTTOM": "Ladder Bottom",
    "CDLLONGLEGGEDDOJI": "Long Legged Doji",
    "CDLLONGLINE": "Long Line Candle",
    "CDLMARUBOZU": "Marubozu",
    "CDLMATCHINGLOW": "Matching Low",
    "CDLMATHOLD": "Mat Hold",
    "CDLMORNINGDOJISTAR": "Morning Doji Star",
    "CDLMORNINGSTAR": "Morning Star",
    "CDLONNECK": "On-Neck Pattern",
    "CDLPIERCING": "Piercing Pattern",
    "CDLRICKSHAWMAN": "Rickshaw Man",
    "CDLRISEFALL3METHODS": "Rising/Falling Three Methods",
    "CDLSEPARATINGLINES": "Separating Lines",
    "CDLSHOOTINGSTAR": "Shooting Star",
    "CDLSHORTLINE": "Short Line Candle",
    "CDLSPINNINGTOP": "Spinning Top",
    "CDLSTALLEDPATTERN": "Stalled Pattern",
    "CDLSTICKSANDWICH": "Stick Sandwich",
    "CDLTAKURI": "Takuri (Dragonfly Doji with very long lower shadow)",
    "CDLTASUKIGAP": "Tasuki Gap",
    "CDLTHRUSTING": "Thrusting Pattern",
    "CDLTRISTAR": "Tristar Pattern",
    "CDLUNIQUE3RIVER": "Unique 3 River",
    "CDLUPSIDEGAP2CROWS": "Upside Gap Two Crows",
    "CDLXSIDEGAP3METHODS": "Upside/Downside Gap Three Methods",
}
_PID = {name: i for i, name in enumerate(PATTERN_NAMES)}
_FIELDS = ("open", "high", "low", "close")
_BACKENDS = ("numba", "talib")


class PatternInfo(NamedTuple):
    name: str
    """TA-Lib function name, e.g. ``"CDL3BLACKCROWS"``."""
    lookback: int
    """Bars before the first output (outputs there are 0)."""
    default_param: float | None
    """TA-Lib's default penetration, or ``None`` for patterns without one."""
    human_name: str
    """TA-Lib's display name, e.g. ``"Three Black Crows"``."""


def pattern_info() -> tuple[PatternInfo, ...]:
    """Name, lookback, default penetration and display name of every pattern, in TA-Lib order."""
    return tuple(
        PatternInfo(
            name,
            int(_k.LOOKBACKS[i]),
            float(_k.DEFAULT_PARAMS[i]) if name in PENETRATION_PATTERNS else None,
            _HUMAN[name],
        )
        for i, name in enumerate(PATTERN_NAMES)
    )


# --------------------------------------------------------------------------------------------------
# Input checking


def _canonical(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"pattern names must be strings, got {name!r}", field="patterns")
    key = name.strip().upper()
    if not key.startswith("CDL"):
        key = "CDL" + key
    if key not in _PID:
        raise InvalidInput(f"unknown candlestick pattern {name!r}", field="patterns")
    return key


def resolve_names(names: str | Iterable[str] | None) -> tuple[str, ...]:
    if names is None:
        return PATTERN_NAMES
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for name in names:
        key = _canonical(name)
        if key not in out:
            out.append(key)
    return tuple(out)


def _resolve_params(names: tuple[str, ...], params: Mapping[str, float] | None) -> np.ndarray:
    values = np.array([_k.DEFAULT_PARAMS[_PID[n]] for n in names], dtype=np.float64)
    if not params:
        return values
    if not isinstance(params, Mapping):
        raise InvalidInput("params must map pattern names to penetrations", field="params")
    for name, value in params.items():
        try:
            key = _canonical(name)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="params") from None
        if key not in PENETRATION_PATTERNS:
            raise InvalidInput(f"{key} takes no parameter", field="params")
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InvalidInput(f"penetration for {key} must be a number", field="params")
        value = float(value)
        if not math.isfinite(value) or value < 0.0:
            raise InvalidInput(f"penetration for {key} must be finite and >= 0", field="params")
        if key in names:
            values[names.index(key)] = value
    return values


def _as_prices(values: Any, field: str) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a 1-D array of numbers", field=field) from None
    if arr.ndim != 1:
        raise InvalidInput(f"{field} must be 1-D, got {arr.ndim}-D", field=field)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{field} contains non-finite prices", field=field)
    return arr


def _ohlc(open: Any, high: Any, low: Any, close: Any) -> tuple[np.ndarray, ...]:
    arrays = tuple(_as_prices(v, f) for v, f in zip((open, high, low, close), _FIELDS, strict=True))
    n = arrays[0].shape[0]
    for arr, field in zip(arrays[1:], _FIELDS[1:], strict=True):
        if arr.shape[0] != n:
            raise InvalidInput(f"{field} has {arr.shape[0]} bars, open has {n}", field=field)
    return arrays


def _check_backend(backend: str) -> None:
    if backend not in _BACKENDS:
        raise InvalidInput(f"backend must be one of {_BACKENDS}, got {backend!r}", field="backend")


# --------------------------------------------------------------------------------------------------
# One series


def _talib_one(name: str, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, param: float):
    import talib

    fn = getattr(talib, name)
    out = fn(o, h, l, c, param) if name in PENETRATION_PATTERNS else fn(o, h, l, c)
    return np.ascontiguousarray(out, dtype=np.int32)


def _numba_into(
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    names: tuple[str, ...],
    params: np.ndarray,
    out2d: np.ndarray,
    states2d: np.ndarray,
    start: int,
) -> None:
    """Fill rows of ``out2d`` (one per name) from bar ``start`` on, resuming from ``states2d``."""
    pids = np.array([_PID[name] for name in names], dtype=np.int64)
    _k.run_series(o, h, l, c, pids, params, out2d, states2d, start)


def detect(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    names: str | Iterable[str] | None = None,
    backend: str = "numba",
    params: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Candlestick patterns over one OHLC series: ``{TA-Lib name: int32 array}`` for each requested name.

    ``names=None`` means all 61, in TA-Lib order; otherwise the requested order (duplicates dropped).
    Raises ``InvalidInput`` for an unknown name (field ``"patterns"``), a bad parameter (``"params"``),
    an unknown backend (``"backend"``), or prices that are not 1-D, finite and of equal lengths (the
    offending field).
    """
    _check_backend(backend)
    keys = resolve_names(names)
    values = _resolve_params(keys, params)
    o, h, l, c = _ohlc(open, high, low, close)
    if backend == "talib":
        return {name: _talib_one(name, o, h, l, c, float(values[i])) for i, name in enumerate(keys)}
    out2d = np.zeros((len(keys), o.shape[0]), dtype=np.int32)
    states = np.zeros((len(keys), _k.MAX_STATE), dtype=np.float64)
    _numba_into(o, h, l, c, keys, values, out2d, states, 0)
    return {name: out2d[i] for i, name in enumerate(keys)}


class PatternState:
    """Incremental patterns over one growing series.

    ``update(open, high, low, close)`` takes the whole series so far (the previous call's bars,
    unchanged, plus any new ones), computes only the bars it has not seen and returns the full results,
    equal bit for bit to ``detect`` over the same arrays. The returned arrays are read-only views of an
    internal buffer, valid snapshots as long as you keep them (later updates never rewrite them).

    Only the last ``MAX_LOOKBACK + 1`` previously seen bars are checked for changes (``InvalidInput``
    if they differ or the series got shorter); rewriting older history is not detected, call
    ``reset()`` (or make a new state) when history changes.
    """

    def __init__(self, names: str | Iterable[str] | None = None, params: Mapping[str, float] | None = None):
        self.names = resolve_names(names)
        self.params = _resolve_params(self.names, params)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next update is a full computation."""
        self.n = 0
        self._out = np.zeros((len(self.names), 0), dtype=np.int32)
        self._states = np.zeros((len(self.names), _k.MAX_STATE), dtype=np.float64)
        self._tail = np.zeros((4, 0), dtype=np.float64)

    def update(self, open: Any, high: Any, low: Any, close: Any) -> dict[str, np.ndarray]:
        o, h, l, c = _ohlc(open, high, low, close)
        n = o.shape[0]
        _check_extends(self.n, self._tail, (o, h, l, c), n)
        if n > self._out.shape[1]:
            grown = np.zeros((len(self.names), max(n, 2 * self._out.shape[1])), dtype=np.int32)
            grown[:, : self.n] = self._out[:, : self.n]
            self._out = grown
        if n > self.n:
            _numba_into(o, h, l, c, self.names, self.params, self._out, self._states, self.n)
            self.n = n
            self._tail = np.stack([a[max(0, n - MAX_LOOKBACK - 1) :] for a in (o, h, l, c)])
        return self.results()

    def results(self) -> dict[str, np.ndarray]:
        """The results for the bars seen so far (read-only views)."""
        view = self._out[:, : self.n].view()
        view.flags.writeable = False
        return {name: view[i] for i, name in enumerate(self.names)}


def _check_extends(n_old: int, tail: np.ndarray, arrays: tuple[np.ndarray, ...], n: int) -> None:
    if n < n_old:
        raise InvalidInput(f"the series has {n} bars, fewer than the {n_old} already seen", field="close")
    w = tail.shape[1]
    for arr, saved, field in zip(arrays, tail, _FIELDS, strict=True):
        if w and not np.array_equal(arr[n_old - w : n_old], saved):
            raise InvalidInput(f"{field} changed in bars already seen; reset the state", field=field)


# --------------------------------------------------------------------------------------------------
# A universe


@dataclass(frozen=True)
class UniverseResult:
    """Patterns over a universe, CSR layout: symbol ``s`` owns columns ``offsets[s]:offsets[s + 1]``."""

    names: tuple[str, ...]
    offsets: np.ndarray
    values: np.ndarray
    """``(len(names), offsets[-1])`` int32."""

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, name: str) -> np.ndarray:
        """One pattern over the whole (concatenated) universe."""
        key = _canonical(name)
        if key not in self.names:
            raise KeyError(key)
        return self.values[self.names.index(key)]

    def symbol(self, s: int) -> dict[str, np.ndarray]:
        """``{name: int32 array}`` for symbol ``s`` (views)."""
        a, b = int(self.offsets[s]), int(self.offsets[s + 1])
        return {name: self.values[i, a:b] for i, name in enumerate(self.names)}

    def to_list(self) -> list[dict[str, np.ndarray]]:
        return [self.symbol(s) for s in range(len(self))]


def _universe_arrays(series: Any, offsets: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Concatenated o/h/l/c and int64 offsets from either per-symbol series or CSR arrays + offsets."""
    if offsets is not None:
        if not isinstance(series, Sequence) or len(series) != 4:
            raise InvalidInput("with offsets, series must be (open, high, low, close) arrays", field="series")
        arrays = _ohlc(*series)
        try:
            offs = np.ascontiguousarray(offsets, dtype=np.int64)
        except (TypeError, ValueError):
            raise InvalidInput("offsets must be integers", field="offsets") from None
        total = arrays[0].shape[0]
        if (
            offs.ndim != 1
            or offs.shape[0] < 1
            or offs[0] != 0
            or offs[-1] != total
            or (offs.shape[0] > 1 and (np.diff(offs) < 0).any())
        ):
            raise InvalidInput(f"offsets must rise from 0 to the {total} bars", field="offsets")
        return arrays, offs
    if series is None or isinstance(series, str | bytes) or not isinstance(series, Iterable):
        raise InvalidInput("series must be a list of (open, high, low, close) series", field="series")
    parts: list[tuple[np.ndarray, ...]] = []
    for item in series:
        if all(hasattr(item, f) for f in _FIELDS):
            parts.append(_ohlc(*(getattr(item, f) for f in _FIELDS)))
        elif isinstance(item, Sequence) and len(item) == 4:
            parts.append(_ohlc(*item))
        else:
            raise InvalidInput(
                "each series must be (open, high, low, close) or have those fields", field="series"
            )
    lengths = np.array([p[0].shape[0] for p in parts], dtype=np.int64)
    offs = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    if parts:
        arrays = tuple(np.ascontiguousarray(np.concatenate([p[j] for p in parts])) for j in range(4))
    else:
        arrays = tuple(np.zeros(0) for _ in range(4))
    return arrays, offs


def _universe_into(
    arrays: tuple[np.ndarray, ...],
    offs: np.ndarray,
    names: tuple[str, ...],
    params: np.ndarray,
    out2d: np.ndarray,
    states3d: np.ndarray,
    starts: np.ndarray,
) -> None:
    o, h, l, c = arrays
    nsym = offs.shape[0] - 1
    if nsym >= numba.get_num_threads():
        pids = np.array([_PID[n] for n in names], dtype=np.int64)
        _k.run_universe(o, h, l, c, offs, pids, params, out2d, states3d, starts)
        return
    for s in range(nsym):  # few symbols: parallel over patterns within each symbol instead
        a, b = int(offs[s]), int(offs[s + 1])
        sub = np.ascontiguousarray(out2d[:, a:b])
        _numba_into(o[a:b], h[a:b], l[a:b], c[a:b], names, params, sub, states3d[s], int(starts[s]))
        out2d[:, a:b] = sub


def detect_universe(
    series: Any,
    offsets: Any = None,
    names: str | Iterable[str] | None = None,
    backend: str = "numba",
    params: Mapping[str, float] | None = None,
) -> UniverseResult:
    """Candlestick patterns over many series at once, in parallel over symbols.

    ``series`` is either a list of per-symbol series, each ``(open, high, low, close)`` or an object
    with those attributes (e.g. ``Bars``), or, with ``offsets``, the four concatenated arrays of a CSR
    universe (symbol ``s`` owns rows ``offsets[s]:offsets[s + 1]``). Each symbol's results equal
    ``detect`` on that symbol alone.
    """
    _check_backend(backend)
    keys = resolve_names(names)
    values = _resolve_params(keys, params)
    arrays, offs = _universe_arrays(series, offsets)
    nsym = offs.shape[0] - 1
    out2d = np.zeros((len(keys), arrays[0].shape[0]), dtype=np.int32)
    if backend == "talib":
        for s in range(nsym):
            a, b = int(offs[s]), int(offs[s + 1])
            for i, name in enumerate(keys):
                out2d[i, a:b] = _talib_one(name, *(x[a:b] for x in arrays), float(values[i]))
    else:
        states = np.zeros((nsym, len(keys), _k.MAX_STATE), dtype=np.float64)
        _universe_into(arrays, offs, keys, values, out2d, states, np.zeros(nsym, dtype=np.int64))
    return UniverseResult(keys, offs, out2d)


class UniverseState:
    """Incremental patterns over a universe whose series grow.

    ``update(series, offsets=None)`` takes the whole universe (same input forms as
    ``detect_universe``): every symbol seen before, in the same order, with its previous bars unchanged
    plus any new ones; new symbols may be appended. Only unseen bars are computed (all symbols in one
    parallel call) and the result equals ``detect_universe`` on the same input. Each symbol's last
    ``MAX_LOOKBACK + 1`` seen bars are checked for changes, as in ``PatternState``.
    """

    def __init__(self, names: str | Iterable[str] | None = None, params: Mapping[str, float] | None = None):
        self.names = resolve_names(names)
        self.params = _resolve_params(self.names, params)
        self.reset()

    def reset(self) -> None:
        self.lengths = np.zeros(0, dtype=np.int64)
        self._states = np.zeros((0, len(self.names), _k.MAX_STATE), dtype=np.float64)
        self._result: UniverseResult | None = None
        self._tails: list[np.ndarray] = []

    def update(self, series: Any, offsets: Any = None) -> UniverseResult:
        arrays, offs = _universe_arrays(series, offsets)
        nsym = offs.shape[0] - 1
        old = self.lengths.shape[0]
        if nsym < old:
            raise InvalidInput(
                f"the universe has {nsym} symbols, fewer than the {old} already seen", field="series"
            )
        lengths = np.diff(offs)
        for s in range(old):
            a = int(offs[s])
            _check_extends(
                int(self.lengths[s]),
                self._tails[s],
                tuple(x[a : a + lengths[s]] for x in arrays),
                int(lengths[s]),
            )
        out2d = np.zeros((len(self.names), arrays[0].shape[0]), dtype=np.int32)
        if self._result is not None:  # carry the bars already computed into the new layout
            prev = self._result
            for s in range(old):
                a, b = int(prev.offsets[s]), int(prev.offsets[s + 1])
                out2d[:, offs[s] : offs[s] + (b - a)] = prev.values[:, a:b]
        states = np.zeros((nsym, len(self.names), _k.MAX_STATE), dtype=np.float64)
        states[:old] = self._states
        starts = np.zeros(nsym, dtype=np.int64)
        starts[:old] = self.lengths
        _universe_into(arrays, offs, self.names, self.params, out2d, states, starts)
        self._states = states
        self.lengths = lengths.astype(np.int64)
        self._tails = [
            np.stack([x[offs[s] + max(0, lengths[s] - MAX_LOOKBACK - 1) : offs[s + 1]] for x in arrays])
            for s in range(nsym)
        ]
        self._result = UniverseResult(self.names, offs, out2d)
        return self._result


__all__ = [
    "MAX_LOOKBACK",
    "PATTERN_NAMES",
    "PENETRATION_PATTERNS",
    "PatternInfo",
    "PatternState",
    "UniverseResult",
    "UniverseState",
    "detect",
    "detect_universe",
    "pattern_info",
]
