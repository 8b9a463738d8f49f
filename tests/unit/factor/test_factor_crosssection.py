"""Cross-sectional processing: neutralize against the closed-form OLS residual and its orthogonality,
winsorize/zscore/rank against pandas and scipy, with hypothesis-drawn matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.factor import crosssection as cs


@st.composite
def matrices(draw, min_cols: int = 1):
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(min_cols, 15))
    x = draw(arrays(np.float64, (rows, cols), elements=st.integers(-10_000, 10_000).map(lambda v: v / 100)))
    holes = draw(arrays(np.bool_, (rows, cols), elements=st.booleans()))
    x[holes & draw(st.booleans())] = np.nan
    return x


HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_neutralize_equals_the_closed_form_residual() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 30))
    e1 = rng.normal(size=x.shape)
    e2 = x * 0.5 + rng.normal(size=x.shape)  # correlated with the factor
    x[1, 3] = np.nan
    e2[2, 7] = np.nan
    out = cs.neutralize(x, [e1, e2])
    for t in range(4):
        ok = np.isfinite(x[t]) & np.isfinite(e1[t]) & np.isfinite(e2[t])
        design = np.column_stack([e1[t, ok], e2[t, ok], np.ones(ok.sum())])
        beta = np.linalg.solve(design.T @ design, design.T @ x[t, ok])  # (X'X)^-1 X'y
        np.testing.assert_allclose(out[t, ok], x[t, ok] - design @ beta, atol=1e-12)
        np.testing.assert_allclose(design.T @ out[t, ok], 0.0, atol=1e-10)  # orthogonal to every exposure
        assert np.isnan(out[t, ~ok]).all()


def test_neutralize_with_groups_demeans_each_group() -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 12)) + np.repeat([0.0, 5.0, -3.0], 4)
    exposure = rng.normal(size=x.shape)
    groups = ["tech"] * 4 + ["energy"] * 4 + ["banks"] * 4
    out = cs.neutralize(x, [exposure], groups)
    for t in range(3):
        for g in range(3):
            assert out[t, 4 * g:4 * g + 4].sum() == pytest.approx(0.0, abs=1e-10)
        assert out[t] @ exposure[t] == pytest.approx(0.0, abs=1e-10)
    only_groups = cs.neutralize(x, groups=groups)
    expected = x - np.repeat(x.reshape(3, 3, 4).mean(axis=2), 4, axis=1)
    np.testing.assert_allclose(only_groups, expected, atol=1e-12)
    with pytest.raises(InvalidInput) as exc:
        cs.neutralize(x, groups=["a"])
    assert exc.value.field == "groups"
    assert np.isnan(cs.neutralize(x[:, :2], [exposure[:, :2]])).all()  # 2 symbols, 2 regressors: no residual


@HYPO
@given(matrices(), st.sampled_from([(0.0, 1.0), (0.05, 0.95), (0.2, 0.7)]))
def test_winsorize_quantile_matches_pandas_clip(x: np.ndarray, limits: tuple[float, float]) -> None:
    out = cs.winsorize(x, "quantile", limits)
    df = pd.DataFrame(x)
    lower, upper = df.quantile(limits[0], axis=1), df.quantile(limits[1], axis=1)
    expected = df.clip(lower=lower, upper=upper, axis=0).to_numpy()
    np.testing.assert_allclose(out, expected, equal_nan=True, rtol=1e-12)
    if limits == (0.0, 1.0):
        np.testing.assert_array_equal(out, x)


@HYPO
@given(matrices())
def test_winsorize_mad_matches_scipy(x: np.ndarray) -> None:
    out = cs.winsorize(x, "mad", n_mad=2.0)
    for t in range(x.shape[0]):
        row = x[t][np.isfinite(x[t])]
        if not row.size:
            assert np.isnan(out[t]).all()
            continue
        med = np.median(row)
        width = 2.0 * stats.median_abs_deviation(row, scale="normal")
        np.testing.assert_allclose(out[t], np.clip(x[t], med - width, med + width), equal_nan=True, rtol=1e-12)


@HYPO
@given(matrices())
def test_zscore_matches_scipy(x: np.ndarray) -> None:
    out = cs.zscore(x)
    for t in range(x.shape[0]):
        ok = np.isfinite(x[t])
        if ok.sum() < 2 or np.ptp(x[t, ok]) == 0:
            assert np.isnan(out[t]).all()
            continue
        np.testing.assert_allclose(out[t, ok], stats.zscore(x[t, ok]), rtol=1e-9, atol=1e-12)
        assert out[t, ok].mean() == pytest.approx(0.0, abs=1e-9)
        assert out[t, ok].std() == pytest.approx(1.0)
        assert np.isnan(out[t, ~ok]).all()


@HYPO
@given(matrices(), st.booleans())
def test_rank_matches_pandas(x: np.ndarray, centered: bool) -> None:
    out = cs.rank(x, centered)
    ranks = pd.DataFrame(x).rank(axis=1).to_numpy()
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(n > 1, (ranks - 1) / (n - 1), 0.5) - (0.5 if centered else 0.0)
    expected[np.isnan(x)] = np.nan
    np.testing.assert_allclose(out, expected, equal_nan=True)
    finite = out[np.isfinite(out)]
    if finite.size:
        shift = 0.5 if centered else 0.0
        assert finite.min() >= -shift - 1e-12 and finite.max() <= 1 - shift + 1e-12


def test_bad_processing_input_names_the_field() -> None:
    x = np.ones((2, 3))
    for call, field in ((lambda: cs.winsorize(x, "trim"), "method"), (lambda: cs.winsorize(x, limits=(0.9, 0.1)),
                                                                        "limits"),
                        (lambda: cs.winsorize(x, "mad", n_mad=0), "n_mad"), (lambda: cs.zscore(np.ones(3)), "factor"),
                        (lambda: cs.neutralize(x, [np.ones((2, 2))]), "exposures")):
        with pytest.raises(InvalidInput) as exc:
            call()
        assert exc.value.field == field


@HYPO
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 20)),
              elements=st.sampled_from([-2.0, 0.0, 1.0, 1.5, 3.0, np.nan, np.inf])))
def test_row_ranks_match_scipy_rankdata_with_ties(x: np.ndarray) -> None:
    expected = stats.rankdata(np.where(np.isfinite(x), x, np.nan), axis=1, nan_policy="omit")
    np.testing.assert_array_equal(cs.row_ranks(x), expected)
