"""Bus topic → WebSocket channel: one documented prefix table, first match wins.

======================================  =====================  ==========================================
bus topic                               channel                what
======================================  =====================  ==========================================
``ml.job.<id>``                         ``jobs.<id>``          training-job progress (ML engine)
``ml.predictions.<name>``               ``signals``            model predictions
``strategy.backtest.done``              ``jobs.backtests``     finished backtests
``portfolio.orders.<account>``          ``orders``             paper orders of every account
``portfolio.fills.<account>``           ``fills``              simulated fills
``portfolio.positions.<account>``       ``positions``          position changes
``portfolio.equity.<account>``          ``equity``             equity / PnL marks
``risk.alerts`` / ``risk.alerts.<x>``   ``risk.alerts``        limit breaches, rejections
``bars.<symbol>``                       ``bars.<symbol>``      live or replayed bars
``signals.<anything>``                  ``signals``            strategy signals
anything else                           the topic itself
======================================  =====================  ==========================================

Channels are dot-separated names; clients subscribe with glob patterns (``bars.*``, ``jobs.*``).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

# (topic prefix, mapper of the remainder after the prefix) — checked in order, first match wins.
Rule = tuple[str, Callable[[str], str | None]]


def _fixed(channel: str) -> Callable[[str], str | None]:
    return lambda rest: channel


def _prefixed(prefix: str) -> Callable[[str], str | None]:
    return lambda rest: f"{prefix}{rest}" if rest else None


RULES: tuple[Rule, ...] = (
    ("ml.job.", _prefixed("jobs.")),
    ("ml.predictions.", _fixed("signals")),
    ("strategy.backtest.done", lambda rest: "jobs.backtests" if rest == "" else None),
    ("portfolio.orders.", _fixed("orders")),
    ("portfolio.fills.", _fixed("fills")),
    ("portfolio.positions.", _fixed("positions")),
    ("portfolio.equity.", _fixed("equity")),
    ("risk.alerts", lambda rest: "risk.alerts" if rest == "" or rest.startswith(".") else None),
    ("bars.", _prefixed("bars.")),
    ("signals.", _fixed("signals")),
)


@lru_cache(maxsize=4096)
def channel_for(topic: str) -> str:
    """The channel a bus topic is delivered on (see the table in the module docstring)."""
    for prefix, mapper in RULES:
        if topic.startswith(prefix):
            channel = mapper(topic[len(prefix):])
            if channel:
                return channel
    return topic


def table() -> list[dict[str, str]]:
    """The prefix table as rows (for docs and ``GET /api/v1/stream/channels``)."""
    return [
        {"topic": "ml.job.<id>", "channel": "jobs.<id>"},
        {"topic": "ml.predictions.<name>", "channel": "signals"},
        {"topic": "strategy.backtest.done", "channel": "jobs.backtests"},
        {"topic": "portfolio.orders.<account>", "channel": "orders"},
        {"topic": "portfolio.fills.<account>", "channel": "fills"},
        {"topic": "portfolio.positions.<account>", "channel": "positions"},
        {"topic": "portfolio.equity.<account>", "channel": "equity"},
        {"topic": "risk.alerts[.<x>]", "channel": "risk.alerts"},
        {"topic": "bars.<symbol>", "channel": "bars.<symbol>"},
        {"topic": "signals.<x>", "channel": "signals"},
        {"topic": "<anything else>", "channel": "<the topic>"},
    ]
