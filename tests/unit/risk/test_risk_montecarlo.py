"""Monte Carlo VaR/CVaR core: closed forms, determinism, backends, variance reduction, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from nautilus.core.errors import InvalidInput
from nautilus.risk.montecarlo import CovarianceClippedWarning, factorize, nearest_psd, portfolio_pnl, simulate

C = 0.99


def _book(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = (a @ a.T + n * np.eye(n)) * 1e-4
    w = rng.uniform(1e5, 1e6, n)
    return cov, w


def _closed_normal(cov, w, c=C):
    sig = float(np.sqrt(w @ cov @ w))
    z = stats.norm.ppf(c)
    return z * sig, sig * stats.norm.pdf(z) / (1 - c)


def _closed_t(sig, nu, c=C):
    """VaR/ES of sig * sqrt((nu-2)/nu) * T_nu (unit-variance scaled t)."""
    s = sig * np.sqrt((nu - 2) / nu)
    q = stats.t.ppf(c, nu)
    es = stats.t.pdf(q, nu) * (nu + q * q) / (nu - 1) / (1 - c)
    return s * q, s * es


BACKENDS = ["numpy", "numba", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_normal_matches_closed_form(backend):
    cov, w = _book()
    var, es = _closed_normal(cov, w)
    r = simulate(cov, w, paths=100_000, backend=backend, seed=3)
    assert abs(r.var - var) < 3 * r.var_stderr + 1e-9
    assert abs(r.cvar - es) < 3 * r.cvar_stderr
    assert r.backend == backend and r.paths == 100_000 and not r.clipped
    assert r.var_stderr < 0.02 * var


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_determinism(backend):
    cov, w = _book()
    a = simulate(cov, w, paths=20_000, backend=backend, seed=11)
    b = simulate(cov, w, paths=20_000, backend=backend, seed=11)
    c = simulate(cov, w, paths=20_000, backend=backend, seed=12)
    assert a.var == b.var and a.cvar == b.cvar
    np.testing.assert_array_equal(a.component_cvar, b.component_cvar)
    assert a.var != c.var


def test_backends_agree_within_mc_error():
    cov, w = _book()
    rs = [simulate(cov, w, paths=60_000, backend=b, seed=5) for b in BACKENDS]
    for x in rs[1:]:
        se = np.hypot(rs[0].var_stderr, x.var_stderr)
        assert abs(rs[0].var - x.var) < 4 * se
        se = np.hypot(rs[0].cvar_stderr, x.cvar_stderr)
        assert abs(rs[0].cvar - x.cvar) < 4 * se


@pytest.mark.parametrize("backend", BACKENDS)
def test_antithetic_zero_mean(backend):
    cov, w = _book()
    pnl, weights = portfolio_pnl(cov, w, paths=10_000, backend=backend, variance_reduction="antithetic")
    assert weights is None
    scale = float(np.abs(pnl).max())
    assert abs(pnl.sum()) <= 1e-12 * scale * len(pnl)
    # pairs are exact negatives
    half = 8192 // 2
    np.testing.assert_array_equal(pnl[:half], -pnl[half : 2 * half])


def test_eigen_clipping_warns_and_is_psd():
    cov = np.array([[1.0, 0.9, 0.7], [0.9, 1.0, -0.6], [0.7, -0.6, 1.0]]) * 1e-4
    assert np.linalg.eigvalsh(cov)[0] < 0
    with pytest.warns(CovarianceClippedWarning):
        f = factorize(cov)
    assert f.clipped and f.min_eigenvalue < 0
    prod = f.matrix @ f.matrix.T
    assert np.linalg.eigvalsh(prod)[0] > -1e-15
    np.testing.assert_allclose(prod, nearest_psd(cov), atol=1e-15)
    with pytest.warns(CovarianceClippedWarning):
        r = simulate(cov, np.ones(3) * 1e6, paths=5_000)
    assert r.clipped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not factorize(np.eye(3)).clipped


@pytest.mark.parametrize("vr", ["none", "importance", "antithetic"])
def test_component_cvar_sums_to_cvar(vr):
    cov, w = _book(6)
    r = simulate(cov, w, paths=20_000, model="t", variance_reduction=vr)
    assert r.component_cvar.shape == (6,)
    assert r.component_cvar.sum() == r.cvar
    assert r.tail_asset_pnl.shape[1] == 6
    np.testing.assert_allclose(r.tail_prob.sum(), 1 - C, rtol=1e-9)
    assert r.var == pytest.approx(-r.tail_asset_pnl[-1].sum())


def test_tail_matches_portfolio_vector():
    cov, w = _book()
    r = simulate(cov, w, paths=20_000, seed=2)
    r2 = simulate(cov, w, paths=20_000, seed=2, keep_tail=False)
    assert r2.component_cvar is None
    assert r.var == pytest.approx(r2.var, rel=1e-5)
    assert r.cvar == pytest.approx(r2.cvar, rel=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_student_t_single_asset(backend):
    nu, sig = 5.0, 0.02
    cov = np.array([[sig**2]])
    var, es = _closed_t(sig * 1e6, nu)
    r = simulate(cov, [1e6], paths=100_000, model="t", nu=nu, backend=backend, seed=1)
    assert abs(r.var - var) < 3 * r.var_stderr
    assert abs(r.cvar - es) < 3 * r.cvar_stderr


def test_student_t_portfolio_matches_scipy_multivariate_t():
    nu = 4.0
    cov, w = _book(3)
    shape = cov * (nu - 2) / nu
    ref = stats.multivariate_t(loc=np.zeros(3), shape=shape, df=nu).rvs(size=400_000, random_state=9) @ w
    ref_var = -np.quantile(ref, 1 - C)
    r = simulate(cov, w, paths=100_000, model="t", nu=nu, seed=4)
    exact_var, exact_es = _closed_t(float(np.sqrt(w @ cov @ w)), nu)
    assert abs(ref_var - exact_var) < 0.02 * exact_var  # the reference itself
    assert abs(r.var - exact_var) < 3 * r.var_stderr
    assert abs(r.cvar - exact_es) < 3 * r.cvar_stderr


@pytest.mark.parametrize("model", ["normal", "t"])
def test_importance_sampling_smaller_error(model):
    cov, w = _book()
    plain = simulate(cov, w, paths=50_000, model=model, seed=7)
    imp = simulate(cov, w, paths=50_000, model=model, seed=7, variance_reduction="importance")
    if model == "normal":
        var, es = _closed_normal(cov, w)
    else:
        var, es = _closed_t(float(np.sqrt(w @ cov @ w)), 5.0)
    assert abs(imp.var - var) < 3 * imp.var_stderr
    assert abs(imp.cvar - es) < 3 * imp.cvar_stderr
    assert imp.var_stderr < 0.5 * plain.var_stderr
    assert imp.cvar_stderr < 0.5 * plain.cvar_stderr


def test_importance_error_estimate_is_honest():
    cov, w = _book()
    var, _ = _closed_normal(cov, w)
    rs = [simulate(cov, w, paths=20_000, seed=s, variance_reduction="importance") for s in range(12)]
    z = [(r.var - var) / r.var_stderr for r in rs]
    assert np.std(z) < 2.0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sobol(backend):
    cov, w = _book()
    var, es = _closed_normal(cov, w)
    r = simulate(cov, w, paths=2**15, variance_reduction="sobol", backend=backend, seed=1)
    assert abs(r.var - var) < 3 * r.var_stderr
    assert abs(r.cvar - es) < 3 * r.cvar_stderr
    r2 = simulate(cov, w, paths=2**15, variance_reduction="sobol", backend=backend, seed=1)
    assert r.var == r2.var


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunk_size_does_not_change_result(backend):
    cov, w = _book()
    # seeds are per 8192-path block and chunks are whole blocks, so the chunk size changes nothing
    kw = {"paths": 50_000, "backend": backend, "model": "t", "variance_reduction": "importance"}
    a = simulate(cov, w, chunk=8192, **kw)
    b = simulate(cov, w, chunk=100_000, **kw)
    c = simulate(cov, w, chunk=30_000, **kw)
    assert a.var == b.var == c.var
    assert a.cvar == b.cvar == c.cvar
    np.testing.assert_array_equal(a.component_cvar, c.component_cvar)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tail_regeneration_matches_kept_shocks(backend, monkeypatch):
    import nautilus.risk.montecarlo as mc

    cov, w = _book()
    kept = simulate(cov, w, paths=30_000, backend=backend, model="t", seed=4)
    monkeypatch.setattr(mc, "_keep_count", lambda spec, confidence, keep_tail: 5)
    regen = simulate(cov, w, paths=30_000, backend=backend, model="t", seed=4)
    assert regen.var == kept.var and regen.cvar == kept.cvar
    np.testing.assert_array_equal(regen.tail_asset_pnl, kept.tail_asset_pnl)


def test_torch_runs_on_the_device_it_is_given(monkeypatch):
    """The kernel reads no settings: the torch backend runs where its caller says (the CPU by default, the
    Risk engine passes its configured backend), whatever the process's configured backend is."""
    import nautilus.risk.montecarlo.backends as backends

    monkeypatch.setenv("NAUTILUS_COMPUTE_BACKEND", "cuda")  # would fail here if anything read it
    assert backends.TorchBackend().device == "cpu" and backends.get_backend("torch", "mps").device == "mps"
    cov, w = _book()
    r = simulate(cov, w, paths=20_000, backend="torch", seed=2, device="cpu")
    default = simulate(cov, w, paths=20_000, backend="torch", seed=2)
    assert r.device == default.device == "cpu" and r.var == default.var
    devices = []
    real = backends.TorchBackend.__init__

    def spy(self, device="cpu"):
        devices.append(device)
        real(self, "cpu")

    monkeypatch.setattr(backends.TorchBackend, "__init__", spy)
    monkeypatch.setattr("nautilus.risk.montecarlo._keep_count", lambda spec, confidence, keep_tail: 5)
    simulate(cov, w, paths=20_000, backend="torch", seed=2, device="cuda")  # the tail is regenerated too
    assert len(devices) >= 2 and set(devices) == {"cuda"}


