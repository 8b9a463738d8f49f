"""Black-Scholes-Merton pricing, greeks, implied vol and scenario revaluation of European options.

Generalized BSM with a continuous dividend yield ``q`` (cost of carry ``b = r - q``; Haug's notation)::

    d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
    call = S e^{-qT} N(d1) - K e^{-rT} N(d2)
    put  = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)

Conventions
-----------
* Every function broadcasts its array arguments against each other (numpy rules).
* ``option_type``: ``"call"``/``"put"`` (also ``"c"``/``"p"``, any case), a bool (True = call),
  or an array of those (or of +1 = call / -1 = put).
* Rates ``r``, ``q`` and ``sigma`` are continuously compounded / annualised decimals; ``T`` in years.
* Validation: ``S > 0``, ``K > 0``, ``T >= 0``, ``sigma > 0``, everything finite, else
  :class:`~nautilus.core.errors.InvalidInput` naming the field.
* ``T == 0``: the price is the intrinsic value; delta is +-1 in the money, 0 out of the money and
  +-0.5 exactly at the money; gamma, vega, theta and rho are 0.
* Greek units: ``delta = dV/dS``, ``gamma = d2V/dS2``, ``vega = dV/dsigma`` per 1.00 of vol (divide by
  100 for "per vol point"), ``theta = dV/dt = -dV/dT`` **per year** of calendar time passing
  (divide by 365 for per-day), ``rho = dV/dr`` per 1.00 of rate (holding q fixed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from nautilus.core.errors import InvalidInput

__all__ = [
    "OptionPositions",
    "bsm_delta",
    "bsm_gamma",
    "bsm_greeks",
    "bsm_price",
    "bsm_rho",
    "bsm_theta",
    "bsm_vega",
    "delta_gamma_pnl",
    "implied_vol",
    "parse_expiry",
    "revalue",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
ArrayLike = Any


# ----------------------------------------------------------------------------------------- validation
def _arr(x: ArrayLike, field: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be numeric", field=field) from exc
    if not np.all(np.isfinite(a)):
        raise InvalidInput(f"{field} must be finite", field=field)
    return a


def _phi(option_type: ArrayLike, field: str = "option_type") -> np.ndarray:
    """+1 for calls, -1 for puts."""
    if isinstance(option_type, str):
        return np.asarray(_phi_one(option_type, field))
    a = np.asarray(option_type)
    if a.dtype == bool:
        return np.where(a, 1.0, -1.0)
    if a.dtype.kind in "iuf":
        if not np.all(np.isin(a, (1, -1))):
            raise InvalidInput(f"numeric {field} must be +1 (call) or -1 (put)", field=field)
        return a.astype(float)
    flat = [_phi_one(str(v), field) for v in a.ravel()]
    return np.asarray(flat, dtype=float).reshape(a.shape)


def _phi_one(s: str, field: str) -> float:
    s = s.strip().lower()
    if s in ("call", "c"):
        return 1.0
    if s in ("put", "p"):
        return -1.0
    raise InvalidInput(f"{field} must be 'call' or 'put', got {s!r}", field=field)


def _inputs(S, K, T, r, sigma, q, option_type):
    S = _arr(S, "S")
    K = _arr(K, "K")
    T = _arr(T, "T")
    r = _arr(r, "r")
    sigma = _arr(sigma, "sigma")
    q = _arr(q, "q")
    if np.any(S <= 0):
        raise InvalidInput("S must be > 0", field="S")
    if np.any(K <= 0):
        raise InvalidInput("K must be > 0", field="K")
    if np.any(T < 0):
        raise InvalidInput("T must be >= 0", field="T")
    if np.any(sigma <= 0):
        raise InvalidInput("sigma must be > 0", field="sigma")
    phi = _phi(option_type)
    try:
        return np.broadcast_arrays(S, K, T, r, sigma, q, phi)
    except ValueError as exc:
        raise InvalidInput(f"inputs do not broadcast: {exc}", field="S") from exc


def _out(x: np.ndarray) -> np.ndarray | float:
    return float(x) if x.ndim == 0 else x


class _Core:
    """Shared intermediate terms; T == 0 entries are computed with T=1 and masked afterwards."""

    def __init__(self, S, K, T, r, sigma, q, option_type):
        S, K, T, r, sigma, q, phi = _inputs(S, K, T, r, sigma, q, option_type)
        self.S, self.K, self.T, self.r, self.sigma, self.q, self.phi = S, K, T, r, sigma, q, phi
        self.expired = T == 0
        Ts = np.where(self.expired, 1.0, T)
        self.sqrtT = np.sqrt(Ts)
        vs = sigma * self.sqrtT
        self.d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * Ts) / vs
        self.d2 = self.d1 - vs
        self.dfq = np.exp(-q * Ts)
        self.dfr = np.exp(-r * Ts)
        with np.errstate(over="ignore"):  # |d1| ~ 1e160 for T ~ 1e-300: n(d1) underflows to 0, fine
            self.pdf1 = _INV_SQRT_2PI * np.exp(-0.5 * self.d1 * self.d1)
        self.Nd1 = ndtr(phi * self.d1)  # N(phi d1)
        self.Nd2 = ndtr(phi * self.d2)  # N(phi d2)
        self.Ts = Ts

    def mask(self, live: np.ndarray, expired_value) -> np.ndarray | float:
        return _out(np.where(self.expired, expired_value, live))


# ----------------------------------------------------------------------------------------- pricing
def bsm_price(S, K, T, r, sigma, q=0.0, option_type="call"):
    """BSM price (``T == 0`` gives the intrinsic value)."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    live = c.phi * (c.S * c.dfq * c.Nd1 - c.K * c.dfr * c.Nd2)
    intrinsic = np.maximum(c.phi * (c.S - c.K), 0.0)
    return c.mask(live, intrinsic)


