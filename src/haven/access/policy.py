"""The policy gate: the one place that decides what a reader may see.

Every surface (page, API, search, export, notification, statistic, federation) asks it for
:func:`visible`, a SQL condition applied inside the query, and for the field rules
(:attr:`Reader.reads_identities`, :attr:`Reader.reads_narratives`). Rows a reader may not see are
never loaded; identifying fields are decrypted only for readers who may see them, and each such
read is written to the audit chain (:func:`record_identity_reads`).

Labels follow TLP 2.0 (https://www.first.org/tlp/):

- CLEAR: everyone, the public included;
- GREEN: every organisation in the community;
- AMBER: the contributing organisation and the sharing groups the record names;
- AMBER+STRICT: the contributing organisation only;
- RED: the named recipients only.

A case referred to an organisation (:mod:`haven.casework`) is visible to it as well, whatever
its label, and an urgent case to the authorities of the member state where it happened.

Statistics count what the gate lets a reader see (:func:`counted`), never more: an analyst's
figures count the incidents they may read; open statistics count incidents labelled TLP:CLEAR or
cleared for statistics by their contributor, whose people made no consent statement that keeps
them from the public.

A person's consent is a hard limit on top of the label: once a person has made a consent
statement, records about them reach only the kinds of recipient they consented to (for
authorities, of the member state named, or of any), besides the organisation that handles the
record. A revocation takes effect with the transaction that records it. A person without a
consent statement (a record compiled from published sources, say) is limited by labels alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from haven.access.models import Consent, RecordRecipient, RecordShare
from haven.audit.chain import Change, append
from haven.casework.models import Referral
from haven.db.base import Base, table_of
from haven.domain.enums import ContributorKind, PersonRole, RecipientKind, Role, Tlp
from haven.errors import Forbidden, NotFound
from haven.intake.models import Report
from haven.registry.models import Incident, IncidentPerson
from haven.registry.paging import is_record_id

RECORD_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.ANALYST})
IDENTITY_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR})
# People whose consent governs an incident: those it happened to.
CONSENTING_ROLES = (PersonRole.TARGET.value, PersonRole.RELATIVE_TARGETED.value)

_RECIPIENT_KIND = {
    ContributorKind.NGO: RecipientKind.NGO,
    ContributorKind.AUTHORITY: RecipientKind.AUTHORITY,
    ContributorKind.EU_BODY: RecipientKind.EU_BODY,
    ContributorKind.COMPANY: RecipientKind.COMPANY,
}


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading, as the gate needs to know it."""

    user_id: str | None
    organisation_id: str | None
    organisation_kind: ContributorKind | None
    member_state: str | None
    roles: frozenset[Role]
    groups: frozenset[str]
    surface: str
    scopes: frozenset[str] = frozenset({"read"})

    @classmethod
    def public(cls, surface: str) -> Reader:
        return cls(None, None, None, None, frozenset(), frozenset(), surface)

    @property
    def is_public(self) -> bool:
        return self.organisation_id is None

    @property
    def recipient_kind(self) -> RecipientKind | None:
        if self.organisation_kind is None:
            return None
        return _RECIPIENT_KIND.get(self.organisation_kind)

    @property
    def reads_records(self) -> bool:
        if "read" not in self.scopes:
            return False
        return self.is_public or bool(self.roles & RECORD_ROLES)

    @property
    def reads_identities(self) -> bool:
        return not self.is_public and bool(self.roles & IDENTITY_ROLES)

    @property
    def reads_narratives(self) -> bool:
        """Free text may name people, so it follows the identity rule."""
        return self.reads_identities

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.user_id else "public"


