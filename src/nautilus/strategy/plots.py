"""Charts the CLI writes as PNG files (matplotlib, headless)."""

from __future__ import annotations

import numpy as np


def equity_chart(ts: np.ndarray, equity: np.ndarray, path: str, title: str = "") -> str:
    """Equity curve above its drawdown, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.asarray(ts, dtype="datetime64[ns]")
    eq = np.asarray(equity, dtype=float)
    peak = np.maximum.accumulate(eq)
    drawdown = eq / peak - 1.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(3, 1))
    top.plot(times, eq, lw=1.2)
    top.set_ylabel("equity")
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.fill_between(times, drawdown * 100, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
