"""Portfolio optimisation and rebalancing (pure library; no I/O).

Entry point: ``optimize(method, returns | (mu, cov), **params) -> OptimizationResult``; see ``optimize.py``
for the conventions, ``estimators.py`` for the estimators, ``rebalance.py`` for orders from target weights.
"""

from nautilus.portfolio.black_litterman import BLPosterior, black_litterman_posterior, market_implied_prior
from nautilus.portfolio.estimators import ledoit_wolf_cov, mean_returns, sample_cov
from nautilus.portfolio.hrp import hrp_weights
from nautilus.portfolio.optimize import (
    METHODS,
    OptimizationResult,
    SolverFailed,
    efficient_frontier,
    make_constraints,
    max_sharpe,
    min_cvar,
    min_variance,
    optimize,
    risk_parity,
)
from nautilus.portfolio.rebalance import RebalanceOrder, current_weights, rebalance_orders

__all__ = [
    "METHODS", "BLPosterior", "OptimizationResult", "RebalanceOrder", "SolverFailed", "black_litterman_posterior",
    "current_weights", "efficient_frontier", "hrp_weights", "ledoit_wolf_cov", "make_constraints",
    "market_implied_prior", "max_sharpe", "mean_returns", "min_cvar", "min_variance", "optimize",
    "rebalance_orders", "risk_parity", "sample_cov",
]
