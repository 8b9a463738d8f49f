"""User-defined factor expressions, e.g. ``rank(ts_mean(close, 20) / close) - zscore(volume)``.

The text is parsed with :mod:`ast` and walked against a whitelist; nothing is ever passed to
``eval``/``exec``. Allowed: the columns ``open high low close volume returns``; int/float numbers;
``+ - * /`` and unary ``-``/``+``; the functions ``abs log sign`` (element-wise), ``rank zscore``
(cross-sectional), ``ts_mean ts_std ts_sum ts_max ts_min ts_rank delay delta`` (``f(x, n)``),
``ts_corr(x, y, n)``; and library factor names called with constant arguments (``momentum(126, 21)``).
Window arguments are integer constants. Anything else raises InvalidInput naming the token, with
``field="expr"``. Division by zero and log of non-positive values give NaN.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import numpy as np

from nautilus.core.bounds import AMOUNT_MAX
from nautilus.core.errors import InvalidInput
from nautilus.factor import crosssection, library, timeseries
from nautilus.factor.panel import Panel

MAX_LENGTH = 2_000
MAX_NODES = 400
CONSTANT_MAX = AMOUNT_MAX  # numeric literals: |x| <= 1e12 (nautilus.core.bounds)
COLUMNS = ("open", "high", "low", "close", "volume", "returns")

_ELEMENTWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "log": lambda x: np.log(np.where(x > 0, x, np.nan)),
    "sign": np.sign,
}
_CROSS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"rank": crosssection.rank, "zscore": crosssection.zscore}
_WINDOWED: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "ts_mean": timeseries.ts_mean, "ts_std": timeseries.ts_std, "ts_sum": timeseries.ts_sum,
    "ts_max": timeseries.ts_max, "ts_min": timeseries.ts_min, "ts_rank": timeseries.ts_rank,
    "delay": timeseries.delay, "delta": timeseries.delta,
}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}


def function_names() -> list[str]:
    return [*_ELEMENTWISE, *_CROSS, *_WINDOWED, "ts_corr", *library.FACTORS]


def _reject(message: str) -> InvalidInput:
    return InvalidInput(message, field="expr")


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # an unparsable fragment: name its node type instead
        return type(node).__name__


def parse_expression(text: str) -> ast.Expression:
    """Parse and check an expression; raise InvalidInput naming the first disallowed token."""
    if not isinstance(text, str) or not text.strip():
        raise _reject("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise _reject(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _reject(f"the expression is not valid syntax at column {exc.offset}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise _reject("the expression is nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _reject(f"the expression has more than {MAX_NODES} parts")
    _check(tree.body)
    return tree


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _reject(f"constant {_text(node)} is not allowed (numbers only)")
        _bounded(node)
    elif isinstance(node, ast.Name):
        if node.id not in COLUMNS:
            hint = " (call it as a function)" if node.id in function_names() else ""
            raise _reject(f"unknown name {node.id!r}{hint}; columns: {', '.join(COLUMNS)}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _reject(f"operator {type(node.op).__name__} in {_text(node)!r} is not allowed (+ - * / only)")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _reject(f"operator {type(node.op).__name__} in {_text(node)!r} is not allowed")
        _check(node.operand)
    elif isinstance(node, ast.Call):
        _check_call(node)
    elif isinstance(node, ast.Attribute):
        raise _reject(f"attribute access {_text(node)!r} is not allowed")
    else:
        raise _reject(f"{type(node).__name__} {_text(node)!r} is not allowed in an expression")


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise _reject(f"call of {_text(node.func)!r} is not allowed; functions: {', '.join(function_names())}")
    name = node.func.id
    if name in library.FACTORS:
        if any(k.arg is None for k in node.keywords):
            raise _reject(f"**kwargs in {name}() is not allowed")
        library.bind_params(library.FACTORS[name], [_constant(a, name) for a in node.args],
                            {k.arg: _constant(k.value, name) for k in node.keywords if k.arg is not None})
        return
    if name not in function_names():
        raise _reject(f"function {name!r} is not allowed; functions: {', '.join(function_names())}")
    if node.keywords:
        raise _reject(f"{name}() takes positional arguments only")
    arity = 1 if name in _ELEMENTWISE or name in _CROSS else 3 if name == "ts_corr" else 2
    if len(node.args) != arity:
        raise _reject(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
    for arg in node.args[:arity if arity == 1 else arity - 1]:
        _check(arg)
    if arity > 1:
        _window(node.args[-1], name)


def _constant(node: ast.AST, name: str) -> int | float | str | None:
    if isinstance(node, ast.Constant) and (node.value is None or (
            isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool))):
        if isinstance(node.value, (int, float)):
            _bounded(node)
        return node.value
    raise _reject(f"arguments of {name}() must be constants, got {_text(node)!r}")


def _bounded(node: ast.Constant) -> None:
    """A numeric constant within the domain bounds: finite, ``|x| <= CONSTANT_MAX`` (a 400-digit literal or
    ``1e999`` is refused, not evaluated)."""
    value = node.value
    finite = isinstance(value, int) or math.isfinite(value)
    if not finite or abs(value) > CONSTANT_MAX:
        raise _reject(f"constant {_text(node)[:40]} is outside +-{CONSTANT_MAX:g}")


def _window(node: ast.AST, name: str) -> int:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _reject(f"the window of {name}() must be an integer constant, got {_text(node)!r}")
    minimum = 0 if name == "delay" or name == "delta" else 2 if name in ("ts_rank", "ts_corr", "ts_std") else 1
    if not minimum <= value <= timeseries.MAX_WINDOW:
        raise _reject(f"the window of {name}() must be between {minimum} and {timeseries.MAX_WINDOW}, got {value}")
    return value


def evaluate(expr: str | ast.Expression, panel: Panel) -> np.ndarray:
    """The expression's (dates x symbols) float64 matrix on ``panel`` (non-finite values become NaN)."""
    tree = parse_expression(expr) if isinstance(expr, str) else expr
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = _eval(tree.body, panel)
    out = np.array(np.broadcast_to(value, panel.shape), dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _eval(node: ast.AST, panel: Panel) -> np.ndarray | float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return panel.column(node.id)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, panel), _eval(node.right, panel))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, panel))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), "checked by parse_expression"
    name = node.func.id
    if name in library.FACTORS:
        info = library.FACTORS[name]
        params = library.bind_params(info, [_constant(a, name) for a in node.args],
                                     {k.arg: _constant(k.value, name) for k in node.keywords if k.arg})
        return info.func(panel, **params)
    if name in _ELEMENTWISE:
        return _ELEMENTWISE[name](_matrix(_eval(node.args[0], panel), panel))
    if name in _CROSS:
        return _CROSS[name](_matrix(_eval(node.args[0], panel), panel))
    window = _window(node.args[-1], name)
    if name == "ts_corr":
        return timeseries.ts_corr(_matrix(_eval(node.args[0], panel), panel),
                                  _matrix(_eval(node.args[1], panel), panel), window)
    return _WINDOWED[name](_matrix(_eval(node.args[0], panel), panel), window)


def _matrix(value: np.ndarray | float, panel: Panel) -> np.ndarray:
    out = np.array(np.broadcast_to(value, panel.shape), dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out
