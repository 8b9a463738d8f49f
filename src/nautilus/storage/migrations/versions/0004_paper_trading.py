"""Paper trading: accounts, cash, orders, fills, positions, marks, equity history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _account_fk(table: str, primary: bool = False) -> sa.Column:
    return sa.Column("account_id", sa.Integer(),
                     sa.ForeignKey("paper_accounts.id", name=op.f(f"fk_{table}_account_id_paper_accounts"),
                                   ondelete="CASCADE"),
                     nullable=False, primary_key=primary)


def upgrade() -> None:
    d = sa.Double()
    op.create_table(
        "paper_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_currency", sa.String(16), nullable=False),
        sa.Column("slippage_bps", d, nullable=False),
        sa.Column("fee_bps", d, nullable=False),
        sa.Column("fixed_fee", d, nullable=False),
        sa.Column("latency_ms", d, nullable=False),
        sa.Column("max_participation", d, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_paper_accounts_name")),
    )
    op.create_table(
        "paper_cash",
        _account_fk("paper_cash", primary=True),
        sa.Column("currency", sa.String(16), nullable=False, primary_key=True),
        sa.Column("amount", d, nullable=False),
        sa.Column("deposits", d, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "currency", name=op.f("pk_paper_cash")),
    )
    statuses = "'open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired'"
    op.create_table(
        "paper_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        _account_fk("paper_orders"),
        sa.Column("client_order_id", sa.String(128), nullable=True),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("tif", sa.String(4), nullable=False),
        sa.Column("quantity", d, nullable=False),
        sa.Column("equity_pct", d, nullable=True),
        sa.Column("limit_price", d, nullable=True),
        sa.Column("stop_price", d, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled", d, nullable=False),
        sa.Column("avg_fill_price", d, nullable=True),
        sa.Column("fees", d, nullable=False),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.Column("eligible_ns", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("risk", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({statuses})", name=op.f("ck_paper_orders_status_known")),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_paper_orders_side_known")),
        sa.CheckConstraint("type IN ('market', 'limit', 'stop', 'stop_limit')", name=op.f("ck_paper_orders_type_known")),
        sa.CheckConstraint("tif IN ('GTC', 'DAY', 'IOC', 'FOK')", name=op.f("ck_paper_orders_tif_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_orders")),
        sa.UniqueConstraint("account_id", "client_order_id", name=op.f("uq_paper_orders_account_id_client_order_id")),
    )
    op.create_index(op.f("ix_paper_orders_account_id"), "paper_orders", ["account_id"])
    op.create_index(op.f("ix_paper_orders_symbol"), "paper_orders", ["symbol"])
    op.create_table(
        "paper_fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(),
                  sa.ForeignKey("paper_orders.id", name=op.f("fk_paper_fills_order_id_paper_orders"),
                                ondelete="CASCADE"), nullable=False),
        _account_fk("paper_fills"),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("quantity", d, nullable=False),
        sa.Column("price", d, nullable=False),
        sa.Column("fee", d, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_fills")),
        sa.UniqueConstraint("order_id", "ts", name=op.f("uq_paper_fills_order_id_ts")),
    )
    op.create_index(op.f("ix_paper_fills_account_id"), "paper_fills", ["account_id"])
    op.create_table(
        "paper_positions",
        _account_fk("paper_positions", primary=True),
        sa.Column("strategy", sa.String(128), nullable=False, primary_key=True),
        sa.Column("symbol", sa.String(64), nullable=False, primary_key=True),
        sa.Column("quantity", d, nullable=False),
        sa.Column("avg_price", d, nullable=False),
        sa.Column("realised_pnl", d, nullable=False),
        sa.Column("fees", d, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "strategy", "symbol", name=op.f("pk_paper_positions")),
    )
    op.create_table(
        "paper_marks",
        _account_fk("paper_marks", primary=True),
        sa.Column("symbol", sa.String(64), nullable=False, primary_key=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("price", d, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "symbol", name=op.f("pk_paper_marks")),
    )
    op.create_table(
        "paper_equity",
        _account_fk("paper_equity", primary=True),
        sa.Column("ts", sa.BigInteger(), nullable=False, primary_key=True),
        sa.Column("equity", d, nullable=False),
        sa.Column("cash", d, nullable=False),
        sa.Column("unrealised", d, nullable=False),
        sa.Column("realised", d, nullable=False),
        sa.Column("fees", d, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "ts", name=op.f("pk_paper_equity")),
    )


def downgrade() -> None:
    op.drop_table("paper_equity")
    op.drop_table("paper_marks")
    op.drop_table("paper_positions")
    op.drop_index(op.f("ix_paper_fills_account_id"), table_name="paper_fills")
    op.drop_table("paper_fills")
    op.drop_index(op.f("ix_paper_orders_symbol"), table_name="paper_orders")
    op.drop_index(op.f("ix_paper_orders_account_id"), table_name="paper_orders")
    op.drop_table("paper_orders")
    op.drop_table("paper_cash")
    op.drop_table("paper_accounts")
