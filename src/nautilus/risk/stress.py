"""Stress testing: historical worst windows, user-defined shocks, reverse stress.

Conventions
-----------
* ``returns``: [T, N] simple returns; ``exposures``: [N] currency value per asset; linear P&L of a
  return vector ``x`` is ``x @ exposures`` (fixed exposures, so multi-day P&L is the SUM of daily P&L).
* Shocks are DECIMAL moves (-0.2 = -20%). Option books (:class:`~nautilus.risk.options.OptionPositions`)
  must be defined on the same N assets (``options.spot`` has length N); their P&L is full revaluation
  (:func:`~nautilus.risk.options.revalue`) with the asset moves applied as returns to ``options.spot``.
* Losses / thresholds are POSITIVE amounts; P&L is signed (a loss is negative P&L).
* Itemisation: a scenario's P&L is the exact (``math.fsum``) sum of its rows, one per linear position
  (``contributions``) and one per option position (``option_position_pnl``); ``option_contributions``
  aggregates the option rows per underlying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from nautilus.core.errors import InvalidInput
from nautilus.risk.options import OptionPositions, revalue

__all__ = [
    "HistoricalScenario",
    "ReverseStressResult",
    "ShockResult",
    "apply_shock",
    "reverse_stress",
    "reverse_stress_linear",
    "worst_windows",
]


def _returns(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[0] == 0 or r.shape[1] == 0:
        raise InvalidInput("returns must be a non-empty [T, N] array", field="returns")
    if not np.all(np.isfinite(r)):
        raise InvalidInput("returns must be finite", field="returns")
    return r


def _exposures(exposures, n: int | None = None) -> np.ndarray:
    w = np.asarray(exposures, dtype=float)
    if w.ndim != 1 or (n is not None and w.shape[0] != n):
        raise InvalidInput(f"exposures must be a 1-D array of length {n}", field="exposures")
    if not np.all(np.isfinite(w)):
        raise InvalidInput("exposures must be finite", field="exposures")
    return w


def _options(options: OptionPositions | None, n: int) -> OptionPositions | None:
    if options is None:
        return None
    if not isinstance(options, OptionPositions):
        raise InvalidInput("options must be an OptionPositions book", field="options")
    if options.n_underlyings != n:
        raise InvalidInput(f"options must be defined on the same {n} assets (spot length)", field="options")
    return options


# ----------------------------------------------------------------------------------------- historical
@dataclass(frozen=True)
class HistoricalScenario:
    start: int  # first day of the window (inclusive)
    end: int  # last day of the window (inclusive); length = end - start + 1
    pnl: float  # cumulative portfolio P&L over the window (the exact sum of ``contributions``)
    contributions: np.ndarray  # [N] per-asset P&L over the window (sums to pnl)
    asset_returns: np.ndarray  # [N] summed returns over the window


def worst_windows(returns, exposures, window: int, k: int = 1) -> list[HistoricalScenario]:
    """The ``k`` worst NON-OVERLAPPING windows of ``window`` consecutive days of portfolio P&L.

    Greedy: take the window with the lowest cumulative P&L, discard every window overlapping it, repeat
    (ties -> earliest start). Fewer than ``k`` are returned when the history has no more room.
    """
    r = _returns(returns)
    w = _exposures(exposures, r.shape[1])
    T = r.shape[0]
    if isinstance(window, bool) or int(window) != window or not (1 <= window <= T):
        raise InvalidInput(f"window must be an integer in [1, {T}]", field="window")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InvalidInput("k must be an integer >= 1", field="k")
    L = int(window)
    pnl = r @ w
    c = np.concatenate(([0.0], np.cumsum(pnl)))
    sums = c[L:] - c[:-L]  # sums[i] = pnl[i:i+L].sum(), i = 0..T-L
    order = np.argsort(sums, kind="stable")
    free = np.ones(sums.shape[0], dtype=bool)
    out: list[HistoricalScenario] = []
    for i in order:
        if not free[i]:
            continue
        free[max(0, i - L + 1): i + L] = False
        ret = r[i:i + L].sum(axis=0)
        contrib = ret * w
        out.append(HistoricalScenario(int(i), int(i + L - 1), math.fsum(contrib.tolist()), contrib, ret))
        if len(out) == k:
            break
    return out


# ----------------------------------------------------------------------------------------- user shocks
@dataclass(frozen=True)
class ShockResult:
    pnl: float  # exact sum of every row: contributions and option_position_pnl (= linear_pnl + option_pnl)
    linear_pnl: float
    option_pnl: float
    asset_moves: np.ndarray  # [N] total decimal moves applied (instrument + loadings @ factor moves)
    contributions: np.ndarray  # [N] linear P&L per asset (exposures * moves)
    option_contributions: np.ndarray  # [N] option P&L per underlying
    option_position_pnl: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P] P&L per option position


def apply_shock(exposures, asset_moves=None, *, factor_moves=None, loadings=None,
                options: OptionPositions | None = None, vol_shift=None, horizon_days: float = 0.0,
                days_per_year: float = 365.0) -> ShockResult:
    """P&L of a user-defined shock.

    ``asset_moves``: [N] per-instrument decimal moves; ``factor_moves``: [F] factor moves mapped to assets
    through ``loadings`` [N, F] (``asset move = loadings @ factor_moves``); both may be given and add up.
    ``options``: an option book on the same N assets, fully revalued under the asset moves, the implied
    vol shift ``vol_shift`` (absolute, 0.05 = +5 vol points; scalar or per position) and ``horizon_days``.
    """
    w = _exposures(exposures)
    n = w.shape[0]
    moves = np.zeros(n)
    if asset_moves is not None:
        a = np.asarray(asset_moves, dtype=float)
        if a.shape != (n,) or not np.all(np.isfinite(a)):
            raise InvalidInput(f"asset_moves must be a finite array of length {n}", field="asset_moves")
        moves = moves + a
    if factor_moves is not None or loadings is not None:
        if factor_moves is None or loadings is None:
            field = "loadings" if loadings is None else "factor_moves"
            raise InvalidInput("factor_moves and loadings go together", field=field)
        B = np.asarray(loadings, dtype=float)
        f = np.asarray(factor_moves, dtype=float)
        if B.ndim != 2 or B.shape[0] != n or not np.all(np.isfinite(B)):
            raise InvalidInput(f"loadings must be a finite [{n}, F] array", field="loadings")
        if f.shape != (B.shape[1],) or not np.all(np.isfinite(f)):
            raise InvalidInput(f"factor_moves must be a finite array of length {B.shape[1]}", field="factor_moves")
        moves = moves + B @ f
    opts = _options(options, n)
    contrib = w * moves
    opt_contrib = np.zeros(n)
    by_pos = np.zeros(0)
    if opts is not None and opts.n_positions:
        vs = None
        if vol_shift is not None:
            vs = np.asarray(vol_shift, dtype=float)
            vs = vs.reshape(1, -1) if vs.ndim == 1 else vs  # per position -> [1, P]
        by_pos = revalue(opts, moves[None, :], vs, horizon_days, scenario_type="return",
                         days_per_year=days_per_year, by_position=True)[0]
        np.add.at(opt_contrib, opts.underlying, by_pos)
    lin = math.fsum(contrib.tolist())
    opt = math.fsum(by_pos.tolist())
    total = math.fsum(contrib.tolist() + by_pos.tolist())
    return ShockResult(total, lin, opt, moves, contrib, opt_contrib, by_pos)


# ----------------------------------------------------------------------------------------- reverse stress
@dataclass(frozen=True)
class ReverseStressResult:
    shock: np.ndarray  # [N] decimal asset moves reaching the loss
    scale: float  # shock = scale * direction
    direction: np.ndarray  # [N] -S w / (w' S w): the linear P&L of `direction` is exactly -1
    mahalanobis: float  # sqrt(shock' S^-1 shock) = scale / sqrt(w' S w)
    pnl: float  # P&L of the shock (= -loss)
    sigma_pnl: float  # sqrt(w' S w): P&L volatility of the (delta-)linear portfolio


def _cov(cov, n: int) -> np.ndarray:
    S = np.asarray(cov, dtype=float)
    if S.shape != (n, n) or not np.all(np.isfinite(S)):
        raise InvalidInput(f"cov must be a finite [{n}, {n}] matrix", field="cov")
    scale = max(float(np.max(np.abs(S))), 1e-300)
    if not np.allclose(S, S.T, rtol=0, atol=1e-12 * scale):
        raise InvalidInput("cov must be symmetric", field="cov")
    if float(np.linalg.eigvalsh(S).min()) < -1e-10 * scale:
        raise InvalidInput("cov must be positive semi-definite", field="cov")
    return S


def _loss(loss: float) -> float:
    if isinstance(loss, bool) or not isinstance(loss, int | float) or not math.isfinite(loss) or loss <= 0:
        raise InvalidInput("loss must be a finite number > 0", field="loss")
    return float(loss)


def _direction(w: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, float]:
    Sw = S @ w
    var = float(w @ Sw)
    if not var > 0:
        raise InvalidInput("portfolio has zero variance under cov: no shock direction", field="cov")
    return -Sw / var, math.sqrt(var)


def reverse_stress_linear(exposures, cov, loss: float) -> ReverseStressResult:
    """Most likely shock (minimum Mahalanobis norm under ``cov``) whose linear P&L is exactly ``-loss``.

    Minimising ``x' S^-1 x`` subject to ``w' x = -L`` gives ``x* = -L S w / (w' S w)`` with Mahalanobis
    size ``L / sqrt(w' S w)`` (no inverse needed: valid for singular ``S`` too).
    """
    w = _exposures(exposures)
    S = _cov(cov, w.shape[0])
    L = _loss(loss)
    d, sig = _direction(w, S)
    x = L * d
    return ReverseStressResult(x, L, d, L / sig, float(w @ x), sig)


def reverse_stress(exposures, cov, loss: float, options: OptionPositions | None = None, *,
                   horizon_days: float = 0.0, max_scale: float | None = None, grid: int = 512,
                   xtol: float = 1e-12) -> ReverseStressResult:
    """Reverse stress for a linear + options portfolio: the smallest multiple of the most-likely direction
    that loses ``loss``.

    Direction: ``d = -S w_eff / (w_eff' S w_eff)`` with ``w_eff = exposures + options.dollar_delta()`` (the
    delta-equivalent exposures). P&L along it, ``P(a) = exposures @ (a d) + revalue(options, a d)``, is
    scanned on ``grid`` equally spaced multiples in ``(0, a_max]`` (``a_max`` keeps every return > -1,
    and is capped by ``max_scale``); the first grid point with ``P <= -loss`` brackets the crossing that
    ``brentq`` then refines. "Smallest" therefore holds up to the grid spacing (a crossing that reverts
    between two grid points is not seen). Without options this is :func:`reverse_stress_linear`.
    Raises ``InvalidInput(field="loss")`` when the loss is not reached within ``a_max``.
    """
    w = _exposures(exposures)
    n = w.shape[0]
    S = _cov(cov, n)
    L = _loss(loss)
    opts = _options(options, n)
    if opts is None or opts.n_positions == 0:
        return reverse_stress_linear(w, S, L)
    if isinstance(grid, bool) or int(grid) != grid or grid < 2:
        raise InvalidInput("grid must be an integer >= 2", field="grid")
    d, sig = _direction(w + opts.dollar_delta(), S)
    neg = d[d < 0]
    a_max = 0.999 / float(-neg.min()) if neg.size else 1e6
    if max_scale is not None:
        if not (isinstance(max_scale, int | float) and math.isfinite(max_scale) and max_scale > 0):
            raise InvalidInput("max_scale must be a finite number > 0", field="max_scale")
        a_max = min(a_max, float(max_scale))
    lin_unit = float(w @ d)

    def pnl(a: np.ndarray) -> np.ndarray:
        a = np.atleast_1d(np.asarray(a, dtype=float))
        scen = a[:, None] * d[None, :]
        return a * lin_unit + revalue(opts, scen, None, horizon_days, scenario_type="return")

    base = float(pnl(np.array([0.0]))[0])  # time decay alone, 0 when horizon_days == 0
    if base <= -L:
        a_star = 0.0
    else:
        grid_a = np.linspace(0.0, a_max, int(grid) + 1)[1:]
        vals = pnl(grid_a)
        hit = np.flatnonzero(vals <= -L)
        if hit.size == 0:
            raise InvalidInput(
                f"loss {L} is not reached along the reverse-stress direction up to scale {a_max:.6g} "
                f"(worst P&L on the path {float(vals.min()):.6g})",
                field="loss",
            )
        j = int(hit[0])
        lo = 0.0 if j == 0 else float(grid_a[j - 1])
        hi = float(grid_a[j])
        if vals[j] == -L:
            a_star = hi
        else:
            a_star = brentq(lambda a: float(pnl(np.array([a]))[0]) + L, lo, hi, xtol=xtol, maxiter=200)
    shock = a_star * d
    return ReverseStressResult(shock, float(a_star), d, float(a_star) / sig, float(pnl(np.array([a_star]))[0]), sig)
