"""Position and cash accounting of fills: average cost, realised and unrealised P&L. Pure, no I/O.

Conventions
-----------
* Quantities are signed units (+ long, - short); a fill is ``(signed quantity, price, fee)``.
* Average cost: adding to a position (or opening one) moves the average entry price to the
  quantity-weighted mean; reducing realises ``(price - avg) * closed_units * sign(position)`` and keeps the
  average; a fill through zero closes the old side at ``price`` and opens the rest at ``price``.
* ``realised_pnl`` is before fees; fees are accumulated separately (``fees``) and cash pays both:
  ``cash -= quantity * price + fee``. Hence equity = cash + sum(position * mark) = initial cash +
  realised + unrealised - fees, an identity the tests check.
* Unrealised P&L of a position marked at ``mark``: ``(mark - avg_price) * quantity``.
"""

from __future__ import annotations

from dataclasses import dataclass

EPS = 1e-12


@dataclass(slots=True)
class PositionState:
    quantity: float = 0.0
    avg_price: float = 0.0
    realised_pnl: float = 0.0
    fees: float = 0.0

    def unrealised(self, mark: float) -> float:
        return (mark - self.avg_price) * self.quantity


def apply_fill(pos: PositionState, quantity: float, price: float, fee: float = 0.0) -> float:
    """Apply a signed fill to ``pos``; returns the P&L it realised (before fees)."""
    q0 = pos.quantity
    pos.fees += fee
    realised = 0.0
    if q0 == 0.0 or (q0 > 0) == (quantity > 0):
        total = q0 + quantity
        pos.avg_price = (pos.avg_price * q0 + price * quantity) / total if abs(total) > EPS else 0.0
        pos.quantity = total
    else:
        closed = min(abs(quantity), abs(q0))
        realised = (price - pos.avg_price) * closed * (1.0 if q0 > 0 else -1.0)
        total = q0 + quantity
        if abs(total) <= EPS * max(1.0, abs(q0)):
            pos.quantity, pos.avg_price = 0.0, 0.0
        elif (total > 0) == (q0 > 0):
            pos.quantity = total
        else:  # flipped: the remainder opens at the fill price
            pos.quantity, pos.avg_price = total, price
    pos.realised_pnl += realised
    return realised


def cash_delta(quantity: float, price: float, fee: float) -> float:
    """Change of cash for a signed fill: pay for buys, receive for sells, always pay the fee."""
    return -quantity * price - fee
