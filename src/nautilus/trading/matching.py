"""The simulated matching engine: one working order against one bar (or one quote). Pure, no I/O.

Clock
-----
Bars carry their *open* time (int64 ns UTC). The feed's clock for an instrument is the open time of the
last bar processed for it. An order submitted when that clock reads ``T`` becomes eligible on the first
later bar whose open time is ``>= T + 1 + latency_ns`` (with no bar seen yet, on the next bar): a market
order placed after seeing bar ``t`` fills at the open of bar ``t+1``, as in the backtester.

Fill rules (``side`` = +1 buy, -1 sell; ``s = slippage_bps / 1e4``)
------------------------------------------------------------------
* **market**: at the bar's open, slipped against the trader (buy ``open * (1 + s)``, sell ``open * (1 - s)``).
* **limit** (price ``L``): buy fills at the open when ``open <= L``, else at ``L`` when ``low <= L``; sells
  mirror it (``open >= L`` / ``high >= L``). Limit fills are not slipped (they fill at the limit or better).
* **stop** (trigger ``S``): a buy triggers when ``open >= S`` (fills at the open, slipped) or when
  ``high >= S`` (fills at ``S``, slipped); sells mirror it with ``<=`` and ``low``.
* **stop_limit** (``S``, ``L``): triggers like a stop, then works as a limit order at ``L``. Triggered at the
  open it may fill at once by the limit rule; triggered inside the bar it fills in the same bar only when
  the trigger price itself satisfies the limit (buy ``S <= L``; fill at ``S``), else it rests as a limit
  order from the next bar (we cannot know the path inside a bar).
* Quotes: a market buy fills at the ask, a sell at the bid (no further slippage); a limit buy fills at
  the ask when ``ask <= L``; stops trigger on the ask (buys) / bid (sells).

Quantity, partial fills and time in force
-----------------------------------------
``max_participation`` (fraction of the bar's volume, ``None`` = unlimited) caps what all orders of the
instrument may fill in one bar; the caller passes the volume still available. An order whose remaining
quantity exceeds it fills partially and keeps working (GTC/DAY). ``IOC`` fills what it can on its first
eligible bar and cancels the rest; ``FOK`` fills completely on its first eligible bar or is cancelled.
``DAY`` orders expire when a bar of a later UTC date than the submission arrives (before matching).

Fees: ``|notional| * fee_bps / 1e4`` per fill plus ``fixed_fee`` once per order (on its first fill).
Orders sized as ``equity_pct`` resolve their units at the fill: ``(pct * equity - fixed_fee) /
(1 + fee_rate) / fill_price``, with ``equity`` marked at the fill's base (un-slipped) price (the
backtester's ``percent_equity`` rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NS_PER_DAY = 86_400 * 1_000_000_000
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
TIME_IN_FORCE = ("GTC", "DAY", "IOC", "FOK")


@dataclass(frozen=True, slots=True)
class FillConfig:
    slippage_bps: float = 0.0
    fee_bps: float = 0.0
    fixed_fee: float = 0.0
    latency_ms: float = 0.0
    max_participation: float | None = None  # fraction of bar volume all orders may fill, None = unlimited


@dataclass(slots=True)
class WorkingOrder:
    """The matching state of one order (the engine persists the rest)."""

    id: int
    side: int  # +1 buy, -1 sell
    type: str
    quantity: float  # units (resolved at the first fill for equity_pct orders)
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "GTC"
    eligible_ns: int = 0  # first bar open time that may fill it
    day: int = 0  # UTC day number of submission (DAY orders)
    filled: float = 0.0
    triggered: bool = False
    fees_paid: bool = False  # the fixed fee is charged on the first fill
    equity_pct: float | None = None  # quantity is a fraction of equity, resolved at the fill

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled


@dataclass(frozen=True, slots=True)
class Bar:
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float = math.inf


@dataclass(frozen=True, slots=True)
class Quote:
    ts: int
    bid: float
    ask: float
    bid_size: float = math.inf
    ask_size: float = math.inf


@dataclass(frozen=True, slots=True)
class Fill:
    quantity: float  # unsigned units
    price: float
    fee: float
    base_price: float  # the un-slipped price the fill was made against


@dataclass(slots=True)
class Outcome:
    """What happened to an order on one bar: its fills and its status afterwards."""

    fills: list[Fill] = field(default_factory=list)
    status: str = "open"  # open | partially_filled | filled | cancelled | expired
    reason: str | None = None


def eligible_from(clock_ns: int | None, latency_ms: float) -> int:
    """First bar open time that may fill an order submitted when the feed's clock read ``clock_ns``."""
    base = 0 if clock_ns is None else clock_ns + 1
    return base + int(round(latency_ms * 1e6))


def _limit_price(order: WorkingOrder, bar: Bar) -> float | None:
    """The price a limit order fills at on this bar, or None."""
    lim = order.limit_price
    assert lim is not None
    if order.side > 0:
        return bar.open if bar.open <= lim else (lim if bar.low <= lim else None)
    return bar.open if bar.open >= lim else (lim if bar.high >= lim else None)


def _stop_trigger(order: WorkingOrder, bar: Bar) -> tuple[bool, bool]:
    """(triggered, at the open)."""
    stop = order.stop_price
    assert stop is not None
    if order.side > 0:
        return (bar.open >= stop or bar.high >= stop), bar.open >= stop
    return (bar.open <= stop or bar.low <= stop), bar.open <= stop


