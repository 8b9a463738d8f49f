"""Feature sets: the declarative definition (dict, JSON or YAML), its validation and column names.

A feature set is ``{"name": ..., "features": [...], "targets": [...]}``; every entry is a mapping
with a ``kind`` and that kind's parameters, plus an optional ``name`` (the column name; generated
stably from the parameters when omitted). Inputs ("features") and targets are kept apart: a
feature in row t uses bars with index <= t only, a target in row t uses bars t+1..t+h only.

Feature kinds (parameters with defaults):

- ``return``: window=1, lag=0, column=close -- ``x[t-lag] / x[t-lag-window] - 1`` (``ret_5``)
- ``log_return``: window=1, lag=0, column=close -- ``log(x[t-lag] / x[t-lag-window])`` (``logret_5``)
- ``rolling``: stat (mean|std|skew|kurt|min|max|zscore), column=close, window -- over the last
  ``window`` values; std is the sample std (ddof 1), skew and kurt the bias-corrected sample
  estimators pandas uses, zscore ``(x - mean) / std`` (``std_20_log_return``). ``column`` is a bar
  column or ``return`` / ``log_return`` (one-bar returns of close).
- ``volume_zscore``: window=20 -- rolling zscore of volume (``volz_20``)
- ``range``: window=1 -- mean of ``(high - low) / close`` over the window (``range_1``)
- ``distance``: side (high|low), window=252 -- ``close / rolling max(high) - 1`` (or min(low))
  (``dist_high_252``)
- ``indicator``: spec (a Strategy indicator spec, e.g. "rsi(14)"), output (for multi-output
  indicators), normalize (none|close: divide by close) (``rsi_14``, ``atr_14_over_close``)
- ``calendar``: field (dayofweek 0=Monday|month|dayofmonth|dayofyear|hour), UTC (``dayofweek``)
- ``cross_asset``: symbol, what (return|corr|beta), window (1 for return, 60 otherwise) -- the
  other symbol's close is aligned as of each row's close (its last bar that closed by then: a monthly
  series counts from its month's end), so no look-ahead; corr and beta are over one-bar returns (``xret_1_SPY``, ``corr_60_SPY``, ``beta_60_SPY``)
- ``lag``: of (an earlier feature's name), periods=1 (``ret_5_lag1``)

Target kinds (parameters with defaults): ``forward_return`` h=1 (``close[t+h] / close[t] - 1``,
``fwd_ret_1``), ``direction`` h=1 (1.0 if ``close[t+h] > close[t]`` else 0.0, ``direction_1``),
``realized_vol`` h=5 (``sqrt(sum of the next h squared one-bar log returns)``, ``rvol_5``),
``regime`` h=20, trend=0.03, vol=0.02 (see :func:`nautilus.features.compute.regime`, ``regime_20``).
Targets are NaN where t+h runs past the data.

Every error is an :class:`~nautilus.core.errors.InvalidInput` whose ``field`` is the path of the
offending value, e.g. ``features[2].window``, with a "did you mean" for misspelled names.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput

ROLLING_STATS = ("mean", "std", "skew", "kurt", "min", "max", "zscore")
BAR_COLUMNS = ("open", "high", "low", "close", "volume")
SERIES_COLUMNS = (*BAR_COLUMNS, "return", "log_return")
CALENDAR_FIELDS = ("dayofweek", "month", "dayofmonth", "dayofyear", "hour")
CROSS_WHAT = ("return", "corr", "beta")
MAX_WINDOW = 100_000
MAX_HORIZON = 10_000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,79}$")
_SET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class FeatureSpec:
    """One validated feature or target: ``params`` has every parameter with defaults filled in."""

    kind: str
    name: str
    params: Mapping[str, Any]
    lookback: int = 0  # features: bars before t it reads; targets: bars after t (the horizon)
    # True: the value at t is computed from the last ``lookback`` bars alone, the same way wherever the
    # series starts (so a tail recompute is exact). Indicators are False: TA-Lib's running sums and
    # EMA seeds make their values depend on where the series starts.
    stable: bool = True
    # Features: bars before t a consumer loads so the value at t equals the full-history one (within
    # nautilus.strategy.indicators.warmups.RTOL); None = the whole history. Defaults to ``lookback`` (windows
    # are exact); an indicator declares its own (recursive filters converge, running totals need everything).
    warmup: int | None = -1

    def __post_init__(self) -> None:
        if self.warmup == -1:
            object.__setattr__(self, "warmup", self.lookback)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **dict(self.params)}


@dataclass(frozen=True)
class FeatureSet:
    """A validated feature set. ``features`` and ``targets`` are in column order."""

    name: str
    features: tuple[FeatureSpec, ...]
    targets: tuple[FeatureSpec, ...] = ()
    description: str = ""

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def lookback(self) -> int:
        return max((f.lookback for f in self.features), default=0)

    @property
    def warmup(self) -> int | None:
        """Bars to load before the first requested row (``None``: the whole history); see ``FeatureSpec.warmup``."""
        from nautilus.strategy.indicators.warmups import combine

        return combine([f.warmup for f in self.features])

    @property
    def horizon(self) -> int:
        return max((t.lookback for t in self.targets), default=0)

    @property
    def cross_symbols(self) -> list[str]:
        """Other symbols the cross-asset features read, sorted."""
        return sorted({f.params["symbol"] for f in self.features if f.kind == "cross_asset"})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["features"] = [f.to_dict() for f in self.features]
        out["targets"] = [t.to_dict() for t in self.targets]
        return out

    def digest(self) -> str:
        """A hash of what the columns are computed from (not of the set's name or description)."""
        body = {"features": [f.to_dict() for f in self.features], "targets": [t.to_dict() for t in self.targets]}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# Parsing -----------------------------------------------------------------------------------------
def load_feature_set(source: Mapping[str, Any] | str | pathlib.Path) -> FeatureSet:
    """Parse and validate a feature set from a mapping, JSON/YAML text, or a ``.json``/``.yaml`` file."""
    if isinstance(source, pathlib.Path) or (isinstance(source, str) and _looks_like_path(source)):
        path = pathlib.Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read feature set file {str(path)!r}: {exc.strerror}", field="file") from None
        return load_feature_set(text)
    if isinstance(source, str):
        return parse_feature_set(definition_mapping(source))
    return parse_feature_set(source)


def definition_mapping(definition: Any) -> dict[str, Any]:
    """A definition given as a mapping or as JSON/YAML text, as a dict (errors name ``definition``)."""
    if isinstance(definition, str):
        try:
            definition = yaml.safe_load(definition)  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            raise InvalidInput(f"feature set is not valid YAML/JSON: {exc}", field="definition") from None
    if not isinstance(definition, Mapping):
        raise InvalidInput("a feature set must be a mapping with features and targets", field="definition")
    return dict(definition)


def inline_feature_set(definition: Any, field: str = "definition") -> FeatureSet:
    """A set given in a request (mapping or JSON/YAML text; named "inline" unless it says otherwise),
    its errors re-rooted under ``field``."""
    try:
        return parse_feature_set({"name": "inline", **definition_mapping(definition)})
    except InvalidInput as exc:
        where = exc.field if exc.field and exc.field != "definition" else None
        raise InvalidInput(exc.message, field=f"{field}.{where}" if where else field) from None


def _looks_like_path(text: str) -> bool:
    stripped = text.strip()
    return "\n" not in stripped and stripped.endswith((".yaml", ".yml", ".json")) and ":" not in stripped


def parse_feature_set(data: Any) -> FeatureSet:
    if not isinstance(data, Mapping):
        raise InvalidInput("a feature set must be a mapping with name, features and targets", field="definition")
    _check_keys(data, ("name", "description", "features", "targets"), "")
    name = data.get("name")
    if not isinstance(name, str) or not _SET_NAME.match(name):
        raise InvalidInput(f"name {name!r} must be 1-64 letters, digits, _ or - starting with a letter",
                           field="name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput("description must be text", field="description")
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        raise InvalidInput("features must be a non-empty list", field="features")
    raw_targets = data.get("targets", []) or []
    if not isinstance(raw_targets, list):
        raise InvalidInput("targets must be a list", field="targets")
    features: list[FeatureSpec] = []
    for i, item in enumerate(raw_features):
        features.append(_parse_feature(item, f"features[{i}]", {f.name: f for f in features}))
    targets = [_parse_target(item, f"targets[{i}]") for i, item in enumerate(raw_targets)]
    seen: dict[str, str] = {}
    for where, spec in [(f"features[{i}]", f) for i, f in enumerate(features)] + \
                       [(f"targets[{i}]", t) for i, t in enumerate(targets)]:
        if spec.name in seen:
            raise InvalidInput(f"column name {spec.name!r} is used by {seen[spec.name]} and {where}",
                               field=f"{where}.name")
        seen[spec.name] = where
    return FeatureSet(name=name, features=tuple(features), targets=tuple(targets), description=description)


def _suggest(value: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(choices)}"


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            raise InvalidInput(f"unknown key {key!r}{_suggest(str(key), allowed)}", field=path)


def _int(item: Mapping[str, Any], key: str, where: str, default: int | None, lo: int, hi: int) -> int:
    value = item.get(key, default)
    if value is None:
        raise InvalidInput(f"{key} is required", field=f"{where}.{key}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer, got {value!r}", field=f"{where}.{key}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{key} must be between {lo} and {hi}, got {value}", field=f"{where}.{key}")
    return value


def _float(item: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise InvalidInput(f"{key} must be a positive number, got {value!r}", field=f"{where}.{key}")
    return float(value)


def _choice(item: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...], default: str | None) -> str:
    value = item.get(key, default)
    if value is None:
        raise InvalidInput(f"{key} is required; one of {', '.join(choices)}", field=f"{where}.{key}")
    if value not in choices:
        raise InvalidInput(f"{key} {value!r} is not valid{_suggest(str(value), choices)}", field=f"{where}.{key}")
    return str(value)


def _name(item: Mapping[str, Any], where: str, default: str) -> str:
    name = item.get("name", default)
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(f"name {name!r} must be 1-80 letters, digits, _ . or - starting with a letter",
                           field=f"{where}.name")
    return name


_FEATURE_KEYS: dict[str, tuple[str, ...]] = {
    "return": ("window", "lag", "column"),
    "log_return": ("window", "lag", "column"),
    "rolling": ("stat", "column", "window"),
    "volume_zscore": ("window",),
    "range": ("window",),
    "distance": ("side", "window"),
    "indicator": ("spec", "output", "normalize"),
    "calendar": ("field",),
    "cross_asset": ("symbol", "what", "window"),
    "lag": ("of", "periods"),
}
_TARGET_KEYS: dict[str, tuple[str, ...]] = {
    "forward_return": ("h",),
    "direction": ("h",),
    "realized_vol": ("h",),
    "regime": ("h", "trend", "vol"),
}


def _kind(item: Any, where: str, kinds: dict[str, tuple[str, ...]]) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(item, Mapping):
        raise InvalidInput("each entry must be a mapping with a kind", field=where)
    kind = item.get("kind")
    if kind is None:
        raise InvalidInput(f"kind is required; one of {', '.join(kinds)}", field=f"{where}.kind")
    if kind not in kinds:
        raise InvalidInput(f"kind {kind!r} is not valid{_suggest(str(kind), tuple(kinds))}", field=f"{where}.kind")
    _check_keys(item, ("kind", "name", *kinds[kind]), where)
    return str(kind), item


def _parse_feature(item: Any, where: str, earlier: dict[str, FeatureSpec]) -> FeatureSpec:
    kind, item = _kind(item, where, _FEATURE_KEYS)
    if kind in ("return", "log_return"):
        window = _int(item, "window", where, 1, 1, MAX_WINDOW)
        lag = _int(item, "lag", where, 0, 0, MAX_WINDOW)
        column = _choice(item, "column", where, BAR_COLUMNS, "close")
        stem = "ret" if kind == "return" else "logret"
        default = f"{stem}_{window}" + (f"_lag{lag}" if lag else "") + ("" if column == "close" else f"_{column}")
        return FeatureSpec(kind, _name(item, where, default), {"window": window, "lag": lag, "column": column},
                           window + lag)
    if kind == "rolling":
        stat = _choice(item, "stat", where, ROLLING_STATS, None)
        column = _choice(item, "column", where, SERIES_COLUMNS, "close")
        low = {"skew": 3, "kurt": 4}.get(stat, 2)
        window = _int(item, "window", where, None, low, MAX_WINDOW)
        extra = 1 if column in ("return", "log_return") else 0
        return FeatureSpec(kind, _name(item, where, f"{stat}_{window}_{column}"),
                           {"stat": stat, "column": column, "window": window}, window - 1 + extra)
    if kind == "volume_zscore":
        window = _int(item, "window", where, 20, 2, MAX_WINDOW)
        return FeatureSpec(kind, _name(item, where, f"volz_{window}"), {"window": window}, window - 1)
    if kind == "range":
        window = _int(item, "window", where, 1, 1, MAX_WINDOW)
        return FeatureSpec(kind, _name(item, where, f"range_{window}"), {"window": window}, window - 1)
    if kind == "distance":
        side = _choice(item, "side", where, ("high", "low"), None)
        window = _int(item, "window", where, 252, 1, MAX_WINDOW)
        return FeatureSpec(kind, _name(item, where, f"dist_{side}_{window}"), {"side": side, "window": window},
                           window - 1)
    if kind == "indicator":
        return _parse_indicator(item, where)
    if kind == "calendar":
        field = _choice(item, "field", where, CALENDAR_FIELDS, None)
        return FeatureSpec(kind, _name(item, where, field), {"field": field}, 0)
    if kind == "cross_asset":
        symbol = item.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise InvalidInput("symbol is required (the other instrument)", field=f"{where}.symbol")
        symbol = normalize_symbol(symbol, field=f"{where}.symbol")
        what = _choice(item, "what", where, CROSS_WHAT, None)
        window = _int(item, "window", where, 1 if what == "return" else 60, 1 if what == "return" else 3,
                      MAX_WINDOW)
        stem = {"return": "xret", "corr": "corr", "beta": "beta"}[what]
        return FeatureSpec(kind, _name(item, where, f"{stem}_{window}_{symbol}"),
                           {"symbol": symbol, "what": what, "window": window}, window)
    # lag
    of = item.get("of")
    if of not in earlier:
        hint = _suggest(str(of), list(earlier)) if earlier else "; no feature is defined before it"
        raise InvalidInput(f"of {of!r} must name an earlier feature{hint}", field=f"{where}.of")
    periods = _int(item, "periods", where, 1, 1, MAX_WINDOW)
    base = earlier[of]
    return FeatureSpec(kind, _name(item, where, f"{of}_lag{periods}"), {"of": of, "periods": periods},
                       base.lookback + periods, base.stable, None if base.warmup is None else base.warmup + periods)


def _parse_indicator(item: Mapping[str, Any], where: str) -> FeatureSpec:
    from nautilus.strategy import indicators

    raw = item.get("spec")
    if raw is None:
        raise InvalidInput("spec is required, e.g. 'rsi(14)' or {name: rsi, period: 14}", field=f"{where}.spec")
    try:
        spec = indicators.parse_spec(raw)
    except InvalidInput as exc:
        sub = f".{exc.field}" if exc.field and exc.field != "spec" else ""
        raise InvalidInput(f"indicator spec: {exc.message}", field=f"{where}.spec{sub}") from None
    columns = spec.columns
    output = item.get("output")
    if len(columns) == 1:
        if output not in (None, spec.outputs[0]):
            raise InvalidInput(f"{spec.name} has one output ({spec.outputs[0]})", field=f"{where}.output")
        column = columns[0]
    else:
        if output is None:
            raise InvalidInput(f"{spec.name} has several outputs; pick one: {', '.join(spec.outputs)}",
                               field=f"{where}.output")
        if output not in spec.outputs:
            raise InvalidInput(f"output {output!r} is not valid{_suggest(str(output), spec.outputs)}",
                               field=f"{where}.output")
        column = f"{spec.key}.{output}"
    normalize = _choice(item, "normalize", where, ("none", "close"), "none")
    default = column.replace(".", "_") + ("_over_close" if normalize == "close" else "")
    params = {"spec": {"name": spec.name, **indicators.spec_dict(spec)["params"]},
              "output": output if len(columns) > 1 else None, "normalize": normalize}
    return FeatureSpec("indicator", _name(item, where, default), params, indicators.lookback(spec), stable=False,
                       warmup=indicators.warmup(spec))


def _parse_target(item: Any, where: str) -> FeatureSpec:
    kind, item = _kind(item, where, _TARGET_KEYS)
    h = _int(item, "h", where, {"realized_vol": 5, "regime": 20}.get(kind, 1), 1, MAX_HORIZON)
    if kind == "forward_return":
        return FeatureSpec(kind, _name(item, where, f"fwd_ret_{h}"), {"h": h}, h)
    if kind == "direction":
        return FeatureSpec(kind, _name(item, where, f"direction_{h}"), {"h": h}, h)
    if kind == "realized_vol":
        return FeatureSpec(kind, _name(item, where, f"rvol_{h}"), {"h": h}, h)
    trend = _float(item, "trend", where, 0.03)
    vol = _float(item, "vol", where, 0.02)
    return FeatureSpec(kind, _name(item, where, f"regime_{h}"), {"h": h, "trend": trend, "vol": vol}, h)
