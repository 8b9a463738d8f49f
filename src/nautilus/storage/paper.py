"""SQL persistence of paper trading: every state change in one transaction, the book rebuilt on start.

The Portfolio engine acknowledges an order or a fill only after its transaction committed, so a crash
at any moment loses nothing acknowledged, and a bar's fills, order updates, positions, cash, equity
point and the instrument's clock commit together (a re-delivered bar is ignored by the clock and, as a
last guard, by the unique ``(order_id, ts)`` of fills), so nothing is ever counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from nautilus.core.errors import Conflict, NotFound
from nautilus.storage.db import Database
from nautilus.storage.models import (
    OPEN_ORDER_STATUSES,
    AuditLog,
    Instrument,
    PaperAccount,
    PaperCash,
    PaperEquity,
    PaperFill,
    PaperMark,
    PaperOrder,
    PaperPosition,
    utcnow,
)
from nautilus.storage.prepared import Prepared
from nautilus.trading.accounting import PositionState, apply_fill, cash_delta
from nautilus.trading.book import Account, BarResult, FillRecord, Order, PaperBook
from nautilus.trading.matching import FillConfig, WorkingOrder

ACCOUNT_KEYS: Final = ("id", "name", "base_currency", "slippage_bps", "fee_bps", "fixed_fee", "latency_ms",
                       "max_participation", "created_at")
ORDER_KEYS: Final = ("id", "account_id", "client_order_id", "strategy", "symbol", "side", "type", "tif", "quantity",
                     "equity_pct", "limit_price", "stop_price", "status", "filled", "avg_fill_price", "fees",
                     "reason", "risk", "created_at", "updated_at")
FILL_KEYS: Final = ("id", "order_id", "account_id", "strategy", "symbol", "ts", "quantity", "price", "fee")


@dataclass(slots=True)
class OrderDraft:
    """An order to insert: its columns, the detail of its ``submit_order`` audit row and further audit rows of
    the same transaction ``(action, target, detail)`` (its pre-trade decision)."""

    values: dict[str, Any]
    audit: dict[str, Any]
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def _row(row: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    m = row._mapping
    return {k: m[k] for k in keys}


ORDER_STATE: Final = ("status", "filled", "quantity", "avg_fill_price", "fees", "triggered", "reason", "limit_price",
                      "stop_price", "updated_at")


def _order_params(order: Order, now: datetime) -> dict[str, Any]:
    """Bound parameters of the order-state update (the ``b_`` names of :data:`ORDER_STATE`)."""
    w = order.work
    return {"b_id": order.id, "b_status": order.status, "b_filled": w.filled, "b_quantity": w.quantity,
            "b_avg_fill_price": order.avg_fill_price, "b_fees": order.fees, "b_triggered": w.triggered,
            "b_reason": order.reason, "b_limit_price": w.limit_price, "b_stop_price": w.stop_price,
            "b_updated_at": now}


def _columns(table: Any, *skip: str) -> tuple[str, ...]:
    return tuple(c.key for c in table.__table__.c if c.key not in skip)


AUDIT_COLUMNS: Final = ("ts", "actor", "action", "target", "detail")


class PaperStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        self.upsert = db.upsert
        # The hot paths (an order's submission and update, the bar transaction) run prepared statements on the
        # DBAPI cursor of Database.raw_transaction: compiled once, no per-execute SQLAlchemy work.
        self._insert_order = Prepared(insert(PaperOrder).returning(PaperOrder.id), db, _columns(PaperOrder, "id"))
        self._insert_fills = Prepared(insert(PaperFill), db, _columns(PaperFill, "id"))
        self._insert_audit = Prepared(insert(AuditLog), db, AUDIT_COLUMNS)
        self._update_order = Prepared(update(PaperOrder).where(PaperOrder.id == bindparam("b_id")).values(
            {k: bindparam(f"b_{k}") for k in ORDER_STATE}), db)
        self._select_order = Prepared(select(*PaperOrder.__table__.c).where(PaperOrder.id == bindparam("b_id")), db)
        self._upsert_mark = self._upsert_stmt(PaperMark, [PaperMark.account_id, PaperMark.symbol], ("ts", "price"))
        self._upsert_position = self._upsert_stmt(
            PaperPosition, [PaperPosition.account_id, PaperPosition.strategy, PaperPosition.symbol],
            ("quantity", "avg_price", "realised_pnl", "fees", "updated_at"))
        self._upsert_cash = self._upsert_stmt(PaperCash, [PaperCash.account_id, PaperCash.currency], ("amount",))
        self._upsert_equity = self._upsert_stmt(PaperEquity, [PaperEquity.account_id, PaperEquity.ts],
                                                ("equity", "cash", "unrealised", "realised", "fees"))

    def _upsert_stmt(self, table: Any, keys: list[Any], updated: tuple[str, ...]) -> Prepared:
        stmt = self.upsert(table)
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={k: stmt.excluded[k] for k in updated})
        return Prepared(stmt, self.db, _columns(table))

    # Accounts ---------------------------------------------------------------------------------------
    def create_account(self, name: str, base_currency: str, cash: dict[str, float], config: FillConfig) -> int:
        values = {"name": name, "base_currency": base_currency, "slippage_bps": config.slippage_bps,
                  "fee_bps": config.fee_bps, "fixed_fee": config.fixed_fee, "latency_ms": config.latency_ms,
                  "max_participation": config.max_participation, "created_at": utcnow()}
        try:
            with self.engine.begin() as c:
                account_id = c.execute(insert(PaperAccount).values(**values).returning(PaperAccount.id)).scalar_one()
                c.execute(insert(PaperCash), [{"account_id": account_id, "currency": k, "amount": v, "deposits": v}
                                              for k, v in cash.items()])
                self._audit_core(c, "create_account", name, {"cash": cash, "base_currency": base_currency})
        except IntegrityError as exc:
            raise Conflict(f"account {name!r} already exists", field="name") from exc
        return account_id

    def accounts(self) -> list[dict[str, Any]]:
        with self.engine.begin() as c:
            return [_row(r, ACCOUNT_KEYS) for r in c.execute(select(PaperAccount).order_by(PaperAccount.id))]

    def change_cash(self, account_id: int, currency: str, amount: float, delta: float) -> None:
        """Set the cash of a currency to ``amount`` after an external flow of ``delta`` (deposit > 0)."""
        stmt = self.upsert(PaperCash).values(account_id=account_id, currency=currency, amount=amount, deposits=delta)
        stmt = stmt.on_conflict_do_update(index_elements=[PaperCash.account_id, PaperCash.currency],
                                          set_={"amount": amount, "deposits": PaperCash.deposits + delta})
        with self.engine.begin() as c:
            c.execute(stmt)
            self._audit_core(c, "change_cash", str(account_id), {"currency": currency, "amount": delta})

    def reconcile(self, account_id: int) -> dict[str, Any]:
        """Rebuild positions and cash from the fills and the deposits, and compare with the stored state."""
        with self.engine.begin() as c:
            fills = c.execute(select(PaperFill).where(PaperFill.account_id == account_id)
                              .order_by(PaperFill.id)).all()
            stored_pos = {(r.strategy, r.symbol): r for r in c.execute(
                select(PaperPosition).where(PaperPosition.account_id == account_id))}
            cash = {r.currency: r for r in c.execute(select(PaperCash).where(PaperCash.account_id == account_id))}
            currencies = dict(c.execute(select(Instrument.symbol, Instrument.currency)).all())
            base = c.execute(select(PaperAccount.base_currency).where(PaperAccount.id == account_id)).scalar_one()
            per_order = c.execute(select(PaperFill.order_id, func.sum(func.abs(PaperFill.quantity)), PaperOrder.filled)
                                  .join(PaperOrder, PaperOrder.id == PaperFill.order_id)
                                  .where(PaperFill.account_id == account_id)
                                  .group_by(PaperFill.order_id, PaperOrder.filled)).all()
        positions: dict[tuple[str, str], PositionState] = {}
        flows: dict[str, float] = {ccy: row.deposits for ccy, row in cash.items()}
        for f in fills:
            apply_fill(positions.setdefault((f.strategy, f.symbol), PositionState()), f.quantity, f.price, f.fee)
            ccy = currencies.get(f.symbol) or base
            flows[ccy] = flows.get(ccy, 0.0) + cash_delta(f.quantity, f.price, f.fee)
        differences = []
        for key in sorted(set(positions) | set(stored_pos)):
            want = positions.get(key, PositionState())
            got = stored_pos.get(key)
            have = (got.quantity, got.realised_pnl, got.fees) if got is not None else (0.0, 0.0, 0.0)
            if not _close((want.quantity, want.realised_pnl, want.fees), have):
                differences.append({"position": list(key), "from_fills": [want.quantity, want.realised_pnl, want.fees],
                                    "stored": list(have)})
        for ccy in sorted(set(flows) | set(cash)):
            stored = cash[ccy].amount if ccy in cash else 0.0
            if not _close((flows.get(ccy, 0.0),), (stored,)):
                differences.append({"cash": ccy, "from_fills": flows.get(ccy, 0.0), "stored": stored})
        for order_id, filled_by_fills, filled in per_order:
            if not _close((filled_by_fills,), (filled,)):
                differences.append({"order": order_id, "from_fills": filled_by_fills, "stored": filled})
        return {"ok": not differences, "fills": len(fills), "differences": differences}

    # Loading ----------------------------------------------------------------------------------------
    def load(self) -> PaperBook:
        """The book as the database holds it: accounts, cash, working orders, positions, marks."""
        book = PaperBook()
        with self.engine.begin() as c:
            for r in c.execute(select(PaperAccount)):
                cfg = FillConfig(r.slippage_bps, r.fee_bps, r.fixed_fee, r.latency_ms, r.max_participation)
                book.accounts[r.id] = Account(r.id, r.name, r.base_currency, cfg, {})
            for r in c.execute(select(PaperCash)):
                book.accounts[r.account_id].cash[r.currency] = r.amount
            for r in c.execute(select(PaperMark)):
                book.marks.setdefault(r.account_id, {})[r.symbol] = (r.ts, r.price)
            for r in c.execute(select(PaperPosition)):
                book.positions[(r.account_id, r.strategy, r.symbol)] = PositionState(
                    r.quantity, r.avg_price, r.realised_pnl, r.fees)
            query = select(PaperOrder).where(PaperOrder.status.in_(OPEN_ORDER_STATUSES)).order_by(PaperOrder.id)
            for r in c.execute(query):
                book.add_order(order_from_row(r._mapping))
            peaks = select(PaperEquity.account_id, func.max(PaperEquity.equity), func.max(PaperEquity.ts)).group_by(
                PaperEquity.account_id)
            for account_id, peak, last_ts in c.execute(peaks):
                account = book.accounts[account_id]
                account.peak_equity = peak
                day = last_ts // 86_400_000_000_000
                first = c.execute(select(PaperEquity.equity).where(
                    PaperEquity.account_id == account_id, PaperEquity.ts >= day * 86_400_000_000_000)
                    .order_by(PaperEquity.ts).limit(1)).scalar()
                account.day, account.day_start_equity = day, first
        return book

    # Orders -----------------------------------------------------------------------------------------
    def add_order(self, draft: Callable[[Any], OrderDraft]) -> tuple[dict[str, Any], bool]:
        """Insert the order ``draft(cursor)`` makes inside the transaction (it may read on the cursor first: the
        pre-trade check revalidates its limits there); with a ``client_order_id`` the account already used,
        return that order instead. Returns ``(row, created)``.
        """
        now = utcnow()
        values: dict[str, Any] = {}
        try:
            with self.db.raw_transaction() as cur:
                made = draft(cur)
                values = made.values
                row = {**values, "avg_fill_price": None, "created_at": now, "updated_at": now}
                row["id"] = self._insert_order.scalar(self._insert_order.execute(cur, row))
                self._audit(cur, "submit_order", f"{values['account_id']}/{row['id']}", made.audit)
                for action, target, detail in made.audits:
                    self._audit(cur, action, target, detail)
        except IntegrityError:
            if values.get("client_order_id") is None:
                raise
            existing = self.find_order(values["account_id"], values["client_order_id"])
            if existing is None:
                raise
            return existing, False
        return {k: row[k] for k in ORDER_KEYS}, True

    def accepted_since(self, account_id: int, since: datetime) -> list[float]:
        """When the account's orders that were not rejected were stored, after ``since`` (epoch seconds, oldest
        first): the order-rate window of a process that starts (or whose window grows)."""
        query = (select(PaperOrder.created_at).where(PaperOrder.account_id == account_id,
                                                     PaperOrder.status != "rejected", PaperOrder.created_at > since)
                 .order_by(PaperOrder.created_at))
        with self.engine.begin() as c:
            return [ts.timestamp() for ts in c.scalars(query)]

    def find_order(self, account_id: int, client_order_id: str) -> dict[str, Any] | None:
        with self.engine.begin() as c:
            row = c.execute(select(PaperOrder).where(PaperOrder.account_id == account_id,
                                                     PaperOrder.client_order_id == client_order_id)).first()
            return None if row is None else _row(row, ORDER_KEYS)

    def get_order(self, order_id: int) -> dict[str, Any]:
        with self.engine.begin() as c:
            row = c.execute(select(PaperOrder).where(PaperOrder.id == order_id)).first()
        if row is None:
            raise NotFound(f"order {order_id} does not exist", field="order_id")
        return _row(row, ORDER_KEYS)

    def update_order(self, order: Order, action: str, detail: dict[str, Any]) -> dict[str, Any]:
        with self.db.raw_transaction() as cur:
            self._update_order.execute(cur, _order_params(order, utcnow()))
            self._audit(cur, action, f"{order.account_id}/{order.id}", detail)
            rows = self._select_order.rows(self._select_order.execute(cur, {"b_id": order.id}))
            if not rows:  # rolls the update's audit row back
                raise NotFound(f"order {order.id} does not exist", field="order_id")
        return {k: rows[0][k] for k in ORDER_KEYS}

    def orders(self, account_id: int | None = None, status: str | None = None, symbol: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
        query = select(PaperOrder).order_by(PaperOrder.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(PaperOrder.account_id == account_id)
        if status == "working":
            query = query.where(PaperOrder.status.in_(OPEN_ORDER_STATUSES))
        elif status:
            query = query.where(PaperOrder.status == status)
        if symbol:
            query = query.where(PaperOrder.symbol == symbol)
        with self.engine.begin() as c:
            return [_row(r, ORDER_KEYS) for r in c.execute(query)]

    def fills(self, account_id: int | None = None, strategy: str | None = None, symbol: str | None = None,
              limit: int | None = 1000) -> list[dict[str, Any]]:
        """Fills in the order they happened (oldest first), the last ``limit`` of them."""
        query = select(PaperFill).order_by(PaperFill.id.desc())
        if limit is not None:
            query = query.limit(limit)
        if account_id is not None:
            query = query.where(PaperFill.account_id == account_id)
        if strategy is not None:
            query = query.where(PaperFill.strategy == strategy)
        if symbol:
            query = query.where(PaperFill.symbol == symbol)
        with self.engine.begin() as c:
            return [_row(r, FILL_KEYS) for r in c.execute(query)][::-1]

    def fill_records(self, account_id: int, strategy: str | None = None,
                     symbol: str | None = None) -> list[FillRecord]:
        """Every fill of an account (optionally one strategy and symbol), oldest first, as the book's records."""
        return [FillRecord(**{k: f[k] for k in FILL_KEYS if k != "id"})
                for f in self.fills(account_id, strategy, symbol, limit=None)]

    def equity(self, account_id: int, start_ns: int | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
        query = select(PaperEquity).where(PaperEquity.account_id == account_id).order_by(PaperEquity.ts).limit(limit)
        if start_ns is not None:
            query = query.where(PaperEquity.ts >= start_ns)
        with self.engine.begin() as c:
            return [{k: getattr(r, k) for k in ("ts", "equity", "cash", "unrealised", "realised", "fees")}
                    for r in c.execute(query)]

    # The bar transaction ----------------------------------------------------------------------------
    def save_event(self, result: BarResult, book: PaperBook) -> None:
        """Commit everything one bar or quote changed (or nothing)."""
        now = utcnow()
        event_symbol = result.symbol
        marks = []
        for a in result.marked:
            ts, price = book.marks[a][event_symbol]
            marks.append({"account_id": a, "symbol": event_symbol, "ts": ts, "price": price})
        cash = [{"account_id": a, "currency": ccy, "amount": amount, "deposits": 0.0}
                for a in result.accounts for ccy, amount in book.accounts[a].cash.items()]
        with self.db.raw_transaction() as cur:
            self._upsert_mark.executemany(cur, marks)
            if result.fills:
                self._insert_fills.executemany(cur, [
                    {"order_id": f.order_id, "account_id": f.account_id, "strategy": f.strategy, "symbol": f.symbol,
                     "ts": f.ts, "quantity": f.quantity, "price": f.price, "fee": f.fee, "created_at": now}
                    for f in result.fills])
            if result.orders:
                self._update_order.executemany(cur, [_order_params(o, now) for o in result.orders])
            if result.positions:
                self._upsert_position.executemany(cur, [
                    {"account_id": a, "strategy": strategy, "symbol": symbol, "quantity": p.quantity,
                     "avg_price": p.avg_price, "realised_pnl": p.realised_pnl, "fees": p.fees, "updated_at": now}
                    for (a, strategy, symbol), p in result.positions.items()])
            if cash:
                self._upsert_cash.executemany(cur, cash)
            if result.equity:
                self._upsert_equity.executemany(cur, [
                    {"account_id": p.account_id, "ts": p.ts, "equity": p.equity, "cash": p.cash,
                     "unrealised": p.unrealised, "realised": p.realised, "fees": p.fees} for p in result.equity])

    def reset_account(self, account_id: int) -> None:
        """Forget an account's orders, fills, positions and equity history (cash is set separately)."""
        with self.engine.begin() as c:
            for table in (PaperFill, PaperOrder, PaperPosition, PaperEquity, PaperMark):
                c.execute(delete(table).where(table.account_id == account_id))
            self._audit_core(c, "reset_account", str(account_id), None)

    def _audit(self, cur: Any, action: str, target: str | None, detail: dict[str, Any] | None,
               actor: str = "portfolio") -> None:
        """The audit row of a hot-path change, on the cursor of its raw transaction."""
        self._insert_audit.execute(cur, {"ts": utcnow(), "actor": actor, "action": action, "target": target,
                                         "detail": detail})

    def _audit_core(self, c: Connection, action: str, target: str | None, detail: dict[str, Any] | None,
                    actor: str = "portfolio") -> None:
        """The audit row of a change made through a SQLAlchemy connection (accounts, cash, resets)."""
        c.execute(insert(AuditLog), {"ts": utcnow(), "actor": actor, "action": action, "target": target,
                                     "detail": detail})


def order_from_row(r: Mapping[str, Any]) -> Order:
    """The book's working order from an order's stored columns."""
    side = 1 if r["side"] == "buy" else -1
    work = WorkingOrder(r["id"], side, r["type"], r["quantity"], r["limit_price"], r["stop_price"], r["tif"],
                        r["eligible_ns"], r["day"], r["filled"], r["triggered"], r["filled"] > 0, r["equity_pct"])
    return Order(r["id"], r["account_id"], r["strategy"], r["symbol"], r["client_order_id"], work, r["status"],
                 r["avg_fill_price"], r["fees"], r["reason"])


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y)) for x, y in zip(a, b, strict=True))
