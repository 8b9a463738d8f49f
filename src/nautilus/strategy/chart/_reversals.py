"""Double tops and head-and-shoulders tops on the confirmed pivot sequence (view orientation).

Bottoms are the same shapes on the negated view (see ``View``), so only tops are written here.
Candidates are screened with array operations over all pivot triples/quintuples; only the few that
pass are turned into results one by one.
"""

from __future__ import annotations

import numpy as np

from ._common import CONFIRMED, EXPIRED, INVALID, ChartPattern, View, clip01, resolve_down, wait_bars

# head-and-shoulders shape limits (fixed; the tunable ones are arguments)
MIN_SHOULDER_FRACTION = 0.2  # each shoulder rises at least this share of the head's height above the neckline
MIN_TIME_SYMMETRY = 0.4  # shorter / longer of (left shoulder -> head, head -> right shoulder) bars
MAX_NECK_DRIFT = 0.5  # neckline rise/fall from left to right shoulder, in head heights


def _prior_lows(view: View, ks: np.ndarray) -> np.ndarray:
    return np.array([view.prior_low(int(k)) for k in ks], dtype=np.float64)


def double_tops(view: View, peak_tol: float, min_depth: float, names: tuple[str, str]) -> list[ChartPattern]:
    """Two consecutive swing highs within ``peak_tol`` (relative), a trough between them at least
    ``min_depth`` (relative to the lower peak) deep, and price rising into the first peak from below
    the trough. Breakout = trough (neckline), target = neckline - (mean peak - trough).

    Confidence = 0.5 * peak equality (1 - |p1 - p2| / (peak_tol * scale))
               + 0.25 * time symmetry (shorter / longer of the two legs around the trough)
               + 0.25 * depth (depth / (2 * min_depth), capped at 1).
    """
    idx, pr, kd = view.idx, view.price, view.kind
    K = idx.size
    if K < 3:
        return []
    k = np.arange(K - 2)
    h1, t, h2 = pr[k], pr[k + 1], pr[k + 2]
    scale = np.maximum(np.abs(h1), np.abs(h2))
    lower_peak = np.minimum(h1, h2)
    ok = (kd[k] == 1) & (np.abs(h1 - h2) <= peak_tol * scale) & (lower_peak - t >= min_depth * scale)
    out: list[ChartPattern] = []
    cand = k[ok]
    if not cand.size:
        return out
    prior = _prior_lows(view, cand)
    for k0, p0 in zip(cand, prior, strict=True):
        k0 = int(k0)
        p1, pt, p2 = float(pr[k0]), float(pr[k0 + 1]), float(pr[k0 + 2])
        if not p0 < pt:  # no rise into the pattern (NaN: nothing before it)
            continue
        start, end = int(idx[k0]), int(idx[k0 + 2])
        window = wait_bars(start, end)
        status, j = resolve_down(view, end, window, lambda x, pt=pt: np.full(x.shape, pt), max(p1, p2))
        if status in (INVALID, EXPIRED):
            continue
        height = 0.5 * (p1 + p2) - pt
        sc = max(abs(p1), abs(p2))
        d1 = int(idx[k0 + 1]) - start
        d2 = end - int(idx[k0 + 1])
        conf = (0.5 * clip01(1.0 - abs(p1 - p2) / (peak_tol * sc))
                + 0.25 * (min(d1, d2) / max(d1, d2))
                + 0.25 * clip01((min(p1, p2) - pt) / (2.0 * min_depth * sc)))
        confirmed = status == CONFIRMED
        line_end = j if confirmed else max(end, view.n - 1)
        out.append(ChartPattern(
            kind=names[0] if view.sign > 0 else names[1],
            direction=-view.sign,
            start=start,
            end=end,
            points=[view.pt(k0), view.pt(k0 + 1), view.pt(k0 + 2)],
            lines=[((start, view.p(pt)), (line_end, view.p(pt))),
                   (view.pt(k0), view.pt(k0 + 2))],
            confidence=float(conf),
            breakout_price=view.p(pt),
            target_price=view.p(pt - height),
            height=float(height),
            confirmed=confirmed,
            confirmed_at=j if confirmed else None,
            detected_at=int(view.conf[k0 + 2]),
        ))
    return out


