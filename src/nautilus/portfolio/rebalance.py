"""Rebalancing: target weights -> orders, and positions -> current weights (pure).

Conventions
- ``positions``: signed units per instrument; ``prices``: one positive price per instrument (same currency);
  ``equity`` = ``cash + sum(units * price)`` unless given.
- Target units = ``w * equity / price``; an instrument held but absent from ``targets`` has target 0.
  Weights need not sum to 1 (the rest stays as cash).
- ``lot_size`` (global or per instrument) rounds each trade to the nearest multiple of the lot; trades whose
  notional ``|units * price|`` is below ``min_notional`` are dropped.
- Orders come sells first (most negative notional first), then buys; units are signed (+ buy, - sell).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nautilus.core.errors import InvalidInput


@dataclass(frozen=True)
class RebalanceOrder:
    instrument: str
    units: float
    price: float

    @property
    def side(self) -> str:
        return "buy" if self.units > 0 else "sell"

    @property
    def notional(self) -> float:
        return self.units * self.price


def _price(prices: Mapping[str, float], sym: str) -> float:
    if sym not in prices:
        raise InvalidInput(f"no price for {sym}", field="prices")
    p = float(prices[sym])
    if not np.isfinite(p) or p <= 0:
        raise InvalidInput(f"price for {sym} must be > 0", field="prices")
    return p


def portfolio_equity(positions: Mapping[str, float], prices: Mapping[str, float], cash: float = 0.0) -> float:
    return float(cash) + sum(float(u) * _price(prices, s) for s, u in positions.items())


def current_weights(
    positions: Mapping[str, float], prices: Mapping[str, float], equity: float | None = None, cash: float = 0.0
) -> dict[str, float]:
    """``units * price / equity`` per instrument."""
    eq = portfolio_equity(positions, prices, cash) if equity is None else float(equity)
    if not np.isfinite(eq) or eq <= 0:
        raise InvalidInput("equity must be > 0", field="equity")
    return {s: float(u) * _price(prices, s) / eq for s, u in positions.items()}


def rebalance_orders(
    targets: Mapping[str, float],
    positions: Mapping[str, float],
    prices: Mapping[str, float],
    equity: float | None = None,
    cash: float = 0.0,
    lot_size: float | Mapping[str, float] | None = None,
    min_notional: float = 0.0,
) -> list[RebalanceOrder]:
    """Orders that move ``positions`` to ``targets`` weights; see the module docstring."""
    eq = portfolio_equity(positions, prices, cash) if equity is None else float(equity)
    if not np.isfinite(eq) or eq <= 0:
        raise InvalidInput("equity must be > 0", field="equity")
    if not np.isfinite(min_notional) or min_notional < 0:
        raise InvalidInput("min_notional must be >= 0", field="min_notional")
    orders = []
    for sym in list(dict.fromkeys([*targets, *positions])):
        w = float(targets.get(sym, 0.0))
        if not np.isfinite(w):
            raise InvalidInput(f"target weight for {sym} must be finite", field="targets")
        p = _price(prices, sym)
        delta = w * eq / p - float(positions.get(sym, 0.0))
        lot = lot_size.get(sym) if isinstance(lot_size, Mapping) else lot_size
        if lot is not None:
            lot = float(lot)
            if not np.isfinite(lot) or lot <= 0:
                raise InvalidInput(f"lot_size for {sym} must be > 0", field="lot_size")
            delta = round(delta / lot) * lot
        if delta == 0 or abs(delta * p) < min_notional or abs(delta * p) < 1e-9 * eq:
            continue
        orders.append(RebalanceOrder(sym, float(delta), p))
    return sorted(orders, key=lambda o: (o.units > 0, o.notional))
