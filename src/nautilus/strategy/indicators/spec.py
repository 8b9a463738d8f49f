"""Indicator specs: parsing, validation and the stable column key.

A spec names a catalogue indicator and its parameters, in one of three equivalent forms::

    {"name": "rsi", "period": 14}                  # flat dict (TA-Lib names or aliases)
    {"name": "rsi", "params": {"timeperiod": 14}}  # nested dict (what spec_dict returns)
    "rsi(14)"  "bbands(20,2,2)"  "sma(period=50)"  "rsi(14, input=hl2)"  "rsi"

Positional values follow the catalogue's parameter order; missing parameters take their defaults;
names are case-insensitive; ``period`` is an alias of ``timeperiod``; MA types may be given by label
("ema"). Any problem raises :class:`~nautilus.core.errors.InvalidInput` whose ``field`` is the
offending input: "name" for an unknown indicator, the parameter's name as given for an unknown,
mistyped or out-of-range parameter, "spec" for a malformed spec.

Key rule (column names): ``key = name`` followed by ``_<value>`` for every parameter in catalogue
order, where numeric and enum parameters always appear and options (``input``, ``session``,
``exclude_current``) only when they differ from their default. Values are written so a key only
holds ``[a-z0-9_]``: integers as is, floats without a trailing ``.0`` and with ``.`` -> ``p``,
``-`` -> ``m`` (2.5 -> ``2p5``, 0.02 -> ``0p02``), strings lower-cased, a true flag as the flag's
name, timestamps as epoch ns. Examples: ``rsi_14``, ``rsi_14_hl2``, ``bbands_20_2_2_0``,
``sar_0p02_0p2``, ``vwap``, ``vwap_none``, ``donchian_20_exclude_current``, ``obv``.
A single-output indicator's column is the key; a multi-output one has one column per output,
``f"{key}.{output}"`` (``macd_12_26_9.macdsignal``). Since keys never contain ".", the text after
the last "." of a multi-output column is always the output name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import numbers
import re
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
import talib

from nautilus.core.errors import InvalidInput
from nautilus.strategy.indicators import registry
from nautilus.strategy.indicators.registry import Indicator, Param

_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)
_KEYWORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", re.S)
_INT = re.compile(r"^[+-]?\d+$")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_META_KEYS = ("key", "columns")  # what spec_dict adds; accepted back when consistent


class IndicatorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A validated spec: ``params`` holds every parameter (defaults filled, canonical names,
    normalised values); ``key`` is the stable column name (see the module docstring).
    Treat ``params`` as read-only."""

    name: str
    params: dict[str, Any]
    key: str

    def __hash__(self) -> int:
        return hash((self.name, self.key))

    @property
    def indicator(self) -> Indicator:
        return registry.catalogue()[self.name]

    @property
    def outputs(self) -> list[str]:
        return list(self.indicator.outputs)

    @property
    def columns(self) -> list[str]:
        """Output column names: ``[key]`` or ``[f"{key}.{output}", ...]``."""
        outputs = self.indicator.outputs
        if len(outputs) == 1:
            return [self.key]
        return [f"{self.key}.{o}" for o in outputs]

    def to_dict(self) -> dict[str, Any]:
        """The flat dict form: ``{"name": ..., **params}``."""
        return {"name": self.name, **self.params}

    def to_string(self) -> str:
        """The compact form, e.g. ``bbands(20,2.0,2.0,0)`` or ``rsi(14,input=hl2)``."""
        args = []
        positional = True
        for p in self.indicator.params:
            value = self.params[p.name]
            if not p.in_key and value == p.default:
                positional = False
                continue
            text = _format_value(p, value)
            if positional and p.in_key:
                args.append(text)
            else:
                positional = False
                args.append(f"{p.name}={text}")
        return f"{self.name}({','.join(args)})"

    def __str__(self) -> str:
        return self.to_string()


def parse_spec(spec: IndicatorSpec | Mapping[str, Any] | str) -> IndicatorSpec:
    """Validate a spec in any accepted form and return the canonical :class:`IndicatorSpec`."""
    if isinstance(spec, IndicatorSpec):
        return spec
    meta: dict[str, Any] = {}
    if isinstance(spec, str):
        name, positional, named = _split_string(spec)
    elif isinstance(spec, Mapping):
        name, positional, named, meta = _split_mapping(spec)
    else:
        raise InvalidInput("an indicator spec is a dict such as {'name': 'rsi', 'period': 14} "
                           "or a string such as 'rsi(14)'", field="spec")
    ind = indicator(name)
    params = _resolve(ind, positional, named)
    if ind.talib_name is not None:
        _talib_check(ind, params)
    out = IndicatorSpec(name=ind.name, params=params, key=_key(ind, params))
    for k, v in meta.items():
        expected = out.key if k == "key" else out.columns
        if (list(v) if k == "columns" and isinstance(v, list | tuple) else v) != expected:
            raise InvalidInput(f"{k} {v!r} does not match the spec ({expected!r})", field=k)
    return out


