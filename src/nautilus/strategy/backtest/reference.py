"""Independent event-loop backtester, used only by tests to cross-check the numba kernel.

Plain Python, one column, bar by bar: the strategy turns each bar's signals into an ``Order`` object
that a ``Broker`` fills on the next bar; the broker owns cash, the open ``Position`` and the list of
closed ``Trade`` objects. It implements the rules documented in ``kernel.py`` / ``config.py`` without
sharing any code with the kernel (no numpy in the loop), so agreement to the cent on random inputs
is evidence that both follow the written semantics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nautilus.strategy.backtest.config import BacktestConfig


@dataclass
class Order:
    action: str  # "open_long" | "open_short" | "close" | "add"
    reason: str = "signal"
    signal_bar: int = 0


@dataclass
class Position:
    direction: int  # +1 long, -1 short
    units: float
    first_bar: int
    last_entry_bar: int
    entry_value: float = 0.0
    entry_units: float = 0.0
    exit_value: float = 0.0
    fees: float = 0.0
    notional: float = 0.0
    extreme: float = 0.0  # highest high (long) / lowest low (short) seen, for the trailing stop

    def average_entry(self) -> float:
        return self.entry_value / self.entry_units


@dataclass
class Trade:
    direction: int
    entry_idx: int
    exit_idx: int
    entry_price: float
    exit_price: float
    size: float
    fees: float
    pnl: float
    ret: float
    exit_reason: str
    notional: float

    def as_dict(self) -> dict:
        return {"direction": self.direction, "entry_idx": self.entry_idx, "exit_idx": self.exit_idx,
                "entry_price": self.entry_price, "exit_price": self.exit_price, "size": self.size,
                "fees": self.fees, "pnl": self.pnl, "return": self.ret, "exit_reason": self.exit_reason,
                "notional": self.notional}


@dataclass
class Broker:
    cfg: BacktestConfig
    cash: float
    position: Position | None = None
    trades: list[Trade] = field(default_factory=list)

    # ---- prices and fees -------------------------------------------------------------------------
    def buy_price(self, price: float) -> float:
        return price * (1.0 + self.cfg.slippage_bps / 10_000.0)

    def sell_price(self, price: float) -> float:
        return price * (1.0 - self.cfg.slippage_bps / 10_000.0)

    def fee(self, notional: float) -> float:
        return notional * (self.cfg.fees_bps / 10_000.0) + self.cfg.fixed_fee

    def equity_at(self, price: float) -> float:
        if self.position is None:
            return self.cash
        return self.cash + self.position.direction * self.position.units * price

    # ---- orders ----------------------------------------------------------------------------------
    def open_or_add(self, direction: int, units: float, price: float, bar: int) -> None:
        fill = self.buy_price(price) if direction > 0 else self.sell_price(price)
        notional = units * fill
        fee = self.fee(notional)
        if direction > 0:
            self.cash -= notional
        else:
            self.cash += notional
        self.cash -= fee
        pos = self.position
        if pos is None:
            pos = Position(direction=direction, units=0.0, first_bar=bar, last_entry_bar=bar, extreme=fill)
            self.position = pos
        elif direction > 0:
            pos.extreme = max(pos.extreme, fill)
        else:
            pos.extreme = min(pos.extreme, fill)
        pos.units += units
        pos.last_entry_bar = bar
        pos.entry_value += notional
        pos.entry_units += units
        pos.fees += fee
        pos.notional += notional

    def reduce(self, units: float, price: float) -> None:
        pos = self.position
        fill = self.sell_price(price) if pos.direction > 0 else self.buy_price(price)
        notional = units * fill
        fee = self.fee(notional)
        if pos.direction > 0:
            self.cash += notional
        else:
            self.cash -= notional
        self.cash -= fee
        pos.units -= units
        pos.exit_value += notional
        pos.fees += fee
        pos.notional += notional

    def close(self, price: float, bar: int, reason: str) -> None:
        pos = self.position
        self.reduce(pos.units, price)
        self.trades.append(self._trade(pos, bar, pos.exit_value, reason))
        self.position = None

    def open_trade(self, last_close: float, last_bar: int) -> Trade | None:
        pos = self.position
        if pos is None:
            return None
        return self._trade(pos, last_bar, pos.exit_value + pos.units * last_close, "open")

    @staticmethod
    def _trade(pos: Position, bar: int, exit_value: float, reason: str) -> Trade:
        pnl = pos.direction * (exit_value - pos.entry_value) - pos.fees
        return Trade(direction=pos.direction, entry_idx=pos.first_bar, exit_idx=bar,
                     entry_price=pos.entry_value / pos.entry_units, exit_price=exit_value / pos.entry_units,
                     size=pos.entry_units, fees=pos.fees, pnl=pnl, ret=pnl / pos.entry_value,
                     exit_reason=reason, notional=pos.notional)


def _realised_vol(close: list[float], lookback: int, periods_per_year: float) -> list[float]:
    vols = [math.nan] * len(close)
    rets = [math.nan] + [math.log(close[i] / close[i - 1]) for i in range(1, len(close))]
    for t in range(lookback, len(close)):
        window = rets[t - lookback + 1:t + 1]
        mean = sum(window) / lookback
        var = sum((x - mean) ** 2 for x in window) / (lookback - 1)
        vols[t] = math.sqrt(var) * math.sqrt(periods_per_year)
    return vols


def _units_for_entry(cfg: BacktestConfig, equity: float, fill: float, vol: float) -> float:
    fee_rate = cfg.fees_bps / 10_000.0
    if cfg.size_type == "fixed":
        return cfg.size
    if cfg.size_type == "value":
        return cfg.size / fill
    if cfg.size_type == "vol_target":
        if math.isnan(vol):
            return 0.0
        fraction = cfg.max_leverage if vol == 0.0 else min(cfg.size / vol, cfg.max_leverage)
    else:
        fraction = cfg.size
    spend = (fraction * equity - cfg.fixed_fee) / (1.0 + fee_rate)
    return spend / fill


def _stop_exit(cfg: BacktestConfig, pos: Position, o: float, h: float, l: float) -> tuple[float, str] | None:
    """Where the position's stops take it out in this bar, as (base price, reason), or None."""
    avg = pos.average_entry()
    if pos.direction > 0:
        candidates = []
        if cfg.stop_loss is not None:
            candidates.append((avg * (1.0 - cfg.stop_loss), "stop_loss"))
        if cfg.trailing_stop is not None:
            candidates.append((pos.extreme * (1.0 - cfg.trailing_stop), "trailing_stop"))
        stop = None
        for level, reason in candidates:  # the tighter (higher) stop wins; ties go to the stop-loss
            if stop is None or level > stop[0]:
                stop = (level, reason)
        take = avg * (1.0 + cfg.take_profit) if cfg.take_profit is not None else None
        if stop is not None and o <= stop[0]:
            return o, stop[1]
        if take is not None and o >= take:
            return o, "take_profit"
        if stop is not None and l <= stop[0]:
            return stop
        if take is not None and h >= take:
            return take, "take_profit"
        return None
    candidates = []
    if cfg.stop_loss is not None:
        candidates.append((avg * (1.0 + cfg.stop_loss), "stop_loss"))
    if cfg.trailing_stop is not None:
        candidates.append((pos.extreme * (1.0 + cfg.trailing_stop), "trailing_stop"))
    stop = None
    for level, reason in candidates:  # the tighter (lower) stop wins
        if stop is None or level < stop[0]:
            stop = (level, reason)
    take = avg * (1.0 - cfg.take_profit) if cfg.take_profit is not None else None
    if stop is not None and o >= stop[0]:
        return o, stop[1]
    if take is not None and o <= take:
        return o, "take_profit"
    if stop is not None and h >= stop[0]:
        return stop
    if take is not None and l <= take:
        return take, "take_profit"
    return None


