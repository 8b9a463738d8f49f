"""The HTML tear sheet of one return series: a single self-contained file.

Inline CSS, plots rendered by matplotlib (``Figure`` objects
without pyplot, no display) and embedded as inline SVG; no scripts,
fonts or other network assets. Every user-supplied string (title, names, trade fields) is HTML-escaped.
Sections: headline statistics, equity curve (with the benchmark when given), underwater drawdown, monthly
returns heatmap, rolling Sharpe (6 and 12 months), return distribution with VaR/CVaR lines, the drawdown
table and the first 200 trades. Returns the document as a string; no I/O.
"""

from __future__ import annotations

import html
import io
import math
from typing import Any

import numpy as np

from nautilus.analytics import stats as s
from nautilus.analytics.drawdowns import drawdown_table
from nautilus.analytics.periods import monthly_returns
from nautilus.analytics.summary import summary
from nautilus.analytics.trades import TRADE_STAT_NAMES, trade_stats

MAX_TRADES = 200
_PCT = {"total_return", "annual_return", "annual_volatility", "max_drawdown", "value_at_risk",
        "conditional_value_at_risk", "alpha", "win_rate"}
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2733;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #dde3ea}
.meta{color:#5b6b7b;font-size:13px}table{border-collapse:collapse;font-size:12px}
td,th{padding:3px 8px;border-bottom:1px solid #eef1f4;text-align:right}th{background:#f5f7f9}
td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:24px}
.plot svg{max-width:100%;height:auto}.neg{color:#b3261e}.pos{color:#1e7b34}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        if name in _PCT:
            return f"{value * 100:.2f}%"
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value)}"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.2f}"
    return _esc(value)


def _date(ns: Any) -> str:
    if ns is None:
        return "–"
    import pandas as pd

    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%Y-%m-%d")


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nautilus"}):  # text stays text
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG in HTML


