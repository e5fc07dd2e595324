"""Casework: case timeline, notes, links, referrals; assignment and deadlines on reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:00:24.726056
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "status",
                "assignment",
                "note",
                "link",
                "referral",
                "acknowledgement",
                "action",
                "escalation",
                name="case_event_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_case_events_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_report_id"), ["report_id"], unique=False)

    op.create_table(
        "case_links",
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_case_links_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("report_id", "entity", "record_id", name=op.f("pk_case_links")),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("author_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("written_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_case_notes_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_case_notes_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_report_id"), ["report_id"], unique=False)

    op.create_table(
        "referrals",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("report_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("to_organisation", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("asks", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "sent",
                "acknowledged",
                "action-recorded",
                name="referral_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("sent_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=200), nullable=False),
        sa.Column("due_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "protection-measures",
                "investigation-opened",
                "prosecution",
                "diplomatic-step",
                "no-action",
                name="authority_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("action_reason", sa.LargeBinary(), nullable=True),
        sa.Column("action_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("action_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_referrals_report_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["to_organisation"],
            ["contributors.id"],
            name=op.f("fk_referrals_to_organisation_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_report_id"), ["report_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referrals_to_organisation"), ["to_organisation"], unique=False
        )

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assigned_to", haven.db.dialect.Guid(length=36), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ack_due_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("acknowledged_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_reports_ack_due_at"), ["ack_due_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_assigned_to_users"), "users", ["assigned_to"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reports_assigned_to_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_reports_ack_due_at"))
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("ack_due_at")
        batch_op.drop_column("assigned_to")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_to_organisation"))
        batch_op.drop_index(batch_op.f("ix_referrals_report_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_due_at"))

    op.drop_table("referrals")
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_report_id"))

    op.drop_table("case_notes")
    op.drop_table("case_links")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_report_id"))

    op.drop_table("case_events")
