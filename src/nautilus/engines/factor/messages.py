"""Request and reply types of the Factor engine (light: the gateway and CLI import these).

A query names ``symbols``, a ``timeframe`` and a date range (``start_ns`` inclusive, ``end_ns``
exclusive, either open) plus exactly one of ``factor`` (a library spec: ``"momentum"``,
``"momentum(126, 21)"`` or ``{"name": "momentum", "lookback": 126}``) or ``expr`` (an expression).
Factors are computed on all history before ``end_ns`` and then cut to the range, so lookbacks fill.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from nautilus.core.bounds import Name, Timestamp


class Step(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One cross-sectional step: winsorize (method quantile|mad, limits, n_mad), zscore, rank (centered),
    neutralize (against: factor specs or expressions; groups: {symbol: label})."""

    op: Literal["winsorize", "zscore", "rank", "neutralize"]
    method: Literal["quantile", "mad"] = "quantile"
    limits: tuple[float, float] = (0.01, 0.99)
    n_mad: float = 5.0
    centered: bool = False
    against: list[Any] = []
    groups: dict[str, str] = {}


class FactorQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    symbols: list[Name]
    factor: Any = None
    expr: str | None = None
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    steps: list[Step] = []


class ComputeRequest(FactorQuery, kw_only=True, forbid_unknown_fields=True):
    pass


class ComputeReply(msgspec.Struct, kw_only=True):
    factor: str  # label: "momentum(252, 21)" or the normalised expression
    timeframe: str
    ts: np.ndarray  # int64 ns, one per row
    symbols: list[str]
    values: np.ndarray  # float64 (dates x symbols), NaN where unknown


class ResearchRequest(FactorQuery, kw_only=True, forbid_unknown_fields=True):
    horizons: list[int] = msgspec.field(default_factory=lambda: [1, 5, 20])
    quantiles: int = 5
    method: Literal["pearson", "spearman"] = "spearman"


class ResearchReply(msgspec.Struct, kw_only=True):
    factor: str
    timeframe: str
    symbols: list[str]
    tearsheet: dict[str, Any]


class FactorList(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]
    functions: list[str]  # names an expression may call
    columns: list[str]  # names an expression may use
