"""Checks of the prepared-statement path shared by the SQLite (unit) and PostgreSQL (integration) tests:
each writes the same values through SQLAlchemy Core and through :class:`nautilus.storage.prepared.Prepared`
and compares what is stored and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Text, bindparam, cast, func, insert, select
from sqlalchemy.exc import IntegrityError, StatementError

from nautilus.storage.db import Database
from nautilus.storage.models import AuditLog, PaperAccount, PaperEquity, PaperOrder
from nautilus.storage.paper import OrderDraft, PaperStore, order_from_row
from nautilus.storage.prepared import Prepared, PreparedError
from nautilus.trading.book import Order
from nautilus.trading.matching import Bar, FillConfig, eligible_from

DAY = 86_400 * 10**9
T0 = 1_900_000_000 * 10**9 // DAY * DAY
ORDER_COLUMNS = tuple(c.key for c in PaperOrder.__table__.c if c.key != "id")
EQUITY_KEYS = ("account_id", "ts", "equity", "cash", "unrealised", "realised", "fees")
PLUS5 = timezone(timedelta(hours=5))


def make_account(db: Database, name: str) -> int:
    with db.engine.begin() as c:
        return c.execute(insert(PaperAccount).values(
            name=name, base_currency="USD", slippage_bps=0.0, fee_bps=0.0, fixed_fee=0.0, latency_ms=0.0,
            max_participation=None, created_at=datetime.now(UTC)).returning(PaperAccount.id)).scalar_one()


def order_values(account_id: int, client_order_id: str | None, **changes: Any) -> dict[str, Any]:
    values = {
        "account_id": account_id, "client_order_id": client_order_id, "strategy": "sma", "symbol": "ABC",
        "side": "buy", "type": "limit", "tif": "GTC", "quantity": 0.1, "equity_pct": None, "limit_price": 99.5,
        "stop_price": None, "status": "open", "filled": 0.0, "avg_fill_price": None, "fees": 1e-300,
        "triggered": True, "eligible_ns": T0 + 1, "day": 21_990, "reason": None,
        "risk": {"accepted": True, "reasons": [], "note": "naïve ✓", "limit": 1.5e10, "nested": {"a": [1, None]}},
        "created_at": datetime(2030, 3, 1, 12, 30, 45, 123456, tzinfo=PLUS5),
        "updated_at": datetime(2030, 3, 1, 7, 30, 45, 654321, tzinfo=UTC),
    }
    return values | changes


ORDER_VARIANTS: tuple[dict[str, Any], ...] = (
    {},
    {"triggered": False, "risk": None, "reason": "a reason with 'quotes' and ; semicolons", "quantity": -2.5e10},
    {"equity_pct": 0.25, "limit_price": None, "stop_price": 101.25, "type": "stop", "side": "sell",
     "risk": {"empty": {}}, "created_at": datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8)))},
)


def stored_orders(db: Database, ids: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows as SQLAlchemy reads them and as the database holds them (every column cast to text)."""
    table = PaperOrder.__table__
    with db.engine.begin() as c:
        read = [dict(r._mapping) for r in c.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id))]
        raw = [dict(r._mapping) for r in c.execute(
            select(*[cast(col, Text).label(col.key) for col in table.c]).where(table.c.id.in_(ids))
            .order_by(table.c.id))]
    return read, raw


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def check_orders_round_trip(db: Database) -> None:
    """Inserts with RETURNING: DateTime (offset-aware in, UTC out), JSON (incl. None), Boolean, NULL, floats."""
    account = make_account(db, "round-trip")
    prepared = Prepared(insert(PaperOrder).returning(PaperOrder.id), db, ORDER_COLUMNS)
    core_ids, prepared_ids = [], []
    for i, changes in enumerate(ORDER_VARIANTS):
        with db.engine.begin() as c:
            core_ids.append(c.execute(insert(PaperOrder).returning(PaperOrder.id),
                                      order_values(account, f"core-{i}", **changes)).scalar_one())
        with db.raw_transaction() as cur:
            prepared_ids.append(prepared.scalar(prepared.execute(cur, order_values(account, f"prep-{i}", **changes))))
    assert all(isinstance(i, int) for i in prepared_ids) and prepared_ids == sorted(prepared_ids)
    core_read, core_raw = stored_orders(db, core_ids)
    prep_read, prep_raw = stored_orders(db, prepared_ids)
    assert [r["id"] for r in prep_read] == prepared_ids  # RETURNING gave the ids of the inserted rows
    for i, changes in enumerate(ORDER_VARIANTS):
        assert _without(prep_raw[i], "id", "client_order_id") == _without(core_raw[i], "id", "client_order_id")
        assert _without(prep_read[i], "id", "client_order_id") == _without(core_read[i], "id", "client_order_id")
        written = order_values(account, f"prep-{i}", **changes)
        read = prep_read[i]
        assert _without(read, "id") == written  # the oracle: what was written comes back
        assert read["created_at"].utcoffset() == timedelta(0) and read["created_at"] == written["created_at"]
        assert type(read["triggered"]) is bool


