"""The fused column kernel behind ``nautilus.analytics.summary`` against a per-column reference.

The oracle computes each statistic of one column at a time, straight from its definition (empyrical's
conventions, documented in :mod:`nautilus.analytics.stats`): every row counted as a period (empyrical's
``len``), the NaNs dropped, exactly rounded sums (``math.fsum``) and scipy for skew and kurtosis (bias-corrected
by default, the moment estimators as ``*_biased``). Hypothesis draws matrices
whose columns start late, have holes, are constant, empty, or hold 0, 1 or 2 observations, with a benchmark
that has holes of its own.
"""

from __future__ import annotations

import math
import warnings

import empyrical as ep
import numpy as np
import scipy.stats as ss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus import analytics as A
from nautilus.analytics import stats as S

RTOL = 1e-10
# Returns are multiples of 1e-4 in [-0.2, 0.2]: two different observations differ by at least 1e-4, so no
# statistic is ill-conditioned beyond what a 1e-10 relative tolerance can see. An absolute floor covers the
# statistics whose exact value is 0 (a symmetric sample's skew, a mean of +x and -x).
ATOL = 1e-12


def _mean(x: np.ndarray) -> float:
    return math.fsum(x) / len(x) if len(x) else np.nan


def _std1(x: np.ndarray, zero_dispersion: bool = True) -> float:
    if len(x) < 2:
        return np.nan
    if zero_dispersion and (x == x[0]).all():
        return 0.0
    m = _mean(x)
    return math.sqrt(math.fsum((x - m) ** 2) / (len(x) - 1))