def bsm_delta(S, K, T, r, sigma, q=0.0, option_type="call"):
    """dV/dS: call ``e^{-qT} N(d1)``, put ``e^{-qT} (N(d1) - 1)``."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    live = c.phi * c.dfq * c.Nd1
    m = c.phi * (c.S - c.K)
    expired = np.where(m > 0, c.phi, np.where(m == 0, 0.5 * c.phi, 0.0))
    return c.mask(live, expired)


def bsm_gamma(S, K, T, r, sigma, q=0.0, option_type="call"):
    """d2V/dS2 = ``e^{-qT} n(d1) / (S sigma sqrt(T))`` (same for calls and puts)."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    return c.mask(c.dfq * c.pdf1 / (c.S * c.sigma * c.sqrtT), 0.0)


def bsm_vega(S, K, T, r, sigma, q=0.0, option_type="call"):
    """dV/dsigma per 1.00 of vol = ``S e^{-qT} n(d1) sqrt(T)``."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    return c.mask(c.S * c.dfq * c.pdf1 * c.sqrtT, 0.0)


def bsm_theta(S, K, T, r, sigma, q=0.0, option_type="call"):
    """dV/dt = -dV/dT, per YEAR of calendar time (divide by 365 for a per-day theta)::

    -S e^{-qT} n(d1) sigma / (2 sqrt T) - phi r K e^{-rT} N(phi d2) + phi q S e^{-qT} N(phi d1)
    """
    c = _Core(S, K, T, r, sigma, q, option_type)
    live = (
        -c.S * c.dfq * c.pdf1 * c.sigma / (2.0 * c.sqrtT)
        - c.phi * c.r * c.K * c.dfr * c.Nd2
        + c.phi * c.q * c.S * c.dfq * c.Nd1
    )
    return c.mask(live, 0.0)


def bsm_rho(S, K, T, r, sigma, q=0.0, option_type="call"):
    """dV/dr per 1.00 of rate: ``phi K T e^{-rT} N(phi d2)``."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    return c.mask(c.phi * c.K * c.Ts * c.dfr * c.Nd2, 0.0)


