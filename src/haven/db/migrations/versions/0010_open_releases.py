"""Open statistics as dated releases

Open statistics were counted live for every visitor, so anyone who added or removed records
could watch a count move at once. They are now published as releases: the figures as
published, with their date, made by `haven stats release` or by the worker on a schedule.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_releases",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("released_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_releases")),
        sa.UniqueConstraint("period", name=op.f("uq_open_releases_period")),
    )
    with op.batch_alter_table("open_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_releases_released_at"), ["released_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("open_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_releases_released_at"))
    op.drop_table("open_releases")
