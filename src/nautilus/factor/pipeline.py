"""From a request's words to a processed factor matrix: pick a library factor or an expression,
then apply cross-sectional steps in order.

A step is a dict with ``op`` one of ``winsorize`` (``method`` quantile|mad, ``limits``, ``n_mad``),
``zscore``, ``rank`` (``centered``) or ``neutralize`` (``against``: factor specs or expressions,
``groups``: {symbol: label}, symbols without a label form their own group ``""``).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.factor import crosssection, expression, library
from nautilus.factor.panel import Panel

STEP_OPS = ("winsorize", "zscore", "rank", "neutralize")


def factor_values(panel: Panel, factor: Any = None, expr: str | None = None) -> tuple[str, np.ndarray]:
    """(label, matrix) of a library factor spec or of an expression; exactly one must be given."""
    if (factor is None) == (expr is None):
        raise InvalidInput("give exactly one of factor (a library spec) or expr (an expression)", field="factor")
    if expr is not None:
        tree = expression.parse_expression(expr)
        return ast.unparse(tree), expression.evaluate(tree, panel)
    info, params = library.parse_spec(factor)
    return library.spec_label(info, params), info.func(panel, **params)


def exposure(panel: Panel, spec: Any) -> np.ndarray:
    """A neutralisation exposure: a library spec when it names one, otherwise an expression."""
    if isinstance(spec, dict):
        return factor_values(panel, factor=spec)[1]
    if not isinstance(spec, str):
        raise InvalidInput(f"an exposure must be a factor spec or an expression, got {spec!r}", field="against")
    head = spec.strip().split("(", 1)[0].strip()
    if head in library.FACTORS:
        return factor_values(panel, factor=spec)[1]
    return factor_values(panel, expr=spec)[1]


def apply_steps(values: np.ndarray, steps: Sequence[dict[str, Any]], panel: Panel) -> np.ndarray:
    """The factor matrix after each cross-sectional step in order."""
    out = values
    for k, step in enumerate(steps):
        op = step.get("op")
        if op == "winsorize":
            limits = tuple(step.get("limits", (0.01, 0.99)))
            if len(limits) != 2:
                raise InvalidInput("limits must be [lower, upper]", field=f"steps[{k}].limits")
            out = crosssection.winsorize(out, step.get("method", "quantile"), limits, step.get("n_mad", 5.0))
        elif op == "zscore":
            out = crosssection.zscore(out)
        elif op == "rank":
            out = crosssection.rank(out, bool(step.get("centered", False)))
        elif op == "neutralize":
            against = list(step.get("against") or [])
            groups_map = step.get("groups") or {}
            if not against and not groups_map:
                raise InvalidInput("neutralize needs against (factors) and/or groups", field=f"steps[{k}].against")
            groups = None
            if groups_map:
                labels = {str(s).strip().upper(): str(g) for s, g in groups_map.items()}
                groups = [labels.get(s, "") for s in panel.symbols]
            out = crosssection.neutralize(out, [exposure(panel, spec) for spec in against], groups)
        else:
            raise InvalidInput(f"step op must be one of {', '.join(STEP_OPS)}, got {op!r}", field=f"steps[{k}].op")
    return out