def bsm_greeks(S, K, T, r, sigma, q=0.0, option_type="call") -> dict[str, np.ndarray | float]:
    """All of price, delta, gamma, vega, theta (per year), rho in one pass."""
    c = _Core(S, K, T, r, sigma, q, option_type)
    m = c.phi * (c.S - c.K)
    return {
        "price": c.mask(c.phi * (c.S * c.dfq * c.Nd1 - c.K * c.dfr * c.Nd2), np.maximum(m, 0.0)),
        "delta": c.mask(c.phi * c.dfq * c.Nd1, np.where(m > 0, c.phi, np.where(m == 0, 0.5 * c.phi, 0.0))),
        "gamma": c.mask(c.dfq * c.pdf1 / (c.S * c.sigma * c.sqrtT), 0.0),
        "vega": c.mask(c.S * c.dfq * c.pdf1 * c.sqrtT, 0.0),
        "theta": c.mask(
            -c.S * c.dfq * c.pdf1 * c.sigma / (2.0 * c.sqrtT)
            - c.phi * c.r * c.K * c.dfr * c.Nd2
            + c.phi * c.q * c.S * c.dfq * c.Nd1,
            0.0,
        ),
        "rho": c.mask(c.phi * c.K * c.Ts * c.dfr * c.Nd2, 0.0),
    }


# ----------------------------------------------------------------------------------------- implied vol
def _price_scalar(S: float, K: float, T: float, r: float, q: float, sigma: float, phi: float) -> float:
    vs = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / vs
    d2 = d1 - vs
    n1 = 0.5 * math.erfc(-phi * d1 / math.sqrt(2.0))
    n2 = 0.5 * math.erfc(-phi * d2 / math.sqrt(2.0))
    return phi * (S * math.exp(-q * T) * n1 - K * math.exp(-r * T) * n2)


def implied_vol(price, S, K, T, r, q=0.0, option_type="call", *, lo: float = 1e-6, hi: float = 10.0,
                xtol: float = 1e-12):
    """Implied volatility by Brent's method (``scipy.optimize.brentq``) on ``[lo, hi]``.

    Element-wise over broadcast inputs. Raises ``InvalidInput(field="price")`` when a price lies outside
    the no-arbitrage band ``(max(phi (S e^{-qT} - K e^{-rT}), 0), S e^{-qT} | K e^{-rT})`` or the vol
    that reproduces it lies outside ``[lo, hi]``; ``InvalidInput(field="T")`` for ``T == 0`` (no vol
    information in an expired option).
    """
    price_a = _arr(price, "price")
    S_, K_, T_, r_, _sig, q_, phi = _inputs(S, K, T, r, 0.2, q, option_type)
    try:
        P, S_, K_, T_, r_, q_, phi = np.broadcast_arrays(price_a, S_, K_, T_, r_, q_, phi)
    except ValueError as exc:
        raise InvalidInput(f"inputs do not broadcast: {exc}", field="price") from exc
    if not (0.0 < lo < hi):
        raise InvalidInput("need 0 < lo < hi", field="lo")
    out = np.empty(P.shape)
    for idx in np.ndindex(P.shape):
        p, s, k, t, rr, qq, ph = (float(a[idx]) for a in (P, S_, K_, T_, r_, q_, phi))
        if t == 0:
            raise InvalidInput("implied vol is undefined for T == 0", field="T")
        fwd_s, fwd_k = s * math.exp(-qq * t), k * math.exp(-rr * t)
        lower = max(ph * (fwd_s - fwd_k), 0.0)
        upper = fwd_s if ph > 0 else fwd_k
        if not (lower < p < upper):
            raise InvalidInput(
                f"price {p} at index {idx} is outside the no-arbitrage band ({lower}, {upper}); "
                "no implied volatility exists",
                field="price",
            )
        f_lo = _price_scalar(s, k, t, rr, qq, lo, ph) - p
        f_hi = _price_scalar(s, k, t, rr, qq, hi, ph) - p
        if f_lo > 0 or f_hi < 0:
            raise InvalidInput(
                f"price {p} at index {idx} needs a volatility outside [{lo}, {hi}]", field="price"
            )
        if f_lo == 0:
            out[idx] = lo
            continue
        out[idx] = brentq(lambda v, s=s, k=k, t=t, rr=rr, qq=qq, ph=ph, p=p:
                          _price_scalar(s, k, t, rr, qq, v, ph) - p, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps,
                          maxiter=200)
    return _out(out)


# ----------------------------------------------------------------------------------------- expiry
EXPIRY_HELP = "years to expiry (e.g. 0.25) or the expiry date (YYYY-MM-DD)"