def check_executemany_upsert(db: Database) -> None:
    """An upsert run many times per call: inserts, then updates on conflict; NULL-free floats exactly."""
    core_account, prep_account = make_account(db, "em-core"), make_account(db, "em-prep")
    stmt = db.upsert(PaperEquity)
    stmt = stmt.on_conflict_do_update(index_elements=[PaperEquity.account_id, PaperEquity.ts],
                                      set_={k: stmt.excluded[k] for k in ("equity", "cash")})
    prepared = Prepared(stmt, db, EQUITY_KEYS)

    def batch(account: int, scale: float, n: int) -> list[dict[str, Any]]:
        return [{"account_id": account, "ts": T0 + k, "equity": scale * (k + 0.1), "cash": -scale / (k + 3),
                 "unrealised": 1e-12 * k, "realised": 2.0**60 + k, "fees": 0.0} for k in range(n)]

    for scale, n in ((1.0, 4), (7.5, 6)):  # the second batch updates 4 rows and inserts 2
        with db.engine.begin() as c:
            c.execute(stmt, batch(core_account, scale, n))
        with db.raw_transaction() as cur:
            prepared.executemany(cur, batch(prep_account, scale, n))
    with db.engine.begin() as c:
        def rows(account: int) -> list[dict[str, Any]]:
            query = select(PaperEquity.__table__).where(PaperEquity.account_id == account).order_by(PaperEquity.ts)
            return [_without(dict(r._mapping), "account_id") for r in c.execute(query)]
        core, prep = rows(core_account), rows(prep_account)
    assert prep == core
    first, second = batch(prep_account, 1.0, 4), batch(prep_account, 7.5, 6)
    expected = [{**first[k], "equity": second[k]["equity"], "cash": second[k]["cash"]} for k in range(4)] + second[4:]
    assert prep == [_without(r, "account_id") for r in expected]


