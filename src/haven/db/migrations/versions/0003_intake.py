"""Intake: reports, their messages and evidence files, idempotency keys, imported rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:57:16.261416
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["contributors.id"],
            name=op.f("fk_idempotency_keys_organisation_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "organisation_id", "key", name=op.f("uq_idempotency_keys_organisation_id_key")
        ),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "imported_rows",
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("imported_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_imported_rows_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_imported_rows_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("contributor_id", "row_key", name=op.f("pk_imported_rows")),
    )
    op.create_table(
        "reports",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.Column("handled_by", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("person_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "public-form",
                "api",
                name="report_channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "triaged",
                "verified",
                "not-substantiated",
                "referred",
                "acknowledged",
                "action-recorded",
                "closed",
                "withdrawn",
                name="report_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column(
            "relation",
            sa.Enum(
                "self",
                "relative-in-home-country",
                "colleague",
                "other",
                name="reporter_relation",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "perpetrator_kind",
            sa.Enum(
                "state",
                "agency",
                "embassy",
                "proxy",
                "unknown",
                name="perpetrator_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("contact", sa.LargeBinary(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handled_by"], ["contributors.id"], name=op.f("fk_reports_handled_by_contributors")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_reports_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_reports_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_reports_receipt_hash")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_handler_status", ["handled_by", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_person_id"), ["person_id"], unique=False)

    op.create_table(
        "evidence_files",
        sa.Column("evidence_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("clean_sha256", sa.String(length=64), nullable=True),
        sa.Column("clean_size", sa.Integer(), nullable=True),
        sa.Column("stored_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_evidence_files_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_evidence_files_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_evidence_files")),
    )
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_files_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "report_messages",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "sender",
            sa.Enum(
                "reporter",
                "organisation",
                name="message_sender",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("author_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_report_messages_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_messages_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_messages")),
    )
    with op.batch_alter_table("report_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_messages_report_id"), ["report_id"], unique=False
        )

    with op.batch_alter_table("contributors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handles_reports", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("contributors", schema=None) as batch_op:
        batch_op.drop_column("handles_reports")

    with op.batch_alter_table("report_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_messages_report_id"))

    op.drop_table("report_messages")
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_files_report_id"))

    op.drop_table("evidence_files")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_person_id"))
        batch_op.drop_index(batch_op.f("ix_reports_incident_id"))
        batch_op.drop_index("ix_reports_handler_status")

    op.drop_table("reports")
    op.drop_table("imported_rows")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