def probe(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS of one matching row, looked up per candidate row through an index. ``OFFSET 0``
    keeps PostgreSQL from turning a correlated EXISTS inside OR into a "hashed SubPlan" that
    first collects every share or consent of the reader (200,000 rows for a busy group, 35 ms
    before the first row); so a page of 50 costs some 50 index probes instead."""
    return select(literal(1)).where(*conditions).limit(1).offset(0).exists()


def _label_condition(reader: Reader, table: Table) -> ColumnElement[bool]:
    tlp = table.c.tlp
    if reader.is_public:
        return tlp == Tlp.CLEAR.value
    entity = table.name
    own = table.c.contributor_id == reader.organisation_id
    shared = (
        probe(
            RecordShare.entity == entity,
            RecordShare.record_id == table.c.id,
            RecordShare.group_id.in_(sorted(reader.groups)),
        )
        if reader.groups
        else false()
    )
    named = (
        probe(
            RecordRecipient.entity == entity,
            RecordRecipient.record_id == table.c.id,
            RecordRecipient.user_id == reader.user_id,
        )
        if reader.user_id
        else false()
    )
    return or_(
        tlp.in_([Tlp.CLEAR.value, Tlp.GREEN.value]),
        and_(tlp == Tlp.AMBER.value, or_(own, shared)),
        and_(tlp == Tlp.AMBER_STRICT.value, own),
        and_(tlp == Tlp.RED.value, named),
        _referred(reader, table),
    )


def _referred(reader: Reader, table: Table) -> ColumnElement[bool]:
    """A case referred to the reader's organisation: its incident and person, whatever their
    label. And an urgent case, for the authorities of the member state where it happened: a
    person in danger now who allowed those authorities to see the report should not wait for
    triage before they can act. The person's consent still applies (below), so neither reaches
    anyone the person did not allow."""
    column = {"incidents": Report.incident_id, "people": Report.person_id}.get(table.name)
    if column is None or reader.organisation_id is None:
        return false()
    referred = probe(
        Referral.to_organisation == reader.organisation_id,
        Referral.report_id == Report.id,
        column == table.c.id,
    )
    if reader.organisation_kind is not ContributorKind.AUTHORITY or not reader.member_state:
        return referred
    urgent_here = probe(
        column == table.c.id,
        Report.urgent.is_(True),
        Incident.id == Report.incident_id,
        Incident.host_state == reader.member_state,
    )
    return or_(referred, urgent_here)


def consent_blocks(reader: Reader, person_id: ColumnElement[str]) -> ColumnElement[bool]:
    """True where the person made a consent statement that does not reach this reader."""
    stated = probe(Consent.person_id == person_id)
    kind = reader.recipient_kind
    if kind is None:
        return stated
    granted = probe(
        Consent.person_id == person_id,
        Consent.recipient_kind == kind.value,
        Consent.granted.is_(True),
        or_(Consent.member_state == "", Consent.member_state == (reader.member_state or "")),
    )
    return and_(stated, ~granted)


def _consent_condition(reader: Reader, table: Table) -> ColumnElement[bool]:
    if table.name == "people":
        blocked = consent_blocks(reader, table.c.id)
    elif table.name == "incidents":
        links = table_of(IncidentPerson)
        blocked = probe(
            links.c.incident_id == table.c.id,
            links.c.role.in_(CONSENTING_ROLES),
            consent_blocks(reader, links.c.person_id),
        )
    else:
        return true()
    if reader.organisation_id is None:
        return ~blocked
    return or_(table.c.contributor_id == reader.organisation_id, ~blocked)


def visible(reader: Reader, model: type[Base]) -> ColumnElement[bool]:
    """The SQL condition selecting the rows of ``model`` this reader may see."""
    if not reader.reads_records:
        return false()
    table = table_of(model)
    return and_(_label_condition(reader, table), _consent_condition(reader, table))


def counted(reader: Reader) -> ColumnElement[bool]:
    """The incidents a reader's statistics count, as a condition on ``incidents``."""
    if not reader.is_public:
        return visible(reader, Incident)
    table = table_of(Incident)
    cleared = or_(table.c.tlp == Tlp.CLEAR.value, table.c.cleared_for_statistics.is_(True))
    return and_(cleared, _consent_condition(reader, table))


def counted_plainly(
    reader: Reader,
    audience: ColumnElement[str],
    contributor: ColumnElement[str],
    cleared: ColumnElement[bool],
) -> ColumnElement[bool]:
    """:func:`counted` for an incident outside :func:`counted_otherwise`, from what decides it
    then: the label's audience (``clear``, ``green``, ``amber`` for both AMBER labels, ``red``),
    the contributor and the clearance for statistics (:mod:`haven.insight.cube`)."""
    if reader.is_public:
        return or_(audience == Tlp.CLEAR.value, cleared.is_(True))
    if not reader.reads_records:
        return false()
    own = and_(audience == "amber", contributor == (reader.organisation_id or ""))
    return or_(audience.in_([Tlp.CLEAR.value, Tlp.GREEN.value]), own)


def counted_otherwise(reader: Reader) -> list[Select[str]]:
    """The incidents whose counting for this reader may depend on more than label, contributor,
    clearance and consent: shared with one of the reader's groups, naming the reader as a
    recipient, or reported and referred to the reader's organisation (or urgent, for an
    authority), as the parts of a union. The public counts none of these.
    Statistics take these through the gate in set form (:func:`counted_in_bulk`)."""
    if reader.is_public:
        return []
    parts = [
        select(Report.incident_id)
        .join(Referral, Referral.report_id == Report.id)
        .where(Referral.to_organisation == reader.organisation_id)
    ]
    if reader.groups:
        parts.append(
            select(RecordShare.record_id).where(
                RecordShare.entity == "incidents",
                RecordShare.group_id.in_(sorted(reader.groups)),
            )
        )
    if reader.user_id:
        parts.append(
            select(RecordRecipient.record_id).where(
                RecordRecipient.entity == "incidents",
                RecordRecipient.user_id == reader.user_id,
            )
        )
    if reader.organisation_kind is ContributorKind.AUTHORITY and reader.member_state:
        parts.append(select(Report.incident_id).where(Report.urgent.is_(True)))
    return parts


def counted_in_bulk(reader: Reader) -> ColumnElement[bool]:
    """:func:`counted` in set form: the same rules, with each look-up an uncorrelated ``IN``
    (shares of the reader's groups, records naming the reader, referrals to the reader's
    organisation, urgent reports, consent) that the database evaluates once for many rows,
    where :func:`visible` probes per row to list one page fast."""
    table = table_of(Incident)
    tlp, own = table.c.tlp, table.c.contributor_id == (reader.organisation_id or "")
    consented = ~table.c.id.in_(consent_blocked(reader))
    if reader.is_public:
        cleared = or_(tlp == Tlp.CLEAR.value, table.c.cleared_for_statistics.is_(True))
        return and_(cleared, consented)
    if not reader.reads_records:
        return false()
    shared: ColumnElement[bool] = false()
    if reader.groups:
        shared = table.c.id.in_(
            select(RecordShare.record_id).where(
                RecordShare.entity == "incidents",
                RecordShare.group_id.in_(sorted(reader.groups)),
            )
        )
    named: ColumnElement[bool] = false()
    if reader.user_id:
        named = table.c.id.in_(
            select(RecordRecipient.record_id).where(
                RecordRecipient.entity == "incidents", RecordRecipient.user_id == reader.user_id
            )
        )
    label = or_(
        tlp.in_([Tlp.CLEAR.value, Tlp.GREEN.value]),
        and_(tlp == Tlp.AMBER.value, or_(own, shared)),
        and_(tlp == Tlp.AMBER_STRICT.value, own),
        and_(tlp == Tlp.RED.value, named),
    )
    referred: ColumnElement[bool] = table.c.id.in_(
        select(Report.incident_id)
        .join(Referral, Referral.report_id == Report.id)
        .where(Referral.to_organisation == reader.organisation_id)
    )
    if reader.organisation_kind is ContributorKind.AUTHORITY and reader.member_state:
        urgent = select(Report.incident_id).where(Report.urgent.is_(True))
        referred = or_(
            referred, and_(table.c.host_state == reader.member_state, table.c.id.in_(urgent))
        )
    return and_(or_(label, referred), or_(own, consented))


def consent_blocked(reader: Reader) -> Select[str]:
    """The incidents about a person whose consent statement does not reach this reader: the
    rule of :func:`consent_blocks` as one set, for statistics over many incidents. Outside
    :func:`counted_otherwise`, an incident is counted when :func:`counted_plainly` counts it,
    unless it is in this set and the reader's organisation did not contribute it."""
    kind = reader.recipient_kind
    if kind is None:
        people: Select[str] = select(Consent.person_id).distinct()
    else:
        reaches = and_(
            Consent.granted.is_(True),
            Consent.recipient_kind == kind.value,
            or_(Consent.member_state == "", Consent.member_state == (reader.member_state or "")),
        )
        people = (
            select(Consent.person_id)
            .group_by(Consent.person_id)
            .having(func.max(case((reaches, 1), else_=0)) == 0)
        )
    links = table_of(IncidentPerson)
    return select(links.c.incident_id).where(
        links.c.role.in_(CONSENTING_ROLES), links.c.person_id.in_(people)
    )


def visible_ids(
    session: Session, reader: Reader, model: type[Base], ids: Iterable[str]
) -> set[str]:
    table = table_of(model)
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = session.scalars(select(table.c.id).where(table.c.id.in_(wanted), visible(reader, model)))
    return set(rows)


def record_identity_reads(session: Session, reader: Reader, person_ids: Iterable[str]) -> None:
    """Write who read whose identifying fields, when and through which surface."""
    record_reads(session, reader, "people", person_ids)


def record_reads(session: Session, reader: Reader, entity: str, ids: Iterable[str]) -> None:
    """Write who read the sealed content (identities, narratives) of which records, when and
    through which surface."""
    changes = [
        Change(reader.actor, "read", entity, record_id, surface=reader.surface)
        for record_id in sorted(set(ids))
    ]
    append(session, changes)


def require_own(session: Session, reader: Reader, model: type[Base], record_id: str) -> None:
    """Refuse a change unless the reader sees the record and their organisation contributed
    it. A record they may not see is reported as missing, like one that does not exist."""
    table = table_of(model)
    missing = NotFound(f"no such {table.name} record")
    if not is_record_id(record_id):
        raise missing
    contributor = session.scalar(
        select(table.c.contributor_id).where(table.c.id == record_id, visible(reader, model))
    )
    if contributor is None:
        raise missing
    if contributor != reader.organisation_id:
        raise Forbidden("only the organisation that contributed a record changes it")
