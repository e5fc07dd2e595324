"""The registry: who did what to whom (the HURIDOCS act model), with provenance on every record.

Identifying data of people lives only in encrypted columns (``LargeBinary``, AES-GCM through
:mod:`haven.crypto.fields`) and in keyed blind indexes; every other column is safe to aggregate.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id, utcnow
from haven.domain.enums import Accusation as AccusationKind
from haven.domain.enums import (
    AcquisitionMethod,
    AgeBand,
    ContributorKind,
    DatePrecision,
    Gender,
    HostInvolvement,
    IncidentStatus,
    InstrumentKind,
    InstrumentStatus,
    OrganisationKind,
    OrganisationRole,
    PersonRole,
    Relationship,
    Tlp,
)


def closed(enum: type[StrEnum], name: str) -> Enum:
    """A closed vocabulary stored as text with a CHECK constraint on both databases."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def country() -> Any:
    return String(2)


class Contributor(Base):
    """An organisation that contributes records to Haven (an NGO, an authority, ...)."""

    __tablename__ = "contributors"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[ContributorKind] = mapped_column(closed(ContributorKind, "contributor_kind"))
    member_state: Mapped[str | None] = mapped_column(country())
    # The organisation that receives reports from the public form (one at most).
    handles_reports: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Provenance:
    """Who contributed a record or a fact, and when."""

    @declared_attr
    def contributor_id(cls) -> Mapped[str]:
        return mapped_column(Guid, ForeignKey("contributors.id"), index=True)

    contributed_by: Mapped[str] = mapped_column(String(200))
    contributed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Labelled(Provenance):
    tlp: Mapped[Tlp] = mapped_column(closed(Tlp, "tlp"), default=Tlp.AMBER)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Incident(Labelled, Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(
            "occurred_end IS NULL OR occurred_end >= occurred_start", name="occurred_order"
        ),
        Index("ix_incidents_origin_host", "origin_state", "host_state"),
        Index("ix_incidents_occurred_start", "occurred_start"),
    )

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    # Free text names people more often than not, so it is sealed like their identity.
    narrative: Mapped[bytes | None] = mapped_column(LargeBinary)
    narrative_language: Mapped[str | None] = mapped_column(String(35))
    occurred_start: Mapped[date] = mapped_column(Date)
    occurred_end: Mapped[date | None] = mapped_column(Date)
    occurred_precision: Mapped[DatePrecision] = mapped_column(
        closed(DatePrecision, "date_precision")
    )
    reported_on: Mapped[date | None] = mapped_column(Date)
    origin_state: Mapped[str] = mapped_column(country())
    host_state: Mapped[str | None] = mapped_column(country(), index=True)
    other_places: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    host_involvement: Mapped[HostInvolvement] = mapped_column(
        closed(HostInvolvement, "host_involvement"), default=HostInvolvement.UNKNOWN
    )
    accusation: Mapped[AccusationKind | None] = mapped_column(closed(AccusationKind, "accusation"))
    state_responsibility: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[IncidentStatus] = mapped_column(
        closed(IncidentStatus, "incident_status"), default=IncidentStatus.REPORTED
    )
    taxonomy_version: Mapped[int] = mapped_column(Integer)
    # The contributor allows the incident to be counted in open statistics whatever its label.
    cleared_for_statistics: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class IncidentTactic(Base):
    __tablename__ = "incident_tactics"

    incident_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    tactic: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Person(Labelled, Base):
    """A person in the registry. Profile columns are non-identifying; ``identity`` holds names,
    date of birth, contact, address and documents, encrypted as one JSON document."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    nationality: Mapped[str | None] = mapped_column(country())
    community: Mapped[str | None] = mapped_column(String(80))
    profile: Mapped[str | None] = mapped_column(String(40))
    gender: Mapped[Gender] = mapped_column(closed(Gender, "gender"), default=Gender.UNDISCLOSED)
    age_band: Mapped[AgeBand | None] = mapped_column(closed(AgeBand, "age_band"))
    identity: Mapped[bytes | None] = mapped_column(LargeBinary)


class PersonLookup(Base):
    """Keyed blind indexes of a person's identifying values, for exact lookups and matching."""

    __tablename__ = "person_lookup"
    __table_args__ = (Index("ix_person_lookup_kind_digest", "kind", "digest"),)

    person_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class Organisation(Labelled, Base):
    """An actor: a state agency, a proxy, a company, a surveillance vendor, an NGO, an authority."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OrganisationKind] = mapped_column(closed(OrganisationKind, "organisation_kind"))
    country: Mapped[str | None] = mapped_column(country())
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class LegalInstrument(Labelled, Base):
    """A red notice or diffusion, an extradition request, a passport cancellation, a consular
    denial or an arrest warrant. Its reference number identifies the subject and is encrypted."""

    __tablename__ = "legal_instruments"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    kind: Mapped[InstrumentKind] = mapped_column(closed(InstrumentKind, "instrument_kind"))
    issuing_state: Mapped[str] = mapped_column(country())
    subject_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("people.id"), index=True)
    issued_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[InstrumentStatus] = mapped_column(
        closed(InstrumentStatus, "instrument_status"), default=InstrumentStatus.UNKNOWN
    )
    status_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[bytes | None] = mapped_column(LargeBinary)


class Evidence(Labelled, Base):
    """Metadata of a piece of evidence with its chain of custody (Berkeley Protocol): what it is,
    its SHA-256, when, how and by whom it was acquired, and how far its source is trusted."""

    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    filename: Mapped[bytes | None] = mapped_column(LargeBinary)
    media_type: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acquisition_method: Mapped[AcquisitionMethod] = mapped_column(
        closed(AcquisitionMethod, "acquisition_method")
    )
    acquired_by: Mapped[str] = mapped_column(String(200))
    source_reliability: Mapped[str] = mapped_column(String(1))
    information_credibility: Mapped[str] = mapped_column(String(1))


class IncidentPerson(Provenance, Base):
    __tablename__ = "incident_people"
    __table_args__ = (UniqueConstraint("incident_id", "person_id", "role"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"), index=True)
    person_id: Mapped[str] = mapped_column(Guid, ForeignKey("people.id"), index=True)
    role: Mapped[PersonRole] = mapped_column(closed(PersonRole, "person_role"))
    # For a relative targeted by proxy: the person the pressure is really aimed at.
    on_behalf_of_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("people.id"))
    relationship: Mapped[Relationship | None] = mapped_column(closed(Relationship, "relationship"))


class IncidentOrganisation(Provenance, Base):
    __tablename__ = "incident_organisations"
    __table_args__ = (UniqueConstraint("incident_id", "organisation_id", "role"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(Guid, ForeignKey("organisations.id"), index=True)
    role: Mapped[OrganisationRole] = mapped_column(closed(OrganisationRole, "organisation_role"))


class IncidentInstrument(Provenance, Base):
    __tablename__ = "incident_instruments"

    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"), primary_key=True)
    instrument_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("legal_instruments.id"), primary_key=True, index=True
    )


class IncidentEvidence(Provenance, Base):
    __tablename__ = "incident_evidence"

    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("evidence.id"), primary_key=True, index=True
    )
