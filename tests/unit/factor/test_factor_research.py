"""Factor research kernels: IC and quantile returns on a hand-worked 3-date x 5-symbol example,
IC against scipy.stats on random data, forward returns, turnover and the tear sheet."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.factor import research

NAN = np.nan
# 3 dates x 5 symbols. Date 2: symbol 1 has no factor, symbol 4 no forward return.
F = np.array([[1.0, 2.0, 3.0, 4.0, 5.0],
              [5.0, 4.0, 3.0, 2.0, 1.0],
              [2.0, NAN, 1.0, 4.0, 3.0]])
R = np.array([[0.01, 0.03, 0.02, 0.05, 0.04],
              [0.02, -0.01, 0.00, 0.01, 0.03],
              [0.01, 0.02, -0.02, 0.03, NAN]])


def test_hand_worked_ic() -> None:
    # Date 0: factor deviations (-2,-1,0,1,2), return deviations (-.02,0,-.01,.02,.01):
    #   cov sum .08, sqrt(10 * .001) = .1  -> 0.8; ranks of R (1,3,2,5,4) -> 8 / 10 = 0.8.
    # Date 1: return deviations (.01,-.02,-.01,0,.02) against (2,1,0,-1,-2): -.04 / .1 = -0.4;
    #   ranks of R (4,1,2,3,5) -> -4 / 10 = -0.4.
    # Date 2: pairs (2,.01), (1,-.02), (4,.03): 66/900 / sqrt(42/9 * 114/90000) = 11 / sqrt(133);
    #   ranks (2,1,3) and (2,1,3) -> 1.
    pearson = research.ic(F, R, "pearson")
    np.testing.assert_allclose(pearson, [0.8, -0.4, 11 / math.sqrt(133)], rtol=1e-12)
    spearman = research.ic(F, R, "spearman")
    np.testing.assert_allclose(spearman, [0.8, -0.4, 1.0], rtol=1e-12)
    summary = research.ic_summary(pearson)
    values = [0.8, -0.4, 11 / math.sqrt(133)]
    assert summary["n"] == 3 and summary["hit_rate"] == pytest.approx(2 / 3)
    assert summary["mean"] == pytest.approx(statistics.mean(values))
    assert summary["std"] == pytest.approx(statistics.stdev(values))
    assert summary["t_stat"] == pytest.approx(statistics.mean(values) / (statistics.stdev(values) / math.sqrt(3)))


def test_hand_worked_quantile_returns() -> None:
    # Five quantiles: dates 0 and 1 put one symbol in each; date 2 has only 3 usable symbols -> no quantiles.
    out = research.quantile_returns(F, R, 5)
    np.testing.assert_allclose(out["returns"][0], [0.01, 0.03, 0.02, 0.05, 0.04])
    np.testing.assert_allclose(out["returns"][1], [0.03, 0.01, 0.00, -0.01, 0.02])
    assert np.isnan(out["returns"][2]).all()
    np.testing.assert_allclose(out["spread"][:2], [0.03, -0.01])
    np.testing.assert_allclose(out["mean"], [0.02, 0.02, 0.01, 0.02, 0.03])
    assert float(out["spread_mean"]) == pytest.approx(0.01)
    np.testing.assert_allclose(out["cumulative"], [0.03, 1.03 * 0.99 - 1, 1.03 * 0.99 - 1])
    # Two quantiles: ceil(rank * 2 / n) - 1. Date 0: {0,1} | {2,3,4}; date 2 (symbols 0,2,3, ranks 2,1,3): {2} | {0,3}.
    two = research.quantile_returns(F, R, 2)
    np.testing.assert_allclose(two["returns"][0], [0.02, 0.11 / 3])
    np.testing.assert_allclose(two["returns"][1], [0.02, 0.01 / 3])  # bottom {3,4}: (.01+.03)/2; top {0,1,2}
    np.testing.assert_allclose(two["returns"][2], [-0.02, 0.02])
    np.testing.assert_allclose(two["spread"], [0.11 / 3 - 0.02, 0.01 / 3 - 0.02, 0.04])


def test_quantile_labels_equal_groups_and_ties() -> None:
    labels = research.quantile_labels(np.array([[5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 8.0, 7.0, 10.0, 9.0]]), 5)
    assert labels.tolist() == [[2, 0, 1, 0, 1, 2, 3, 3, 4, 4]]
    ties = research.quantile_labels(np.array([[1.0, 1.0, 2.0, 3.0]]), 2)
    assert ties[0, 0] == ties[0, 1] == 0 and ties[0, 3] == 1
    assert (research.quantile_labels(np.array([[1.0, NAN, 2.0]]), 2) == [[0, -1, 1]]).all()


def test_forward_returns_are_attributed_to_the_start_date() -> None:
    close = np.array([[100.0, 10.0], [110.0, NAN], [121.0, 12.0], [133.1, 13.0]])
    fwd = research.forward_returns(close, 2)
    np.testing.assert_allclose(fwd[:, 0], [0.21, 0.21, NAN, NAN])
    np.testing.assert_allclose(fwd[:, 1], [0.2, NAN, NAN, NAN])
    with pytest.raises(InvalidInput) as exc:
        research.forward_returns(close, 0)
    assert exc.value.field == "horizons"


@st.composite
def matrices(draw):
    rows = draw(st.integers(1, 6))
    cols = draw(st.integers(3, 12))
    f = draw(arrays(np.float64, (rows, cols), elements=st.integers(-1000, 1000).map(lambda v: v / 10)))
    r = draw(arrays(np.float64, (rows, cols), elements=st.integers(-500, 500).map(lambda v: v / 1000)))
    holes = draw(arrays(np.bool_, (rows, cols), elements=st.booleans()))
    f[holes & (np.arange(cols) % 2 == 0)] = np.nan
    r[holes & (np.arange(cols) % 2 == 1)] = np.nan
    return f, r


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices())
def test_ic_matches_scipy(data) -> None:
    f, r = data
    for method, oracle in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
        got = research.ic(f, r, method)
        for t in range(f.shape[0]):
            ok = np.isfinite(f[t]) & np.isfinite(r[t])
            x, y = f[t, ok], r[t, ok]
            if ok.sum() < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                assert np.isnan(got[t]) or ok.sum() >= 3
                continue
            if method == "spearman" and (len(np.unique(x)) == 1 or len(np.unique(y)) == 1):
                continue
            with np.errstate(all="ignore"):
                expected = oracle(x, y)[0]
            if not np.isfinite(expected):  # scipy gives NaN for (near-)constant input
                continue
            assert got[t] == pytest.approx(expected, abs=1e-9), (method, t, x, y)


def test_turnover_hand_worked() -> None:
    # Two quantiles over 4 symbols: date 0 bottom {0,1} top {2,3}; date 1 bottom {0,2} top {1,3}.
    f = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]])
    out = research.turnover(f, 2)
    np.testing.assert_allclose(out["quantile"][1], [0.5, 0.5])
    assert out["changed"][1] == pytest.approx(0.5)
    assert out["rank_autocorr"][1] == pytest.approx(stats.spearmanr(f[0], f[1])[0])
    assert np.isnan(out["changed"][0]) and np.isnan(out["rank_autocorr"][0])


def test_ic_decay_and_tearsheet_agree_with_the_kernels(tmp_path) -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (120, 8)), axis=0))
    factor = rng.normal(size=close.shape)
    factor[:10, :3] = np.nan
    sheet = research.tearsheet(factor, close, horizons=(5, 1), n_quantiles=4, method="pearson",
                               ts=np.arange(120, dtype=np.int64) * 86_400_000_000_000, name="noise")
    json.dumps(sheet, allow_nan=False)  # plain values only, NaN as None
    assert sheet["horizons"] == [1, 5] and sheet["t"][1] == 86_400_000
    assert sheet["coverage"][:2] == [5, 5] and sheet["coverage"][10] == 8
    series = research.ic(factor, research.forward_returns(close, 5), "pearson")
    got = np.array([np.nan if v is None else v for v in sheet["ic"][1]["series"]])
    np.testing.assert_allclose(got, series, equal_nan=True)
    assert sheet["ic"][1]["mean"] == pytest.approx(np.nanmean(series))
    decay = research.ic_decay(factor, close, [1, 5], "pearson")
    assert decay[1]["mean"] == pytest.approx(sheet["ic"][1]["mean"])
    assert [row["horizon"] for row in sheet["ic_decay"]] == [h for h in research.DECAY_HORIZONS if h < 120]
    qr = research.quantile_returns(factor, research.forward_returns(close, 1), 4)
    np.testing.assert_allclose(sheet["quantiles"][0]["mean_returns"], qr["mean"])
    np.testing.assert_allclose(sheet["long_short"]["cumulative"], qr["cumulative"])
    path = research.plot_tearsheet(sheet, str(tmp_path / "sheet.png"))
    assert (tmp_path / "sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.endswith("sheet.png")


def test_bad_research_input_names_the_field() -> None:
    close = np.ones((10, 4))
    for kwargs, field in (({"method": "kendall"}, "method"), ({"horizons": []}, "horizons"),
                          ({"n_quantiles": 1}, "quantiles"), ({"horizons": [0]}, "horizons")):
        with pytest.raises(InvalidInput) as exc:
            research.tearsheet(close, close, **kwargs)
        assert exc.value.field == field
