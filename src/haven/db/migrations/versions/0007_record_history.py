"""Record history: earlier versions of replaced registry records, append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL = "record_versions is append-only"
# Every column but the kept ciphertext, which a key rotation re-encrypts without changing what
# it holds.
_FIXED = "id, entity, record_id, version, state, changed, changed_by, changed_at"


def _triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION record_versions_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
            f"CREATE TRIGGER record_versions_no_update BEFORE UPDATE OF {_FIXED} "
            "ON record_versions FOR EACH ROW EXECUTE FUNCTION record_versions_refuse()",
            "CREATE TRIGGER record_versions_no_delete BEFORE DELETE ON record_versions "
            "FOR EACH ROW EXECUTE FUNCTION record_versions_refuse()",
            "CREATE TRIGGER record_versions_no_truncate BEFORE TRUNCATE ON record_versions "
            "FOR EACH STATEMENT EXECUTE FUNCTION record_versions_refuse()",
        ]
    return [
        f"CREATE TRIGGER record_versions_no_update BEFORE UPDATE OF {_FIXED} "
        f"ON record_versions BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
        "CREATE TRIGGER record_versions_no_delete BEFORE DELETE ON record_versions "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
    ]


def upgrade() -> None:
    op.create_table(
        "record_versions",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.JSON(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_versions")),
        sa.UniqueConstraint(
            "entity",
            "record_id",
            "version",
            name=op.f("uq_record_versions_entity_record_id_version"),
        ),
    )
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    # Dropping the table drops its triggers; the function outlives it on PostgreSQL.
    op.drop_table("record_versions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION record_versions_refuse()")
