"""Backtest configuration: one validated ``msgspec`` struct shared by the kernel and the reference.

Every field is checked in ``__post_init__`` (so direct construction and ``from_dict`` both validate)
and a bad value raises :class:`nautilus.core.errors.InvalidInput` naming the field.

Fields
------
``init_cash``          starting cash (> 0).
``fees_bps``           proportional fee on every fill, in basis points of the fill's notional.
``fixed_fee``          fixed fee per order (an entry, an exit, a stop fill, a rebalance: each is one
                       order; a reversal is two orders, exit then entry).
``slippage_bps``       every fill is moved against you: buys at ``price * (1 + s)``, sells at
                       ``price * (1 - s)`` with ``s = slippage_bps / 1e4`` (stop fills included).
``size_type`` / ``size``
    ``"percent_equity"`` (default, ``size=1.0`` = 100 %): the entry's notional plus its fees equal
    ``size * equity`` at the fill, i.e. ``notional = (size * equity - fixed_fee) / (1 + fee_rate)``.
    ``"fixed"``: ``size`` units. ``"value"``: ``size`` of cash notional per entry (fees on top).
    ``"vol_target"``: ``size`` is the target annualised volatility; leverage
    ``min(size / realised_vol, max_leverage)`` replaces the percentage above. ``realised_vol`` is the
    sample std (ddof=1) of the last ``vol_lookback`` close-to-close log returns up to the signal bar,
    times ``sqrt(periods_per_year)``; no entry while it is undefined (too little history); zero
    volatility gives ``max_leverage``.
``direction``          ``"long"`` | ``"short"`` | ``"both"`` (opposite entries reverse the position).
``stop_loss`` / ``take_profit`` / ``trailing_stop``
                       fractions of the entry price (``None`` = off); see ``kernel`` for the rules.
``max_hold``           time exit: leave after the position has been held over this many bar closes
                       (``None`` = off). Strategies such as ``candle_pattern`` set it per column.
``execution``          ``"next_open"`` (default): a signal at bar ``t`` fills at the open of ``t+1``;
                       ``"next_close"``: at the close of ``t+1``.
``periods_per_year``   bars per year for annualisation. :func:`config_for` derives it from the instrument's
                       trading calendar and the timeframe (:func:`nautilus.core.calendars.periods_per_year`,
                       the platform's one source) unless the caller gives it; 252 for a bare config.
``calendar``           the calendar it was derived from (``None`` when given or bare).
``periods_per_year_source``  ``"calendar"`` (derived) or ``"given"`` (the caller's value won).
``accumulate``         ``False`` (default): one position at a time per column; entry signals while in
                       a position are ignored. ``True``: each further entry adds a new slice sized
                       like a first entry (with the equity at that fill).
``rebalance_threshold`` target-position mode only: skip a rebalance whose weight change is below
                       this fraction of equity (moving to a zero target always executes).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from nautilus.core.errors import InvalidInput

SIZE_TYPES = ("percent_equity", "fixed", "value", "vol_target")
DIRECTIONS = ("long", "short", "both")
EXECUTIONS = ("next_open", "next_close")
PPY_SOURCES = ("given", "calendar")


def _number(name: str, value: Any, *, low: float | None = None, low_open: bool = False,
            high: float | None = None, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r}", field=name)
    v = float(value)
    if not math.isfinite(v):
        raise InvalidInput(f"{name} must be finite, got {value!r}", field=name)
    if low is not None and (v <= low if low_open else v < low):
        raise InvalidInput(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}", field=name)
    if high is not None and (v >= high if high_open else v > high):
        raise InvalidInput(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value!r}", field=name)
    return v


def _integer(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidInput(f"{name} must be an integer, got {value!r}", field=name)
    if value < low:
        raise InvalidInput(f"{name} must be >= {low}, got {value!r}", field=name)
    return int(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}; got {value!r}", field=name)
    return value


class BacktestConfig(msgspec.Struct, kw_only=True):
    init_cash: float = 100_000.0
    fees_bps: float = 0.0
    fixed_fee: float = 0.0
    slippage_bps: float = 0.0
    size_type: str = "percent_equity"
    size: float = 1.0
    vol_lookback: int = 20
    max_leverage: float = 1.0
    direction: str = "long"
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_hold: int | None = None
    execution: str = "next_open"
    periods_per_year: float = 252.0
    calendar: str | None = None
    periods_per_year_source: str = "given"
    accumulate: bool = False
    rebalance_threshold: float = 0.0

    def __post_init__(self) -> None:
        self.init_cash = _number("init_cash", self.init_cash, low=0.0, low_open=True)
        self.fees_bps = _number("fees_bps", self.fees_bps, low=0.0, high=10_000.0, high_open=True)
        self.fixed_fee = _number("fixed_fee", self.fixed_fee, low=0.0)
        self.slippage_bps = _number("slippage_bps", self.slippage_bps, low=0.0, high=10_000.0, high_open=True)
        self.size_type = _choice("size_type", self.size_type, SIZE_TYPES)
        self.size = _number("size", self.size, low=0.0, low_open=True)
        self.vol_lookback = _integer("vol_lookback", self.vol_lookback, low=2)
        self.max_leverage = _number("max_leverage", self.max_leverage, low=0.0, low_open=True)
        self.direction = _choice("direction", self.direction, DIRECTIONS)
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _number(name, value, low=0.0, low_open=True))
        if self.max_hold is not None:
            self.max_hold = _integer("max_hold", self.max_hold, low=1)
        self.execution = _choice("execution", self.execution, EXECUTIONS)
        self.periods_per_year = _number("periods_per_year", self.periods_per_year, low=0.0, low_open=True)
        self.periods_per_year_source = _choice("periods_per_year_source", self.periods_per_year_source,
                                               PPY_SOURCES)
        if self.calendar is not None:
            from nautilus.core.calendars import check_calendar

            self.calendar = check_calendar(self.calendar)
        if not isinstance(self.accumulate, bool):
            raise InvalidInput(f"accumulate must be true or false, got {self.accumulate!r}", field="accumulate")
        self.rebalance_threshold = _number("rebalance_threshold", self.rebalance_threshold, low=0.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BacktestConfig:
        """Build from a JSON-like dict; unknown keys and bad values raise InvalidInput with the field."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__struct_fields__))
        if unknown:
            raise InvalidInput(f"unknown config field {unknown[0]!r}", field=unknown[0])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)

    def replace(self, **changes: Any) -> BacktestConfig:
        return msgspec.structs.replace(self, **changes)  # __post_init__ validates again

    @property
    def fee_rate(self) -> float:
        return self.fees_bps / 1e4

    @property
    def slippage(self) -> float:
        return self.slippage_bps / 1e4


