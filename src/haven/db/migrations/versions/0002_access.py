"""Access: users, sessions, recovery codes, API tokens, sharing groups, record shares, consent

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:27:01.093905
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sharing_groups",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["contributors.id"], name=op.f("fk_sharing_groups_owner_id_contributors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_sharing_groups_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("login_index", sa.String(length=64), nullable=False),
        sa.Column("login", sa.LargeBinary(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("system_admin", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=True),
        sa.Column(
            "totp_last_step", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["contributors.id"],
            name=op.f("fk_users_organisation_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login_index", name=op.f("uq_users_login_index")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("person_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("recipient_kind", sa.String(length=20), nullable=False),
        sa.Column("member_state", sa.String(length=2), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_consent_events_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_events_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("person_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("recipient_kind", sa.String(length=20), nullable=False),
        sa.Column("member_state", sa.String(length=2), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_consents_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "person_id", "recipient_kind", "member_state", name=op.f("pk_consents")
        ),
    )
    op.create_table(
        "record_recipients",
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_record_recipients_user_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "entity", "record_id", "user_id", name=op.f("pk_record_recipients")
        ),
    )
    with op.batch_alter_table("record_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_record_recipients_user", ["user_id", "entity"], unique=False)

    op.create_table(
        "record_shares",
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("group_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name=op.f("fk_record_shares_group_id_sharing_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity", "record_id", "group_id", name=op.f("pk_record_shares")),
    )
    with op.batch_alter_table("record_shares", schema=None) as batch_op:
        batch_op.create_index("ix_record_shares_group", ["group_id", "entity"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sharing_group_members",
        sa.Column("group_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name=op.f("fk_sharing_group_members_group_id_sharing_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["contributors.id"],
            name=op.f("fk_sharing_group_members_organisation_id_contributors"),
        ),
        sa.PrimaryKeyConstraint(
            "group_id", "organisation_id", name=op.f("pk_sharing_group_members")
        ),
    )
    with op.batch_alter_table("sharing_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_group_members_organisation_id"),
            ["organisation_id"],
            unique=False,
        )

    op.create_table(
        "web_sessions",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_web_sessions_secret_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("sharing_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_group_members_organisation_id"))

    op.drop_table("sharing_group_members")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))

    op.drop_table("recovery_codes")
    with op.batch_alter_table("record_shares", schema=None) as batch_op:
        batch_op.drop_index("ix_record_shares_group")

    op.drop_table("record_shares")
    with op.batch_alter_table("record_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_record_recipients_user")

    op.drop_table("record_recipients")
    op.drop_table("consents")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_person_id"))

    op.drop_table("consent_events")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_organisation_id"))

    op.drop_table("users")
    op.drop_table("sharing_groups")
