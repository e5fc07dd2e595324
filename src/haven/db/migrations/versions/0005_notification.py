"""Notification: subscriptions, webhooks, the outbox and the in-app inbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:05:25.615081
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("approved_tlp", sa.JSON(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["contributors.id"],
            name=op.f("fk_webhooks_organisation_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhooks_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "inbox",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("delivery_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("read_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_inbox_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_inbox_delivery_id")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "webhook",
                "inbox",
                name="notify_channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("webhook_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column(
            "tlp",
            sa.Enum(
                "clear",
                "green",
                "amber",
                "amber+strict",
                "red",
                name="tlp",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("delivery_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("delivered_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(user_id IS NOT NULL) OR (webhook_id IS NOT NULL) OR (address IS NOT NULL)",
            name=op.f("ck_outbox_has_recipient"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users")),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_outbox_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_outbox_delivery_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_webhook_id"), ["webhook_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("host_state", sa.String(length=2), nullable=True),
        sa.Column("origin_state", sa.String(length=2), nullable=True),
        sa.Column("tactic", sa.String(length=40), nullable=True),
        sa.Column("urgent_only", sa.Boolean(), nullable=False),
        sa.Column(
            "watch_entity",
            sa.Enum(
                "people",
                "organisations",
                name="watch_entity",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("watch_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "immediate", "digest", name="notify_mode", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "webhook",
                "inbox",
                name="notify_channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (organisation_id IS NULL)",
            name=op.f("ck_subscriptions_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["contributors.id"],
            name=op.f("fk_subscriptions_organisation_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_user_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_organisation_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_webhook_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_user_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_user_created")

    op.drop_table("inbox")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooks_organisation_id"))

    op.drop_table("webhooks")