def test_tail_asset_pnl_is_the_tail():
    cov, w = _book()
    r = simulate(cov, w, paths=20_000, seed=9, model="t")
    pnl, _ = portfolio_pnl(cov, w, paths=20_000, seed=9, model="t")
    tail = r.tail_asset_pnl
    assert tail.shape == (200, 4)
    np.testing.assert_allclose(-tail.sum(axis=1), np.sort(-pnl)[::-1][:200], rtol=1e-5)
    np.testing.assert_allclose(r.component_cvar, r.tail_prob @ -tail / (1 - C), rtol=1e-5)


def test_horizon_sum_scales_with_sqrt_h():
    cov, w = _book()
    var1, es1 = _closed_normal(cov, w)
    r = simulate(cov, w, paths=50_000, horizon=4, seed=8)
    assert abs(r.var - 2 * var1) < 3 * r.var_stderr
    rc = simulate(cov, w, paths=50_000, horizon=4, seed=8, aggregation="compound")
    assert abs(rc.var - r.var) < 0.05 * r.var  # small daily returns: compounding ~ summing


def test_mean_shifts_var():
    cov, w = _book()
    mu = np.full(4, 1e-3)
    a = simulate(cov, w, paths=20_000, seed=1)
    b = simulate(cov, w, paths=20_000, seed=1, mean=mu)
    assert b.var == pytest.approx(a.var - float(mu @ w), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cov": [[1e-4, 2e-5], [0.0, 1e-4]]}, "covariance"),
        ({"cov": [[np.nan, 0.0], [0.0, 1e-4]]}, "covariance"),
        ({"cov": [[1e-4, 0.0, 0.0]]}, "covariance"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.0}, "confidence"),
        ({"confidence": 1.5}, "confidence"),
        ({"paths": 99}, "paths"),
        ({"paths": 1001, "variance_reduction": "antithetic"}, "paths"),
        ({"backend": "cuda-magic"}, "backend"),
        ({"model": "t", "nu": 2}, "nu"),
        ({"model": "t", "nu": 1.5}, "nu"),
        ({"horizon": 0}, "horizon"),
        ({"seed": -1}, "seed"),
        ({"chunk": 0}, "chunk"),
        ({"mean": [0.0, np.nan]}, "mean"),
        ({"mean": [0.0]}, "mean"),
        ({"variance_reduction": "magic"}, "variance_reduction"),
        ({"exposures": [1e6]}, "exposures"),
        ({"exposures": [1e6, np.inf]}, "exposures"),
        ({"dtype": "float16"}, "dtype"),
        ({"model": "cauchy"}, "model"),
        ({"confidence": 0.9999}, "confidence"),
        ({"backend": "numpy", "scheduler": "tcp://127.0.0.1:8786"}, "backend"),
        ({"backend": "torch", "device": "tpu"}, "device"),
    ],
)
def test_bad_inputs(kwargs, field):
    args = {"cov": [[1e-4, 0.0], [0.0, 1e-4]], "exposures": [1e6, 1e6], "paths": 1000}
    args.update(kwargs)
    cov = args.pop("cov")
    w = args.pop("exposures")
    with pytest.raises(InvalidInput) as exc:
        simulate(cov, w, **args)
    assert exc.value.field == field


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_and_compound_agree_with_float32(backend):
    cov, w = _book()
    kw = {"paths": 40_000, "backend": backend, "horizon": 3, "aggregation": "compound", "model": "t"}
    a = simulate(cov, w, dtype="float64", seed=1, **kw)
    b = simulate(cov, w, dtype="float32", seed=2, **kw)
    assert abs(a.var - b.var) < 4 * np.hypot(a.var_stderr, b.var_stderr)
    assert a.component_cvar.sum() == a.cvar


def test_sobol_t_model():
    var, es = _closed_t(0.02 * 1e6, 5.0)
    r = simulate([[0.02**2]], [1e6], paths=2**15, model="t", variance_reduction="sobol", seed=3)
    assert abs(r.var - var) < 3 * r.var_stderr
    assert abs(r.cvar - es) < 3 * r.cvar_stderr


@pytest.mark.integration
def test_dask_matches_numpy_exactly():
    from distributed import Client, LocalCluster

    cov, w = _book()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        d = simulate(cov, w, paths=40_000, backend="dask", scheduler=client, seed=6, model="t")
        di = simulate(cov, w, paths=40_000, backend="dask", scheduler=client, variance_reduction="importance")
    n = simulate(cov, w, paths=40_000, backend="numpy", seed=6, model="t")
    ni = simulate(cov, w, paths=40_000, backend="numpy", variance_reduction="importance")
    assert di.var == ni.var and di.cvar == ni.cvar and di.device == "dask"
    assert d.var == n.var and d.cvar == n.cvar
    np.testing.assert_array_equal(d.component_cvar, n.component_cvar)
    var, es = _closed_t(float(np.sqrt(w @ cov @ w)), 5.0)
    assert abs(d.var - var) < 3 * d.var_stderr