def _as_list(values, n: int, default):
    if values is None:
        return [default] * n
    return [v.item() if hasattr(v, "item") else v for v in values]


def reference_signals(open_, high, low, close, cfg: BacktestConfig, entries=None, exits=None,
                      short_entries=None, short_exits=None, max_hold: int | None = None) -> dict:
    """One column of the signal backtest; inputs map to sides exactly as ``run_signals`` documents."""
    n = len(close)
    o, h, l, c = (_as_list(x, n, 0.0) for x in (open_, high, low, close))
    le = lx = se = sx = None
    if cfg.direction == "long":
        le, lx = entries, exits
    elif cfg.direction == "short":
        if short_entries is not None or short_exits is not None:
            se, sx = short_entries, short_exits
        else:
            se, sx = entries, exits
    elif short_entries is not None or short_exits is not None:
        le, lx, se, sx = entries, exits, short_entries, short_exits
    else:
        le, se = entries, exits
    le, lx, se, sx = (_as_list(x, n, False) for x in (le, lx, se, sx))
    hold = max_hold if max_hold is not None else cfg.max_hold
    vols = _realised_vol(c, cfg.vol_lookback, cfg.periods_per_year) if cfg.size_type == "vol_target" else None
    broker = Broker(cfg=cfg, cash=cfg.init_cash)
    equity: list[float] = []
    exposure: list[bool] = []
    pending: Order | None = None

    def fill(order: Order, price: float, bar: int) -> None:
        pos = broker.position
        if order.action == "close":
            if pos is not None:
                broker.close(price, bar, order.reason)
            return
        vol = vols[order.signal_bar] if vols is not None else 0.0
        if order.action == "add":
            if pos is not None:
                f = broker.buy_price(price) if pos.direction > 0 else broker.sell_price(price)
                units = _units_for_entry(cfg, broker.equity_at(price), f, vol)
                if 0.0 < units < math.inf:
                    broker.open_or_add(pos.direction, units, price, bar)
            return
        direction = 1 if order.action == "open_long" else -1
        if pos is not None and pos.direction != direction:
            broker.close(price, bar, "signal")
        if broker.position is None:
            f = broker.buy_price(price) if direction > 0 else broker.sell_price(price)
            units = _units_for_entry(cfg, broker.cash, f, vol)
            if 0.0 < units < math.inf:
                broker.open_or_add(direction, units, price, bar)

    for t in range(n):
        if cfg.execution == "next_open" and pending is not None:
            fill(pending, o[t], t)
            pending = None
        pos = broker.position
        if pos is not None and t > pos.last_entry_bar and (
                cfg.stop_loss is not None or cfg.take_profit is not None or cfg.trailing_stop is not None):
            hit = _stop_exit(cfg, pos, o[t], h[t], l[t])
            if hit is not None:
                broker.close(hit[0], t, hit[1])
            elif pos.direction > 0:
                pos.extreme = max(pos.extreme, h[t])
            else:
                pos.extreme = min(pos.extreme, l[t])
        if cfg.execution == "next_close" and pending is not None:
            fill(pending, c[t], t)
            pending = None
        equity.append(broker.equity_at(c[t]))
        exposure.append(broker.position is not None)
        if t == n - 1:
            break
        long_in, long_out, short_in, short_out = le[t], lx[t], se[t], sx[t]
        if long_in and long_out:
            long_in = long_out = False
        if short_in and short_out:
            short_in = short_out = False
        if long_in and short_in:
            long_in = short_in = False
        pos = broker.position
        if pos is None:
            if long_in:
                pending = Order("open_long", signal_bar=t)
            elif short_in:
                pending = Order("open_short", signal_bar=t)
            continue
        held = t - pos.first_bar + 1
        timed_out = hold is not None and hold > 0 and held >= hold
        if pos.direction > 0:
            opposite, own_exit, own_entry = short_in, long_out, long_in
        else:
            opposite, own_exit, own_entry = long_in, short_out, short_in
        if opposite:
            pending = Order("open_short" if pos.direction > 0 else "open_long", signal_bar=t)
        elif own_exit:
            pending = Order("close", "signal", t)
        elif timed_out:
            pending = Order("close", "time", t)
        elif own_entry and cfg.accumulate:
            pending = Order("add", signal_bar=t)

    trades = [tr.as_dict() for tr in broker.trades]
    last = broker.open_trade(c[-1], n - 1) if n else None
    if last is not None:
        trades.append(last.as_dict())
    return {"trades": trades, "equity": equity, "in_position": exposure}


