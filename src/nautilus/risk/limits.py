"""Pre-trade risk limits: pure, fast checks of one order against a limit set and explicit state.

API
---
``check_order(order, state, limits, now) -> Decision`` evaluates every configured limit and lists EVERY
breach (not only the first). It never mutates anything. The caller owns the state:

* when an accepted order is actually sent, call ``state.rate.record(now, limits.rate_window_seconds)``
  (``commit_order`` does the same); orders that are checked but not committed never count towards the
  rate limit;
* on fills call ``apply_fill(state, instrument, quantity, price)`` (keeps the cached gross/net exposure
  consistent), and refresh ``equity``/``daily_pnl``/``peak_equity``/``var``/``marginal_var`` as marks move.

Conventions
-----------
* Every threshold is INCLUSIVE: a measured value equal to its threshold is accepted, anything above is
  rejected (``value > threshold`` breaches). Rate limit: the order is accepted when
  ``committed orders in (now - window, now] + 1 <= max_orders_per_window``.
* Order quantity is signed (+ buy, - sell); positions are signed units. Exposure of an instrument is
  ``position * mark`` with the mark from ``state.prices`` (the order price when the instrument has no
  mark); the order notional is ``|quantity| * order.price``.
* Exposure-style limits (position units/notional, gross, net, concentration, VaR budget) only reject an
  order that breaches AND makes the measure worse (after > before): an order that reduces an existing
  breach is allowed.
* Halts (``daily_loss_halt``: ``-daily_pnl > threshold``; ``drawdown_halt``: ``(peak - equity) / peak >
  threshold`` as a FRACTION, e.g. 0.1 = 10%) block every order except REDUCING ones: orders that move an
  existing position towards zero without flipping its sign (``|position + quantity| < |position|`` and
  same sign or flat). Reducing orders still go through the other limits.
* ``max_concentration_pct`` is in PERCENT of equity: ``100 * |position exposure after| / equity``
  (equity <= 0 makes every increasing order breach).
* ``var_budget``: VaR after the order from ``state.var_fn(order, state)`` when given, else the linear
  estimate ``state.var + state.marginal_var[instrument] * quantity * mark`` (marginal VaR per unit of
  currency exposure, a mapping or a sequence indexed by instrument). A ``var_fn`` that cannot tell
  (raises :class:`VarUnavailable`, or returns a non-finite number) rejects the order: fail closed.
  ``var_confidence``, ``var_method``, ``var_lookback`` and ``var_timeframe`` say how a caller that owns
  the history (the order's checker, :mod:`nautilus.engines.risk.pretrade`) computes the VaR it feeds in (here
  they are only validated).
* ``max_order_equity_pct``: the order notional in PERCENT of equity, ``100 * |quantity| * price / equity``
  (equity <= 0 makes every order breach); reducing orders are exempt, so an exit is never blocked.
* ``min_cash``: the cash (base currency, ``state.cash``) left after a BUY's notional (before fees) must be
  ``>= min_cash``: 0 = no borrowing (no margin), a negative number = a margin line of that size. Sells and
  states without ``cash`` are not checked.
* Defaults: :data:`DEFAULT_LIMITS` is the limit set of every paper account that has none of its own
  (the checkers take it from the ``default_limits`` setting).
* Bad configuration -> ``InvalidInput`` naming the field (``LimitSet`` validates on construction).

Hot path: plain Python floats/dicts (no numpy); O(1) per check apart from the rate limiter's bisect.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nautilus.core.errors import InvalidInput

__all__ = [
    "DEFAULT_LIMITS",
    "Decision",
    "LimitSet",
    "Order",
    "PortfolioState",
    "RateLimiter",
    "VarUnavailable",
    "apply_fill",
    "check_order",
    "commit_order",
    "utilisation",
]


VAR_METHODS = ("historical", "historical_ew", "normal", "t", "cornish_fisher")

#: Limits of an account without its own: one order at most the equity (the backtester and deployments size
#: entries at up to 100% of equity), one position at most the equity, and no negative cash (no margin).
DEFAULT_LIMITS: dict[str, float] = {"max_order_equity_pct": 100.0, "max_concentration_pct": 100.0,
                                    "min_cash": 0.0}


class VarUnavailable(Exception):  # noqa: N818 - a state, not a programming error
    """Raised by a ``var_fn`` that cannot compute the VaR after an order (no history, too few bars)."""


@dataclass(frozen=True, slots=True)
class Order:
    instrument: Hashable
    quantity: float  # signed units: + buy, - sell
    price: float  # limit / reference price, > 0


class RateLimiter:
    """Sorted timestamps (seconds) of COMMITTED orders; the caller records them, checks only read."""

    __slots__ = ("times",)

    def __init__(self, times: list[float] | None = None) -> None:
        self.times: list[float] = sorted(times) if times else []

    def count(self, now: float, window_seconds: float) -> int:
        """Committed orders with timestamp in ``(now - window_seconds, now]``."""
        t = self.times
        return bisect_right(t, now) - bisect_right(t, now - window_seconds)

    def record(self, now: float, window_seconds: float | None = None) -> None:
        """Record an order sent at ``now``; drop timestamps older than the window when it is given."""
        t = self.times
        if t and now < t[-1]:
            t.insert(bisect_right(t, now), now)
        else:
            t.append(now)
        if window_seconds is not None:
            k = bisect_right(t, now - window_seconds)
            if k:
                del t[:k]


@dataclass(slots=True)
class PortfolioState:
    """Explicit portfolio state for the checks (build with :meth:`from_positions` to fill the caches)."""

    positions: dict[Hashable, float]  # signed units per instrument
    prices: dict[Hashable, float]  # marks
    equity: float
    gross_exposure: float = 0.0  # sum |position * mark| (cached)
    net_exposure: float = 0.0  # sum position * mark (cached)
    daily_pnl: float = 0.0
    peak_equity: float | None = None  # None -> equity
    var: float | None = None  # current portfolio VaR (positive loss)
    marginal_var: Any = None  # Mapping | Sequence: dVaR / d(exposure_i)
    var_fn: Callable[[Order, PortfolioState], float] | None = None  # VaR after the order
    rate: RateLimiter = field(default_factory=RateLimiter)
    cash: float | None = None  # cash in the base currency (for ``min_cash``); None = not known, not checked

    @classmethod
    def from_positions(cls, positions: Mapping[Hashable, float], prices: Mapping[Hashable, float],
                       equity: float, **kwargs: Any) -> PortfolioState:
        pos = {k: float(v) for k, v in positions.items()}
        px = {k: float(v) for k, v in prices.items()}
        missing = [k for k in pos if k not in px]
        if missing:
            raise InvalidInput(f"no price for instruments {missing[:5]}", field="prices")
        gross = sum(abs(v * px[k]) for k, v in pos.items())
        net = sum(v * px[k] for k, v in pos.items())
        return cls(positions=pos, prices=px, equity=float(equity), gross_exposure=gross, net_exposure=net,
                   **kwargs)


def apply_fill(state: PortfolioState, instrument: Hashable, quantity: float, price: float | None = None) -> None:
    """Update position (and mark, when ``price`` is given) of one instrument and the cached exposures."""
    prices = state.prices
    old_mark = prices.get(instrument)
    mark = float(price) if price is not None else old_mark
    if mark is None:
        raise InvalidInput(f"no price for instrument {instrument!r}", field="price")
    old = state.positions.get(instrument, 0.0)
    old_exp = old * old_mark if old_mark is not None else 0.0
    new = old + quantity
    new_exp = new * mark
    state.positions[instrument] = new
    prices[instrument] = mark
    state.gross_exposure += abs(new_exp) - abs(old_exp)
    state.net_exposure += new_exp - old_exp


def commit_order(state: PortfolioState, limits: LimitSet, now: float) -> None:
    """Count an accepted, sent order towards the rate limit (prunes timestamps outside the window)."""
    state.rate.record(now, limits.rate_window_seconds)


@dataclass(slots=True)
class Decision:
    accepted: bool
    reasons: list[dict[str, Any]]  # {limit, value, threshold, message} per breach
    checked: list[str]  # names of the limits evaluated, in order


def _num(name: str, v: Any, *, allow_zero: bool = False, upper: float | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise InvalidInput(f"{name} must be a finite number", field=name)
    if v < 0 or (v == 0 and not allow_zero):
        raise InvalidInput(f"{name} must be {'>= 0' if allow_zero else '> 0'}", field=name)
    if upper is not None and v > upper:
        raise InvalidInput(f"{name} must be <= {upper}", field=name)


@dataclass(frozen=True, slots=True)
class LimitSet:
    """Optional pre-trade limits (None = not checked). Units: currency unless noted.

    ``max_position_units`` / ``max_position_notional``: one number for every instrument, or a mapping
    instrument -> limit (instruments missing from the mapping are unlimited); 0 forbids any position.
    ``max_concentration_pct``: percent of equity. ``drawdown_halt``: fraction of peak equity in (0, 1].
    ``max_orders_per_window`` needs ``rate_window_seconds``.
    """

    max_order_notional: float | None = None
    max_position_units: float | Mapping[Hashable, float] | None = None
    max_position_notional: float | Mapping[Hashable, float] | None = None
    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    max_concentration_pct: float | None = None
    var_budget: float | None = None
    daily_loss_halt: float | None = None
    drawdown_halt: float | None = None
    max_orders_per_window: int | None = None
    rate_window_seconds: float | None = None
    max_order_equity_pct: float | None = None  # order notional, percent of equity
    min_cash: float | None = None  # cash left after a buy (0 = no margin; negative = a margin line)
    # How the VaR of ``var_budget`` is computed from stored bars by the order's checker (one-day horizon).
    var_confidence: float = 0.99
    var_method: str = "historical"
    var_lookback: int = 250
    var_timeframe: str = "1d"

    def __post_init__(self) -> None:
        for name in ("max_order_notional", "max_gross_exposure", "max_net_exposure", "max_concentration_pct",
                     "var_budget", "rate_window_seconds", "max_order_equity_pct"):
            v = getattr(self, name)
            if v is not None:
                _num(name, v)
        if self.daily_loss_halt is not None:
            _num("daily_loss_halt", self.daily_loss_halt, allow_zero=True)
        if self.drawdown_halt is not None:
            _num("drawdown_halt", self.drawdown_halt, upper=1.0)
        for name in ("max_position_units", "max_position_notional"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, Mapping):
                for k, lim in v.items():
                    try:
                        _num(name, lim, allow_zero=True)
                    except InvalidInput as exc:
                        raise InvalidInput(f"{exc.message} (instrument {k!r})", field=name) from None
            else:
                _num(name, v, allow_zero=True)
        mc = self.min_cash
        if mc is not None and (isinstance(mc, bool) or not isinstance(mc, numbers.Real) or not math.isfinite(mc)):
            raise InvalidInput("min_cash must be a finite number", field="min_cash")
        m = self.max_orders_per_window
        if m is not None:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
                raise InvalidInput("max_orders_per_window must be an integer >= 1", field="max_orders_per_window")
            if self.rate_window_seconds is None:
                raise InvalidInput("max_orders_per_window needs rate_window_seconds", field="rate_window_seconds")
        c = self.var_confidence
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0.5 <= c < 1:
            raise InvalidInput("var_confidence must be a number in [0.5, 1)", field="var_confidence")
        if self.var_method not in VAR_METHODS:
            raise InvalidInput(f"var_method must be one of {', '.join(VAR_METHODS)}", field="var_method")
        n = self.var_lookback
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 3 <= n <= 100_000:
            raise InvalidInput("var_lookback must be an integer in [3, 100000]", field="var_lookback")
        from nautilus.core.timeframe import timeframe_ns

        try:
            timeframe_ns(self.var_timeframe)
        except (InvalidInput, TypeError, ValueError):
            raise InvalidInput(f"var_timeframe {self.var_timeframe!r} is not a timeframe",
                               field="var_timeframe") from None


def _reason(out: list, limit: str, value: float | None, threshold: float, message: str) -> None:
    out.append({"limit": limit, "value": value, "threshold": threshold, "message": message})


def _per_instrument(lim: Any, instrument: Hashable) -> float | None:
    if isinstance(lim, Mapping):
        return lim.get(instrument)
    return lim


def check_order(order: Order, state: PortfolioState, limits: LimitSet, now: float) -> Decision:
    """Check ``order`` against ``limits`` given ``state`` at time ``now`` (seconds). Pure: mutates nothing."""
    try:
        q = float(order.quantity)
    except (TypeError, ValueError):
        q = math.nan
    if not math.isfinite(q) or q == 0:
        raise InvalidInput("order quantity must be a finite non-zero number", field="order.quantity")
    try:
        price = float(order.price)
    except (TypeError, ValueError):
        price = math.nan
    if not math.isfinite(price) or price <= 0:
        raise InvalidInput("order price must be a finite number > 0", field="order.price")
    inst = order.instrument
    reasons: list[dict[str, Any]] = []
    checked: list[str] = []

    old = state.positions.get(inst, 0.0)
    new = old + q
    mark = state.prices.get(inst, price)
    old_exp = old * mark
    new_exp = new * mark
    abs_old_exp = abs(old_exp)
    abs_new_exp = abs(new_exp)
    reducing = old != 0.0 and abs(new) < abs(old) and (new == 0.0 or (new > 0) == (old > 0))

    # ---- halts
    lim = limits.daily_loss_halt
    if lim is not None:
        checked.append("daily_loss_halt")
        loss = -state.daily_pnl
        if loss > lim and not reducing:
            _reason(reasons, "daily_loss_halt", loss, lim,
                    f"daily loss {loss:.2f} exceeds halt {lim:.2f}: only reducing orders allowed")
    lim = limits.drawdown_halt
    if lim is not None:
        checked.append("drawdown_halt")
        eq = state.equity
        peak = state.peak_equity
        if peak is None or peak < eq:
            peak = eq
        dd = (peak - eq) / peak if peak > 0 else (0.0 if peak == eq else math.inf)
        if dd > lim and not reducing:
            _reason(reasons, "drawdown_halt", dd, lim,
                    f"drawdown {dd:.2%} exceeds halt {lim:.2%}: only reducing orders allowed")

    # ---- order size
    lim = limits.max_order_notional
    if lim is not None:
        checked.append("max_order_notional")
        notional = abs(q) * price
        if notional > lim:
            _reason(reasons, "max_order_notional", notional, lim,
                    f"order notional {notional:.2f} exceeds {lim:.2f}")

    lim = limits.max_order_equity_pct
    if lim is not None:
        checked.append("max_order_equity_pct")
        eq = state.equity
        pct = 100.0 * abs(q) * price / eq if eq > 0 else math.inf
        if pct > lim and not reducing:
            _reason(reasons, "max_order_equity_pct", pct, lim,
                    f"order notional {abs(q) * price:.2f} is {pct:.2f}% of equity {eq:.2f}, above "
                    f"max_order_equity_pct {lim:.2f}%")

    # ---- cash
    lim = limits.min_cash
    if lim is not None and state.cash is not None:
        checked.append("min_cash")
        if q > 0:
            after = state.cash - q * price
            if after < lim:
                margin = "no margin" if lim == 0 else f"margin line {-lim:.2f}"
                _reason(reasons, "min_cash", after, lim,
                        f"cash after the order would be {after:.2f}, below min_cash {lim:.2f} ({margin})")

    # ---- positions
    if limits.max_position_units is not None:
        checked.append("max_position_units")
        lim = _per_instrument(limits.max_position_units, inst)
        if lim is not None and abs(new) > lim and abs(new) > abs(old):
            _reason(reasons, "max_position_units", abs(new), lim,
                    f"position {new:g} units in {inst!r} exceeds {lim:g}")
    if limits.max_position_notional is not None:
        checked.append("max_position_notional")
        lim = _per_instrument(limits.max_position_notional, inst)
        if lim is not None and abs_new_exp > lim and abs_new_exp > abs_old_exp:
            _reason(reasons, "max_position_notional", abs_new_exp, lim,
                    f"position notional {abs_new_exp:.2f} in {inst!r} exceeds {lim:.2f}")

    # ---- portfolio exposure
    lim = limits.max_gross_exposure
    if lim is not None:
        checked.append("max_gross_exposure")
        gross_before = state.gross_exposure
        gross = gross_before - abs_old_exp + abs_new_exp
        if gross > lim and gross > gross_before:
            _reason(reasons, "max_gross_exposure", gross, lim, f"gross exposure {gross:.2f} exceeds {lim:.2f}")
    lim = limits.max_net_exposure
    if lim is not None:
        checked.append("max_net_exposure")
        net_before = abs(state.net_exposure)
        net = abs(state.net_exposure - old_exp + new_exp)
        if net > lim and net > net_before:
            _reason(reasons, "max_net_exposure", net, lim, f"|net exposure| {net:.2f} exceeds {lim:.2f}")
    lim = limits.max_concentration_pct
    if lim is not None:
        checked.append("max_concentration_pct")
        eq = state.equity
        if abs_new_exp > abs_old_exp:
            conc = 100.0 * abs_new_exp / eq if eq > 0 else math.inf
            if conc > lim:
                _reason(reasons, "max_concentration_pct", conc, lim,
                        f"{inst!r} would be {conc:.2f}% of equity, limit {lim:.2f}%")

    # ---- VaR budget
    lim = limits.var_budget
    if lim is not None:
        checked.append("var_budget")
        before = state.var
        if state.var_fn is not None:
            try:
                after = float(state.var_fn(order, state))
            except VarUnavailable as exc:
                after = math.nan
                why = str(exc)
            else:
                why = f"the VaR function returned {after}"
            if not math.isfinite(after):  # unknown: fail closed
                _reason(reasons, "var_budget", None, lim, f"VaR after the order is unknown ({why}): rejected")
                after = -math.inf  # reported above
        elif state.marginal_var is not None and before is not None:
            try:
                mvar = state.marginal_var[inst]
            except (KeyError, IndexError, TypeError):
                raise InvalidInput(f"no marginal VaR for instrument {inst!r}",
                                   field="portfolio_state.marginal_var") from None
            after = before + mvar * q * mark
        else:
            raise InvalidInput("var_budget needs portfolio_state.var_fn or var + marginal_var",
                               field="portfolio_state.var_fn")
        if after > lim and (before is None or after > before):
            _reason(reasons, "var_budget", after, lim, f"VaR after order {after:.2f} exceeds budget {lim:.2f}")

    # ---- rate limit (committed orders only)
    m = limits.max_orders_per_window
    if m is not None:
        checked.append("max_orders_per_window")
        n = state.rate.count(now, limits.rate_window_seconds) + 1
        if n > m:
            _reason(reasons, "max_orders_per_window", n, m,
                    f"{n} orders in {limits.rate_window_seconds:g}s exceeds {m}")

    return Decision(not reasons, reasons, checked)


def utilisation(state: PortfolioState, limits: LimitSet) -> dict[str, float]:
    """How much of each account-level limit the current state uses (value / threshold; 1 = at the limit).

    Covers ``max_gross_exposure``, ``max_net_exposure`` (absolute), ``max_concentration_pct`` (the largest
    position), ``var_budget`` (needs ``state.var``), ``daily_loss_halt`` (a loss only) and ``drawdown_halt``.
    A zero threshold with a positive value reports ``inf``.
    """

    def ratio(value: float, threshold: float) -> float:
        return value / threshold if threshold > 0 else (math.inf if value > 0 else 0.0)

    out: dict[str, float] = {}
    if limits.max_gross_exposure is not None:
        out["max_gross_exposure"] = ratio(state.gross_exposure, limits.max_gross_exposure)
    if limits.max_net_exposure is not None:
        out["max_net_exposure"] = ratio(abs(state.net_exposure), limits.max_net_exposure)
    if limits.max_concentration_pct is not None and state.equity > 0:
        largest = max((abs(q * state.prices.get(k, 0.0)) for k, q in state.positions.items()), default=0.0)
        out["max_concentration_pct"] = ratio(100.0 * largest / state.equity, limits.max_concentration_pct)
    if limits.var_budget is not None and state.var is not None:
        out["var_budget"] = ratio(state.var, limits.var_budget)
    if limits.daily_loss_halt is not None:
        out["daily_loss_halt"] = ratio(max(0.0, -state.daily_pnl), limits.daily_loss_halt)
    if limits.drawdown_halt is not None:
        peak = state.peak_equity if state.peak_equity is not None else state.equity
        out["drawdown_halt"] = ratio(max(0.0, (peak - state.equity) / peak) if peak > 0 else 0.0,
                                     limits.drawdown_halt)
    return out
