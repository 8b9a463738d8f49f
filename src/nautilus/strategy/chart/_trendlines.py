"""Trend-line patterns on windows of consecutive confirmed pivots: triangles, channels, flags.

``window_fits`` (numba) fits, for every window of ``m`` consecutive pivots starting at pivot
``k0``, one least-squares line through its swing highs and one through its swing lows, with
running sums (O(1) per line) and an O(m) residual pass: O(K * M^2) for K pivots, M the longest
window. Classification, selection and the breakout search are array operations plus a short
Python loop over the few windows that qualify.

Measures, per window (x = bars from the window's first pivot, ``span`` = x of its last pivot):

* ``height`` = gap between the upper and lower line at x = 0 (the pattern's widest part for a
  triangle; its width for a channel);
* relative slopes ``rel_u = slope_u * span / height`` and ``rel_l`` (how far each line moves over
  the pattern, in pattern heights); a line is *flat* when ``|rel| <= flat_tol``, rising above it,
  falling below ``-flat_tol``;
* ``fit`` = largest touch residual / mean gap between the lines (the mean of the gaps at the first
  and last pivot; must be ``<= fit_tol``).

Triangles converge (``rel_l - rel_u >= min_convergence`` and the lines do not cross before the
last pivot): ascending = flat top + rising lows, descending = falling highs + flat bottom,
symmetric = falling highs + rising lows. Channels are parallel (``|rel_u - rel_l| <= parallel_tol``)
and classified by the midline's relative slope (up / down / horizontal).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._common import CONFIRMED, EXPIRED, INVALID, ChartPattern, View, resolve_exit, wait_bars

# flags: the pole must rise at least this many times faster (price per bar) than the flag's range
POLE_RATE_MULT = 2.0
FLAG_MIN_PIVOTS = 4  # pole top + low, high, low


@njit(cache=True, nogil=True)
def window_fits(idx, price, kind, min_m, max_m):
    K = idx.shape[0]
    M = max_m + 1
    bu = np.full((K, M), np.nan)
    au = np.full((K, M), np.nan)
    bl = np.full((K, M), np.nan)
    al = np.full((K, M), np.nan)
    ru = np.full((K, M), np.nan)
    rl = np.full((K, M), np.nan)
    lo_min = np.full((K, M), np.nan)
    hi_max = np.full((K, M), np.nan)
    for k0 in range(K):
        x0 = idx[k0]
        nu = 0.0
        sxu = 0.0
        syu = 0.0
        sxxu = 0.0
        sxyu = 0.0
        nl = 0.0
        sxl = 0.0
        syl = 0.0
        sxxl = 0.0
        sxyl = 0.0
        mn = np.inf
        mx = -np.inf
        for m in range(1, M):
            k1 = k0 + m - 1
            if k1 >= K:
                break
            x = float(idx[k1] - x0)
            y = price[k1]
            if kind[k1] > 0:
                nu += 1.0
                sxu += x
                syu += y
                sxxu += x * x
                sxyu += x * y
                mx = max(mx, y)
            else:
                nl += 1.0
                sxl += x
                syl += y
                sxxl += x * x
                sxyl += x * y
                mn = min(mn, y)
            if m < min_m or nu < 2.0 or nl < 2.0:
                continue
            du = nu * sxxu - sxu * sxu
            dl = nl * sxxl - sxl * sxl
            if du <= 0.0 or dl <= 0.0:
                continue
            b_u = (nu * sxyu - sxu * syu) / du
            a_u = (syu - b_u * sxu) / nu
            b_l = (nl * sxyl - sxl * syl) / dl
            a_l = (syl - b_l * sxl) / nl
            r_u = 0.0
            r_l = 0.0
            for j in range(k0, k1 + 1):
                xj = float(idx[j] - x0)
                if kind[j] > 0:
                    r_u = max(r_u, abs(price[j] - (a_u + b_u * xj)))
                else:
                    r_l = max(r_l, abs(price[j] - (a_l + b_l * xj)))
            bu[k0, m] = b_u
            au[k0, m] = a_u
            bl[k0, m] = b_l
            al[k0, m] = a_l
            ru[k0, m] = r_u
            rl[k0, m] = r_l
            lo_min[k0, m] = mn
            hi_max[k0, m] = mx
    return bu, au, bl, al, ru, rl, lo_min, hi_max


class Fits:
    """``window_fits`` output plus the derived relative measures, all shaped (K, max_m + 1)."""

    def __init__(self, view: View, max_m: int) -> None:
        idx, pr, kd = view.idx, view.price, view.kind
        self.K = K = idx.size
        self.M = max_m + 1
        bu, au, bl, al, ru, rl, lo, hi = window_fits(idx, pr, kd, FLAG_MIN_PIVOTS, max_m)
        self.bu, self.au, self.bl, self.al, self.lo_min, self.hi_max = bu, au, bl, al, lo, hi
        m = np.arange(self.M)
        last = np.clip(np.arange(K)[:, None] + m[None, :] - 1, 0, max(K - 1, 0))
        self.last = last  # pivot index of the window's last pivot
        self.span = (idx[last] - idx[:, None]).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.height = au - al
            good = np.isfinite(self.height) & (self.height > 0) & (self.span > 0)
            h = np.where(good, self.height, np.nan)
            self.rel_u = bu * self.span / h
            self.rel_l = bl * self.span / h
            self.gap_end = self.height + (bu - bl) * self.span
            self.fit = np.maximum(ru, rl) / (0.5 * (h + np.maximum(self.gap_end, 0.0)))
        self.m = np.broadcast_to(m[None, :], (K, self.M))
        self.good = good


def _lines(view: View, fits: Fits, k0: int, m: int, x_end: int):
    x0 = int(view.idx[k0])
    au, bu, al, bl = (float(a[k0, m]) for a in (fits.au, fits.bu, fits.al, fits.bl))

    def upper(x, au=au, bu=bu, x0=x0):
        return au + bu * (np.asarray(x, dtype=np.float64) - x0)

    def lower(x, al=al, bl=bl, x0=x0):
        return al + bl * (np.asarray(x, dtype=np.float64) - x0)

    segs = [((x0, view.p(float(upper(x0)))), (x_end, view.p(float(upper(x_end))))),
            ((x0, view.p(float(lower(x0)))), (x_end, view.p(float(lower(x_end)))))]
    return upper, lower, segs


def _select(cands: list[tuple[int, int, float, str]]) -> list[tuple[int, int, float, str]]:
    """Non-maximum suppression: longest windows first (then most confident); a window sharing two
    or more pivots with an accepted one is dropped. O(candidates * window length)."""
    cands.sort(key=lambda c: (-c[1], -c[2], c[0]))
    used: dict[int, bool] = {}
    keep = []
    for k0, m, conf, kind in cands:
        if sum(1 for k in range(k0, k0 + m) if k in used) >= 2:
            continue
        used.update(dict.fromkeys(range(k0, k0 + m), True))
        keep.append((k0, m, conf, kind))
    return keep


def triangles_and_channels(view: View, fits: Fits, kinds: set[str], *, flat_tol: float, parallel_tol: float,
                           fit_tol: float, min_convergence: float, min_touches: int) -> list[ChartPattern]:
    """Triangles and channels (real-price view only; they are symmetric under mirroring).

    Confidence = 0.4 * fit (1 - fit / fit_tol) + 0.3 * touches (1 - 0.5 ** (touches - 3))
               + 0.3 * shape, where shape is, for ascending/descending triangles, the mean of the flat
    line's flatness (1 - |rel| / flat_tol) and the convergence (conv / (2 * min_convergence),
    capped); for symmetric ones the mean of slope balance (1 - |rel_u + rel_l| / (|rel_u| + |rel_l|))
    and convergence; for channels the parallelism (1 - |rel_u - rel_l| / parallel_tol).
    """
    f = fits
    with np.errstate(invalid="ignore", divide="ignore"):
        base = f.good & (f.m >= min_touches) & (f.fit <= fit_tol)
        conv = f.rel_l - f.rel_u
        tri = base & (conv >= min_convergence) & (f.gap_end > 0)
        dn_u, flat_u = f.rel_u < -flat_tol, np.abs(f.rel_u) <= flat_tol
        up_l, flat_l = f.rel_l > flat_tol, np.abs(f.rel_l) <= flat_tol
        chan = base & (np.abs(f.rel_u - f.rel_l) <= parallel_tol)
        mid = 0.5 * (f.rel_u + f.rel_l)
        masks = {
            "ascending_triangle": tri & flat_u & up_l,
            "descending_triangle": tri & dn_u & flat_l,
            "symmetric_triangle": tri & dn_u & up_l,
            "channel_up": chan & (mid > flat_tol),
            "channel_down": chan & (mid < -flat_tol),
            "channel_horizontal": chan & (np.abs(mid) <= flat_tol),
        }
        fit_s = np.clip(1.0 - f.fit / fit_tol, 0.0, 1.0)
        touch_s = 1.0 - 0.5 ** (f.m - 3.0)
        conv_s = np.clip(conv / (2.0 * min_convergence), 0.0, 1.0)
        shape = {
            "ascending_triangle": 0.5 * np.clip(1.0 - np.abs(f.rel_u) / flat_tol, 0, 1) + 0.5 * conv_s,
            "descending_triangle": 0.5 * np.clip(1.0 - np.abs(f.rel_l) / flat_tol, 0, 1) + 0.5 * conv_s,
            "symmetric_triangle": 0.5 * (1.0 - np.abs(f.rel_u + f.rel_l) / (np.abs(f.rel_u) + np.abs(f.rel_l)))
            + 0.5 * conv_s,
        }
        par_s = np.clip(1.0 - np.abs(f.rel_u - f.rel_l) / parallel_tol, 0.0, 1.0)
    out: list[ChartPattern] = []
    resolved = []
    for kind, mask in masks.items():
        if kind not in kinds:
            continue
        conf_all = 0.4 * fit_s + 0.3 * touch_s + 0.3 * shape.get(kind, par_s)
        for k0 in np.flatnonzero(mask.any(axis=1)):
            k0 = int(k0)
            for m in np.flatnonzero(mask[k0])[::-1]:  # longest window first, shorter if it went stale
                m = int(m)
                start, end = int(view.idx[k0]), int(view.idx[k0 + m - 1])
                upper, lower, _ = _lines(view, f, k0, m, end)
                status, j, side = resolve_exit(view, end, wait_bars(start, end), upper, lower)
                if status in (INVALID, EXPIRED):
                    continue
                resolved.append((k0, m, float(conf_all[k0, m]), kind, status, j, side))
                break
    keep = {(k0, m, kind) for k0, m, _, kind in _select([(r[0], r[1], r[2], r[3]) for r in resolved])}
    for k0, m, conf, kind, status, j, side in resolved:
        if (k0, m, kind) not in keep:
            continue
        k1 = k0 + m - 1
        start, end = int(view.idx[k0]), int(view.idx[k1])
        confirmed = status == CONFIRMED
        at = j if confirmed else max(end, view.n - 1)
        upper, lower, segs = _lines(view, f, k0, m, at)
        if confirmed:
            direction = side
        elif kind in ("ascending_triangle", "channel_up"):
            direction = 1
        elif kind in ("descending_triangle", "channel_down"):
            direction = -1
        else:
            direction = 0
        # the side a breakout is expected on: the pattern's bias, else the trend into it
        expect = direction if direction != 0 else int(view.kind[k0])
        height = float(f.height[k0, m])
        brk = float(upper(at)) if expect > 0 else float(lower(at))
        out.append(ChartPattern(
            kind=kind,
            direction=int(direction),
            start=start,
            end=end,
            points=[view.pt(k) for k in range(k0, k1 + 1)],
            lines=segs,
            confidence=float(conf),
            breakout_price=brk,
            target_price=brk + expect * height,
            height=height,
            confirmed=confirmed,
            confirmed_at=j if confirmed else None,
            detected_at=int(view.conf[k1]),
        ))
    return out


def flags(view: View, fits: Fits, *, flat_tol: float, parallel_tol: float, fit_tol: float,
          max_retrace: float, max_ratio: float, names: tuple[str, str]) -> list[ChartPattern]:
    """Bull flags in view orientation (bear flags on the negated view).

    Pole: the leg from a swing low A to the next swing high B. Flag: B and the next ``m - 1 >= 3``
    pivots, fitted by two parallel lines (``|rel_u - rel_l| <= parallel_tol``, ``fit <= fit_tol``)
    whose midline does not rise by more than ``flat_tol`` flag heights (counter-trend or flat); B is
    the flag's highest point; the flag retraces at most ``max_retrace`` of the pole; it lasts at
    most ``max_ratio`` times the pole's bars; the pole's rise per bar is at least
    ``POLE_RATE_MULT`` times the flag's range per bar. Per pole the longest qualifying flag is kept.
    Breakout = upper flag line at the breakout bar; a close below the lower line first invalidates
    it. Target = breakout + pole height.

    Confidence = 0.3 * fit (1 - fit / fit_tol) + 0.25 * parallelism (1 - |rel_u - rel_l| /
    parallel_tol) + 0.25 * shallowness (1 - retrace / max_retrace) + 0.2 * touches
    (1 - 0.5 ** (touches - 3)).
    """
    f = fits
    idx, pr, kd = view.idx, view.price, view.kind
    K = idx.size
    if K < FLAG_MIN_PIVOTS + 1:
        return []
    k0s = np.arange(K)
    prev = np.maximum(k0s - 1, 0)
    pole_h = (pr - pr[prev])[:, None]
    pole_bars = (idx - idx[prev]).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        flag_range = pr[:, None] - f.lo_min
        retrace = flag_range / pole_h
        ok = (
            f.good
            & (k0s >= 1)[:, None]
            & (kd == 1)[:, None]
            & (pole_h > 0)
            & (f.m >= FLAG_MIN_PIVOTS)
            & (f.fit <= fit_tol)
            & (np.abs(f.rel_u - f.rel_l) <= parallel_tol)
            & (0.5 * (f.rel_u + f.rel_l) <= flat_tol)
            & (f.hi_max <= pr[:, None])
            & (retrace <= max_retrace)
            & (f.span <= max_ratio * pole_bars)
            & (pole_h / pole_bars >= POLE_RATE_MULT * flag_range / f.span)
        )
        conf_all = (0.3 * np.clip(1.0 - f.fit / fit_tol, 0, 1)
                    + 0.25 * np.clip(1.0 - np.abs(f.rel_u - f.rel_l) / parallel_tol, 0, 1)
                    + 0.25 * np.clip(1.0 - retrace / max_retrace, 0, 1)
                    + 0.2 * (1.0 - 0.5 ** (f.m - 3.0)))
    out: list[ChartPattern] = []
    cands = []
    for k0 in np.flatnonzero(ok.any(axis=1)):
        k0 = int(k0)
        ms = np.flatnonzero(ok[k0])
        for m in ms[::-1]:  # longest flag first; fall back to a shorter one if it failed
            m = int(m)
            k1 = k0 + m - 1
            start, end = int(idx[k0 - 1]), int(idx[k1])
            upper, lower, _ = _lines(view, f, k0, m, end)
            status, j, side = resolve_exit(view, end, wait_bars(int(idx[k0]), end), upper, lower)
            if status == EXPIRED or status == CONFIRMED and side < 0:
                continue
            cands.append((k0, m, float(conf_all[k0, m]), "flag", status, j))
            break
    keep = {(c[0], c[1]) for c in _select([c[:4] for c in cands])}
    for k0, m, conf, _, status, j in cands:
        if (k0, m) not in keep:
            continue
        k1 = k0 + m - 1
        start, end = int(idx[k0 - 1]), int(idx[k1])
        confirmed = status == CONFIRMED
        at = j if confirmed else max(end, view.n - 1)
        upper, lower, segs = _lines(view, f, k0, m, at)
        brk = float(upper(at))
        ph = float(pole_h[k0, 0])
        out.append(ChartPattern(
            kind=names[0] if view.sign > 0 else names[1],
            direction=view.sign,
            start=start,
            end=end,
            points=[view.pt(k) for k in range(k0 - 1, k1 + 1)],
            lines=segs,
            confidence=float(conf),
            breakout_price=view.p(brk),
            target_price=view.p(brk + ph),
            height=ph,
            confirmed=confirmed,
            confirmed_at=j if confirmed else None,
            detected_at=int(view.conf[k1]),
        ))
    return out
