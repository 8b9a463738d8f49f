"""Request and reply types of the Risk engine (light: the gateway and CLI import these).

A portfolio is ``{symbol: amount}``: currency exposures (``units="value"``, negative = short) or
quantities (``units="quantity"``, valued at the last close). History comes from the catalog:
``lookback`` returns of ``timeframe`` bars ending before ``end_ns``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np


class PortfolioRequest(msgspec.Struct, kw_only=True):
    portfolio: dict[str, float]
    units: Literal["value", "quantity"] = "value"
    timeframe: str = "1d"
    lookback: int = 500
    end_ns: int | None = None


class VarRequest(PortfolioRequest, kw_only=True):
    method: Literal["historical", "historical_ew", "fhs", "normal", "t", "cornish_fisher", "mc"] = "historical"
    confidence: float = 0.99
    horizon: int = 1
    # mc: paths, model (normal|t), nu, backend (numpy|numba|torch|dask), dtype, variance_reduction, seed,
    # cov_method (sample|ewma), lam, aggregation (sum|compound), scheduler
    options: dict[str, Any] = {}


class VarReply(msgspec.Struct, kw_only=True):
    method: str
    confidence: float
    horizon: int
    var: float
    cvar: float
    symbols: list[str]
    exposures: list[float]
    components: dict[str, dict[str, float]]
    observations: int
    first_ts: int
    last_ts: int
    details: dict[str, Any]


class StressRequest(PortfolioRequest, kw_only=True):
    scenario: Literal["historical", "shock", "reverse"] = "historical"
    window: int = 5  # historical: bars per window
    count: int = 3  # historical: worst non-overlapping windows
    shocks: dict[str, float] = {}  # shock: symbol -> return, e.g. -0.2
    loss: float | None = None  # reverse: loss to reach (positive currency)


class StressReply(msgspec.Struct, kw_only=True):
    scenario: str
    symbols: list[str]
    exposures: list[float]
    results: list[dict[str, Any]]


class VarBacktestRequest(PortfolioRequest, kw_only=True):
    method: Literal["historical", "historical_ew", "normal", "t", "cornish_fisher"] = "historical"
    confidence: float = 0.99
    window: int = 250
    options: dict[str, Any] = {}


class VarBacktestReply(msgspec.Struct, kw_only=True):
    method: str
    confidence: float
    window: int
    observations: int
    exceptions: list[dict[str, Any]]
    kupiec: dict[str, Any]
    christoffersen: dict[str, Any]
    zone: str
    ts: np.ndarray
    pnl: np.ndarray
    var: np.ndarray
