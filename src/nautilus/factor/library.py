"""The factor library: price/volume factors as pure functions ``Panel -> (dates x symbols)`` float64.

Every factor is point in time (row t uses bars with ts <= t) and NaN until its window is filled or
where a bar in the window is missing. Windows are counted in bars: on daily bars 21 is about a
month and 252 a year. A spec names a factor and optionally its parameters: ``"momentum"``,
``"momentum(126, 21)"``, ``"momentum(lookback=126)"`` or ``{"name": "momentum", "lookback": 126}``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.factor.panel import Panel, simple_returns
from nautilus.factor.timeseries import check_window, delay, ts_cov, ts_max, ts_mean, ts_std


def momentum(panel: Panel, lookback: int = 252, skip: int = 21) -> np.ndarray:
    """Return from ``lookback`` bars ago to ``skip`` bars ago: ``close[t-skip] / close[t-lookback] - 1``
    (12-1 month momentum on daily bars by default)."""
    if lookback <= skip:
        raise InvalidInput(f"lookback ({lookback}) must be greater than skip ({skip})", field="lookback")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = delay(panel.close, skip) / delay(panel.close, lookback) - 1.0
    return _finite(out)


def reversal(panel: Panel, lookback: int = 21) -> np.ndarray:
    """Short-term reversal: minus the return over the last ``lookback`` bars, ``1 - close[t] / close[t-lookback]``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - panel.close / delay(panel.close, lookback)
    return _finite(out)


def volatility(panel: Panel, window: int = 63) -> np.ndarray:
    """Standard deviation (ddof=1) of one-bar simple returns over the last ``window`` bars."""
    return ts_std(simple_returns(panel.close), window)


