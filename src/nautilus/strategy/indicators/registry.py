"""The indicator catalogue: TA-Lib's functions described from TA-Lib's own metadata, plus our extras.

TA-Lib part: every function of ``GROUPS`` (Overlap Studies, Momentum, Volatility and Volume
Indicators, and also Price Transform, Statistic Functions, Cycle Indicators, Math Operators and Math
Transform; Pattern Recognition lives in :mod:`nautilus.strategy.candles`), under its lower-case
name ("rsi", "bbands", "macd"). Inputs, parameters, defaults and outputs come from
``talib.abstract``; parameter ranges and MA-type lists come from the C library's
``TA_GetOptInputParameterInfo`` (read through ctypes, checked against ``talib.abstract``; if that
fails, only the TA-Lib call itself validates, see :mod:`.spec`).

Local rules on top of TA-Lib's:

* a function with a single ``price`` input slot gets an ``input`` parameter choosing the column fed
  to it (``PRICE_SOURCES``, default "close");
* multipliers (``nbdev*`` of BBANDS, KC, STDDEV, VAR) must be >= 0, TA-Lib accepts negatives;
* MAVP's second input is the series ``periods``, which is read from the bars mapping by that name.

Extras (:mod:`.extra`): vwap, anchored_vwap, supertrend, ichimoku, keltner, donchian. The
TA-Lib functions whose names they take are listed as ``ta_vwap``, ``ta_supertrend`` and
``ta_donchian``.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import talib
from talib import abstract

from nautilus.strategy.indicators import extra

GROUPS = (
    "Overlap Studies",
    "Momentum Indicators",
    "Volatility Indicators",
    "Volume Indicators",
    "Price Transform",
    "Statistic Functions",
    "Cycle Indicators",
    "Math Operators",
    "Math Transform",
)
PRICE_SOURCES = ("close", "open", "high", "low", "volume", "hl2", "hlc3", "ohlc4")
SHADOWED_PREFIX = "ta_"  # TA-Lib functions whose names our extras use stay reachable with this prefix
PERIOD_ALIAS = "period"
_NO_BOUND = 1e37  # TA-Lib writes "unbounded" as +-3e37
_NONNEGATIVE = ("nbdev", "nbdevup", "nbdevdn")


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter. ``type``: "int", "float", "enum" (ints with labels, e.g. MA types), "str"
    (one of ``choices``), "bool" or "timestamp" (epoch ns UTC, ISO strings accepted).

    ``in_key``: always part of the spec key (numbers); otherwise only when not the default (options
    such as ``input``), so adding an option never renames existing columns.
    """

    name: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple = ()  # enum: ((value, label), ...); str: allowed values
    description: str = ""
    in_key: bool = True
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default,
                               "min": self.min, "max": self.max}
        if self.type == "enum":
            out["choices"] = [{"value": v, "label": label} for v, label in self.choices]
        elif self.choices:
            out["choices"] = list(self.choices)
        if self.required:
            out["required"] = True
        out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Indicator:
    """A catalogue entry. ``inputs`` are the bar columns read (after ``input`` substitution for a
    TA-Lib ``price`` slot at position ``price_slot``); ``outputs`` are the output names."""

    name: str
    group: str
    description: str
    source: str  # "talib" or "nautilus"
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)  # alias -> canonical parameter name
    talib_name: str | None = None
    price_slot: int | None = None
    unstable: bool = False  # values depend on how much history precedes them (EMA-like seeding)
    fn: Callable[..., Any] | None = None  # extras: fn(*input arrays, **params)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "description": self.description,
            "source": self.source,
            "inputs": list(self.inputs),
            "params": [p.to_dict() for p in self.params],
            "aliases": dict(self.aliases),
            "outputs": list(self.outputs),
            "unstable": self.unstable,
        }


# TA-Lib parameter ranges through ctypes ----------------------------------------------------------
class _OptInputInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("param_name", ctypes.c_char_p), ("flags", ctypes.c_int),
                ("display_name", ctypes.c_char_p), ("data_set", ctypes.c_void_p),
                ("default_value", ctypes.c_double), ("hint", ctypes.c_char_p), ("help_file", ctypes.c_char_p)]


class _RealRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_double), ("max", ctypes.c_double), ("precision", ctypes.c_int),
                ("start", ctypes.c_double), ("end", ctypes.c_double), ("increment", ctypes.c_double)]


