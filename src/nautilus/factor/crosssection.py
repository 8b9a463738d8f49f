"""Cross-sectional processing of ``(dates x symbols)`` matrices, one date (row) at a time.

NaN is "not in the cross-section": it is ignored by the statistics and stays NaN in the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nautilus.core.errors import InvalidInput

MAD_SCALE = 1.482602218505602  # 1 / Phi^-1(0.75): MAD -> standard deviation of a normal distribution


def _matrix(x: np.ndarray, field: str = "factor") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InvalidInput(f"{field} must be a 2-D (dates x symbols) matrix, got {x.ndim}-D", field=field)
    out = x.copy()
    out[~np.isfinite(out)] = np.nan
    return out


def winsorize(x: np.ndarray, method: str = "quantile", limits: tuple[float, float] = (0.01, 0.99),
              n_mad: float = 5.0) -> np.ndarray:
    """Clip each date's values: to its ``limits`` quantiles (linear interpolation, like ``np.quantile``),
    or with ``method="mad"`` to ``median +- n_mad * 1.4826 * MAD`` (the MAD scaled to a normal standard deviation)."""
    x = _matrix(x)
    if not x.size:
        return x
    has = np.isfinite(x).any(axis=1)
    if method == "quantile":
        lo, hi = limits
        if not 0.0 <= lo < hi <= 1.0:
            raise InvalidInput(f"limits must satisfy 0 <= lower < upper <= 1, got {limits}", field="limits")
        bounds = np.full((x.shape[0], 2), np.nan)
        if has.any():
            bounds[has] = np.nanquantile(x[has], [lo, hi], axis=1).T
    elif method == "mad":
        if not n_mad > 0:
            raise InvalidInput(f"n_mad must be positive, got {n_mad}", field="n_mad")
        median = np.full(x.shape[0], np.nan)
        mad = np.full(x.shape[0], np.nan)
        if has.any():
            median[has] = np.nanmedian(x[has], axis=1)
            mad[has] = np.nanmedian(np.abs(x[has] - median[has, None]), axis=1)
        width = n_mad * MAD_SCALE * mad
        bounds = np.stack([median - width, median + width], axis=1)
    else:
        raise InvalidInput(f"winsorize method must be quantile or mad, got {method!r}", field="method")
    return np.clip(x, bounds[:, :1], bounds[:, 1:])


def zscore(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per date (population std, ddof=0); NaN on dates with fewer than two
    values or no dispersion."""
    x = _matrix(x)
    count = np.isfinite(x).sum(axis=1, keepdims=True)
    safe = np.where(np.isfinite(x), x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = safe.sum(axis=1, keepdims=True) / count
        dev = np.where(np.isfinite(x), x - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / count)
        out = (x - mean) / std
    scale = np.maximum(np.abs(mean), 1.0)
    out[((count < 2) | (std <= 1e-14 * scale)).ravel()] = np.nan
    return out


def row_ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1..n, ties share their mean rank) of each row's finite values; NaN elsewhere.
    Same values as ``scipy.stats.rankdata(x, axis=1, nan_policy="omit")`` with one unstable sort."""
    x = np.asarray(x, dtype=np.float64)
    if not x.size:
        return x.copy()
    clean = np.where(np.isfinite(x), x, np.inf)
    order = np.argsort(clean, axis=1)
    ordered = np.take_along_axis(clean, order, axis=1)
    n = x.shape[1]
    pos = np.broadcast_to(np.arange(n), x.shape)
    starts = np.ones(x.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(x.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    ranks[~np.isfinite(x)] = np.nan
    return ranks


def rank(x: np.ndarray, centered: bool = False) -> np.ndarray:
    """Average ranks per date scaled to [0, 1] (``(rank - 1) / (n - 1)``; 0.5 when n = 1), or with
    ``centered`` shifted to [-0.5, 0.5]."""
    x = _matrix(x)
    if not x.size:
        return x
    ranks = row_ranks(x)
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 1, (ranks - 1.0) / (n - 1.0), 0.5)
    out[np.isnan(x)] = np.nan
    return out - 0.5 if centered else out


def neutralize(x: np.ndarray, exposures: Sequence[np.ndarray] = (), groups: Sequence | None = None,
               intercept: bool = True) -> np.ndarray:
    """Residual of a cross-sectional OLS per date of ``x`` on the exposure matrices and group dummies.

    ``groups`` gives one label per symbol (column); with ``intercept`` a constant column is added (the
    group dummies then drop nothing: least squares takes the minimum-norm fit, and the residual is
    the same). A date uses the symbols where x and every exposure are finite; dates with no more
    symbols than regressors give NaN.
    """
    x = _matrix(x)
    mats = [_matrix(e, "exposures") for e in exposures]
    for m in mats:
        if m.shape != x.shape:
            raise InvalidInput(f"an exposure has shape {m.shape}, the factor {x.shape}", field="exposures")
    dummies = np.empty((x.shape[1], 0))
    if groups is not None:
        labels = list(groups)
        if len(labels) != x.shape[1]:
            raise InvalidInput(f"groups has {len(labels)} labels for {x.shape[1]} symbols", field="groups")
        unique = sorted({str(g) for g in labels})
        dummies = np.array([[str(g) == u for u in unique] for g in labels], dtype=np.float64).reshape(
            x.shape[1], len(unique))
    if not mats and not dummies.shape[1] and not intercept:
        return x
    out = np.full(x.shape, np.nan)
    stack = np.stack(mats, axis=2) if mats else np.empty(x.shape + (0,))
    for t in range(x.shape[0]):
        columns = [stack[t]] + ([dummies] if dummies.shape[1] else []) + ([np.ones((x.shape[1], 1))]
                                                                          if intercept else [])
        design = np.concatenate(columns, axis=1)
        ok = np.isfinite(x[t]) & np.isfinite(design).all(axis=1)
        a = design[ok]
        n_ok = int(ok.sum())
        if n_ok == 0 or n_ok <= np.linalg.matrix_rank(a):
            continue
        coef, *_ = np.linalg.lstsq(a, x[t, ok], rcond=None)
        out[t, ok] = x[t, ok] - a @ coef
    return out
