"""The pre-trade side of the Risk engine that runs where the book is: its limits, cached by version, and the
VaR of an order from the stored return history.

The Risk engine owns the limits (:mod:`nautilus.storage.limits`: set, reset, one versioned row per account,
``risk.limits`` on the bus after each change). A checker (the Portfolio engine for its orders, the Risk
engine for ``check-order`` on a book a client pushed) keeps a :class:`LimitsCache`: every check revalidates
the account's entry with one read of its version, and the body is read and parsed again only when the
version moved. An account without limits of its own gets the defaults (setting ``default_limits``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import Counter, Gauge

from nautilus.config import Settings
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NautilusError
from nautilus.engines.risk.messages import LimitBreach, RiskDecision
from nautilus.risk import limits
from nautilus.risk.data import aligned_returns
from nautilus.storage.bars import read_bars
from nautilus.storage.limits import LimitsStore, StoredLimits

if TYPE_CHECKING:
    from nautilus.storage.catalog import BarCatalog

LIMITS_TOPIC = "risk.limits"  # bus: {"kind": "limits", "account", "version", "source"} after every change
DECISIONS = Counter("nautilus_risk_decisions_total", "Pre-trade decisions", ["account", "outcome"])
UTILISATION = Gauge("nautilus_risk_limit_utilisation", "Measured value / limit of an account's limits (1 = at the limit)",
                    ["account", "limit"])


def legacy_limits_file(settings: Settings) -> Path:
    """Where the limits lived before they moved to SQL (imported by whichever engine starts first)."""
    return Path(settings.data_dir) / "risk" / "limits.json"


def limit_set(body: dict[str, Any]) -> limits.LimitSet:
    """The validated limit set of a stored or requested body (``InvalidInput`` naming the field)."""
    fields = {f.name for f in dataclasses.fields(limits.LimitSet)}
    unknown = sorted(set(body) - fields - {"source"})
    if unknown:
        raise InvalidInput(f"unknown limit {unknown[0]!r}", field=unknown[0])
    return limits.LimitSet(**{k: v for k, v in body.items() if v is not None and k != "source"})


def default_body(settings: Settings) -> dict[str, Any]:
    """The limits of every account without its own (setting ``default_limits``)."""
    return {k: v for k, v in (settings.default_limits or {}).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Limits:
    """An account's effective limits: its own (``source`` "account") or the defaults, at ``version``."""

    account: str
    version: int
    limit_set: limits.LimitSet
    source: str


class LimitsCache:
    """Effective limits per account, revalidated by version on every use (see the module's docstring)."""

    def __init__(self, store: LimitsStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._entries: dict[str, Limits] = {}
        self._lock = threading.Lock()

    def current(self, account: str, cursor: Any = None) -> Limits:
        """The account's limits as stored now: one version read on ``cursor`` (an open transaction's, the order's
        own), else in a transaction of its own; the body is read only when the version moved."""
        cached = self._entries.get(account)
        if cursor is not None:
            if cached is not None and self.store.version(cursor, account) == cached.version:
                return cached
            stored = self.store.read(cursor, account)
        else:
            stored = self.store.get(account)
            if cached is not None and stored.version == cached.version:
                return cached
        return self.remember(stored)

    def remember(self, stored: StoredLimits) -> Limits:
        """Resolve a row read from the store and keep it (unless a newer one is kept already)."""
        if stored.body is None:
            try:
                resolved = limit_set(default_body(self.settings))
            except InvalidInput as exc:
                raise InvalidInput(f"setting default_limits: {exc.message}", field="default_limits") from None
            entry = Limits(stored.account, stored.version, resolved, "default")
        else:
            entry = Limits(stored.account, stored.version, limit_set(stored.body), "account")
        with self._lock:
            kept = self._entries.get(stored.account)
            if kept is None or kept.version <= entry.version:
                self._entries[stored.account] = entry
        return entry

    def cached(self, account: str) -> Limits | None:
        """The entry last seen (no read: for the gauges, never for a check)."""
        return self._entries.get(account)


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value  # JSON has no inf


def breaches(result: limits.Decision) -> list[LimitBreach]:
    """The typed reasons of a check (a non-finite measured value, e.g. a percent of zero equity, is None)."""
    return [LimitBreach(limit=r["limit"], value=_number(r["value"]), threshold=_number(r["threshold"]),
                        message=r["message"]) for r in result.reasons]


def decision(result: limits.Decision, source: str) -> RiskDecision:
    """The typed decision of a check against limits of ``source`` (account or default)."""
    return RiskDecision(accepted=result.accepted, reasons=breaches(result), checked=list(result.checked),
                        limits=source)


def with_var(state: limits.PortfolioState, order: limits.Order, limit_set: limits.LimitSet, catalog: BarCatalog,
             max_bars: int) -> limits.PortfolioState:
    """``state`` with ``var`` (the positions now; also kept in ``state`` for the utilisation gauge) and ``var_fn``
    (the VaR after ``order``) for ``var_budget``: the one-day VaR of the position exposures (units x mark) under
    the returns of the last ``var_lookback`` stored bars the instruments share, by ``var_method`` at
    ``var_confidence`` (:func:`nautilus.risk.measures.var_cvar`). A VaR that cannot be computed rejects the
    order (fail closed)."""
    from nautilus.risk import measures

    inst = order.instrument
    mark = state.prices.get(inst, float(order.price))
    after_units = dict(state.positions)
    after_units[inst] = after_units.get(inst, 0.0) + float(order.quantity)
    symbols = sorted({s for s, q in after_units.items() if q} | {s for s, q in state.positions.items() if q})
    marks = {s: (mark if s == inst else state.prices.get(s, 0.0)) for s in symbols}

    def var_of(units: dict, returns: np.ndarray) -> float:
        w = np.array([units.get(s, 0.0) * marks[s] for s in symbols])
        if not w.any():
            return 0.0
        return float(measures.var_cvar(returns, w, limit_set.var_confidence, 1, limit_set.var_method)["var"])

    try:
        series = [read_bars(catalog, normalize_symbol(s), limit_set.var_timeframe, None, None,
                            limit_set.var_lookback + 1, max_bars=max_bars) for s in symbols]
        returns = aligned_returns(series)[1]
        before, after = var_of(state.positions, returns), var_of(after_units, returns)
    except NautilusError as exc:
        message = (f"var_budget needs {limit_set.var_lookback + 1} stored {limit_set.var_timeframe} bars of "
                   f"{', '.join(symbols)}: {exc.message}")
        state.var = None

        def unavailable(_order: limits.Order, _state: limits.PortfolioState) -> float:
            raise limits.VarUnavailable(message)

        return dataclasses.replace(state, var_fn=unavailable)
    state.var = before
    return dataclasses.replace(state, var_fn=lambda _order, _state: after)


def export_utilisation(account: str, state: limits.PortfolioState, limit_set: limits.LimitSet) -> None:
    for name, value in limits.utilisation(state, limit_set).items():
        UTILISATION.labels(account, name).set(value)