def check_audit_and_select(db: Database) -> None:
    """Inserts without RETURNING (JSON None is the JSON ``null``, as Core binds it) and a SELECT whose
    results are converted as SQLAlchemy converts them."""
    ts = datetime(2031, 1, 2, 3, 4, 5, 6, tzinfo=PLUS5)
    entries = [{"ts": ts, "actor": "t", "action": f"a{k}", "target": None if k % 2 else "x/1",
                "detail": None if k == 1 else {"k": k, "f": 0.1 * k, "s": ["é", True]}} for k in range(3)]
    prepared = Prepared(insert(AuditLog), db, ("ts", "actor", "action", "target", "detail"))
    with db.engine.begin() as c:
        c.execute(insert(AuditLog), [{**e, "actor": "core"} for e in entries])
    with db.raw_transaction() as cur:
        prepared.executemany(cur, [{**e, "actor": "prep"} for e in entries[:2]])
        prepared.execute(cur, {**entries[2], "actor": "prep"})
    table = AuditLog.__table__
    query = select(table).where(table.c.actor == bindparam("who")).order_by(table.c.id)
    raw_query = select(*[cast(col, Text).label(col.key) for col in table.c if col.key not in ("id", "actor")]).where(
        table.c.actor == bindparam("who")).order_by(table.c.id)
    with db.engine.begin() as c:
        core = [dict(r._mapping) for r in c.execute(query, {"who": "core"})]
        raw = {who: [dict(r._mapping) for r in c.execute(raw_query, {"who": who})] for who in ("core", "prep")}
    assert raw["prep"] == raw["core"]
    reader = Prepared(query, db)
    with db.raw_transaction() as cur:
        prep = reader.rows(reader.execute(cur, {"who": "prep"}))
        nobody = reader.rows(reader.execute(cur, {"who": "nobody"}))
    assert nobody == []
    assert [_without(r, "id", "actor") for r in prep] == [_without(r, "id", "actor") for r in core] == [
        _without(e, "actor") for e in entries]
    assert all(r["ts"] == ts and r["ts"].utcoffset() == timedelta(0) for r in prep)


def check_errors_and_rollback(db: Database) -> None:
    """A failure anywhere in a raw transaction leaves nothing; driver errors are SQLAlchemy's classes."""
    account = make_account(db, "errors")
    prepared = Prepared(insert(PaperOrder).returning(PaperOrder.id), db, ORDER_COLUMNS)
    audit = Prepared(insert(AuditLog), db, ("ts", "actor", "action", "target", "detail"))

    def count() -> tuple[int, int]:
        with db.engine.begin() as c:
            return (c.execute(select(func.count()).select_from(PaperOrder)).scalar_one(),
                    c.execute(select(func.count()).select_from(AuditLog)).scalar_one())

    with db.raw_transaction() as cur:
        prepared.execute(cur, order_values(account, "dup"))
    before = count()
    entry = {"ts": datetime.now(UTC), "actor": "t", "action": "x", "target": None, "detail": None}
    with pytest.raises(RuntimeError, match="boom"), db.raw_transaction() as cur:
        audit.execute(cur, entry)
        raise RuntimeError("boom")
    assert count() == before
    with pytest.raises(IntegrityError), db.raw_transaction() as cur:  # the idempotency key, unique per account
        audit.execute(cur, entry)
        prepared.execute(cur, order_values(account, "dup"))
    assert count() == before
    with pytest.raises(PreparedError) as missing, db.raw_transaction() as cur:
        audit.execute(cur, entry)
        prepared.execute(cur, _without(order_values(account, "new"), "eligible_ns"))
    assert missing.value.field == "eligible_ns" and "'eligible_ns'" in missing.value.message
    assert count() == before
    naive = order_values(account, "naive", created_at=datetime(2030, 1, 1))
    with pytest.raises(StatementError, match="naive datetime"), db.engine.begin() as c:
        c.execute(insert(PaperOrder), naive)  # what Core raises ...
    with pytest.raises(StatementError, match="naive datetime"), db.raw_transaction() as cur:
        prepared.execute(cur, naive)  # ... the prepared path raises too
    assert count() == before
    # A column left out of ``columns`` with a scalar default (triggered=False) takes it unless given, as Core
    # does for a key missing from the parameters; a column listed is required (Core: "A value is required").
    defaulted = Prepared(insert(PaperOrder).returning(PaperOrder.id), db,
                         [k for k in ORDER_COLUMNS if k != "triggered"])
    with db.raw_transaction() as cur:
        new_ids = [defaulted.scalar(defaulted.execute(cur, _without(order_values(account, "dflt"), "triggered"))),
                   defaulted.scalar(defaulted.execute(cur, order_values(account, "given", triggered=True)))]
    with db.engine.begin() as c:
        assert c.execute(select(PaperOrder.triggered).where(PaperOrder.id.in_(new_ids))
                         .order_by(PaperOrder.id)).scalars().all() == [False, True]
    assert count() == (before[0] + 2, before[1])
    with pytest.raises(PreparedError) as missing, db.raw_transaction() as cur:
        prepared.execute(cur, _without(order_values(account, "new"), "triggered"))
    assert missing.value.field == "triggered"
    assert db.engine.pool.checkedout() == 0  # every connection went back to the pool


