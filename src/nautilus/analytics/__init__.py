"""Performance analytics: statistics of return series (empyrical's conventions, vectorised over columns),
drawdown tables, trade statistics, calendar tables and the HTML tear sheet. Pure functions, no I/O."""

from nautilus.analytics.drawdowns import drawdown_table
from nautilus.analytics.periods import annual_returns, monthly_returns
from nautilus.analytics.stats import (
    alpha,
    alpha_beta,
    annual_return,
    annual_volatility,
    beta,
    calmar_ratio,
    conditional_value_at_risk,
    cum_returns,
    cum_returns_final,
    downside_risk,
    drawdown_durations,
    drawdown_series,
    excess_kurtosis,
    information_ratio,
    log_returns,
    max_drawdown,
    omega_ratio,
    periods_per_year_for,
    rolling_beta,
    rolling_sharpe,
    rolling_volatility,
    sharpe_ratio,
    simple_returns,
    skew,
    sortino_ratio,
    stability,
    tail_ratio,
    value_at_risk,
)
from nautilus.analytics.summary import BENCHMARK_NAMES, SUMMARY_NAMES, summary
from nautilus.analytics.trades import trade_stats

__all__ = [
    "BENCHMARK_NAMES", "SUMMARY_NAMES", "alpha", "alpha_beta", "annual_return", "annual_returns",
    "annual_volatility", "beta", "calmar_ratio", "conditional_value_at_risk", "cum_returns", "cum_returns_final",
    "downside_risk", "drawdown_durations", "drawdown_series", "drawdown_table", "excess_kurtosis",
    "information_ratio", "log_returns", "max_drawdown", "monthly_returns", "omega_ratio", "periods_per_year_for",
    "rolling_beta", "rolling_sharpe", "rolling_volatility", "sharpe_ratio", "simple_returns", "skew",
    "sortino_ratio", "stability", "summary", "tail_ratio", "trade_stats", "value_at_risk",
]
