"""The registry, the audit chain and the database's own facts

Revision ID: 0001
Revises:
Create Date: 2026-11-29 17:49:28.648691
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:  # noqa: PLR0915 (one statement per table)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts from an all-zero hash; appending locks and advances this row.
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("seq", sa.Integer),
            sa.column("hash", sa.String),
        ),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=False),
        sa.Column("surface", sa.String(length=40), nullable=True),
        sa.Column("before_digest", sa.String(length=64), nullable=True),
        sa.Column("after_digest", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "contributors",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ngo",
                "authority",
                "eu-body",
                "company",
                "system",
                name="contributor_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("member_state", sa.String(length=2), nullable=True),
        sa.Column("created_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributors")),
        sa.UniqueConstraint("name", name=op.f("uq_contributors_name")),
    )
    # Haven itself, the contributor of records no organisation brought in.
    op.bulk_insert(
        sa.table(
            "contributors",
            sa.column("id", haven.db.dialect.Guid),
            sa.column("name", sa.String),
            sa.column("kind", sa.String),
            sa.column("created_at", haven.db.dialect.UtcDateTime),
        ),
        [
            {
                "id": "00000000-0000-7000-8000-000000000001",
                "name": "Haven",
                "kind": "system",
                "created_at": datetime(2026, 11, 29, tzinfo=UTC),
            }
        ],
    )
    op.create_table(
        "haven_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_haven_meta")),
    )
    op.create_table(
        "evidence",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("filename", sa.LargeBinary(), nullable=True),
        sa.Column("media_type", sa.String(length=120), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "acquisition_method",
            sa.Enum(
                "submitted-by-reporter",
                "online-capture",
                "device-extraction",
                "document-request",
                "interview",
                "other",
                name="acquisition_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("acquired_by", sa.String(length=200), nullable=False),
        sa.Column("source_reliability", sa.String(length=1), nullable=False),
        sa.Column("information_credibility", sa.String(length=1), nullable=False),
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
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_evidence_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_sha256"), ["sha256"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("narrative", sa.LargeBinary(), nullable=True),
        sa.Column("narrative_language", sa.String(length=35), nullable=True),
        sa.Column("occurred_start", sa.Date(), nullable=False),
        sa.Column("occurred_end", sa.Date(), nullable=True),
        sa.Column(
            "occurred_precision",
            sa.Enum(
                "day",
                "month",
                "year",
                "range",
                name="date_precision",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reported_on", sa.Date(), nullable=True),
        sa.Column("origin_state", sa.String(length=2), nullable=False),
        sa.Column("host_state", sa.String(length=2), nullable=True),
        sa.Column("other_places", sa.JSON(), nullable=False),
        sa.Column(
            "host_involvement",
            sa.Enum(
                "none",
                "complicit",
                "active",
                "unknown",
                name="host_involvement",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "accusation",
            sa.Enum(
                "terrorism",
                "extremism",
                "state-security",
                "fraud",
                "other",
                name="accusation",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("state_responsibility", sa.String(length=40), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "reported",
                "under-review",
                "verified",
                "not-substantiated",
                "archived",
                name="incident_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("taxonomy_version", sa.Integer(), nullable=False),
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
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.CheckConstraint(
            "occurred_end IS NULL OR occurred_end >= occurred_start",
            name=op.f("ck_incidents_occurred_order"),
        ),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_incidents_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incidents_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incidents_host_state"), ["host_state"], unique=False)
        batch_op.create_index("ix_incidents_occurred_start", ["occurred_start"], unique=False)
        batch_op.create_index(
            "ix_incidents_origin_host", ["origin_state", "host_state"], unique=False
        )

    op.create_table(
        "organisations",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "state-agency",
                "proxy",
                "company",
                "surveillance-vendor",
                "ngo",
                "authority",
                name="organisation_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
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
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_organisations_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisations_contributor_id"), ["contributor_id"], unique=False
        )

    op.create_table(
        "people",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("community", sa.String(length=80), nullable=True),
        sa.Column("profile", sa.String(length=40), nullable=True),
        sa.Column(
            "gender",
            sa.Enum(
                "female",
                "male",
                "other",
                "undisclosed",
                name="gender",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "age_band",
            sa.Enum(
                "under-18",
                "18-29",
                "30-44",
                "45-64",
                "65-plus",
                name="age_band",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("identity", sa.LargeBinary(), nullable=True),
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
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_people_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_people_contributor_id"), ["contributor_id"], unique=False
        )

    op.create_table(
        "incident_evidence",
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("evidence_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_incident_evidence_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_incident_evidence_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_evidence_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("incident_id", "evidence_id", name=op.f("pk_incident_evidence")),
    )
    with op.batch_alter_table("incident_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_evidence_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_evidence_evidence_id"), ["evidence_id"], unique=False
        )

    op.create_table(
        "incident_organisations",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("organisation_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "perpetrator",
                "proxy",
                "instigating-agency",
                "witness",
                "source",
                name="organisation_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_incident_organisations_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_organisations_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_incident_organisations_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_organisations")),
        sa.UniqueConstraint(
            "incident_id",
            "organisation_id",
            "role",
            name=op.f("uq_incident_organisations_incident_id_organisation_id_role"),
        ),
    )
    with op.batch_alter_table("incident_organisations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_organisations_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_organisations_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_organisations_organisation_id"),
            ["organisation_id"],
            unique=False,
        )

    op.create_table(
        "incident_people",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("person_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "target",
                "relative-targeted-by-proxy",
                "perpetrator",
                "proxy",
                "witness",
                "source",
                name="person_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("on_behalf_of_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column(
            "relationship",
            sa.Enum(
                "parent",
                "child",
                "sibling",
                "spouse",
                "grandparent",
                "grandchild",
                "other-relative",
                name="relationship",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_incident_people_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_people_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_id"],
            ["people.id"],
            name=op.f("fk_incident_people_on_behalf_of_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_incident_people_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_people")),
        sa.UniqueConstraint(
            "incident_id",
            "person_id",
            "role",
            name=op.f("uq_incident_people_incident_id_person_id_role"),
        ),
    )
    with op.batch_alter_table("incident_people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_people_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_people_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_people_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "incident_tactics",
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("tactic", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_tactics_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "tactic", name=op.f("pk_incident_tactics")),
    )
    with op.batch_alter_table("incident_tactics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_tactics_tactic"), ["tactic"], unique=False)

    op.create_table(
        "legal_instruments",
        sa.Column("id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "red-notice",
                "diffusion",
                "extradition-request",
                "passport-cancellation",
                "consular-denial",
                "arrest-warrant",
                name="instrument_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("issuing_state", sa.String(length=2), nullable=False),
        sa.Column("subject_id", haven.db.dialect.Guid(length=36), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "active",
                "refused",
                "withdrawn",
                "deleted",
                "executed",
                "unknown",
                name="instrument_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("reference", sa.LargeBinary(), nullable=True),
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
        sa.Column("updated_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_legal_instruments_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["people.id"], name=op.f("fk_legal_instruments_subject_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_instruments")),
    )
    with op.batch_alter_table("legal_instruments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_instruments_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_legal_instruments_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "person_lookup",
        sa.Column("person_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_lookup_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "kind", "digest", name=op.f("pk_person_lookup")),
    )
    with op.batch_alter_table("person_lookup", schema=None) as batch_op:
        batch_op.create_index("ix_person_lookup_kind_digest", ["kind", "digest"], unique=False)

    op.create_table(
        "incident_instruments",
        sa.Column("incident_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("instrument_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.Column("contributed_by", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", haven.db.dialect.UtcDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", haven.db.dialect.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_incident_instruments_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_instruments_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["legal_instruments.id"],
            name=op.f("fk_incident_instruments_instrument_id_legal_instruments"),
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "instrument_id", name=op.f("pk_incident_instruments")
        ),
    )
    with op.batch_alter_table("incident_instruments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_instruments_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_instruments_instrument_id"), ["instrument_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_instruments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_instruments_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_incident_instruments_contributor_id"))

    op.drop_table("incident_instruments")
    with op.batch_alter_table("person_lookup", schema=None) as batch_op:
        batch_op.drop_index("ix_person_lookup_kind_digest")

    op.drop_table("person_lookup")
    with op.batch_alter_table("legal_instruments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_instruments_subject_id"))
        batch_op.drop_index(batch_op.f("ix_legal_instruments_contributor_id"))

    op.drop_table("legal_instruments")
    with op.batch_alter_table("incident_tactics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_tactics_tactic"))

    op.drop_table("incident_tactics")
    with op.batch_alter_table("incident_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_people_person_id"))
        batch_op.drop_index(batch_op.f("ix_incident_people_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_people_contributor_id"))

    op.drop_table("incident_people")
    with op.batch_alter_table("incident_organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_organisations_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_incident_organisations_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_organisations_contributor_id"))

    op.drop_table("incident_organisations")
    with op.batch_alter_table("incident_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_evidence_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_incident_evidence_contributor_id"))

    op.drop_table("incident_evidence")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_contributor_id"))

    op.drop_table("people")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_contributor_id"))

    op.drop_table("organisations")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_origin_host")
        batch_op.drop_index("ix_incidents_occurred_start")
        batch_op.drop_index(batch_op.f("ix_incidents_host_state"))
        batch_op.drop_index(batch_op.f("ix_incidents_contributor_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_contributor_id"))

    op.drop_table("evidence")
    op.drop_table("haven_meta")
    op.drop_table("contributors")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_entity_id"))

    op.drop_table("audit_log")
    op.drop_table("audit_head")
