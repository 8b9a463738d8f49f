"""The database's identity and the single-writer leases of stateful engines.

``database_identity`` holds one row made when the schema is created: a random id that every process
compares with the one recorded beside the data, so a lost or replaced database is an outage, never a
fresh empty database. ``writer_leases`` holds one row per stateful engine: the fencing epoch that
every write transaction of that engine checks (a writer whose epoch is no longer current cannot commit).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    identity = op.create_table(
        "database_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("db_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_database_identity_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_database_identity")),
    )
    op.bulk_insert(identity, [{"id": 1, "db_id": str(uuid.uuid4()), "created_at": datetime.now(UTC)}])
    op.create_table(
        "writer_leases",
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("engine", name=op.f("pk_writer_leases")),
    )


def downgrade() -> None:
    op.drop_table("writer_leases")
    op.drop_table("database_identity")