def indicator(name: Any) -> Indicator:
    """The catalogue entry called ``name`` (case-insensitive), or InvalidInput(field="name")."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("an indicator spec needs a name", field="name")
    key = name.strip().lower()
    found = registry.get(key)
    if found is None:
        raise InvalidInput(f"unknown indicator {name.strip()!r}{_suggest(key, registry.catalogue())}",
                           field="name")
    return found


def spec_dict(spec: IndicatorSpec | Mapping[str, Any] | str) -> dict[str, Any]:
    """``{"name", "params", "key", "columns"}``: what replies carry; ``parse_spec`` accepts it back."""
    s = parse_spec(spec)
    return {"name": s.name, "params": dict(s.params), "key": s.key, "columns": s.columns}


def output_columns(spec: IndicatorSpec | Mapping[str, Any] | str) -> list[str]:
    return parse_spec(spec).columns


# Input forms -----------------------------------------------------------------------------------
def _split_string(text: str) -> tuple[str, list[Any], list[tuple[str, Any]]]:
    m = _CALL.match(text)
    if m is None:
        raise InvalidInput(f"cannot parse indicator spec {text!r}: expected e.g. 'rsi(14)' or "
                           "'sma(period=50)'", field="spec")
    name, body = m.group(1), m.group(2)
    positional: list[Any] = []
    named: list[tuple[str, Any]] = []
    if body is None or not body.strip():
        return name, positional, named
    for raw in _split_args(text, body):
        kw = _KEYWORD.match(raw)
        if kw is not None:
            named.append((kw.group(1), _unquote(text, kw.group(2).strip())))
        elif named:
            raise InvalidInput(f"positional value {raw!r} after a named one in {text!r}", field="spec")
        else:
            positional.append(_unquote(text, raw))
    return name, positional, named


def _split_args(text: str, body: str) -> list[str]:
    args, current, quote = [], [], ""
    for ch in body:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            args.append("".join(current).strip())
            current = []
        elif ch in "()":
            raise InvalidInput(f"unexpected {ch!r} in indicator spec {text!r}", field="spec")
        else:
            current.append(ch)
    if quote:
        raise InvalidInput(f"unclosed quote in indicator spec {text!r}", field="spec")
    args.append("".join(current).strip())
    if any(not a for a in args):
        raise InvalidInput(f"empty argument in indicator spec {text!r}", field="spec")
    return args


def _unquote(text: str, value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if not value or any(ch in value for ch in "'\""):
        raise InvalidInput(f"bad value {value!r} in indicator spec {text!r}", field="spec")
    return value


def _split_mapping(spec: Mapping[str, Any]) -> tuple[Any, list[Any], list[tuple[str, Any]], dict[str, Any]]:
    named: list[tuple[str, Any]] = []
    meta: dict[str, Any] = {}
    for k, v in spec.items():
        if not isinstance(k, str):
            raise InvalidInput(f"parameter names are strings, got {k!r}", field="spec")
        if k == "name":
            continue
        if k == "params":
            if not isinstance(v, Mapping):
                raise InvalidInput("params must be an object of parameter values", field="params")
            for pk, pv in v.items():
                if not isinstance(pk, str):
                    raise InvalidInput(f"parameter names are strings, got {pk!r}", field="params")
                named.append((pk, pv))
        elif k in _META_KEYS:
            meta[k] = v
        else:
            named.append((k, v))
    return spec.get("name"), [], named, meta


# Validation ------------------------------------------------------------------------------------
def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _resolve(ind: Indicator, positional: list[Any], named: list[tuple[str, Any]]) -> dict[str, Any]:
    given: dict[str, tuple[str, Any]] = {}  # canonical -> (name as given, raw value)
    if len(positional) > len(ind.params):
        raise InvalidInput(f"{ind.name} takes at most {len(ind.params)} parameters, got {len(positional)}",
                           field="spec")
    for p, value in zip(ind.params, positional, strict=False):
        given[p.name] = (p.name, value)
    names = [p.name for p in ind.params]
    for raw_name, value in named:
        lowered = raw_name.strip().lower()
        canonical = ind.aliases.get(lowered, lowered)
        if ind.param(canonical) is None:
            listed = ", ".join(names + list(ind.aliases)) or "none"
            raise InvalidInput(f"unknown parameter {raw_name!r} for indicator {ind.name!r}"
                               f"{_suggest(lowered, names + list(ind.aliases))} (parameters: {listed})",
                               field=raw_name)
        if canonical in given:
            raise InvalidInput(f"parameter {canonical!r} of {ind.name!r} given twice", field=raw_name)
        given[canonical] = (raw_name, value)
    params: dict[str, Any] = {}
    for p in ind.params:
        if p.name in given:
            label, value = given[p.name]
            params[p.name] = _coerce(ind, p, label, value)
        elif p.required:
            raise InvalidInput(f"{ind.name} needs parameter {p.name!r} ({p.description})", field=p.name)
        else:
            params[p.name] = p.default
    return params


def _coerce(ind: Indicator, p: Param, label: str, value: Any) -> Any:
    where = f"{ind.name}: parameter {label!r}"
    if p.type == "int":
        v = _as_int(value)
        if v is None:
            raise InvalidInput(f"{where} must be an integer, got {value!r}", field=label)
        _check_range(where, label, p, v)
        return v
    if p.type == "float":
        v = _as_float(value)
        if v is None:
            raise InvalidInput(f"{where} must be a finite number, got {value!r}", field=label)
        _check_range(where, label, p, v)
        return v
    if p.type == "enum":
        allowed = ", ".join(f"{val} ({text})" for val, text in p.choices)
        v = _as_int(value)
        if v is None and isinstance(value, str):
            v = next((val for val, text in p.choices if text.lower() == value.strip().lower()), None)
        if v is None or v not in [val for val, _ in p.choices]:
            raise InvalidInput(f"{where} must be one of {allowed}; got {value!r}", field=label)
        return v
    if p.type == "str":
        text = value.strip().lower() if isinstance(value, str) else None
        match = next((c for c in p.choices if c.lower() == text), None)
        if match is None:
            raise InvalidInput(f"{where} must be one of {', '.join(p.choices)}; got {value!r}", field=label)
        return match
    if p.type == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral) and int(value) in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise InvalidInput(f"{where} must be true or false, got {value!r}", field=label)
    if p.type == "timestamp":
        v = _as_timestamp(value)
        if v is None:
            raise InvalidInput(f"{where} must be epoch nanoseconds or an ISO 8601 time, got {value!r}",
                               field=label)
        return v
    raise AssertionError(p.type)


def _check_range(where: str, label: str, p: Param, v: float) -> None:
    if p.min is not None and v < p.min:
        raise InvalidInput(f"{where} must be >= {_plain(p.min)}, got {_plain(v)}", field=label)
    if p.max is not None and v > p.max:
        raise InvalidInput(f"{where} must be <= {_plain(p.max)}, got {_plain(v)}", field=label)


def _plain(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _INT.match(text):
            return int(text)
        value = _as_float(text)
    if isinstance(value, numbers.Real) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, numbers.Real) and np.isfinite(value):
        return float(value)
    return None


def _as_timestamp(value: Any) -> int | None:
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        delta = moment - _EPOCH
        nanos = int(getattr(value, "nanosecond", 0))  # pandas.Timestamp carries nanoseconds
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000 + nanos
    if isinstance(value, str):
        text = value.strip()
        if _INT.match(text):
            return int(text)
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return _as_timestamp(moment)
    return _as_int(value)


def _talib_check(ind: Indicator, params: dict[str, Any]) -> None:
    """Let TA-Lib itself judge the parameters (catches what the ranges don't: combinations, and
    everything when the C metadata could not be read). Names the parameter that fails alone."""
    kwargs = {k: v for k, v in params.items() if k != "input"}
    if _talib_accepts(ind.talib_name, len(ind.inputs), tuple(kwargs.items())):
        return
    changed = [p.name for p in ind.params if p.name in kwargs and kwargs[p.name] != p.default]
    for name in changed:
        alone = {p.name: p.default for p in ind.params if p.name in kwargs}
        alone[name] = kwargs[name]
        if not _talib_accepts(ind.talib_name, len(ind.inputs), tuple(alone.items())):
            raise InvalidInput(f"{ind.name}: TA-Lib rejects parameter {name!r} = {kwargs[name]!r}", field=name)
    field = changed[-1] if changed else "name"
    raise InvalidInput(f"{ind.name}: TA-Lib rejects the parameters {kwargs}", field=field)


@functools.lru_cache(maxsize=4096)
def _talib_accepts(func: str, n_inputs: int, kwargs: tuple[tuple[str, Any], ...]) -> bool:
    one = np.ones(1, dtype=np.float64)
    try:
        getattr(talib, func)(*([one] * n_inputs), **dict(kwargs))
    except Exception:
        return False
    return True


# Keys ------------------------------------------------------------------------------------------
def _key(ind: Indicator, params: dict[str, Any]) -> str:
    tokens = [ind.name]
    for p in ind.params:
        value = params[p.name]
        if p.in_key or value != p.default:
            tokens.append(_token(p, value))
    return "_".join(tokens)


def _token(p: Param, value: Any) -> str:
    if p.type == "bool":
        return p.name if value else f"no_{p.name}"
    if p.type == "float":
        return _float_token(float(value))
    if p.type in ("int", "enum", "timestamp"):
        return str(int(value)).replace("-", "m")
    return str(value).lower()


def _float_token(v: float) -> str:
    text = str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return text.replace("-", "m").replace("+", "").replace(".", "p")


def _format_value(p: Param, value: Any) -> str:
    if p.type == "bool":
        return "true" if value else "false"
    if p.type == "float":
        return repr(float(value))
    return str(value)