class _IntegerRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int), ("max", ctypes.c_int), ("start", ctypes.c_int),
                ("end", ctypes.c_int), ("increment", ctypes.c_int)]


class _IntegerPair(ctypes.Structure):
    _fields_ = [("value", ctypes.c_int), ("label", ctypes.c_char_p)]


class _IntegerList(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(_IntegerPair)), ("count", ctypes.c_uint)]


_REAL_RANGE, _REAL_LIST, _INTEGER_RANGE, _INTEGER_LIST = range(4)


@functools.cache
def _talib_c() -> Any:
    from talib import _ta_lib

    lib = ctypes.CDLL(_ta_lib.__file__)  # dlsym also searches the libta-lib it links
    lib.TA_GetFuncHandle.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.TA_GetOptInputParameterInfo.argtypes = [ctypes.c_void_p, ctypes.c_uint,
                                               ctypes.POINTER(ctypes.POINTER(_OptInputInfo))]
    return lib


def _c_param_info(func: str, names: list[str], defaults: list[Any]) -> list[dict[str, Any]] | None:
    """type/min/max/choices/hint of each optional input, or None when the C metadata can't be read
    or disagrees with ``talib.abstract`` (names and defaults must match)."""
    try:
        lib = _talib_c()
        handle = ctypes.c_void_p()
        if lib.TA_GetFuncHandle(func.encode(), ctypes.byref(handle)) != 0:
            return None
        out = []
        for i, (name, default) in enumerate(zip(names, defaults, strict=True)):
            info_p = ctypes.POINTER(_OptInputInfo)()
            if lib.TA_GetOptInputParameterInfo(handle, i, ctypes.byref(info_p)) != 0:
                return None
            info = info_p.contents
            c_name = (info.param_name or b"").decode()
            if c_name.lower() != "optin" + name or float(info.default_value) != float(default):
                return None
            item: dict[str, Any] = {"hint": (info.hint or b"").decode(), "min": None, "max": None}
            if info.type == _INTEGER_RANGE:
                r = ctypes.cast(info.data_set, ctypes.POINTER(_IntegerRange)).contents
                item.update(type="int", min=int(r.min), max=int(r.max))
            elif info.type == _REAL_RANGE:
                r = ctypes.cast(info.data_set, ctypes.POINTER(_RealRange)).contents
                lo, hi = float(r.min), float(r.max)
                item.update(type="float", min=None if lo <= -_NO_BOUND else lo, max=None if hi >= _NO_BOUND else hi)
            elif info.type == _INTEGER_LIST:
                r = ctypes.cast(info.data_set, ctypes.POINTER(_IntegerList)).contents
                if not 0 < r.count < 1000:
                    return None
                pairs = tuple((int(r.data[k].value), (r.data[k].label or b"").decode()) for k in range(r.count))
                item.update(type="enum", choices=pairs)
            else:
                return None
            out.append(item)
        return out
    except Exception:  # any ABI surprise means "no C metadata"
        return None


_MA_LABELS = ("SMA", "EMA", "WMA", "DEMA", "TEMA", "TRIMA", "KAMA", "MAMA", "T3")  # TA-Lib's 0..8


def _fallback_param_info(name: str, default: Any) -> dict[str, Any]:
    if "matype" in name:
        codes = sorted(int(k) for k in getattr(talib.MA_Type, "_lookup", {})) or range(len(_MA_LABELS))
        pairs = tuple((k, _MA_LABELS[k] if k < len(_MA_LABELS) else str(k)) for k in codes)
        return {"type": "enum", "choices": pairs, "min": None, "max": None, "hint": ""}
    if isinstance(default, int):
        return {"type": "int", "min": 1, "max": 100000, "hint": ""}
    return {"type": "float", "min": None, "max": None, "hint": ""}


