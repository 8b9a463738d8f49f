"""Pre-trade limits in SQL: one versioned row per account, read by the Risk and the Portfolio engines.

The limits were a JSON file under the Risk engine's data directory, which only processes on that host could
read; the Portfolio engine checks orders itself now and reads them here (every deployment form shares the
database). A ``limits.json`` left by an older version is imported on start (:mod:`nautilus.storage.limits`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_limits",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_risk_limits")),
    )


def downgrade() -> None:
    op.drop_table("risk_limits")
