"""Risk engine: VaR/CVaR with per-position components, stress tests and VaR backtests.

Orchestration only: history comes from the catalog (the shared bar query), the math from
:mod:`nautilus.risk`. Monte Carlo, options books and pre-trade limits join as their kernels land.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.engines.base import StorageEngine
from nautilus.engines.marketdata.query import normalize_symbol, read_bars
from nautilus.engines.risk.audit import AuditWriter
from nautilus.engines.risk.messages import (
    AccountRequest,
    BookState,
    DecisionList,
    DecisionReply,
    LimitsBody,
    OrderCheck,
    PortfolioRequest,
    SetLimitsRequest,
    StressReply,
    StressRequest,
    VarBacktestReply,
    VarBacktestRequest,
    VarReply,
    VarRequest,
)
from nautilus.risk import decomposition, limits, measures, montecarlo, stress, var_backtest
from nautilus.risk.data import aligned_returns
from nautilus.runtime.engine import handler

MAX_LOOKBACK = 100_000
SCENARIO_METHODS = ("historical", "historical_ew", "fhs")
MC_OPTIONS = {"paths", "model", "nu", "backend", "dtype", "variance_reduction", "seed", "chunk", "aggregation",
              "scheduler"}


class RiskEngine(StorageEngine):
    name = "risk"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.limits: dict[str, limits.LimitSet] = {}
        self.books: dict[str, limits.PortfolioState] = {}
        self.audit: AuditWriter | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        super().start()
        self.audit = AuditWriter(self.database)
        for account, body in self._load_limits().items():
            self.limits[account] = _limit_set(body)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.flush()
        super().close()

    # Pre-trade limits ---------------------------------------------------------------------------
    @property
    def _limits_file(self) -> Path:
        return Path(self.settings.data_dir) / "risk" / "limits.json"

    def _load_limits(self) -> dict[str, Any]:
        path = self._limits_file
        return msgspec.json.decode(path.read_bytes()) if path.exists() else {}

    @handler(idempotent=True)
    def set_limits(self, req: SetLimitsRequest) -> LimitsBody:
        """Replace an account's limit set (validated first; stored atomically)."""
        account = _account(req.account)
        checked = _limit_set(msgspec.to_builtins(req.limits))
        with self._lock:
            stored = self._load_limits()
            stored[account] = msgspec.to_builtins(req.limits)
            path = self._limits_file
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(msgspec.json.encode(stored))
            os.replace(tmp, path)
            self.limits[account] = checked
        self.database.audit("risk", "set_limits", account, stored[account])
        return req.limits

    @handler
    def get_limits(self, req: AccountRequest) -> LimitsBody:
        body = self._load_limits().get(_account(req.account))
        if body is None:
            raise NotFound(f"no limits for account {req.account!r}", field="account")
        return msgspec.convert(body, LimitsBody)

    @handler(idempotent=True)
    def set_book(self, req: BookState) -> AccountRequest:
        """Replace the state the checks use for an account (positions, marks, equity, P&L, VaR)."""
        account = _account(req.account)
        state = limits.PortfolioState.from_positions(
            req.positions, req.prices, req.equity, daily_pnl=req.daily_pnl, peak_equity=req.peak_equity,
            var=req.var, marginal_var=req.marginal_var)
        with self._lock:
            old = self.books.get(account)
            if old is not None:
                state.rate = old.rate  # the order-rate window survives a state refresh
            self.books[account] = state
        return AccountRequest(account=account)

    @handler(idempotent=False)
    def check_order(self, req: OrderCheck) -> DecisionReply:
        account = _account(req.account)
        limit_set = self.limits.get(account)
        if limit_set is None:
            raise NotFound(f"no limits for account {account!r}", field="account")
        state = self.books.get(account)
        if state is None:
            raise NotFound(f"no book state for account {account!r} (set it first)", field="account")
        if not (math.isfinite(req.quantity) and req.quantity != 0):
            raise InvalidInput("quantity must be a non-zero finite number", field="quantity")
        if not (math.isfinite(req.price) and req.price > 0):
            raise InvalidInput("price must be a positive finite number", field="price")
        now = time.time()
        order = limits.Order(req.instrument, req.quantity, req.price)
        with self._lock:
            decision = limits.check_order(order, state, limit_set, now)
            if decision.accepted and req.commit:
                limits.commit_order(state, limit_set, now)
        assert self.audit is not None
        self.audit.write("risk", "check_order", f"{account}/{req.instrument}",
                         {"quantity": req.quantity, "price": req.price, "accepted": decision.accepted,
                          "reasons": decision.reasons})
        return DecisionReply(accepted=decision.accepted, reasons=_plain(decision.reasons),
                             checked=decision.checked, account=account)

    @handler
    def decisions(self, req: AccountRequest) -> DecisionList:
        """Recent pre-trade decisions of every account, newest first (from the audit log)."""
        assert self.audit is not None
        self.audit.flush()
        rows = self.database.list_audit(200, action="check_order")
        return DecisionList(items=[{"ts": r["ts"].isoformat(), "target": r["target"], **(r["detail"] or {})}
                                   for r in rows])

    # VaR ----------------------------------------------------------------------------------------

    def _history(self, req: PortfolioRequest) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(symbols, ts [T], returns [T, N], exposures [N]) for the request's portfolio."""
        if not req.portfolio:
            raise InvalidInput("the portfolio has no positions", field="portfolio")
        if not 2 <= req.lookback <= MAX_LOOKBACK:
            raise InvalidInput(f"lookback must be between 2 and {MAX_LOOKBACK}", field="lookback")
        symbols = [normalize_symbol(s) for s in req.portfolio]
        if len(set(symbols)) != len(symbols):
            raise InvalidInput("a symbol appears twice in the portfolio", field="portfolio")
        amounts = np.array([float(v) for v in req.portfolio.values()])
        if not np.all(np.isfinite(amounts)):
            raise InvalidInput("portfolio amounts must be finite numbers", field="portfolio")
        series = [read_bars(self.catalog, s, req.timeframe, None, req.end_ns, req.lookback + 1) for s in symbols]
        ts, returns, last = aligned_returns(series)
        exposures = amounts * last if req.units == "quantity" else amounts
        return symbols, ts, returns, exposures

    @handler
    def var(self, req: VarRequest) -> VarReply:
        symbols, ts, returns, w = self._history(req)
        if req.method == "mc":
            result, components = self._monte_carlo(req, returns, w)
        else:
            result = measures.var_cvar(returns, w, req.confidence, req.horizon, req.method, **req.options)
            components = self._components(req, returns, w, result)
        details = {k: v for k, v in result.items() if k not in ("var", "cvar", "covariance", "mean")}
        return VarReply(method=req.method, confidence=req.confidence, horizon=req.horizon,
                        var=float(result["var"]), cvar=float(result["cvar"]), symbols=symbols,
                        exposures=w.tolist(), components={s: components[i] for i, s in enumerate(symbols)},
                        observations=int(returns.shape[0]), first_ts=int(ts[0]), last_ts=int(ts[-1]),
                        details=_plain(details))

    def _monte_carlo(self, req: VarRequest, returns: np.ndarray,
                     w: np.ndarray) -> tuple[dict[str, Any], list[dict[str, float]]]:
        opts = dict(req.options)
        cov = measures.covariance(returns, opts.pop("cov_method", "sample"), opts.pop("lam", 0.94))
        unknown = sorted(set(opts) - MC_OPTIONS)
        if unknown:
            raise InvalidInput(f"unknown Monte Carlo option {unknown[0]!r}", field=f"options.{unknown[0]}")
        res = montecarlo.simulate(cov, w, confidence=req.confidence, horizon=req.horizon, **opts)
        details = {"var_stderr": res.var_stderr, "cvar_stderr": res.cvar_stderr, "paths": res.paths,
                   "backend": res.backend, "device": res.device, "clipped": res.clipped,
                   "elapsed_s": res.elapsed, "component_var": "not estimated by Monte Carlo"}
        components = [{"component_cvar": float(v)} for v in res.component_cvar]
        return {"var": res.var, "cvar": res.cvar, **details}, components

    def _components(self, req: VarRequest, returns: np.ndarray, w: np.ndarray,
                    result: dict[str, Any]) -> list[dict[str, float]]:
        if req.method in SCENARIO_METHODS:
            dec = decomposition.scenario_decomposition(returns * w, req.confidence)
            scale = result["var"] / dec["var"] if dec["var"] else 0.0  # horizon / filtering rescale
            cscale = result["cvar"] / dec["cvar"] if dec["cvar"] else 0.0
            return [{"component_var": float(v) * scale, "component_cvar": float(cv) * cscale}
                    for v, cv in zip(dec["component_var"], dec["component_cvar"], strict=True)]
        cov = measures.covariance(returns, req.options.get("cov_method", "sample"), req.options.get("lam", 0.94))
        dec = decomposition.parametric_decomposition(w, cov, req.confidence, req.horizon)
        # Euler shares of the portfolio variance apply to every method built on sigma (normal, t, CF).
        shares = np.asarray(dec["component_var"], dtype=float) / dec["var"] if dec["var"] else np.zeros(len(w))
        return [{"component_var": float(s) * result["var"], "component_cvar": float(s) * result["cvar"],
                 "marginal_var": float(m)} for s, m in zip(shares, dec["marginal_var"], strict=True)]

    @handler
    def stress(self, req: StressRequest) -> StressReply:
        symbols, ts, returns, w = self._history(req)
        results: list[dict[str, Any]] = []
        if req.scenario == "historical":
            for sc in stress.worst_windows(returns, w, req.window, req.count):
                results.append({"start_ts": int(ts[sc.start]), "end_ts": int(ts[sc.end]), "pnl": sc.pnl,
                                "contributions": dict(zip(symbols, sc.contributions.tolist(), strict=True))})
        elif req.scenario == "shock":
            unknown = sorted(set(map(normalize_symbol, req.shocks)) - set(symbols))
            if unknown:
                raise InvalidInput(f"shock on {unknown[0]!r}, which is not in the portfolio", field="shocks")
            moves = {normalize_symbol(k): v for k, v in req.shocks.items()}
            res = stress.apply_shock(w, np.array([moves.get(s, 0.0) for s in symbols]))
            results.append({"pnl": res.pnl, "contributions": dict(zip(symbols, res.contributions.tolist(),
                                                                       strict=True))})
        else:
            if req.loss is None:
                raise InvalidInput("a reverse stress needs the loss to reach", field="loss")
            res = stress.reverse_stress_linear(w, measures.covariance(returns), req.loss)
            results.append({"pnl": res.pnl, "mahalanobis": res.mahalanobis, "sigma_pnl": res.sigma_pnl,
                            "shock": dict(zip(symbols, res.shock.tolist(), strict=True))})
        return StressReply(scenario=req.scenario, symbols=symbols, exposures=w.tolist(), results=results)

    @handler
    def backtest(self, req: VarBacktestRequest) -> VarBacktestReply:
        symbols, ts, returns, w = self._history(req)
        pnl = returns @ w
        position = np.ones(1)

        def var_fn(window_pnl: np.ndarray) -> float:
            return measures.var_cvar(window_pnl[:, None], position, req.confidence, 1, req.method,
                                     **req.options)["var"]

        res = var_backtest.rolling_var_backtest(pnl, var_fn, req.window, req.confidence)
        exceptions = [{"ts": int(ts[e.index]), "index": e.index, "pnl": e.pnl, "var": e.var} for e in res.exceptions]
        return VarBacktestReply(method=req.method, confidence=req.confidence, window=req.window,
                                observations=res.n, exceptions=exceptions, kupiec=_plain(dataclasses.asdict(res.kupiec)),
                                christoffersen=_plain(dataclasses.asdict(res.christoffersen))
                                if res.christoffersen else {},
                                zone=str(res.zone), ts=ts, pnl=pnl, var=res.var)


def _account(name: str) -> str:
    text = (name or "").strip()
    if not text or len(text) > 64 or not all(ch.isalnum() or ch in "._-" for ch in text):
        raise InvalidInput(f"account {name!r} is not valid (1-64 letters, digits or ._-)", field="account")
    return text


def _limit_set(body: dict[str, Any]) -> limits.LimitSet:
    return limits.LimitSet(**{k: v for k, v in body.items() if v is not None})


def _plain(obj: Any) -> Any:
    """JSON-friendly copies: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