def parse_expiry(value: Any, as_of: Any = None, *, days_per_year: float = 365.0, field: str = "expiry") -> float:
    """Years to expiry from ``value``: a number of years (``0.25``, also as a string), or an expiry date
    (``"2025-12-19"``, a ``datetime.date``/``datetime``), counted in calendar days from ``as_of`` (a date,
    datetime, ISO string or epoch nanoseconds; default today, UTC) over ``days_per_year``.

    An expiry on the valuation date is 0 years (intrinsic value); a date before it, a negative or non-finite
    number, or anything else raises ``InvalidInput`` naming both accepted forms.
    """
    import datetime as dt

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"expiry {value!r} {why}: give {EXPIRY_HELP}", field=field)

    def to_date(x: Any) -> dt.date:
        if isinstance(x, dt.datetime):
            return x.date()
        if isinstance(x, dt.date):
            return x
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            return dt.datetime.fromtimestamp(int(x) / 1e9, tz=dt.UTC).date()
        return dt.date.fromisoformat(str(x).strip()[:10])

    years: float
    if isinstance(value, bool) or value is None:
        raise bad("is not valid")
    if isinstance(value, (int, float, np.integer, np.floating)):
        years = float(value)
    elif isinstance(value, (str, dt.date)):
        text = value.strip() if isinstance(value, str) else None
        try:
            years = float(text) if text is not None else math.nan
            is_number = text is not None
        except ValueError:
            is_number = False
        if not is_number:
            try:
                day = to_date(value)
            except ValueError:
                raise bad("is not a date") from None
            try:
                base = dt.datetime.now(dt.UTC).date() if as_of is None else to_date(as_of)
            except (ValueError, OverflowError, OSError):
                raise InvalidInput(f"valuation date {as_of!r} is not a date", field=field) from None
            days = (day - base).days
            if days < 0:
                raise bad(f"is {-days} days before the valuation date {base.isoformat()}")
            return days / float(days_per_year)
    else:
        raise bad("is not valid")
    if not math.isfinite(years) or years < 0:
        raise bad("is not a number of years >= 0")
    return years


# ----------------------------------------------------------------------------------------- positions
@dataclass(frozen=True)
class OptionPositions:
    """A book of European option positions on a set of underlyings.

    Per position (length P): ``underlying`` (int index into ``spot``), ``option_type`` (see module doc),
    ``strike``, ``expiry`` (years from now, >= 0), ``quantity`` (signed contracts, negative = short),
    ``multiplier`` (units of underlying per contract), ``implied_vol`` (> 0).
    Per underlying (length N): ``spot`` (current price, > 0).
    ``r`` / ``q``: scalar, or per-position arrays (``q`` may be per position; callers with per-underlying
    yields index them by ``underlying``).
    Build with :meth:`create`, which validates and converts everything to float arrays.
    """

    underlying: np.ndarray
    phi: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    quantity: np.ndarray
    multiplier: np.ndarray
    implied_vol: np.ndarray
    spot: np.ndarray
    r: np.ndarray
    q: np.ndarray

    @classmethod
    def create(cls, *, underlying: Sequence[int] | np.ndarray, option_type, strike, expiry, quantity,
               implied_vol, spot, multiplier=1.0, r=0.0, q=0.0) -> OptionPositions:
        und = np.atleast_1d(np.asarray(underlying))
        if und.size == 0:
            und = und.astype(np.intp)
        if und.ndim != 1 or und.dtype.kind not in "iu":
            raise InvalidInput("underlying must be a 1-D integer array", field="underlying")
        n_pos = und.shape[0]
        spot_a = np.atleast_1d(_arr(spot, "spot"))
        if spot_a.ndim != 1 or np.any(spot_a <= 0):
            raise InvalidInput("spot must be a 1-D array of prices > 0", field="spot")
        if n_pos and (und.min() < 0 or und.max() >= spot_a.shape[0]):
            raise InvalidInput("underlying index out of range of spot", field="underlying")

        def per_pos(x, field: str) -> np.ndarray:
            a = _arr(x, field)
            try:
                return np.broadcast_to(a, (n_pos,)).astype(float)
            except ValueError as exc:
                raise InvalidInput(f"{field} must be a scalar or have length {n_pos}", field=field) from exc

        strike_a = per_pos(strike, "strike")
        expiry_a = per_pos(expiry, "expiry")
        vol_a = per_pos(implied_vol, "implied_vol")
        if np.any(strike_a <= 0):
            raise InvalidInput("strike must be > 0", field="strike")
        if np.any(expiry_a < 0):
            raise InvalidInput("expiry must be >= 0", field="expiry")
        if np.any(vol_a <= 0):
            raise InvalidInput("implied_vol must be > 0", field="implied_vol")
        phi = _phi(option_type)
        try:
            phi = np.broadcast_to(phi, (n_pos,)).astype(float)
        except ValueError as exc:
            raise InvalidInput(f"option_type must be a scalar or have length {n_pos}", field="option_type") from exc
        return cls(
            underlying=und.astype(np.intp), phi=phi, strike=strike_a, expiry=expiry_a,
            quantity=per_pos(quantity, "quantity"), multiplier=per_pos(multiplier, "multiplier"),
            implied_vol=vol_a, spot=spot_a.astype(float), r=per_pos(r, "r"), q=per_pos(q, "q"),
        )

    @property
    def n_positions(self) -> int:
        return int(self.underlying.shape[0])

    @property
    def n_underlyings(self) -> int:
        return int(self.spot.shape[0])

    def position_spot(self) -> np.ndarray:
        return self.spot[self.underlying]

    def value(self) -> float:
        """Current mark-to-model value of the book (sum of quantity * multiplier * price)."""
        p = bsm_price(self.position_spot(), self.strike, self.expiry, self.r, self.implied_vol, self.q, self.phi)
        return float(np.sum(self.quantity * self.multiplier * np.asarray(p)))

    def dollar_delta(self) -> np.ndarray:
        """Per-underlying delta exposure in currency (sum of q * m * delta * S), shape [N]."""
        d = np.asarray(bsm_delta(self.position_spot(), self.strike, self.expiry, self.r, self.implied_vol,
                                 self.q, self.phi))
        out = np.zeros(self.n_underlyings)
        np.add.at(out, self.underlying, self.quantity * self.multiplier * d * self.position_spot())
        return out


