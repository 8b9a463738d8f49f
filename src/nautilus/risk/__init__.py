"""Risk kernels (no I/O): the Python API behind the Risk engine.

Modules: ``measures`` (VaR/CVaR: historical, exponentially weighted, filtered historical with
GARCH(1,1), normal, Student-t, Cornish-Fisher; covariance), ``decomposition`` (component, marginal
and incremental VaR/CVaR), ``options`` (Black-Scholes-Merton prices, greeks, implied vol, full
revaluation, delta-gamma), ``stress`` (historical worst windows, shocks, reverse stress),
``var_backtest`` (Kupiec, Christoffersen, Basel zones, rolling out-of-sample VaR), ``limits``
(pre-trade checks) and ``montecarlo`` (correlated simulation on numpy, numba, torch and Dask).
Conventions: returns [T, N], exposures in currency [N], portfolio P&L = returns @ exposures, VaR and
CVaR are positive loss amounts.
"""