def beta(panel: Panel, window: int = 252, benchmark: str | None = None) -> np.ndarray:
    """Rolling OLS beta of one-bar returns on the benchmark symbol's returns (a panel symbol), or on the
    equal-weight market (mean return of the symbols with a return that bar) when no benchmark is given:
    ``cov(r_i, r_m) / var(r_m)`` over the last ``window`` bars."""
    returns = simple_returns(panel.close)
    if benchmark is None:
        counts = np.isfinite(returns).sum(axis=1)
        with np.errstate(invalid="ignore"):
            market = np.nansum(returns, axis=1) / np.where(counts > 0, counts, np.nan)
    else:
        market = returns[:, panel.index_of(benchmark.strip().upper())]
    market_2d = np.broadcast_to(market[:, None], returns.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ts_cov(returns, market_2d, window) / ts_std(market[:, None], window) ** 2
    return _finite(out)


def amihud(panel: Panel, window: int = 21) -> np.ndarray:
    """Amihud illiquidity: mean of ``|r_t| / (close_t * volume_t)`` over the last ``window`` bars
    (return per unit of traded value; a bar with zero volume leaves the window NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(simple_returns(panel.close)) / (panel.close * panel.volume)
    return ts_mean(_finite(ratio), window)


def volume_trend(panel: Panel, short: int = 21, long: int = 126) -> np.ndarray:
    """Mean volume over the last ``short`` bars relative to the last ``long`` bars, minus one."""
    if short >= long:
        raise InvalidInput(f"short ({short}) must be less than long ({long})", field="long")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ts_mean(panel.volume, short) / ts_mean(panel.volume, long) - 1.0
    return _finite(out)


def high_52w_distance(panel: Panel, window: int = 252) -> np.ndarray:
    """Distance from the ``window``-bar high: ``close[t] / max(high[t-window+1..t]) - 1`` (<= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = panel.close / ts_max(panel.high, window) - 1.0
    return _finite(out)


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    return x


@dataclass(frozen=True)
class FactorInfo:
    name: str
    func: Callable[..., np.ndarray]
    params: dict[str, Any]  # parameter -> default, in call order
    summary: str
    less: tuple[str, str] | None = None  # (a, b): parameter a must be less than b (the error names b)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "doc": self.summary}


def _info(func: Callable[..., np.ndarray], params: dict[str, Any], less: tuple[str, str] | None = None
          ) -> FactorInfo:
    doc = " ".join((func.__doc__ or "").split())
    return FactorInfo(func.__name__, func, params, doc, less)


FACTORS: dict[str, FactorInfo] = {
    info.name: info
    for info in (
        _info(momentum, {"lookback": 252, "skip": 21}, less=("skip", "lookback")),
        _info(reversal, {"lookback": 21}),
        _info(volatility, {"window": 63}),
        _info(beta, {"window": 252, "benchmark": None}),
        _info(amihud, {"window": 21}),
        _info(volume_trend, {"short": 21, "long": 126}, less=("short", "long")),
        _info(high_52w_distance, {"window": 252}),
    )
}
_TEXT_PARAMS = {"benchmark"}


def list_factors() -> list[dict[str, Any]]:
    """Every library factor with its parameters (and defaults) and documentation."""
    return [info.as_dict() for info in FACTORS.values()]


def factor_info(name: str) -> FactorInfo:
    info = FACTORS.get(name)
    if info is None:
        raise InvalidInput(f"unknown factor {name!r}; known: {', '.join(FACTORS)}", field="factor")
    return info


def bind_params(info: FactorInfo, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Positional and keyword arguments checked against the factor's parameters (windows: integers >= 1)."""
    names = list(info.params)
    if len(args) > len(names):
        raise InvalidInput(f"{info.name} takes at most {len(names)} arguments ({', '.join(names)})", field="factor")
    params = dict(info.params)
    for key, value in zip(names, args, strict=False):
        params[key] = value
    for key, value in kwargs.items():
        if key not in params:
            raise InvalidInput(f"{info.name} has no parameter {key!r}; parameters: {', '.join(names)}", field=key)
        if key in names[:len(args)]:
            raise InvalidInput(f"{info.name} got two values for {key}", field=key)
        params[key] = value
    for key, value in params.items():
        if key in _TEXT_PARAMS:
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{key} must be a symbol or null", field=key)
        else:
            params[key] = check_window(value, field=key)
    if info.less is not None:
        small, large = info.less
        if not params[small] < params[large]:
            raise InvalidInput(f"{info.name}: {small} ({params[small]}) must be less than {large} "
                               f"({params[large]})", field=large)
    return params


def parse_spec(spec: Any) -> tuple[FactorInfo, dict[str, Any]]:
    """A factor spec (name, ``"name(args)"`` or ``{"name": ..., **params}``) -> (factor, checked params)."""
    if isinstance(spec, dict):
        rest = dict(spec)
        name = rest.pop("name", None)
        if not isinstance(name, str):
            raise InvalidInput("a factor spec object needs a string 'name'", field="factor")
        info = factor_info(name.strip())
        return info, bind_params(info, [], rest)
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput("factor must be a name, 'name(args)' or {'name': ..., params}", field="factor")
    text = spec.strip()
    if text in FACTORS:
        return FACTORS[text], dict(FACTORS[text].params)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise InvalidInput(f"factor spec {spec!r} is not name or name(args)", field="factor") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise InvalidInput(f"factor spec {spec!r} is not name or name(args)", field="factor")
    info = factor_info(node.func.id)
    return info, bind_params(info, [_literal(a) for a in node.args],
                             {k.arg: _literal(k.value) for k in node.keywords if k.arg is not None})


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(
            node.value, bool):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    raise InvalidInput(f"factor arguments must be numbers or strings, got {ast.unparse(node)!r}", field="factor")


def spec_label(info: FactorInfo, params: dict[str, Any]) -> str:
    """``name(v1, v2)`` with the parameter values in order (text values quoted)."""
    values = [repr(v) if isinstance(v, str) or v is None else str(v) for v in params.values()]
    return f"{info.name}({', '.join(values)})"


def compute_factor(spec: Any, panel: Panel) -> np.ndarray:
    """The library factor named by ``spec`` on ``panel`` (dates x symbols, NaN where unknown)."""
    info, params = parse_spec(spec)
    return info.func(panel, **params)
