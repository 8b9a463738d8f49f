"""Request and reply types of the Risk engine (light: the gateway and CLI import these).

A portfolio is ``{symbol: amount}``: currency exposures (``units="value"``, negative = short) or
quantities (``units="quantity"``, valued at the last close). History comes from the catalog:
``lookback`` returns of ``timeframe`` bars ending before ``end_ns``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from nautilus.core.bounds import Timestamp


class OptionLeg(msgspec.Struct, kw_only=True):
    """A European option position on a catalog instrument (spot = its last close)."""

    underlying: str
    type: Literal["call", "put"]
    strike: float
    expiry: float | str  # years to expiry (0.25), or the expiry date (YYYY-MM-DD, 365-day years from today)
    quantity: float  # signed contracts, negative = short
    implied_vol: float  # annualised decimal, 0.25 = 25%
    multiplier: float = 100.0
    r: float = 0.0
    q: float = 0.0


class PortfolioRequest(msgspec.Struct, kw_only=True):
    portfolio: dict[str, float]
    units: Literal["value", "quantity"] = "value"
    timeframe: str = "1d"
    lookback: int = 500
    end_ns: Timestamp | None = None
    option_positions: list[OptionLeg] = []


class VarRequest(PortfolioRequest, kw_only=True):
    method: Literal["historical", "historical_ew", "fhs", "normal", "t", "cornish_fisher", "mc"] = "historical"
    confidence: float = 0.99
    horizon: int = 1
    # mc: paths, model (normal|t), nu, backend (numpy|numba|torch|dask), dtype, variance_reduction, seed,
    # cov_method (sample|ewma), lam, aggregation (sum|compound), chunk; the dask backend runs on the server's
    # cluster (settings.dask_scheduler), never on one named here. paths, assets and horizon are capped (admission).
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
    # how the components were allocated: {"var": "euler" | "scenario_at_quantile", "cvar": "euler" | "tail_mean"}
    allocation: dict[str, str] = {}
    var_residual: float = 0.0  # var - sum of the component VaRs (floating-point rounding only)
    cvar_residual: float = 0.0  # cvar - sum of the component CVaRs
    option_components: list[dict[str, Any]] = []  # one row per option leg (also inside its underlying's row)


class StressRequest(PortfolioRequest, kw_only=True):
    scenario: Literal["historical", "shock", "reverse"] = "historical"
    window: int = 5  # historical: bars per window
    count: int = 3  # historical: worst non-overlapping windows
    shocks: dict[str, float] = {}  # shock: symbol -> return, e.g. -0.2
    loss: float | None = None  # reverse: loss to reach (positive currency)
    vol_shift: float | dict[str, float] | None = None  # shock: implied vol shift, absolute (0.05 = +5 points),
    # for every option or per underlying symbol
    horizon_days: float = 0.0  # shock / reverse: calendar days of option time decay


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


# Pre-trade limits ----------------------------------------------------------------------------
class LimitsBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The account's limit set; omitted fields are not checked (see ``nautilus.risk.limits``)."""

    max_order_notional: float | None = None
    max_position_units: float | dict[str, float] | None = None
    max_position_notional: float | dict[str, float] | None = None
    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    max_concentration_pct: float | None = None
    var_budget: float | None = None
    daily_loss_halt: float | None = None
    drawdown_halt: float | None = None
    max_orders_per_window: int | None = None
    rate_window_seconds: float | None = None
    # var_budget: the one-day VaR of the positions after the order, from the stored bars (see LimitSet)
    var_confidence: float | None = None  # default 0.99
    var_method: str | None = None  # historical (default), historical_ew, normal, t, cornish_fisher
    var_lookback: int | None = None  # bars of history (default 250)
    var_timeframe: str | None = None  # default 1d
    max_order_equity_pct: float | None = None  # order notional, percent of equity (reducing orders exempt)
    min_cash: float | None = None  # cash left after a buy: 0 = no margin, negative = a margin line
    # read only: "account" (its own limits) or "default" (the default_limits setting: none set for it)
    source: str | None = None


class SetLimitsRequest(msgspec.Struct, kw_only=True):
    account: str = "default"
    limits: LimitsBody


class AccountRequest(msgspec.Struct, kw_only=True):
    account: str = "default"


class BookState(msgspec.Struct, kw_only=True):
    """A book kept elsewhere, pushed by a client for what-if checks (``check_order``); paper orders are checked
    by the Portfolio engine against its own book."""

    account: str = "default"
    positions: dict[str, float] = {}  # signed units
    prices: dict[str, float] = {}  # marks
    equity: float
    daily_pnl: float = 0.0
    peak_equity: float | None = None
    var: float | None = None
    marginal_var: dict[str, float] | None = None  # dVaR / d(exposure) per instrument
    cash: float | None = None  # cash in the base currency (min_cash); None = not checked


class OrderCheck(msgspec.Struct, kw_only=True):
    account: str = "default"
    instrument: str
    quantity: float  # signed: + buy, - sell
    price: float
    commit: bool = True  # count an accepted order towards the rate limit
    book: BookState | None = None  # replace the account's state first (saves the separate set_book call)


class LimitBreach(msgspec.Struct, kw_only=True):
    """One breached limit of a decision (``nautilus.risk.limits.check_order``'s reasons)."""

    limit: str
    value: int | float | None = None  # the measured value (None: it could not be computed, e.g. an unknown VaR)
    threshold: int | float | None = None
    message: str


class RiskDecision(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A pre-trade decision: stored with the order (its ``risk``) and returned with it."""

    accepted: bool
    reasons: list[LimitBreach]
    checked: list[str]  # the limits evaluated, in order
    limits: str | None = None  # "account" (its own limits) or "default" (the default_limits setting)
    note: str | None = None

    @property
    def message(self) -> str:
        """The reasons' messages, ``; ``-joined (the order's ``reason`` when rejected)."""
        return "; ".join(r.message for r in self.reasons)


class DecisionReply(msgspec.Struct, kw_only=True):
    accepted: bool
    reasons: list[LimitBreach]
    checked: list[str]
    account: str
    limits_source: str = "account"  # or "default": the account has no limits of its own


class DecisionRecord(msgspec.Struct, kw_only=True):
    """An audited decision: ``target`` is ``account/instrument``."""

    ts: str  # ISO 8601
    target: str | None
    quantity: float | None = None
    price: float | None = None
    accepted: bool
    reasons: list[LimitBreach] = []


class DecisionList(msgspec.Struct, kw_only=True):
    items: list[DecisionRecord]