def resolve_periods_per_year(timeframe: str | None = None, *, calendar: str | None = None,
                             symbol: str | None = None, asset_class: str | None = None,
                             periods_per_year: float | None = None) -> dict[str, Any]:
    """How a statistic is annualised, everywhere on the platform (backtests, analytics, portfolio, CLI):
    ``{"periods_per_year", "calendar", "timeframe", "source"}``.

    A caller's ``periods_per_year`` wins (``source="given"``); otherwise it is
    :func:`nautilus.core.calendars.periods_per_year` of the calendar (``calendar``, else the instrument's
    :func:`~nautilus.core.calendars.calendar_for`, else the default equity calendar) and the timeframe
    (``"1d"`` when none is known), ``source="calendar"``. Bad values raise InvalidInput naming the field."""
    from nautilus.core import calendars

    if periods_per_year is not None:
        ppy = _number("periods_per_year", periods_per_year, low=0.0, low_open=True)
        cal = calendars.check_calendar(calendar) if calendar else None
        return {"periods_per_year": ppy, "calendar": cal, "timeframe": timeframe, "source": "given"}
    if calendar:
        cal = calendars.check_calendar(calendar)
    elif symbol:
        cal = calendars.calendar_for(symbol, asset_class)
    else:
        cal = calendars.DEFAULT_EQUITY_CALENDAR
    tf = timeframe or "1d"
    return {"periods_per_year": float(calendars.periods_per_year(cal, tf)), "calendar": cal, "timeframe": tf,
            "source": "calendar"}


def panel_calendar(symbols: list[str]) -> str:
    """The calendar of several instruments' aligned returns: their dates are the intersection of their sessions,
    so the calendar with the fewest sessions a year (an exchange before ``24/5`` before ``24/7``)."""
    from nautilus.core import calendars

    found = {calendars.calendar_for(s) for s in symbols} or {calendars.DEFAULT_EQUITY_CALENDAR}
    return min(sorted(found), key=lambda cal: calendars.periods_per_year(cal, "1d"))


def periods_per_year(timeframe: str, symbol: str | None = None, calendar: str | None = None) -> float:
    """Bars per year of ``timeframe`` on the instrument's calendar (see :func:`resolve_periods_per_year`)."""
    return resolve_periods_per_year(timeframe, calendar=calendar, symbol=symbol)["periods_per_year"]


def config_for(data: dict[str, Any] | None, timeframe: str, symbol: str | None = None,
               calendar: str | None = None) -> BacktestConfig:
    """A config from user settings; ``periods_per_year`` follows the instrument's calendar and the bars'
    timeframe unless given (the config then says ``periods_per_year_source="given"``)."""
    data = dict(data or {})
    data.pop("periods_per_year_source", None)  # the platform says where the value came from
    given = data.pop("periods_per_year", None)
    cal = data.pop("calendar", None) or calendar
    how = resolve_periods_per_year(timeframe, calendar=cal, symbol=symbol, periods_per_year=given)
    data.update(periods_per_year=how["periods_per_year"], calendar=how["calendar"],
                periods_per_year_source=how["source"])
    return BacktestConfig.from_dict(data)