def _ratio(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def oracle(col: np.ndarray, bench: np.ndarray | None, rf: float, req: float, ppy: float) -> dict[str, float]:
    """Every statistic the kernel feeds, for one column (``bench`` the benchmark's matching column)."""
    first = 0  # every row is a period, leading NaNs included (empyrical's len)
    c = col[first:]
    obs = len(c)
    x = c[~np.isnan(c)]
    cnt = len(x)
    growth = math.prod(1.0 + x)
    down = math.sqrt(_mean(np.minimum(x - req, 0.0) ** 2)) * math.sqrt(ppy) if obs >= 1 else np.nan
    thresh = (1.0 + req) ** (1.0 / ppy) - 1.0
    xo = (x - rf) - thresh
    gains, losses = math.fsum(xo[xo > 0]), -math.fsum(xo[xo < 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy on constant or tiny samples
        constant = cnt > 0 and (x == x[0]).all()
        skew = ss.skew(x) if cnt > 0 and not constant else np.nan
        kurt = ss.kurtosis(x) if cnt > 0 and not constant else np.nan
        skew_c = ss.skew(x, bias=False) if cnt > 2 and not constant else np.nan
        kurt_c = ss.kurtosis(x, bias=False) if cnt > 3 and not constant else np.nan
    out = {
        "observations": float(cnt),
        "periods": float(obs),
        "total_return": growth - 1.0 if cnt else np.nan,
        "annual_return": growth ** (ppy / obs) - 1.0 if obs >= 1 and cnt else np.nan,
        "annual_volatility": _std1(x, False) * math.sqrt(ppy) if obs >= 2 else np.nan,
        "sharpe": _ratio(_mean(x - rf), _std1(x - rf)) * math.sqrt(ppy) if obs >= 2 else np.nan,
        "sortino": _ratio(_mean(x - req) * ppy, down) if obs >= 2 else np.nan,
        "omega": gains / losses if losses > 0 and obs >= 2 else np.nan,
        "skew": skew_c,
        "excess_kurtosis": kurt_c,
        "skew_biased": skew,
        "excess_kurtosis_biased": kurt,
    }
    if bench is None:
        return out
    bc = bench[first:]
    both = ~np.isnan(c) & ~np.isnan(bc)
    xr, br = c[both], bc[both]
    beta = np.nan
    if len(xr) and len(col) >= 2:
        centred = br - _mean(br)
        var = _mean(centred * centred)
        beta = _mean(centred * xr) / var if var >= 1e-30 else np.nan
    residual = (xr - rf) - beta * (br - rf)
    out["beta"] = beta
    out["alpha"] = (_mean(residual) + 1.0) ** ppy - 1.0 if obs >= 2 and len(xr) else np.nan
    active = xr - br
    out["information_ratio"] = _ratio(_mean(active), _std1(active)) if obs >= 2 else np.nan
    return out


def _close(got: float, want: float, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)


KINDS = ("full", "late", "holes", "constant", "empty", "one", "two")
KEEP = {"empty": 0, "one": 1, "two": 2}  # observations left in such a column


@st.composite
def matrices(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    grid = st.integers(-2000, 2000).map(lambda v: v * 1e-4)
    cols = []
    for kind in kinds:
        c = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
        rows = st.integers(0, n - 1)
        if kind == "late":
            c[: draw(rows)] = np.nan
        elif kind == "holes":
            c[draw(st.lists(rows, max_size=n))] = np.nan
        elif kind == "constant":
            c[:] = draw(grid)
            c[: draw(rows)] = np.nan
        elif kind in ("empty", "one", "two"):
            m = min(KEEP[kind], n)
            keep = draw(st.lists(rows, min_size=m, max_size=m, unique=True))
            c[np.setdiff1d(np.arange(n), keep)] = np.nan
        cols.append(c)
    bench = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    bench[draw(st.lists(st.integers(0, n - 1), max_size=3))] = np.nan
    return np.column_stack(cols), bench


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=matrices(), rf=st.sampled_from([0.0, 1e-4, -3e-4]), req=st.sampled_from([0.0, 2e-4, 0.05]),
       ppy=st.sampled_from([252.0, 52.0, 12.0]))
def test_property_fused_statistics_equal_the_per_column_oracle(data, rf, req, ppy) -> None:
    r, bench = data
    out = A.summary(r, bench, risk_free=rf, required_return=req, periods_per_year=ppy)
    for j in range(r.shape[1]):
        want = oracle(r[:, j], bench, rf, req, ppy)
        for key, value in want.items():
            _close(out[key][j], value, f"{key} column {j}: {r[:, j]}")
    # the single-statistic functions are the same kernel: equal to the summary
    _close(A.sharpe_ratio(r, rf, ppy), out["sharpe"], "sharpe_ratio")
    _close(A.omega_ratio(r, rf, req, ppy), out["omega"], "omega_ratio")
    _close(A.sortino_ratio(r, req, ppy), out["sortino"], "sortino_ratio")
    _close(A.alpha(r, bench, rf, ppy), out["alpha"], "alpha")


def test_kernel_rows_hand_worked() -> None:
    # column 0: 2 leading NaNs, a hole; column 1: constant; column 2: no observation
    r = np.array([[np.nan, 0.01, np.nan], [np.nan, 0.01, np.nan], [0.02, 0.01, np.nan],
                  [np.nan, 0.01, np.nan], [-0.01, 0.01, np.nan], [0.05, 0.01, np.nan]])
    b = np.array([0.01, 0.0, 0.03, 0.01, np.nan, 0.01])
    cs = S.column_stats(r, b)
    assert cs[S.CS_OBS].tolist() == [6, 6, 6] and cs[S.CS_CNT].tolist() == [3, 6, 0]
    _close(cs[S.CS_MEAN][0], 0.06 / 3, "mean")
    _close(cs[S.CS_STD][0], math.sqrt((0.0**2 + 0.03**2 + 0.03**2) / 2), "std")
    _close(cs[S.CS_GROWTH][0], 1.02 * 0.99 * 1.05, "growth")
    assert cs[S.CS_MEAN][1] == 0.01 and cs[S.CS_STD][1] == 0.0 and cs[S.CS_M2][1] == 0.0  # exact: constant
    assert np.isnan(cs[S.CS_MEAN][2]) and cs[S.CS_GROWTH][2] == 1.0
    # pairs of column 0: rows 2 and 5 (row 4's benchmark is missing): beta over two points is the slope
    assert cs[S.CS_PAIRS][0] == 2
    _close(cs[S.CS_BETA][0], (0.05 - 0.02) / (0.01 - 0.03), "beta")
    _close(cs[S.CS_MEAN_ACTIVE][0], ((0.02 - 0.03) + (0.05 - 0.01)) / 2, "active mean")


def test_fused_statistics_match_empyrical_on_a_long_matrix() -> None:
    rng = np.random.default_rng(11)
    r = rng.standard_t(4, size=(1500, 6)) * 0.01 + 0.0003
    r[:300, 1] = np.nan
    r[::11, 2] = np.nan
    b = rng.normal(0.0003, 0.01, 1500)
    out = A.summary(r, b, risk_free=0.0001, required_return=0.0)
    for j in range(r.shape[1]):
        first = int(np.argmax(~np.isnan(r[:, j])))
        c, bc = r[first:, j], b[first:]
        for key, want in (("sharpe", ep.sharpe_ratio(c, 0.0001)), ("sortino", ep.sortino_ratio(c)),
                          ("omega", ep.omega_ratio(c, 0.0001)),
                          ("annual_volatility", ep.annual_volatility(c)),
                          ("beta", ep.beta(c, bc)), ("alpha", ep.alpha(c, bc, 0.0001)),
                          ("information_ratio", ep.excess_sharpe(c, bc))):
            np.testing.assert_allclose(out[key][j], want, rtol=RTOL, atol=ATOL, err_msg=f"{key} column {j}")
