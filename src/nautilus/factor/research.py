"""Factor research kernels: forward returns, information coefficients, IC decay, quantile portfolio
returns, turnover and the tear-sheet dictionary (plain lists, NaN as None) with its plot.

Conventions: the forward return at date t is ``close[t+h] / close[t] - 1`` (attributed to t, so a
factor at t, known at t's close, is compared with what happens after it). On each date only the
symbols where both the factor and the forward return are finite take part. Statistics over the
dates of an h-bar horizon use overlapping returns when h > 1, so their t-statistics are optimistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.factor.crosssection import row_ranks
from nautilus.factor.timeseries import check_window, pct_change

MIN_OBS = 3  # symbols a date needs for an IC
METHODS = ("pearson", "spearman")
DECAY_HORIZONS = (1, 2, 3, 5, 10, 20, 40, 60)


def forward_returns(close: np.ndarray, horizon: int = 1) -> np.ndarray:
    """``close[t+h] / close[t] - 1`` at row t; NaN in the last h rows and where a close is missing."""
    h = check_window(horizon, field="horizons")
    fwd = np.full(np.shape(close), np.nan)
    back = pct_change(close, h)  # row t+h holds close[t+h] / close[t] - 1
    fwd[:fwd.shape[0] - h] = back[h:]
    return fwd


def _pair(factor: np.ndarray, fwd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(factor, dtype=np.float64)
    r = np.asarray(fwd, dtype=np.float64)
    if f.shape != r.shape or f.ndim != 2:
        raise InvalidInput(f"factor {f.shape} and forward returns {r.shape} must be matrices of one shape",
                           field="factor")
    both = np.isfinite(f) & np.isfinite(r)
    return np.where(both, f, np.nan), np.where(both, r, np.nan)


def _row_pearson(x: np.ndarray, y: np.ndarray, min_obs: int = MIN_OBS) -> np.ndarray:
    """Pearson correlation of each row pair over the entries finite in both; NaN with < min_obs or no spread."""
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(ok, x, 0.0).sum(axis=1) / n
        my = np.where(ok, y, 0.0).sum(axis=1) / n
        dx = np.where(ok, x - mx[:, None], 0.0)
        dy = np.where(ok, y - my[:, None], 0.0)
        out = (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    out[(n < min_obs) | ~np.isfinite(out)] = np.nan
    return np.clip(out, -1.0, 1.0)


def ic(factor: np.ndarray, fwd: np.ndarray, method: str = "spearman", min_obs: int = MIN_OBS) -> np.ndarray:
    """Information coefficient per date: the cross-sectional Pearson (``pearson``) or rank (``spearman``,
    Pearson of average ranks) correlation of the factor with the forward returns."""
    if method not in METHODS:
        raise InvalidInput(f"method must be pearson or spearman, got {method!r}", field="method")
    f, r = _pair(factor, fwd)
    if method == "spearman":
        f, r = row_ranks(f), row_ranks(r)
    return _row_pearson(f, r, min_obs)


def ic_summary(series: np.ndarray) -> dict[str, float | int]:
    """Mean, std (ddof=1), IR = mean/std, t-stat = mean / (std / sqrt(n)), hit rate (share > 0), n
    over the finite values of an IC series (NaN where undefined)."""
    v = np.asarray(series, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    mean = float(v.mean()) if n else float("nan")
    std = float(v.std(ddof=1)) if n > 1 else float("nan")
    ir = mean / std if n > 1 and std > 0 else float("nan")
    return {"mean": mean, "std": std, "ir": ir, "t_stat": ir * np.sqrt(n) if n > 1 else float("nan"),
            "hit_rate": float((v > 0).mean()) if n else float("nan"), "n": n}


def ic_decay(factor: np.ndarray, close: np.ndarray, horizons: Sequence[int] = DECAY_HORIZONS,
             method: str = "spearman") -> list[dict[str, Any]]:
    """The IC summary of the factor against forward returns of each horizon."""
    return [{"horizon": int(h), **ic_summary(ic(factor, forward_returns(close, h), method))} for h in horizons]


def quantile_labels(factor: np.ndarray, n_quantiles: int = 5) -> np.ndarray:
    """Quantile 0 (lowest) .. n_quantiles-1 of each finite value among its date's values, -1 elsewhere.

    With average ranks r = 1..n on a date, the quantile is ``ceil(r * q / n) - 1``: equal-sized groups
    when q divides n, ties in one group. Dates with fewer than ``n_quantiles`` values get -1.
    """
    q = check_window(n_quantiles, field="quantiles", minimum=2)
    x = np.asarray(factor, dtype=np.float64)
    labels = np.full(x.shape, -1, dtype=np.int64)
    if not x.size:
        return labels
    x = np.where(np.isfinite(x), x, np.nan)
    ranks = row_ranks(x)
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.ceil(ranks * q / n - 1e-9) - 1
    ok = np.isfinite(x) & (n >= q)
    labels[ok] = np.clip(raw[ok], 0, q - 1).astype(np.int64)
    return labels


def quantile_returns(factor: np.ndarray, fwd: np.ndarray, n_quantiles: int = 5) -> dict[str, np.ndarray]:
    """Per-date mean forward return of each factor quantile (symbols with both values finite).

    Returns ``returns`` (dates x quantiles, NaN where a quantile is empty), ``mean`` (per quantile, over
    dates), ``spread`` (top minus bottom quantile per date), ``spread_mean`` and ``cumulative``
    (compounded spread, NaN dates as zero: meaningful for one-bar forward returns).
    """
    f, r = _pair(factor, fwd)
    labels = quantile_labels(f, n_quantiles)
    q = int(n_quantiles)
    returns = np.full((f.shape[0], q), np.nan)
    for k in range(q):
        members = labels == k
        count = members.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            returns[:, k] = np.where(members, r, 0.0).sum(axis=1) / count
        returns[count == 0, k] = np.nan
    spread = returns[:, -1] - returns[:, 0]
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(returns[:, k]) if np.isfinite(returns[:, k]).any() else np.nan
                         for k in range(q)])
    finite = spread[np.isfinite(spread)]
    return {"returns": returns, "mean": mean, "spread": spread,
            "spread_mean": np.array(finite.mean() if finite.size else np.nan),
            "cumulative": np.cumprod(1.0 + np.nan_to_num(spread, nan=0.0)) - 1.0}


def turnover(factor: np.ndarray, n_quantiles: int = 5) -> dict[str, np.ndarray]:
    """How the factor's ranking moves from one date to the next.

    ``quantile`` (dates x quantiles): share of a quantile's symbols at t that were not in it at t-1;
    ``changed``: share of the symbols ranked on both dates whose quantile changed; ``rank_autocorr``:
    Spearman correlation of the factor at t with the factor at t-1 over the symbols finite on both.
    The first date is NaN.
    """
    x = np.asarray(factor, dtype=np.float64)
    labels = quantile_labels(x, n_quantiles)
    q = int(n_quantiles)
    d = x.shape[0]
    by_quantile = np.full((d, q), np.nan)
    changed = np.full(d, np.nan)
    autocorr = np.full(d, np.nan)
    if d > 1:
        now, before = labels[1:], labels[:-1]
        for k in range(q):
            members = now == k
            count = members.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                by_quantile[1:, k] = np.where(count > 0, (members & (before != k)).sum(axis=1) / count, np.nan)
        both = (now >= 0) & (before >= 0)
        n_both = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            changed[1:] = np.where(n_both > 0, (both & (now != before)).sum(axis=1) / n_both, np.nan)
        a, b = _pair(x[1:], x[:-1])
        autocorr[1:] = _row_pearson(row_ranks(a), row_ranks(b))
    return {"quantile": by_quantile, "changed": changed, "rank_autocorr": autocorr}


def rolling_nanmean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the finite values among the last ``window`` (NaN until half of them are finite)."""
    v = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(v)
    s = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    c = np.concatenate([[0], np.cumsum(ok)])
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(idx - window, 0)
    count = c[idx] - c[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (s[idx] - s[lo]) / count
    out[count < max(1, window // 2)] = np.nan
    return out


def _plain(x: Any) -> Any:
    """Numpy values as plain Python lists/floats with NaN and infinities as None."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def tearsheet(factor: np.ndarray, close: np.ndarray, horizons: Sequence[int] = (1, 5, 20), n_quantiles: int = 5,
              method: str = "spearman", ts: np.ndarray | None = None, name: str = "factor",
              decay_horizons: Sequence[int] = DECAY_HORIZONS, rolling: int = 20) -> dict[str, Any]:
    """Everything the dashboard's factor tear sheet shows, as JSON-ready plain values.

    Keys: ``factor``, ``method``, ``n_quantiles``, ``horizons``, ``t`` (ms since the epoch, or row
    numbers without ``ts``; ``t_unit`` says which: ms or row), ``coverage`` (symbols with a factor
    value per date), ``ic`` (per horizon:
    ``series``, ``rolling_mean`` over ``rolling`` dates and the :func:`ic_summary` fields),
    ``ic_decay`` (summary per decay horizon), ``quantiles`` (per horizon: ``mean_returns`` per quantile,
    ``spread_mean``), ``long_short`` (one-bar top-minus-bottom ``spread`` and ``cumulative``) and
    ``turnover`` (per-quantile mean, mean ``changed`` and ``rank_autocorr``, and their series).
    """
    f = np.asarray(factor, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    if f.shape != c.shape or f.ndim != 2:
        raise InvalidInput(f"factor {f.shape} and close {c.shape} must be matrices of one shape", field="factor")
    if not horizons:
        raise InvalidInput("give at least one horizon", field="horizons")
    hs = sorted({check_window(h, field="horizons") for h in horizons})
    q = check_window(n_quantiles, field="quantiles", minimum=2)
    if method not in METHODS:
        raise InvalidInput(f"method must be pearson or spearman, got {method!r}", field="method")
    d = f.shape[0]
    decay = sorted({int(h) for h in decay_horizons if h < d})
    series = {h: ic(f, forward_returns(c, h), method) for h in sorted(set(hs) | set(decay))}
    ic_rows, quantile_rows, by_horizon = [], [], {}
    for h in sorted(set(hs) | {1}):
        by_horizon[h] = quantile_returns(f, forward_returns(c, h), q)
    for h in hs:
        ic_rows.append({"horizon": h, **ic_summary(series[h]), "series": series[h],
                        "rolling_mean": rolling_nanmean(series[h], rolling)})
        quantile_rows.append({"horizon": h, "mean_returns": by_horizon[h]["mean"],
                              "spread_mean": float(by_horizon[h]["spread_mean"])})
    one = by_horizon[1]
    turn = turnover(f, q)
    t = (np.asarray(ts, dtype=np.int64) // 1_000_000) if ts is not None else np.arange(d)
    with np.errstate(invalid="ignore"):
        turn_summary = {
            "quantile_mean": [float(np.nanmean(col)) if np.isfinite(col).any() else None for col in turn["quantile"].T],
            "changed_mean": float(np.nanmean(turn["changed"])) if np.isfinite(turn["changed"]).any() else None,
            "rank_autocorr_mean": (float(np.nanmean(turn["rank_autocorr"]))
                                   if np.isfinite(turn["rank_autocorr"]).any() else None),
            "changed": turn["changed"], "rank_autocorr": turn["rank_autocorr"]}
    return _plain({
        "factor": name, "method": method, "n_quantiles": q, "horizons": hs, "t": t,
        "t_unit": "row" if ts is None else "ms",
        "coverage": np.isfinite(f).sum(axis=1),
        "ic": ic_rows,
        "ic_decay": [{"horizon": h, **ic_summary(series[h])} for h in decay],
        "quantiles": quantile_rows,
        "long_short": {"horizon": 1, "spread": one["spread"], "cumulative": one["cumulative"]},
        "turnover": turn_summary,
    })


def plot_tearsheet(sheet: dict[str, Any], path: str) -> str:
    """A 2x2 PNG of a :func:`tearsheet`: IC bars with the rolling mean (first horizon), IC decay, mean
    return per quantile per horizon, cumulative one-bar long-short return."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def arr(values: list[Any]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    first = sheet["ic"][0]
    x = np.array(sheet["t"], dtype="datetime64[ms]") if sheet.get("t_unit") == "ms" else np.arange(len(sheet["t"]))
    ax = axes[0, 0]
    ax.vlines(x, 0, np.nan_to_num(arr(first["series"])), color="tab:blue", alpha=0.5, lw=1.0, label="IC")
    ax.plot(x, arr(first["rolling_mean"]), color="tab:red", lw=1.2, label="rolling mean")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title(f"{sheet['method']} IC, {first['horizon']}-bar forward (mean {_num(first['mean'])})")
    ax.legend(loc="upper left")
    ax = axes[0, 1]
    decay = sheet["ic_decay"]
    ax.bar([str(row["horizon"]) for row in decay], np.nan_to_num(arr([row["mean"] for row in decay])),
           color="tab:green")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title("IC decay (mean IC by horizon, bars)")
    ax = axes[1, 0]
    q = sheet["n_quantiles"]
    width = 0.8 / max(1, len(sheet["quantiles"]))
    for k, row in enumerate(sheet["quantiles"]):
        ax.bar(np.arange(q) + k * width, np.nan_to_num(arr(row["mean_returns"])) * 1e4, width=width,
               label=f"{row['horizon']}-bar")
    ax.set_xticks(np.arange(q) + width * (len(sheet["quantiles"]) - 1) / 2, [f"Q{k + 1}" for k in range(q)])
    ax.set_title("mean forward return by quantile (bp)")
    ax.legend()
    ax = axes[1, 1]
    ax.plot(x, arr(sheet["long_short"]["cumulative"]) * 100, color="tab:purple")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title(f"cumulative long-short Q{q} - Q1, one-bar returns (%)")
    fig.suptitle(str(sheet["factor"]))
    if sheet.get("t_unit") == "ms":
        for ax in (axes[0, 0], axes[1, 1]):
            ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