def reference_targets(open_, close, targets, cfg: BacktestConfig) -> dict:
    """One column of the target-position backtest (see ``kernel.py`` for the rebalancing rules)."""
    n = len(close)
    o, c = _as_list(open_, n, 0.0), _as_list(close, n, 0.0)
    w_list = _as_list(targets, n, math.nan)
    broker = Broker(cfg=cfg, cash=cfg.init_cash)
    equity: list[float] = []
    exposure: list[bool] = []
    for t in range(n):
        if t > 0 and not math.isnan(w_list[t - 1]):
            w = w_list[t - 1]
            if (cfg.direction == "long" and w < 0) or (cfg.direction == "short" and w > 0):
                w = 0.0
            price = o[t] if cfg.execution == "next_open" else c[t]
            _rebalance(broker, w, price, t)
        equity.append(broker.equity_at(c[t]))
        exposure.append(broker.position is not None)
    trades = [tr.as_dict() for tr in broker.trades]
    last = broker.open_trade(c[-1], n - 1) if n else None
    if last is not None:
        trades.append(last.as_dict())
    return {"trades": trades, "equity": equity, "in_position": exposure}


def _rebalance(broker: Broker, w: float, price: float, bar: int) -> None:
    pos = broker.position
    if w == 0.0:
        if pos is not None:
            broker.close(price, bar, "signal")
        return
    eq = broker.equity_at(price)
    if eq <= 0:
        return
    current_units = 0.0 if pos is None else pos.direction * pos.units
    if abs(w - current_units * price / eq) < broker.cfg.rebalance_threshold:
        return
    wanted = w * eq / price
    if pos is not None and (wanted > 0) != (pos.direction > 0):
        broker.close(price, bar, "signal")
        pos = None
    if pos is None:
        broker.open_or_add(1 if wanted > 0 else -1, abs(wanted), price, bar)
    elif abs(wanted) > pos.units:
        broker.open_or_add(pos.direction, abs(wanted) - pos.units, price, bar)
    elif abs(wanted) < pos.units:
        broker.reduce(pos.units - abs(wanted), price)