def check_unsupported_statement(db: Database) -> None:
    expanding = Prepared(select(PaperOrder.id).where(PaperOrder.id.in_(bindparam("ids", expanding=True))), db)
    with pytest.raises(PreparedError) as info, db.raw_transaction() as cur:
        expanding.execute(cur, {"ids": [1, 2]})
    assert info.value.field == "ids"


# The PaperStore scenario ------------------------------------------------------------------------------
def _order(account: int, client_id: str, side: str, type_: str, quantity: float, clock: int | None,
           limit_price: float | None = None) -> dict[str, Any]:
    """The values of the draft the Portfolio engine makes for ``PaperStore.add_order``."""
    return {"account_id": account, "client_order_id": client_id, "strategy": "s1", "symbol": "XYZ", "side": side,
            "type": type_, "tif": "GTC", "quantity": quantity, "equity_pct": None, "limit_price": limit_price,
            "stop_price": None, "filled": 0.0, "fees": 0.0, "triggered": False,
            "eligible_ns": eligible_from(clock, 0.0), "day": (clock or T0) // DAY, "status": "open", "reason": None,
            "risk": {"accepted": True, "reasons": []}}


def run_store_scenario(db: Database) -> dict[str, Any]:
    """Buy 10 at market (fills at the next open, 101), sell 10 with a limit of 103 (fills on the bar whose
    high reaches it), cancel a third order; fees 10 bps plus 1.0 per order. Returns every stored row
    (timestamps checked here and left out, ids kept) and what the store's methods returned."""
    store = PaperStore(db)
    account = store.create_account("scenario", "USD", {"USD": 100_000.0}, FillConfig(0.0, 10.0, 1.0, 0.0, None))
    book = store.load()
    store.save_event(book.on_bar("XYZ", Bar(T0, 100.0, 100.0, 100.0, 100.0, 1e6)), book)
    returned: dict[str, Any] = {}
    for client_id, side, type_, limit in (("m1", "buy", "market", None), ("l1", "sell", "limit", 103.0)):
        values = _order(account, client_id, side, type_, 10.0, book.clock(account, "XYZ"), limit)
        row, created = store.add_order(lambda _cur, v=values, c=client_id: OrderDraft(
            v, {"request": {"client_order_id": c}}, [("check_order", f"scenario/{c}", {"accepted": True})]))
        assert created and row == store.get_order(row["id"])
        returned[client_id] = row
        book.add_order(order_from_row({**values, **row}))
    store.save_event(book.on_bar("XYZ", Bar(T0 + DAY, 101.0, 102.0, 100.0, 102.0, 1e6)), book)
    store.save_event(book.on_bar("XYZ", Bar(T0 + 2 * DAY, 102.0, 104.0, 101.0, 103.5, 1e6)), book)
    values = _order(account, "l2", "buy", "limit", 5.0, book.clock(account, "XYZ"), 90.0)
    row, _ = store.add_order(lambda _cur: OrderDraft(values, {}))
    order: Order = order_from_row({**values, **row})
    book.add_order(order)
    order.status, order.reason = "cancelled", "cancelled by request"
    book.remove_order(order)
    returned["l2"] = store.update_order(order, "cancel_order", {"why": None})
    assert returned["l2"] == store.get_order(order.id)
    # A retry with a used idempotency key returns the stored order (last: on PostgreSQL the failed insert
    # consumes a sequence number, so later ids would differ from SQLite's).
    again, created = store.add_order(lambda _cur: OrderDraft(_order(account, "m1", "buy", "market", 10.0, T0),
                                                             {"retry": True}))
    assert not created and again == {**returned["m1"], "status": "filled", "filled": 10.0, "avg_fill_price": 101.0,
                                     "fees": pytest.approx(10 * 101 * 10 / 1e4 + 1.0), "updated_at": again["updated_at"]}
    assert store.reconcile(account)["ok"]
    return {"returned": {k: _without(v, "created_at", "updated_at") for k, v in returned.items()},
            "tables": _dump(db)}


