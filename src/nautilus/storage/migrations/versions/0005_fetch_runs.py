"""Market data fetches from external sources and the corporate actions they bring.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fetch_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("source_symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("adjust", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'ok', 'failed', 'rejected')",
                           name=op.f("ck_fetch_runs_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_runs")),
    )
    op.create_index(op.f("ix_fetch_runs_symbol"), "fetch_runs", ["symbol"])
    op.create_table(
        "corporate_actions",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.CheckConstraint("kind IN ('split', 'dividend')", name=op.f("ck_corporate_actions_kind_known")),
        sa.PrimaryKeyConstraint("symbol", "ts", "kind", name=op.f("pk_corporate_actions")),
    )


def downgrade() -> None:
    op.drop_table("corporate_actions")
    op.drop_index(op.f("ix_fetch_runs_symbol"), table_name="fetch_runs")
    op.drop_table("fetch_runs")
