"""risk_montecarlo: 1-day portfolio VaR + CVaR with component CVaR, 1,000,000 paths x 100 assets.

Speed. Baseline: the idiomatic numpy code, ``rng.multivariate_normal`` in float64, chunks of 100,000
paths, P&L, the worst 1% rows kept per chunk for component CVaR, then the quantile. Ours:
``nautilus.risk.montecarlo.simulate`` on the numpy and torch backends (float32 shocks, one mat-vec
for the P&L, tail scenarios regenerated from their seeds). Checks: every estimate within 4
standard errors of the closed-form normal VaR/CVaR; component CVaR sums to CVaR.

Accuracy per second. Student-t (nu = 5) 99% VaR and ES (no component attribution): the relative
standard error, measured as the spread of the estimates over repeated seeds, of plain Monte Carlo at
300,000 paths vs importance sampling at 250,000 paths, with the median time of one run.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from nautilus.bench.harness import BenchContext, Result, case, compute_backend, result
from nautilus.bench.stats import median

N_ASSETS = 100
CONF = 0.99


def book(n: int = N_ASSETS, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0, 1, (n, 5))
    vols = rng.uniform(0.01, 0.03, n)
    corr = loadings @ loadings.T + np.diag(rng.uniform(0.5, 1.5, n))
    d = np.sqrt(np.diag(corr))
    cov = (corr / np.outer(d, d)) * np.outer(vols, vols)
    exposures = rng.uniform(-1e5, 2e5, n)
    return cov, exposures


def numpy_baseline(cov: np.ndarray, w: np.ndarray, paths: int, seed: int = 0) -> tuple[float, float, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = int(np.ceil(paths * (1 - CONF)))
    tail_x, tail_p, pnls = [], [], []
    for _ in range(paths // 100_000):
        x = rng.multivariate_normal(np.zeros(len(w)), cov, size=100_000)
        p = x @ w
        worst = np.argpartition(p, k)[:k]
        tail_x.append(x[worst])
        tail_p.append(p[worst])
        pnls.append(p)
    pnl = np.concatenate(pnls)
    var = -np.quantile(pnl, 1 - CONF)
    tp, tx = np.concatenate(tail_p), np.concatenate(tail_x)
    order = np.argsort(tp)[:k]
    comp = -(tx[order] * w).mean(axis=0)
    return float(var), float(comp.sum()), comp


@case("risk_montecarlo", "MC VaR+CVaR+component CVaR 1M paths x 100 assets; t(5) accuracy per 0.5 s")
def risk_montecarlo(ctx: BenchContext) -> list[Result]:
    from nautilus.risk import montecarlo

    paths = 200_000 if ctx.quick else 1_000_000
    cov, w = book()
    sigma = float(np.sqrt(w @ cov @ w))
    z = stats.norm.ppf(CONF)
    exact_var, exact_cvar = z * sigma, sigma * stats.norm.pdf(z) / (1 - CONF)
    runs = ctx.runs(3)
    ctx.step("numpy baseline")
    base_times = []
    for r in range(runs):
        t0 = time.perf_counter()
        b_var, b_cvar, _ = numpy_baseline(cov, w, paths, seed=r)
        base_times.append(time.perf_counter() - t0)
    rows = []
    device = compute_backend()  # the torch backend's device, as the Risk engine resolves it
    for backend in ("numpy", "torch"):
        ctx.step(f"ours: {backend}")
        montecarlo.simulate(cov, w, paths=100_000, backend=backend, seed=99, device=device)  # warm
        times, res = [], None
        for r in range(runs):
            res = montecarlo.simulate(cov, w, paths=paths, backend=backend, seed=r, confidence=CONF, device=device)
            times.append(res.elapsed)
        assert res is not None
        rows.append(result(
            "s", ("numpy multivariate_normal float64, 100k chunks", median(base_times)),
            (f"montecarlo.simulate {backend} ({res.device})", median(times)),
            params={"paths": paths, "assets": N_ASSETS, "confidence": CONF, "runs": runs, "statistic": "median"},
            checks={"var_within_4se": bool(abs(res.var - exact_var) < 4 * res.var_stderr),
                    "cvar_within_4se": bool(abs(res.cvar - exact_cvar) < 4 * res.cvar_stderr),
                    "components_sum_to_cvar": bool(np.isclose(res.component_cvar.sum(), res.cvar, rtol=1e-9)),
                    "baseline_var_rel_err": round(abs(b_var / exact_var - 1), 5)}))
    ctx.step("t(5) accuracy per 0.5 s")
    rows += accuracy_rows(cov, w, seeds=6 if ctx.quick else 24)
    return rows


def accuracy_rows(cov: np.ndarray, w: np.ndarray, seeds: int) -> list[Result]:
    """Relative standard error of t(5) 99% VaR and ES, estimated over ``seeds`` repeated seeds (and the
    mean of each run's own delta-method estimate), plain Monte Carlo vs importance sampling."""
    from nautilus.risk import montecarlo

    runs = {
        "plain": dict(paths=300_000, variance_reduction="none"),
        "importance": dict(paths=250_000, variance_reduction="importance"),
    }
    out: dict[str, dict] = {}
    for name, kw in runs.items():
        montecarlo.simulate(cov, w, model="t", nu=5, seed=10_000, keep_tail=False, **kw)  # warm
        res = [montecarlo.simulate(cov, w, model="t", nu=5, seed=s, keep_tail=False, **kw) for s in range(seeds)]
        out[name] = {
            "seconds": median([r.elapsed for r in res]),
            "paths": kw["paths"],
            **{attr: np.array([getattr(r, attr) for r in res]) for attr in ("var", "cvar")},
            **{f"{attr}_se": np.array([getattr(r, f"{attr}_stderr") for r in res]) for attr in ("var", "cvar")},
        }
    rows = []
    def rel(o: dict, attr: str) -> tuple[float, float]:
        est = o[attr]
        return float(est.std(ddof=1) / est.mean() * 100), float(np.mean(o[f"{attr}_se"] / est) * 100)

    for label, attr in (("VaR", "var"), ("ES", "cvar")):
        p_seeds, p_self = rel(out["plain"], attr)
        i_seeds, i_self = rel(out["importance"], attr)
        rows.append(result(
            "% rel. SE",
            (f"plain MC t(5) {label}, {out['plain']['paths']:,} paths in {out['plain']['seconds']:.2f} s", p_seeds),
            (f"importance sampling t(5) {label}, {out['importance']['paths']:,} paths in "
             f"{out['importance']['seconds']:.2f} s", i_seeds),
            params={"target_rel_se_pct": 0.1, "target_s": 0.5, "seeds": seeds, "statistic": "std over seeds"},
            checks={"ours_seconds_median": round(out["importance"]["seconds"], 3),
                    "ours_rel_se_self_estimate_pct": round(i_self, 4),
                    "plain_rel_se_self_estimate_pct": round(p_self, 4),
                    "ours_meets_target": bool(i_seeds <= 0.1 and out["importance"]["seconds"] <= 0.5)}))
    return rows