def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    from nautilus.storage.models import PaperCash, PaperFill, PaperMark, PaperPosition

    out = {}
    with db.engine.begin() as c:
        for model in (PaperOrder, PaperFill, PaperPosition, PaperCash, PaperMark, PaperEquity, AuditLog):
            table = model.__table__
            rows = []
            for r in c.execute(select(table).order_by(*table.primary_key.columns)):
                row = dict(r._mapping)
                for key in ("created_at", "updated_at") + (("ts",) if model is AuditLog else ()):
                    if key in row:
                        stamp = row.pop(key)
                        assert stamp.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - stamp) < timedelta(
                            minutes=5)
                rows.append(row)
            out[table.name] = rows
    return out


def check_store_scenario(got: dict[str, Any]) -> None:
    """The hand-worked outcome of :func:`run_store_scenario`."""
    tables = got["tables"]
    buy_fee, sell_fee = 10 * 101 * 10 / 1e4 + 1.0, 10 * 103 * 10 / 1e4 + 1.0
    fills = [(f["quantity"], f["price"], f["fee"], f["ts"]) for f in tables["paper_fills"]]
    assert fills == [(10.0, 101.0, pytest.approx(buy_fee), T0 + DAY), (-10.0, 103.0, pytest.approx(sell_fee),
                                                                        T0 + 2 * DAY)]
    orders = {o["client_order_id"]: o for o in tables["paper_orders"]}
    assert {k: (o["status"], o["filled"], o["avg_fill_price"]) for k, o in orders.items()} == {
        "m1": ("filled", 10.0, 101.0), "l1": ("filled", 10.0, 103.0), "l2": ("cancelled", 0.0, None)}
    assert orders["l2"]["reason"] == "cancelled by request" and orders["m1"]["risk"] == {"accepted": True,
                                                                                         "reasons": []}
    assert got["returned"]["l2"] == _without(orders["l2"], "triggered", "eligible_ns", "day")
    [position] = tables["paper_positions"]
    assert (position["quantity"], position["realised_pnl"]) == (0.0, 20.0)
    assert position["fees"] == pytest.approx(buy_fee + sell_fee)
    [cash] = tables["paper_cash"]
    assert cash["amount"] == pytest.approx(100_000 - 1010 - buy_fee + 1030 - sell_fee) and cash["deposits"] == 100_000
    assert [(m["ts"], m["price"]) for m in tables["paper_marks"]] == [(T0 + 2 * DAY, 103.5)]
    equity = [(e["ts"], e["equity"]) for e in tables["paper_equity"]]
    assert equity == [(T0 + DAY, pytest.approx(100_000 - 1010 - buy_fee + 1020)),
                      (T0 + 2 * DAY, pytest.approx(100_000 - 1010 - buy_fee + 1030 - sell_fee))]
    actions = [(a["action"], a["target"]) for a in tables["audit_log"]]
    ids = {k: o["id"] for k, o in orders.items()}
    account = tables["paper_orders"][0]["account_id"]
    assert actions == [("create_account", "scenario"), ("submit_order", f"{account}/{ids['m1']}"),
                       ("check_order", "scenario/m1"), ("submit_order", f"{account}/{ids['l1']}"),
                       ("check_order", "scenario/l1"), ("submit_order", f"{account}/{ids['l2']}"),
                       ("cancel_order", f"{account}/{ids['l2']}")]
    assert tables["audit_log"][2]["detail"] == {"accepted": True}  # a draft's audit rows commit with the order
    assert tables["audit_log"][6]["detail"] == {"why": None}


# Tests --------------------------------------------------------------------------------------------------
