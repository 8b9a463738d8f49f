"""Risk engine: VaR/CVaR with per-position components, stress tests and VaR backtests.

Orchestration only: history comes from the catalog (the shared bar query), the math from
:mod:`nautilus.risk`. Option positions (``option_positions``) on catalog instruments are valued at the
last close and fully revalued by Monte Carlo, historical VaR and stress tests (delta-equivalent in the
parametric methods).

Pre-trade limits: the engine owns them (``set_limits``, ``reset_limits``, ``get_limits``), stores them in SQL
with a version per account (:mod:`nautilus.storage.limits`) and publishes ``risk.limits`` after each change.
The Portfolio engine checks its orders in its own process against them (:mod:`nautilus.engines.risk.pretrade`);
``check_order`` here checks an order against a book a client pushed with ``set_book`` (what-if checks of a
book kept elsewhere). ``decisions`` lists the audited decisions of both.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.admission import admit
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.plain import plain
from nautilus.engines.base import StorageEngine
from nautilus.engines.risk.messages import (
    AccountRequest,
    BookState,
    DecisionList,
    DecisionRecord,
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
from nautilus.engines.risk.pretrade import (
    DECISIONS,
    LIMITS_TOPIC,
    LimitsCache,
    breaches,
    default_body,
    export_utilisation,
    legacy_limits_file,
    limit_set,
    with_var,
)
from nautilus.risk import limits
from nautilus.risk.data import aligned_returns
from nautilus.runtime.engine import handler
from nautilus.storage.audit import AuditWriter
from nautilus.storage.bars import read_bars
from nautilus.storage.limits import LimitsStore, StoredLimits

if TYPE_CHECKING:  # the risk kernels (numba, scipy) load on the first computation, not at start
    from nautilus.risk import stress
    from nautilus.risk.options import OptionPositions

log = logging.getLogger("nautilus.risk")
MAX_LOOKBACK = 100_000
MC_OPTIONS = {"paths", "model", "nu", "backend", "dtype", "variance_reduction", "seed", "chunk", "aggregation"}
MC_DEFAULT_PATHS = 100_000  # montecarlo.simulate's default
MC_CHUNK_CELLS = 32_000_000  # paths x horizon x assets simulated at once (memory; the result does not change)


class RiskEngine(StorageEngine):
    name = "risk"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.books: dict[str, limits.PortfolioState] = {}
        self.audit: AuditWriter | None = None
        self.limits: LimitsCache | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        super().start()
        self.audit = AuditWriter(self.database, "risk-audit", spill_dir=self.settings.runtime_dir)
        store = LimitsStore(self.database)
        store.import_file(legacy_limits_file(self.settings))
        self.limits = LimitsCache(store, self.settings)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()  # what the database refuses now waits in the spill file
        super().close()

    # Pre-trade limits ---------------------------------------------------------------------------
    @handler(idempotent=True)
    def set_limits(self, req: SetLimitsRequest) -> LimitsBody:
        """Replace an account's limit set (validated first; committed before the reply, then published)."""
        account = _account(req.account)
        body = msgspec.to_builtins(req.limits)
        body.pop("source", None)
        limit_set(body)
        assert self.limits is not None
        stored, _ = self.limits.store.put(account, body)
        self._publish_limits(stored)
        return msgspec.convert({**body, "source": "account"}, LimitsBody)

    @handler(idempotent=True)
    def reset_limits(self, req: AccountRequest) -> LimitsBody:
        """Drop an account's own limits: the defaults (setting ``default_limits``) apply again."""
        account = _account(req.account)
        assert self.limits is not None
        stored, removed = self.limits.store.put(account, None)
        if removed is not None:
            self._publish_limits(stored)
        return self.get_limits(AccountRequest(account=account))

    @handler
    def get_limits(self, req: AccountRequest) -> LimitsBody:
        """The account's own limits, else the defaults every account without its own gets (``source``)."""
        assert self.limits is not None
        body = self.limits.store.get(_account(req.account)).body
        if body is None:
            return msgspec.convert({**default_body(self.settings), "source": "default"}, LimitsBody)
        return msgspec.convert({**body, "source": "account"}, LimitsBody)

    def _publish_limits(self, stored: StoredLimits) -> None:
        """``risk.limits`` after a committed change: it only speeds the checkers' refresh (they revalidate the
        version on every order), so a bus that is down is logged, never an error of the change."""
        assert self.limits is not None
        self.limits.remember(stored)
        message = {"kind": "limits", "account": stored.account, "version": stored.version,
                   "source": "default" if stored.body is None else "account"}
        try:
            self.bus.publish(LIMITS_TOPIC, message)
        except Exception as exc:
            log.warning("risk.limits not published (%s): checkers see the change at their next order", exc)

    @handler(idempotent=True)
    def set_book(self, req: BookState) -> AccountRequest:
        """Replace the state the checks use for an account (positions, marks, equity, P&L, VaR)."""
        account = _account(req.account)
        self._set_book(account, req)
        return AccountRequest(account=account)

    def _set_book(self, account: str, req: BookState) -> None:
        state = limits.PortfolioState.from_positions(
            req.positions, req.prices, req.equity, daily_pnl=req.daily_pnl, peak_equity=req.peak_equity,
            var=req.var, marginal_var=req.marginal_var, cash=req.cash)
        with self._lock:
            old = self.books.get(account)
            if old is not None:
                state.rate = old.rate  # the order-rate window survives a state refresh
            self.books[account] = state

    @handler(idempotent=False)
    def check_order(self, req: OrderCheck) -> DecisionReply:
        """Check an order against the account's limits and the book pushed for it (``set_book`` or ``book``)."""
        account = _account(req.account)
        assert self.limits is not None
        effective = self.limits.current(account)
        if req.book is not None:
            self._set_book(account, req.book)
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
            checked_state = state
            lim = effective.limit_set
            if lim.var_budget is not None and state.var_fn is None and state.marginal_var is None:
                checked_state = with_var(state, order, lim, self.catalog, self.settings.max_bars_per_request)
            decision = limits.check_order(order, checked_state, lim, now)
            if decision.accepted and req.commit:
                limits.commit_order(state, lim, now)
        DECISIONS.labels(account, "accepted" if decision.accepted else "rejected").inc()
        reasons = breaches(decision)
        assert self.audit is not None
        self.audit.write("risk", "check_order", f"{account}/{req.instrument}",
                         {"quantity": req.quantity, "price": req.price, "accepted": decision.accepted,
                          "reasons": msgspec.to_builtins(reasons)})
        return DecisionReply(accepted=decision.accepted, reasons=reasons,
                             checked=decision.checked, account=account, limits_source=effective.source)

    def update_metrics(self) -> None:
        with self._lock:
            for account, state in self.books.items():
                effective = self.limits.cached(account) if self.limits is not None else None
                if effective is not None and effective.source == "account":
                    export_utilisation(account, state, effective.limit_set)

    @handler
    def decisions(self, req: AccountRequest) -> DecisionList:
        """Recent pre-trade decisions of every account, newest first (from the audit log: the Portfolio engine's
        of its orders, committed with them, and this engine's ``check_order``)."""
        assert self.audit is not None
        self.audit.flush()
        rows = self.database.list_audit(200, action="check_order")
        return DecisionList(items=[msgspec.convert({**(r["detail"] or {}), "ts": r["ts"].isoformat(),
                                                    "target": r["target"]}, DecisionRecord) for r in rows])

    # VaR ----------------------------------------------------------------------------------------

    def _history(self, req: PortfolioRequest) -> Holdings:
        """The request's positions with their aligned return history (and option book, if any)."""
        if not req.portfolio and not req.option_positions:
            raise InvalidInput("the portfolio has no positions", field="portfolio")
        if not 2 <= req.lookback <= MAX_LOOKBACK:
            raise InvalidInput(f"lookback must be between 2 and {MAX_LOOKBACK}", field="lookback")
        assets = len(req.portfolio) + len(req.option_positions)
        cap = self.settings.max_matrix_cells
        admit(req.lookback * assets, cap, "lookback", "max_matrix_cells", "lookback x assets")
        admit(assets * assets, cap, "portfolio", "max_matrix_cells", "assets x assets (covariance)")
        symbols = [normalize_symbol(s) for s in req.portfolio]
        if len(set(symbols)) != len(symbols):
            raise InvalidInput("a symbol appears twice in the portfolio", field="portfolio")
        amounts = [float(v) for v in req.portfolio.values()]
        for i, leg in enumerate(req.option_positions):
            und = normalize_symbol(leg.underlying)
            if und not in symbols:  # an option-only underlying: no linear exposure
                symbols.append(und)
                amounts.append(0.0)
            for name in ("strike", "quantity", "implied_vol", "multiplier", "r", "q"):
                if not math.isfinite(getattr(leg, name)):
                    raise InvalidInput(f"{name} must be a finite number", field=f"option_positions[{i}].{name}")
        amounts_a = np.array(amounts)
        if not np.all(np.isfinite(amounts_a)):
            raise InvalidInput("portfolio amounts must be finite numbers", field="portfolio")
        max_bars = self.settings.max_bars_per_request
        series = [read_bars(self.catalog, s, req.timeframe, None, req.end_ns, req.lookback + 1, max_bars=max_bars)
                  for s in symbols]
        ts, returns, last = aligned_returns(series)
        exposures = amounts_a * last if req.units == "quantity" else amounts_a
        book = None
        if req.option_positions:
            from nautilus.risk.options import OptionPositions, parse_expiry

            legs = req.option_positions
            index = {s: i for i, s in enumerate(symbols)}
            # a date is counted from the valuation date: the day of the last bar (spot = its close)
            expiries = [parse_expiry(leg.expiry, int(ts[-1]), field=f"option_positions[{i}].expiry")
                        for i, leg in enumerate(legs)]
            try:
                book = OptionPositions.create(
                    underlying=[index[normalize_symbol(leg.underlying)] for leg in legs],
                    option_type=[leg.type for leg in legs], strike=[leg.strike for leg in legs],
                    expiry=expiries, quantity=[leg.quantity for leg in legs],
                    implied_vol=[leg.implied_vol for leg in legs], multiplier=[leg.multiplier for leg in legs],
                    r=[leg.r for leg in legs], q=[leg.q for leg in legs], spot=last)
            except InvalidInput as exc:
                raise InvalidInput(exc.message, field=f"option_positions.{exc.field}") from exc
        return Holdings(symbols, ts, returns, exposures, book)

    @handler
    def var(self, req: VarRequest) -> VarReply:
        """VaR/CVaR with per-position components that sum to them (allocation named in the reply).

        Components: Euler for the parametric methods, the component at the VaR scenario (VaR) and the tail
        mean (CVaR) for the scenario methods (historical, EW, FHS, Monte Carlo); ``var_residual`` and
        ``cvar_residual`` are the reported figure minus the sum of the components (rounding only). Option
        legs are itemised in ``option_components`` and included in their underlying's row."""
        from nautilus.risk import decomposition

        if req.method == "mc":
            self._admit_monte_carlo(req)
        h = self._history(req)
        returns, w = h.returns, h.exposures
        notes: dict[str, Any] = {}
        legs: list[dict[str, Any]] = []
        if req.method == "mc":
            result, components, legs = self._monte_carlo(req, returns, w, h.book)
        elif h.book is not None and req.method in ("historical", "historical_ew"):
            result, components, legs = self._historical_with_options(req, h)
            notes["options"] = "fully revalued under each historical 1-day scenario"
        else:
            if h.book is not None:
                if req.method == "fhs":
                    raise InvalidInput("fhs does not price option positions; use historical, mc or a parametric "
                                       "method", field="method")
                w = w + h.book.dollar_delta()
                notes["options"] = "delta-equivalent exposures (use mc or historical for full revaluation)"
            result = decomposition.decompose(returns, w, req.confidence, req.horizon, req.method, **req.options)
            components = _components(result)
        var, cvar = float(result["var"]), float(result["cvar"])
        cv = [c.get("component_var", 0.0) for c in components]
        ccv = [c.get("component_cvar", 0.0) for c in components]
        details = {k: v for k, v in result.items()
                   if k not in ("var", "cvar", "covariance", "mean", "allocation", "var_residual", "cvar_residual",
                                "component_var", "component_cvar", "marginal_var", "marginal_cvar")}
        details.update(notes)
        if "var_scenarios" in details and req.method in ("historical", "historical_ew"):
            details["var_scenario_ts"] = [int(h.ts[i]) for i in details["var_scenarios"]]
        return VarReply(method=req.method, confidence=req.confidence, horizon=req.horizon,
                        var=var, cvar=cvar, symbols=h.symbols,
                        exposures=h.exposures.tolist(),
                        components={s: components[i] for i, s in enumerate(h.symbols)},
                        observations=int(returns.shape[0]), first_ts=int(h.ts[0]), last_ts=int(h.ts[-1]),
                        details=plain(details), allocation=dict(result["allocation"]),
                        var_residual=var - math.fsum(cv), cvar_residual=cvar - math.fsum(ccv),
                        option_components=legs)

    def _admit_monte_carlo(self, req: VarRequest) -> None:
        """Refuse a simulation over the caps before any history is read or any path simulated."""
        paths = req.options.get("paths", MC_DEFAULT_PATHS)
        if isinstance(paths, bool) or not isinstance(paths, int) or paths < 1:
            raise InvalidInput(f"paths must be an integer >= 1, got {paths!r}", field="options.paths")
        if req.horizon < 1:
            raise InvalidInput("horizon must be an integer >= 1", field="horizon")
        settings = self.settings
        admit(paths, settings.max_mc_paths, "options.paths", "max_mc_paths", "paths")
        assets = len(req.portfolio) + len(req.option_positions)  # every option leg is revalued on every path
        admit(paths * max(1, assets) * req.horizon, settings.max_mc_cells, "options.paths", "max_mc_cells",
              "paths x assets x horizon")

    def _monte_carlo(self, req: VarRequest, returns: np.ndarray, w: np.ndarray, book: OptionPositions | None
                     ) -> tuple[dict[str, Any], list[dict[str, float]], list[dict[str, float]]]:
        from nautilus.risk import measures, montecarlo

        opts = dict(req.options)
        cov = measures.covariance(returns, opts.pop("cov_method", "sample"), opts.pop("lam", 0.94))
        unknown = sorted(set(opts) - MC_OPTIONS)
        if unknown:
            raise InvalidInput(f"unknown Monte Carlo option {unknown[0]!r}", field=f"options.{unknown[0]}")
        # memory per chunk: paths x horizon x (assets + legs) shocks; chunking never changes the result
        per_path = req.horizon * (len(w) + (0 if book is None else book.n_positions))
        chunk = opts.get("chunk", 100_000)
        if isinstance(chunk, int) and not isinstance(chunk, bool):
            opts["chunk"] = max(1, min(chunk, MC_CHUNK_CELLS // max(1, per_path)))
        if opts.get("backend") == "dask":  # the cluster is the admin's (settings), never the request's
            opts["scheduler"] = self.settings.dask_scheduler
        if opts.get("backend") == "torch":  # on the configured compute backend's device (auto: cuda > mps > cpu)
            opts["device"] = self.backend()
        res = montecarlo.simulate(cov, w, confidence=req.confidence, horizon=req.horizon, options=book, **opts)
        details = {"var_stderr": res.var_stderr, "cvar_stderr": res.cvar_stderr, "paths": res.paths,
                   "backend": res.backend, "device": res.device, "clipped": res.clipped,
                   "elapsed_s": res.elapsed}
        # the VaR is the loss of one simulated path (the tail's last): its per-asset losses are the components
        tail = res.tail_asset_pnl
        comp_var = -tail[-1] if tail is not None else np.zeros(len(w))
        components = [{"component_var": float(v), "component_cvar": float(cv)}
                      for v, cv in zip(comp_var, res.component_cvar, strict=True)]
        allocation = {"var": "scenario_at_quantile", "cvar": "tail_mean"}
        # each option's simulated P&L is inside its underlying's row (legs are itemised by historical VaR)
        return {"var": res.var, "cvar": res.cvar, "allocation": allocation, **details}, components, []

    def _historical_with_options(self, req: VarRequest, h: Holdings
                                 ) -> tuple[dict[str, Any], list[dict[str, float]], list[dict[str, Any]]]:
        """Historical VaR of a book with options: every 1-day scenario revalues the options in full; the
        components itemise every linear position and every option leg (a leg also adds to its underlying's
        row, whose ``linear_component_*`` keep the linear part)."""
        from nautilus.risk import decomposition, measures
        from nautilus.risk.options import revalue

        if req.horizon != 1:
            raise InvalidInput("historical VaR of option positions is 1-day; use method mc for longer horizons",
                               field="horizon")
        unknown = sorted(set(req.options) - {"lam"})
        if unknown or (req.method == "historical" and req.options):
            key = (unknown or sorted(req.options))[0]
            raise InvalidInput(f"unknown option {key!r} for {req.method}", field=f"options.{key}")
        assert h.book is not None
        moves = np.maximum(h.returns, -0.999999)
        by_pos = revalue(h.book, moves, None, 1.0, scenario_type="return", days_per_year=252, by_position=True)
        columns = np.concatenate([h.returns * h.exposures, by_pos], axis=1)  # [T, N + legs]
        pnl = columns.sum(axis=1)
        lam = float(req.options.get("lam", 0.99)) if req.method == "historical_ew" else None
        var, cvar = measures.historical_var_cvar(pnl, req.confidence, lam=lam)
        weights = None if lam is None else measures.ew_weights(pnl.shape[0], lam)
        dec = decomposition.scenario_allocation(columns, var, cvar, req.confidence, weights=weights, pnl=pnl)
        n = h.exposures.shape[0]
        cv, ccv = dec["component_var"], dec["component_cvar"]
        components = [{"component_var": float(cv[i]), "component_cvar": float(ccv[i]),
                       "linear_component_var": float(cv[i]), "linear_component_cvar": float(ccv[i])}
                      for i in range(n)]
        legs: list[dict[str, Any]] = []
        for j, leg in enumerate(req.option_positions):
            u = int(h.book.underlying[j])
            components[u]["component_var"] += float(cv[n + j])
            components[u]["component_cvar"] += float(ccv[n + j])
            legs.append({"leg": j, "underlying": h.symbols[u], "type": leg.type, "strike": leg.strike,
                         "quantity": leg.quantity, "component_var": float(cv[n + j]),
                         "component_cvar": float(ccv[n + j])})
        result = {"var": var, "cvar": cvar, "allocation": {"var": "scenario_at_quantile", "cvar": "tail_mean"},
                  "var_scenarios": dec["var_scenarios"], "tail_size": dec["tail_size"]}
        return result, components, legs

    @handler
    def stress(self, req: StressRequest) -> StressReply:
        from nautilus.risk import measures, stress

        h = self._history(req)
        symbols, ts, returns, w, book = h.symbols, h.ts, h.returns, h.exposures, h.book
        if not (math.isfinite(req.horizon_days) and req.horizon_days >= 0):
            raise InvalidInput("horizon_days must be a finite number >= 0", field="horizon_days")
        results: list[dict[str, Any]] = []
        if req.scenario == "historical":
            # windows are ranked by the delta-equivalent P&L, then every option is revalued in full
            w_rank = w if book is None else w + book.dollar_delta()
            for sc in stress.worst_windows(returns, w_rank, req.window, req.count):
                window = {"start_ts": int(ts[sc.start]), "end_ts": int(ts[sc.end])}
                if book is None:
                    contributions = dict(zip(symbols, sc.contributions.tolist(), strict=True))
                    results.append({**window, "pnl": sc.pnl, "contributions": contributions,
                                    "rows": _rows(contributions, [], None)})
                    continue
                moves = np.prod(1.0 + returns[sc.start:sc.end + 1], axis=0) - 1.0
                res = stress.apply_shock(w, moves, options=book, horizon_days=req.window * 365 / 252)
                results.append({**window, **_shock(symbols, res, req.option_positions)})
        elif req.scenario == "shock":
            unknown = sorted(set(map(normalize_symbol, req.shocks)) - set(symbols))
            if unknown:
                raise InvalidInput(f"shock on {unknown[0]!r}, which is not in the portfolio", field="shocks")
            moves = {normalize_symbol(k): v for k, v in req.shocks.items()}
            res = stress.apply_shock(w, np.array([moves.get(s, 0.0) for s in symbols]), options=book,
                                     vol_shift=self._vol_shift(req, symbols, book), horizon_days=req.horizon_days)
            results.append(_shock(symbols, res, req.option_positions))
        else:
            if req.loss is None:
                raise InvalidInput("a reverse stress needs the loss to reach", field="loss")
            cov = measures.covariance(returns)
            if book is None:
                res = stress.reverse_stress_linear(w, cov, req.loss)
            else:
                res = stress.reverse_stress(w, cov, req.loss, book, horizon_days=req.horizon_days)
            # the P&L of the shock found, itemised per position and option leg (rows sum to pnl exactly)
            items = _shock(symbols, stress.apply_shock(w, res.shock, options=book, horizon_days=req.horizon_days),
                           req.option_positions)
            results.append({**items, "target_loss": float(req.loss), "mahalanobis": res.mahalanobis,
                            "sigma_pnl": res.sigma_pnl, "shock": dict(zip(symbols, res.shock.tolist(), strict=True))})
        return StressReply(scenario=req.scenario, symbols=symbols, exposures=w.tolist(), results=results)

    @staticmethod
    def _vol_shift(req: StressRequest, symbols: list[str], book: OptionPositions | None) -> Any:
        if req.vol_shift is None:
            return None
        if book is None:
            raise InvalidInput("a vol shift needs option positions", field="vol_shift")
        if isinstance(req.vol_shift, dict):
            shifts = {normalize_symbol(k): float(v) for k, v in req.vol_shift.items()}
            unknown = sorted(set(shifts) - {symbols[i] for i in book.underlying})
            if unknown:
                raise InvalidInput(f"vol shift on {unknown[0]!r}, which has no option", field="vol_shift")
            return np.array([shifts.get(symbols[i], 0.0) for i in book.underlying])
        return float(req.vol_shift)

    @handler
    def backtest(self, req: VarBacktestRequest) -> VarBacktestReply:
        if not 1 <= req.window < req.lookback:
            raise InvalidInput(f"window must be between 1 and lookback - 1 ({req.lookback - 1})", field="window")
        # one VaR estimate over `window` observations per day after the first window
        admit((req.lookback - req.window) * req.window, self.settings.max_matrix_cells, "window",
              "max_matrix_cells", "(lookback - window) x window")
        h = self._history(req)
        if h.book is not None:
            raise InvalidInput("VaR backtests take linear positions only", field="option_positions")
        from nautilus.risk import measures, var_backtest

        ts, returns, w = h.ts, h.returns, h.exposures
        pnl = returns @ w
        position = np.ones(1)

        def var_fn(window_pnl: np.ndarray) -> float:
            return measures.var_cvar(window_pnl[:, None], position, req.confidence, 1, req.method,
                                     **req.options)["var"]

        res = var_backtest.rolling_var_backtest(pnl, var_fn, req.window, req.confidence)
        exceptions = [{"ts": int(ts[e.index]), "index": e.index, "pnl": e.pnl, "var": e.var} for e in res.exceptions]
        return VarBacktestReply(method=req.method, confidence=req.confidence, window=req.window,
                                observations=res.n, exceptions=exceptions, kupiec=plain(dataclasses.asdict(res.kupiec)),
                                christoffersen=plain(dataclasses.asdict(res.christoffersen))
                                if res.christoffersen else {},
                                zone=str(res.zone), ts=ts, pnl=pnl, var=res.var)


def _components(result: dict[str, Any]) -> list[dict[str, float]]:
    """Per-position rows of a :func:`nautilus.risk.decomposition.decompose` result."""
    keys = [k for k in ("component_var", "component_cvar", "marginal_var", "marginal_cvar") if k in result]
    return [{k: float(result[k][i]) for k in keys} for i in range(len(result["component_var"]))]


@dataclasses.dataclass
class Holdings:
    symbols: list[str]  # the portfolio's, then option-only underlyings
    ts: np.ndarray  # [T] return timestamps
    returns: np.ndarray  # [T, N]
    exposures: np.ndarray  # [N] currency exposures (0 for option-only underlyings)
    book: OptionPositions | None


def _shock(symbols: list[str], res: stress.ShockResult, legs: list[Any]) -> dict[str, Any]:
    """A scenario's reply: ``pnl`` (the exact sum of ``rows``), one row per position and per option leg,
    the linear ``contributions`` per symbol and, with options, their P&L per leg and per underlying."""
    contributions = dict(zip(symbols, res.contributions.tolist(), strict=True))
    out: dict[str, Any] = {"pnl": res.pnl, "contributions": contributions,
                           "rows": _rows(contributions, legs, res.option_position_pnl)}
    if legs:
        out.update(linear_pnl=res.linear_pnl, option_pnl=res.option_pnl,
                   option_contributions=dict(zip(symbols, res.option_contributions.tolist(), strict=True)))
    return out


def _rows(contributions: dict[str, float], legs: list[Any], leg_pnl: np.ndarray | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"position": s, "kind": "linear", "pnl": v} for s, v in contributions.items()]
    for j, leg in enumerate(legs):
        label = f"{normalize_symbol(leg.underlying)} {leg.type} {leg.strike:g} {leg.expiry} x{leg.quantity:g}"
        rows.append({"position": label, "kind": "option", "leg": j, "underlying": normalize_symbol(leg.underlying),
                     "pnl": float(leg_pnl[j]) if leg_pnl is not None else 0.0})
    return rows


def _account(name: str) -> str:
    text = (name or "").strip()
    if not text or len(text) > 64 or not all(ch.isalnum() or ch in "._-" for ch in text):
        raise InvalidInput(f"account {name!r} is not valid (1-64 letters, digits or ._-)", field="account")
    return text