# Catalogue -------------------------------------------------------------------------------------
def _talib_indicator(func: str, name: str) -> Indicator:
    info = abstract.Function(func).info
    slots: list[str] = []
    price_slot = None
    for slot, cols in info["input_names"].items():
        if slot == "price":
            price_slot = len(slots)
        slots.extend(cols if isinstance(cols, list) else [cols])
    names = list(info["parameters"])
    defaults = list(info["parameters"].values())
    c_info = _c_param_info(func, names, defaults)
    params = []
    for i, (pname, default) in enumerate(zip(names, defaults, strict=True)):
        meta = c_info[i] if c_info is not None else _fallback_param_info(pname, default)
        kind = meta["type"]
        default = float(default) if kind == "float" else int(default)
        lo = meta["min"]
        if kind == "float" and pname in _NONNEGATIVE and (lo is None or lo < 0):
            lo = 0.0
        params.append(Param(pname, kind, default, lo, meta["max"], meta.get("choices", ()), meta["hint"]))
    if price_slot is not None:
        params.append(Param("input", "str", "close", choices=PRICE_SOURCES, in_key=False,
                            description="bar column or derived price fed to the price input"))
    aliases = {PERIOD_ALIAS: "timeperiod"} if "timeperiod" in names else {}
    return Indicator(
        name=name,
        group=info["group"],
        description=info["display_name"],
        source="talib",
        inputs=tuple(slots),
        params=tuple(params),
        outputs=tuple(info["output_names"]),
        aliases=aliases,
        talib_name=func,
        price_slot=price_slot,
        unstable="Function has an unstable period" in info.get("function_flags", []),
    )


def _period(default: int, lo: int = 1, description: str = "bars in the window") -> Param:
    return Param("timeperiod", "int", default, lo, 100000, description=description)


def _extras() -> list[Indicator]:
    alias = {PERIOD_ALIAS: "timeperiod"}
    volume = "Volume Indicators"
    overlap = "Overlap Studies"
    session = Param("session", "str", "D", choices=extra.SESSIONS, in_key=False,
                    description="reset period (UTC): D day, W week from Monday, M month, none = cumulative")
    multiplier = "band width in ATRs"
    return [
        Indicator("vwap", volume, "Volume Weighted Average Price, reset each session", "nautilus",
                  ("ts", "high", "low", "close", "volume"), (session,), ("real",), fn=extra.vwap),
        Indicator("anchored_vwap", volume, "Volume Weighted Average Price from an anchor time", "nautilus",
                  ("ts", "high", "low", "close", "volume"),
                  (Param("anchor", "timestamp", None, required=True,
                         description="start time: epoch ns UTC or ISO 8601 (UTC if no offset)"),),
                  ("real",), fn=extra.anchored_vwap),
        Indicator("supertrend", overlap, "Supertrend (Wilder ATR bands with ratchet)", "nautilus",
                  ("high", "low", "close"),
                  (_period(10, description="ATR period"),
                   Param("multiplier", "float", 3.0, 0.0, None, description=multiplier)),
                  ("supertrend", "direction"), alias, fn=extra.supertrend),
        Indicator("ichimoku", overlap, "Ichimoku Kinko Hyo (spans at the bar they are known)", "nautilus",
                  ("high", "low", "close"),
                  (Param("tenkan", "int", 9, 1, 100000, description="conversion line window"),
                   Param("kijun", "int", 26, 1, 100000, description="base line window"),
                   Param("senkou_b", "int", 52, 1, 100000, description="leading span B window"),
                   Param("displacement", "int", 26, 0, 100000,
                         description="plot shift of the spans; chikou = close this many bars ago")),
                  ("tenkan", "kijun", "senkou_a", "senkou_b", "chikou"), fn=extra.ichimoku),
        Indicator("keltner", overlap, "Keltner Channels (EMA +- multiplier x Wilder ATR)", "nautilus",
                  ("high", "low", "close"),
                  (_period(20, description="EMA period of the middle line"),
                   Param("multiplier", "float", 2.0, 0.0, None, description=multiplier),
                   Param("atrperiod", "int", 10, 1, 100000, description="ATR period")),
                  ("upper", "middle", "lower"), {**alias, "atr_period": "atrperiod"}, fn=extra.keltner),
        Indicator("donchian", overlap, "Donchian Channels (highest high, lowest low)", "nautilus",
                  ("high", "low"),
                  (_period(20),
                   Param("exclude_current", "bool", False, in_key=False,
                         description="window = the previous timeperiod bars (breakout comparisons)")),
                  ("upper", "middle", "lower"), alias, fn=extra.donchian),
    ]


@functools.cache
def catalogue() -> dict[str, Indicator]:
    """name -> Indicator, sorted by name."""
    entries: dict[str, Indicator] = {ind.name: ind for ind in _extras()}
    groups = talib.get_function_groups()
    for group in GROUPS:
        for func in groups.get(group, []):
            name = func.lower()
            if name in entries:
                name = SHADOWED_PREFIX + name
            entries[name] = _talib_indicator(func, name)
    return dict(sorted(entries.items()))


def get(name: str) -> Indicator | None:
    return catalogue().get(name)
