"""Cross-sectional factor research: panels of bars, a factor library, user expressions,
cross-sectional processing (winsorize, z-score, rank, neutralize) and IC / quantile tear sheets.

Every matrix is ``(dates x symbols)`` float64, oldest date first, NaN where a value is unknown.
A factor value at date t uses bars with ts <= t only; forward returns at date t look ahead.
The package reads no storage: :func:`load_panel` takes the caller's bar reader.
"""

from nautilus.factor.crosssection import neutralize, rank, winsorize, zscore
from nautilus.factor.expression import evaluate, parse_expression
from nautilus.factor.library import compute_factor, list_factors
from nautilus.factor.panel import Panel, load_panel
from nautilus.factor.research import (
    forward_returns,
    ic,
    ic_decay,
    ic_summary,
    plot_tearsheet,
    quantile_returns,
    tearsheet,
    turnover,
)

__all__ = [
    "Panel",
    "compute_factor",
    "evaluate",
    "forward_returns",
    "ic",
    "ic_decay",
    "ic_summary",
    "list_factors",
    "load_panel",
    "neutralize",
    "parse_expression",
    "plot_tearsheet",
    "quantile_returns",
    "rank",
    "tearsheet",
    "turnover",
    "winsorize",
    "zscore",
]