def head_and_shoulders(view: View, shoulder_tol: float, head_margin: float,
                       names: tuple[str, str]) -> list[ChartPattern]:
    """Five consecutive pivots high-low-high-low-high: left shoulder, trough, head, trough, right
    shoulder. The head exceeds both shoulders by ``head_margin`` (relative to the head), the shoulders
    are within ``shoulder_tol`` of each other; the neckline runs through the two troughs (it may
    slope); each shoulder stands at least ``MIN_SHOULDER_FRACTION`` of the head's height above it;
    the legs to and from the head are within ``MIN_TIME_SYMMETRY`` of each other in bars; the
    neckline moves at most ``MAX_NECK_DRIFT`` head heights between the shoulders; price rose into
    the left shoulder from below both troughs. Head height = head - neckline at the head;
    breakout = neckline at the breakout bar; target = breakout - head height.

    Confidence = 0.35 * shoulder equality (1 - |LS - RS| / (shoulder_tol * |head|))
               + 0.25 * time symmetry (shorter / longer shoulder-to-head distance in bars)
               + 0.20 * head prominence ((head - higher shoulder) / (0.5 * head height), capped)
               + 0.20 * neckline flatness (1 - neckline drift between the shoulders / head height).
    """
    idx, pr, kd = view.idx, view.price, view.kind
    K = idx.size
    if K < 5:
        return []
    k = np.arange(K - 4)
    ls, t1, hd, t2, rs = (pr[k + o] for o in range(5))
    x = [idx[k + o].astype(np.float64) for o in range(5)]
    scale = np.abs(hd)
    slope = (t2 - t1) / (x[3] - x[1])
    neck_h = t1 + slope * (x[2] - x[1])
    neck_ls = t1 + slope * (x[0] - x[1])
    neck_rs = t1 + slope * (x[4] - x[1])
    head_h = hd - neck_h
    dl, dr = x[2] - x[0], x[4] - x[2]
    ok = (
        (kd[k] == 1)
        & (hd - np.maximum(ls, rs) >= head_margin * scale)
        & (np.abs(ls - rs) <= shoulder_tol * scale)
        & (head_h > 0)
        & (ls - neck_ls >= MIN_SHOULDER_FRACTION * head_h)
        & (rs - neck_rs >= MIN_SHOULDER_FRACTION * head_h)
        & (np.minimum(dl, dr) >= MIN_TIME_SYMMETRY * np.maximum(dl, dr))
        & (np.abs(slope) * (x[4] - x[0]) <= MAX_NECK_DRIFT * head_h)
    )
    out: list[ChartPattern] = []
    cand = np.flatnonzero(ok)
    if not cand.size:
        return out
    prior = _prior_lows(view, k[cand])
    for c, p0 in zip(cand, prior, strict=True):
        k0 = int(k[c])
        if not p0 < min(t1[c], t2[c]):
            continue
        xs = [int(idx[k0 + o]) for o in range(5)]
        a, b = float(t1[c]), float(slope[c])
        x1 = xs[1]

        def neck(xx, a=a, b=b, x1=x1):
            return a + b * (xx - x1)

        start, end = xs[0], xs[4]
        window = wait_bars(start, end)
        status, j = resolve_down(view, end, window, neck, float(hd[c]))
        if status in (INVALID, EXPIRED):
            continue
        confirmed = status == CONFIRMED
        at = j if confirmed else max(end, view.n - 1)
        breakout = float(neck(at))
        hh = float(head_h[c])
        sc = float(scale[c])
        conf = (0.35 * clip01(1.0 - abs(float(ls[c] - rs[c])) / (shoulder_tol * sc))
                + 0.25 * float(min(dl[c], dr[c]) / max(dl[c], dr[c]))
                + 0.20 * clip01(float(hd[c] - max(ls[c], rs[c])) / (0.5 * hh))
                + 0.20 * clip01(1.0 - abs(b) * (end - start) / hh))
        out.append(ChartPattern(
            kind=names[0] if view.sign > 0 else names[1],
            direction=-view.sign,
            start=start,
            end=end,
            points=[view.pt(k0 + o) for o in range(5)],
            lines=[((start, view.p(neck(start))), (at, view.p(breakout)))],
            confidence=float(conf),
            breakout_price=view.p(breakout),
            target_price=view.p(breakout - hh),
            height=hh,
            confirmed=confirmed,
            confirmed_at=j if confirmed else None,
            detected_at=int(view.conf[k0 + 4]),
        ))
    return out