def bar_price(order: WorkingOrder, bar: Bar) -> tuple[float | None, bool]:
    """(base fill price or None, slipped?) of ``order`` on ``bar``; marks a stop order triggered."""
    if order.type == "market":
        return bar.open, True
    if order.type == "limit":
        return _limit_price(order, bar), False
    stop = order.stop_price
    assert stop is not None
    if not order.triggered:
        hit, at_open = _stop_trigger(order, bar)
        if not hit:
            return None, False
        order.triggered = True
        if order.type == "stop":
            return (bar.open if at_open else stop), True
        if at_open:
            return _limit_price(order, bar), False
        lim = order.limit_price
        assert lim is not None
        within = stop <= lim if order.side > 0 else stop >= lim
        return (stop if within else None), False
    if order.type == "stop":  # triggered earlier but not filled (participation): a market order now
        return bar.open, True
    return _limit_price(order, bar), False


def quote_price(order: WorkingOrder, bid: float, ask: float) -> float | None:
    """The price ``order`` fills at against a quote, or None (marks a stop order triggered)."""
    touch = ask if order.side > 0 else bid
    if order.type in ("stop", "stop_limit") and not order.triggered:
        stop = order.stop_price
        assert stop is not None
        if (order.side > 0 and touch >= stop) or (order.side < 0 and touch <= stop):
            order.triggered = True
        else:
            return None
    if order.type in ("market", "stop"):
        return touch
    lim = order.limit_price
    assert lim is not None
    ok = touch <= lim if order.side > 0 else touch >= lim
    return touch if ok else None


def resolve_units(order: WorkingOrder, equity: float, fill_price: float, cfg: FillConfig) -> float:
    """Units of an ``equity_pct`` order at this fill (0 when the result is not positive and finite)."""
    assert order.equity_pct is not None
    fee = cfg.fee_bps / 1e4
    units = (order.equity_pct * equity - cfg.fixed_fee) / (1.0 + fee) / fill_price
    return units if math.isfinite(units) and units > 0 else 0.0


def execute(order: WorkingOrder, base: float | None, slipped: bool, cfg: FillConfig, available: float,
            equity: float | None = None) -> Outcome:
    """Fill ``order`` at base price ``base`` (None: no fill on this bar) up to ``available`` units.

    ``equity`` (marked at ``base``) is required for an unresolved ``equity_pct`` order. Applies IOC/FOK.
    """
    out = Outcome()
    if base is not None:
        s = cfg.slippage_bps / 1e4 if slipped else 0.0
        price = base * (1.0 + s) if order.side > 0 else base * (1.0 - s)
        if order.equity_pct is not None and order.quantity == 0.0 and order.filled == 0.0:
            assert equity is not None, "equity_pct orders need the account equity at the fill"
            order.quantity = resolve_units(order, equity, price, cfg)
            if order.quantity == 0.0:
                out.status, out.reason = "cancelled", "equity_pct sizing gave no units (equity too small)"
                return out
        qty = min(order.remaining, max(available, 0.0))
        if order.tif == "FOK" and qty < order.remaining:
            out.status, out.reason = "cancelled", "FOK: not enough volume to fill the whole order"
            return out
        if qty > 0:
            fee = abs(qty * price) * cfg.fee_bps / 1e4 + (0.0 if order.fees_paid else cfg.fixed_fee)
            order.fees_paid = True
            order.filled += qty
            out.fills.append(Fill(qty, price, fee, base))
    if order.remaining <= 1e-12 * max(1.0, abs(order.quantity)) and order.quantity > 0:
        out.status = "filled"
    elif order.tif in ("IOC", "FOK"):
        out.status = "cancelled"
        out.reason = f"{order.tif}: unfilled remainder cancelled"
    else:
        out.status = "partially_filled" if order.filled > 0 else "open"
    return out


def expired(order: WorkingOrder, bar_ts: int) -> bool:
    """Whether a DAY order is past its day when ``bar_ts`` arrives."""
    return order.tif == "DAY" and bar_ts // NS_PER_DAY > order.day


def participation_cap(cfg: FillConfig, volume: float) -> float:
    """Units all orders of an instrument may fill on a bar of ``volume``."""
    if cfg.max_participation is None or not math.isfinite(volume):
        return math.inf
    return max(volume, 0.0) * cfg.max_participation


def decide(position: float, long_entry: bool, long_exit: bool, short_entry: bool, short_exit: bool) -> tuple[str, ...]:
    """The orders a signal bar asks for, by the backtester's rules (no accumulation, no time exits).

    Conflicting signals cancel (entry and exit of one side, or both entries). Long: a short entry
    reverses (``exit`` then ``short``), else a long exit exits. Short mirrors it. Flat: a long entry,
    else a short entry, opens. Returns a tuple of ``"exit"``, ``"long"``, ``"short"``.
    """
    if long_entry and long_exit:
        long_entry = long_exit = False
    if short_entry and short_exit:
        short_entry = short_exit = False
    if long_entry and short_entry:
        long_entry = short_entry = False
    if position > 0:
        return ("exit", "short") if short_entry else ("exit",) if long_exit else ()
    if position < 0:
        return ("exit", "long") if long_entry else ("exit",) if short_exit else ()
    return ("long",) if long_entry else ("short",) if short_entry else ()