def _scenario_spots(pos: OptionPositions, spot_scenarios, scenario_type: str) -> np.ndarray:
    sc = _arr(spot_scenarios, "spot_scenarios")
    if sc.ndim == 1:
        sc = sc[None, :]
    if sc.ndim != 2 or sc.shape[1] != pos.n_underlyings:
        raise InvalidInput(
            f"spot_scenarios must have shape [n_scenarios, {pos.n_underlyings}]", field="spot_scenarios"
        )
    sc = sc[:, pos.underlying]  # [n_scen, P]: only the underlyings with an option
    if scenario_type == "level":
        spots = sc
    elif scenario_type == "return":
        spots = pos.position_spot()[None, :] * (1.0 + sc)
    else:
        raise InvalidInput("scenario_type must be 'level' or 'return'", field="scenario_type")
    if np.any(spots <= 0):
        raise InvalidInput("scenario spots must be > 0 (returns > -1)", field="spot_scenarios")
    return spots


def _vol_shift(vol_shift, n_scen: int, n_pos: int) -> np.ndarray:
    if vol_shift is None:
        return np.zeros((1, 1))
    v = _arr(vol_shift, "vol_shift")
    if v.ndim == 0:
        return v.reshape(1, 1)
    if v.ndim == 1 and v.shape[0] == n_scen:
        return v[:, None]
    if v.ndim == 2 and v.shape in ((n_scen, n_pos), (1, n_pos), (n_scen, 1)):
        return v
    raise InvalidInput(
        f"vol_shift must be a scalar, [n_scenarios={n_scen}] or [n_scenarios, n_positions={n_pos}]",
        field="vol_shift",
    )


VOL_FLOOR = 1e-4