def _figure(width: float = 9.0, height: float = 3.0) -> tuple[Any, Any]:
    """A figure outside pyplot (no global state, safe in engine threads), drawn by the Agg/SVG canvases."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    ax = fig.subplots()
    ax.grid(alpha=0.3)
    return fig, ax


def _dates(ts: np.ndarray) -> np.ndarray:
    return np.asarray(ts, dtype="datetime64[ns]")


def _equity_plot(r: np.ndarray, ts: np.ndarray, bench: np.ndarray | None, name: str, bench_name: str) -> str:
    fig, ax = _figure()
    d = _dates(ts)
    ax.plot(d, s.cum_returns(r, 1.0), lw=1.2, label=name)
    if bench is not None:
        ax.plot(d, s.cum_returns(bench, 1.0), lw=1.0, color="gray", label=bench_name)
    ax.set_title("Cumulative return (growth of 1)")
    ax.legend(loc="upper left")
    return _svg(fig)


def _underwater_plot(r: np.ndarray, ts: np.ndarray) -> str:
    fig, ax = _figure(9.0, 2.4)
    dd = s.drawdown_series(r) * 100
    ax.fill_between(_dates(ts), dd, 0, color="#b3261e", alpha=0.4, lw=0)
    ax.set_title("Underwater (drawdown, %)")
    return _svg(fig)


def _heatmap(table: dict[str, Any]) -> str:
    values = np.asarray(table["table"]) * 100
    fig, ax = _figure(7.5, 0.45 * len(table["years"]) + 1.2)
    ax.grid(False)
    lim = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(12), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
    ax.set_yticks(range(len(table["years"])), [str(y) for y in table["years"]])
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7)
    ax.set_title("Monthly returns (%)")
    return _svg(fig)


def _rolling_plot(r: np.ndarray, ts: np.ndarray, ppy: float, risk_free: float) -> str:
    fig, ax = _figure(9.0, 2.6)
    d = _dates(ts)
    for months, color in ((6, "#1f77b4"), (12, "#ff7f0e")):
        window = max(2, int(round(ppy * months / 12)))
        if len(r) >= window:
            ax.plot(d, s.rolling_sharpe(r, window, risk_free, ppy), lw=1.0, color=color, label=f"{months} months")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title("Rolling Sharpe ratio" + ("" if ax.get_legend_handles_labels()[0] else " (series too short)"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left")
    return _svg(fig)


def _histogram(r: np.ndarray, var: float, cvar: float) -> str:
    fig, ax = _figure(6.0, 3.0)
    obs = r[~np.isnan(r)] * 100
    ax.hist(obs, bins=min(60, max(10, len(obs) // 10)), color="#4c72b0", alpha=0.8)
    if math.isfinite(var):
        ax.axvline(var * 100, color="#d62728", ls="--", label=f"VaR 95% {var * 100:.2f}%")
    if math.isfinite(cvar):
        ax.axvline(cvar * 100, color="#8c1c13", ls=":", label=f"CVaR 95% {cvar * 100:.2f}%")
    ax.set_title("Return distribution (%)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left")
    return _svg(fig)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def tear_sheet(returns: Any, ts: Any, *, benchmark: Any = None, trades: list[dict[str, Any]] | None = None,
               title: str = "Tear sheet", name: str = "strategy", benchmark_name: str = "benchmark",
               periods_per_year: float = s.DAILY, risk_free: float = 0.0,
               meta: dict[str, Any] | None = None) -> str:
    """The tear sheet of one series ``returns`` ``[n]`` at times ``ts`` (epoch ns) as an HTML string."""
    r = np.asarray(returns, dtype=np.float64)
    t = np.asarray(ts, dtype=np.int64)
    if r.ndim != 1 or t.shape != r.shape:
        raise ValueError("tear_sheet takes one series and one timestamp per return")
    bench = None if benchmark is None else np.asarray(benchmark, dtype=np.float64)
    headline = summary(r, bench, risk_free=risk_free, periods_per_year=periods_per_year)
    parts = [f"<h1>{_esc(title)}</h1>"]
    info = {"series": name, "from": _date(t[0]) if len(t) else "–", "to": _date(t[-1]) if len(t) else "–",
            "periods per year": f"{periods_per_year:g}", **(meta or {})}
    parts.append('<p class="meta">' + " · ".join(f"{_esc(k)}: {_esc(v)}" for k, v in info.items()) + "</p>")
    rows = [[_esc(k.replace("_", " ")), _fmt(k, v)] for k, v in headline.items()]
    if trades is not None:
        tstats = trade_stats(trades)
        rows += [[_esc("trades: " + k.replace("_", " ")), _fmt(k, tstats[k])] for k in TRADE_STAT_NAMES]
    parts.append("<h2>Headline statistics</h2>" + _table(["statistic", _esc(name)], rows))
    if len(r) >= 2:
        parts.append('<h2>Equity</h2><div class="plot">' + _equity_plot(r, t, bench, name, benchmark_name)
                     + _underwater_plot(r, t) + "</div>")
        parts.append('<h2>Monthly returns</h2><div class="plot">' + _heatmap(monthly_returns(r, t)) + "</div>")
        parts.append('<h2>Rolling Sharpe</h2><div class="plot">' + _rolling_plot(r, t, periods_per_year, risk_free)
                     + "</div>")
        parts.append('<h2>Distribution</h2><div class="plot">'
                     + _histogram(r, headline["value_at_risk"], headline["conditional_value_at_risk"]) + "</div>")
    dd_rows = [[str(i + 1), _date(d.get("peak_ts")), _date(d.get("valley_ts")),
                _date(d.get("recovery_ts")) if d["recovery"] is not None else "not recovered",
                f"{d['depth'] * 100:.2f}%", str(d["duration"])]
               for i, d in enumerate(drawdown_table(r, 10, t))]
    parts.append("<h2>Worst drawdowns</h2>" + _table(["#", "peak", "valley", "recovery", "depth",
                                                        "duration (periods)"], dd_rows))
    if trades:
        cols = ["direction", "entry_ts", "exit_ts", "entry_price", "exit_price", "size", "pnl", "return",
                "exit_reason"]
        trade_rows = []
        for trade in trades[:MAX_TRADES]:
            cells = []
            for c in cols:
                v = trade.get(c)
                cells.append(_date(v) if c.endswith("_ts") else _fmt(c, float(v) if isinstance(v, int | float)
                                                                       and not isinstance(v, bool) else v))
            trade_rows.append(cells)
        more = f"<p class='meta'>first {MAX_TRADES} of {len(trades)}</p>" if len(trades) > MAX_TRADES else ""
        parts.append("<h2>Trades</h2>" + _table(cols, trade_rows) + more)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>" + "".join(parts) + "</body></html>")
