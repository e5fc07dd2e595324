"""Insight: incidents cleared for open statistics, and counts kept in step by triggers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from haven.insight import cube

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE = (
    ("audience", sa.String(length=5)),
    ("contributor", sa.String(length=36)),
    ("cleared", sa.Boolean()),
    ("year", sa.Integer()),
)
_COUNTS = (
    ("stats_places", (("host", 2), ("origin", 2))),
    ("stats_traits", (("region", 12), ("involvement", 20), ("accusation", 20))),
    ("stats_tactics", (("region", 12), ("tactic", 40))),
    ("stats_methods", (("region", 12), ("method", 40))),
    ("stats_profiles", (("region", 12), ("profile", 40))),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cleared_for_statistics", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    for table, dimensions in _COUNTS:
        key = [name for name, _ in _SCOPE] + [name for name, _ in dimensions]
        op.create_table(
            table,
            *(sa.Column(name, kind, nullable=False) for name, kind in _SCOPE),
            *(sa.Column(name, sa.String(length=size), nullable=False) for name, size in dimensions),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "stats_tactic_methods",
        sa.Column("tactic", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("tactic", name=op.f("pk_stats_tactic_methods")),
    )
    op.create_table(
        "stats_host_regions",
        sa.Column("host", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_stats_host_regions")),
    )
    cube.install(op.get_bind())


def downgrade() -> None:
    cube.uninstall(op.get_bind())
    op.drop_table("stats_host_regions")
    op.drop_table("stats_tactic_methods")
    for table, _ in reversed(_COUNTS):
        op.drop_table(table)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("cleared_for_statistics")