def revalue(positions: OptionPositions, spot_scenarios, vol_shift=None, horizon_days: float = 0.0, *,
            scenario_type: Literal["level", "return"] = "level", days_per_year: float = 365.0,
            by_position: bool = False) -> np.ndarray:
    """Full-revaluation P&L of an option book under spot (and vol) scenarios.

    ``spot_scenarios``: [n_scen, N] underlying price LEVELS (``scenario_type="level"``) or simple returns
    applied to ``positions.spot`` (``scenario_type="return"``); a 1-D [N] array is one scenario.
    ``vol_shift``: ABSOLUTE additive shift of implied vol (0.05 = +5 vol points): scalar, per scenario
    [n_scen], or per scenario and position [n_scen, P]; shifted vols are floored at ``VOL_FLOOR``.
    ``horizon_days``: calendar days that pass (expiries shrink by ``horizon_days / days_per_year``,
    floored at 0 = expired at intrinsic value).

    Returns P&L = value(scenario, horizon) - value(now), shape [n_scen] (or [n_scen, P] by position),
    in currency (quantity * multiplier * price change).
    """
    if not np.isfinite(horizon_days) or horizon_days < 0:
        raise InvalidInput("horizon_days must be >= 0", field="horizon_days")
    if not days_per_year > 0:
        raise InvalidInput("days_per_year must be > 0", field="days_per_year")
    p = positions
    spots = _scenario_spots(p, spot_scenarios, scenario_type)
    n_scen = spots.shape[0]
    vols = np.maximum(p.implied_vol[None, :] + _vol_shift(vol_shift, n_scen, p.n_positions), VOL_FLOOR)
    t_new = np.maximum(p.expiry - horizon_days / days_per_year, 0.0)
    v_now = np.empty((1, p.n_positions))
    _price_grid_nb(p.position_spot()[None, :], p.implied_vol[None, :], p.strike, p.expiry, p.r, p.q, p.phi, v_now)
    pnl = np.empty(spots.shape)
    _price_grid_nb(np.ascontiguousarray(spots), np.broadcast_to(vols, spots.shape), p.strike, t_new, p.r, p.q,
                   p.phi, pnl)
    pnl -= v_now
    pnl *= p.quantity * p.multiplier
    return pnl if by_position else pnl.sum(axis=1)


@numba.njit(parallel=True, cache=True)
def _price_grid_nb(spots, vols, strike, expiry, r, q, phi, out):
    """out[i, j] = BSM price of position j at spots[i, j] and vols[i, j] (expiry, strike, rates per
    position): the formula of :class:`_Core`, intrinsic value at expiry 0, fused and parallel over rows."""
    n_pos = strike.shape[0]
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for i in numba.prange(spots.shape[0]):
        for j in range(n_pos):
            s = spots[i, j]
            k = strike[j]
            f = phi[j]
            if expiry[j] == 0.0:
                price = max(f * (s - k), 0.0)
            else:
                t = expiry[j]
                sig = vols[i, j]
                vs = sig * math.sqrt(t)
                d1 = (math.log(s / k) + (r[j] - q[j] + 0.5 * sig * sig) * t) / vs
                d2 = d1 - vs
                n1 = 0.5 * math.erfc(-f * d1 * inv_sqrt2)
                n2 = 0.5 * math.erfc(-f * d2 * inv_sqrt2)
                price = f * (s * math.exp(-q[j] * t) * n1 - k * math.exp(-r[j] * t) * n2)
            out[i, j] = price


def delta_gamma_pnl(positions: OptionPositions, spot_scenarios, vol_shift=None, horizon_days: float = 0.0, *,
                    scenario_type: Literal["level", "return"] = "level", days_per_year: float = 365.0,
                    include_vega: bool = True, include_theta: bool = True,
                    by_position: bool = False) -> np.ndarray:
    """Taylor approximation of :func:`revalue` (same arguments and shape)::

        pnl ~ q m (delta dS + 1/2 gamma dS^2 + vega dsigma + theta dt)

    with greeks at today's state, ``dt = horizon_days / days_per_year`` (theta is per year) and
    ``dsigma`` the vol shift (before flooring). Good for small moves, degrades for large ones.
    """
    if not np.isfinite(horizon_days) or horizon_days < 0:
        raise InvalidInput("horizon_days must be >= 0", field="horizon_days")
    p = positions
    spots = _scenario_spots(p, spot_scenarios, scenario_type)
    dv = _vol_shift(vol_shift, spots.shape[0], p.n_positions)
    g = bsm_greeks(p.position_spot(), p.strike, p.expiry, p.r, p.implied_vol, p.q, p.phi)
    dS = spots - p.position_spot()[None, :]
    per = np.asarray(g["delta"]) * dS + 0.5 * np.asarray(g["gamma"]) * dS * dS
    if include_vega:
        per = per + np.asarray(g["vega"]) * dv
    if include_theta:
        per = per + np.asarray(g["theta"]) * (horizon_days / days_per_year)
    pnl = per * (p.quantity * p.multiplier)[None, :]
    return pnl if by_position else pnl.sum(axis=1)
