"""The policy gate: the one place that decides what a reader may see.

The rule is stated once, as data (:data:`RULE`): which audiences each TLP 2.0 label reaches
(https://www.first.org/tlp/), the audiences that features hand in whatever the label (the cases
of :mod:`haven.casework.audiences`), the public's statistics for records cleared for them, and
the person's consent as a hard limit on top of them all (:mod:`haven.access.consent_rule`).

Every form a surface needs is compiled from it:

- :func:`visible`: the SQL row filter of lists and pages (rows a reader may not see are never
  loaded);
- :func:`counted`, :func:`counted_in_bulk`, :func:`counted_otherwise`, :func:`consent_blocked`:
  statistics, per row and in set form;
- :func:`count_key_sql` and :func:`counted_plainly`: the keys of the count tables and their
  trigger SQL (:mod:`haven.insight.cube`);
- :func:`load_facts` with :func:`sees` and :func:`counts`: one loaded record judged for many
  readers (notifications, exports, feeds).

The field rules are the reader's (:attr:`Reader.reads_identities`,
:attr:`Reader.reads_narratives`); identifying fields are decrypted only for readers who may see
them, and each such read is written to the audit chain (:func:`record_identity_reads`). A
revocation of consent takes effect with the transaction that records it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy import ColumnElement, Select, Table, and_, false, or_, select, true
from sqlalchemy.orm import Session

from haven.access import consent_rule
from haven.access.audiences import (
    Audience,
    Cleared,
    Community,
    Contributor,
    Facts,
    Groups,
    Public,
    Recipients,
    probe,
)
from haven.access.consent_rule import Grant
from haven.access.models import Consent
from haven.access.reader import IDENTITY_ROLES, RECORD_ROLES, Reader
from haven.audit.chain import Change, append
from haven.db.base import Base, table_of
from haven.domain.enums import PersonRole, Tlp
from haven.errors import Forbidden, NotFound
from haven.registry.models import Incident, IncidentPerson
from haven.registry.paging import is_record_id

__all__ = [
    "CONSENTING_ROLES",
    "IDENTITY_ROLES",
    "RECORD_ROLES",
    "RULE",
    "Facts",
    "Reader",
    "probe",
]

# People whose consent governs an incident: those it happened to.
CONSENTING_ROLES = (PersonRole.TARGET.value, PersonRole.RELATIVE_TARGETED.value)

PUBLIC, COMMUNITY, CONTRIBUTOR = Public(), Community(), Contributor()
GROUPS, RECIPIENTS, CLEARED = Groups(), Recipients(), Cleared()


class Rule:
    """Who a record reaches: by its TLP 2.0 label (https://www.first.org/tlp/), whatever its
    label through the audiences features hand in, for the public's statistics when cleared; the
    consent of the people it concerns on top of all of them (:mod:`haven.access.consent_rule`)."""

    def __init__(
        self, labels: Mapping[Tlp, tuple[Audience, ...]], statistics: tuple[Audience, ...]
    ) -> None:
        self.labels = labels
        self.statistics = statistics
        self._cases: list[Audience] = []

    def add_case_audience(self, audience: Audience) -> None:
        """An audience a feature supplies, reached whatever the label (the person's consent
        still applies)."""
        if all(a.name != audience.name for a in self._cases):
            self._cases.append(audience)

    @property
    def cases(self) -> tuple[Audience, ...]:
        return tuple(self._cases)

    def by_audience(self) -> list[tuple[Audience, list[str]]]:
        """Each label audience with the labels that reach it."""
        found: dict[str, tuple[Audience, list[str]]] = {}
        for label, audiences in self.labels.items():
            for audience in audiences:
                found.setdefault(audience.name, (audience, []))[1].append(label.value)
        return list(found.values())

    def count_key(self, label: Tlp) -> str:
        """The ``audience`` key of the count tables: labels reaching the same plain audiences
        share one key (TLP:AMBER and TLP:AMBER+STRICT both reach the contributor alone unless
        shared), named after the first of them."""
        plain = self._plain(label)
        return next(other.value for other in self.labels if self._plain(other) == plain)

    def _plain(self, label: Tlp) -> frozenset[str]:
        return frozenset(a.name for a in self.labels[label] if a.plain)


RULE = Rule(
    labels={
        Tlp.CLEAR: (PUBLIC, COMMUNITY),
        Tlp.GREEN: (COMMUNITY,),
        Tlp.AMBER: (CONTRIBUTOR, GROUPS),
        Tlp.AMBER_STRICT: (CONTRIBUTOR,),
        Tlp.RED: (RECIPIENTS,),
    },
    statistics=(CLEARED,),
)

Form = Callable[[Audience, Reader, Table], ColumnElement[bool]]


def _row(audience: Audience, reader: Reader, table: Table) -> ColumnElement[bool]:
    return audience.row(reader, table)


def _bulk(audience: Audience, reader: Reader, table: Table) -> ColumnElement[bool]:
    return audience.bulk(reader, table)


def _reach(
    reader: Reader, table: Table, form: Form, *, statistics: bool = False
) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for audience, labels in RULE.by_audience():
        if audience.applies(table) and audience.admits(reader):
            parts.append(and_(table.c.tlp.in_(labels), form(audience, reader, table)))
    extra = (*RULE.cases, *(RULE.statistics if statistics else ()))
    parts += [form(a, reader, table) for a in extra if a.applies(table) and a.admits(reader)]
    return or_(false(), *parts)


def _consented(reader: Reader, table: Table, *, bulk: bool) -> ColumnElement[bool]:
    links = table_of(IncidentPerson)
    blocked: ColumnElement[bool]
    if table.name == "people":
        if bulk:
            blocked = table.c.id.in_(consent_rule.blocked_people(reader))
        else:
            blocked = consent_rule.blocks(reader, table.c.id)
    elif table.name == "incidents":
        if bulk:
            blocked = table.c.id.in_(consent_blocked(reader))
        else:
            blocked = probe(
                links.c.incident_id == table.c.id,
                links.c.role.in_(CONSENTING_ROLES),
                consent_rule.blocks(reader, links.c.person_id),
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
    return and_(_reach(reader, table, _row), _consented(reader, table, bulk=False))


def counted(reader: Reader) -> ColumnElement[bool]:
    """The incidents a reader's statistics count, as a condition on ``incidents``: what the
    reader may see, and for the public also what contributors cleared for statistics."""
    if not reader.reads_records:
        return false()
    table = table_of(Incident)
    reach = _reach(reader, table, _row, statistics=True)
    return and_(reach, _consented(reader, table, bulk=False))


def counted_in_bulk(reader: Reader) -> ColumnElement[bool]:
    """:func:`counted` in set form: the same rule, with each look-up an uncorrelated ``IN``
    (shares of the reader's groups, records naming the reader, the audiences of cases, consent)
    that the database evaluates once for many rows, where :func:`visible` probes per row to list
    one page fast."""
    if not reader.reads_records:
        return false()
    table = table_of(Incident)
    reach = _reach(reader, table, _bulk, statistics=True)
    return and_(reach, _consented(reader, table, bulk=True))


def count_key_sql(row: str) -> tuple[str, str]:
    """The count tables' ``audience`` and ``contributor`` keys of an incident row (a trigger's
    NEW or OLD, or a table alias), as SQL text derived from :data:`RULE`."""
    keys = {label: RULE.count_key(label) for label in RULE.labels}
    shared = {key for key in keys.values() if list(keys.values()).count(key) > 1}
    alone = [label.value for label, key in keys.items() if key == label.value and key not in shared]
    rest = sorted({key for label, key in keys.items() if label.value not in alone})
    quoted = ", ".join(f"'{label}'" for label in alone)
    if len(rest) == 1:
        audience = f"CASE WHEN {row}.tlp IN ({quoted}) THEN {row}.tlp ELSE '{rest[0]}' END"
    else:
        whens = " ".join(
            f"WHEN {row}.tlp = '{label.value}' THEN '{key}'" for label, key in keys.items()
        )
        audience = f"CASE {whens} END"
    owned = ", ".join(
        f"'{label.value}'" for label, audiences in RULE.labels.items() if CONTRIBUTOR in audiences
    )
    contributor = (
        f"CASE WHEN {row}.tlp IN ({owned}) THEN CAST({row}.contributor_id AS TEXT) ELSE '' END"
    )
    return audience, contributor


def counted_plainly(
    reader: Reader,
    audience: ColumnElement[str],
    contributor: ColumnElement[str],
    cleared: ColumnElement[bool],
) -> ColumnElement[bool]:
    """:func:`counted` for an incident outside :func:`counted_otherwise`, from what decides it
    then: the count tables' keys (:func:`count_key_sql`) — the label's ``audience`` key, the
    ``contributor`` and the clearance for statistics (:mod:`haven.insight.cube`)."""
    if not reader.reads_records:
        return false()
    parts: list[ColumnElement[bool]] = []
    for plain, labels in RULE.by_audience():
        if plain.plain and plain.admits(reader):
            keys = sorted({RULE.count_key(Tlp(label)) for label in labels})
            parts.append(and_(audience.in_(keys), plain.keyed(reader, contributor)))
    if any(a.admits(reader) for a in RULE.statistics):
        parts.append(cleared.is_(True))
    return or_(false(), *parts)


def counted_otherwise(reader: Reader) -> list[Select[str]]:
    """The incidents whose counting for this reader may depend on more than label, contributor,
    clearance and consent — those reaching an audience that is not plain (shared with one of the
    reader's groups, naming the reader, a case referred to the reader's organisation or urgent
    in the reader's member state) — as the parts of a union. Statistics take these through the
    gate in set form (:func:`counted_in_bulk`)."""
    table = table_of(Incident)
    audiences = [a for a, _labels in RULE.by_audience()] + list(RULE.cases)
    parts = []
    for audience in audiences:
        if audience.plain or not audience.applies(table) or not audience.admits(reader):
            continue
        ids = audience.ids(reader, table)
        if ids is not None:
            parts.append(ids)
    return parts


def consent_blocked(reader: Reader) -> Select[str]:
    """The incidents about a person whose consent statement does not reach this reader, as one
    set for statistics over many incidents. Outside :func:`counted_otherwise`, an incident is
    counted when :func:`counted_plainly` counts it, unless it is in this set and the reader's
    organisation did not contribute it."""
    links = table_of(IncidentPerson)
    return select(links.c.incident_id).where(
        links.c.role.in_(CONSENTING_ROLES),
        links.c.person_id.in_(consent_rule.blocked_people(reader)),
    )


# -- one loaded record, judged for many readers (notifications, exports, feeds) ---------------


def load_facts(session: Session, model: type[Base], ids: Iterable[str]) -> dict[str, Facts]:
    """What decides who may see each of these records, in a few queries for all of them."""
    table = table_of(model)
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    columns = [table.c.id, table.c.tlp, table.c.contributor_id]
    cleared = "cleared_for_statistics" in table.c
    if cleared:
        columns.append(table.c.cleared_for_statistics)
    rows = session.execute(select(*columns).where(table.c.id.in_(wanted))).all()
    audiences = [a for a, _labels in RULE.by_audience()] + list(RULE.cases)
    members: dict[str, dict[str, set[str]]] = {}
    for audience in audiences:
        if not audience.plain and audience.applies(table):
            members[audience.name] = audience.members(session, table, wanted)
    consents = _consents_of(session, table, wanted)
    return {
        row.id: Facts(
            tlp=row.tlp.value if isinstance(row.tlp, Tlp) else str(row.tlp),
            contributor=str(row.contributor_id),
            cleared=bool(row.cleared_for_statistics) if cleared else False,
            members={name: frozenset(found.get(row.id, ())) for name, found in members.items()},
            consents=consents.get(row.id, ()),
        )
        for row in rows
    }


def _consents_of(
    session: Session, table: Table, ids: Sequence[str]
) -> dict[str, tuple[tuple[Grant, ...], ...]]:
    if table.name == "people":
        pairs: list[tuple[str, str]] = [(i, i) for i in ids]
    elif table.name == "incidents":
        links = table_of(IncidentPerson)
        pairs = [
            (incident, person)
            for incident, person in session.execute(
                select(links.c.incident_id, links.c.person_id).where(
                    links.c.incident_id.in_(ids), links.c.role.in_(CONSENTING_ROLES)
                )
            )
        ]
    else:
        return {}
    grants: dict[str, list[Grant]] = defaultdict(list)
    people = sorted({person for _record, person in pairs})
    for row in session.scalars(select(Consent).where(Consent.person_id.in_(people))):
        grants[row.person_id].append(Grant(row.recipient_kind, row.member_state, row.granted))
    found: dict[str, list[tuple[Grant, ...]]] = defaultdict(list)
    for record, person in sorted(set(pairs)):
        if grants.get(person):
            found[record].append(tuple(grants[person]))
    return {record: tuple(statements) for record, statements in found.items()}


def sees(reader: Reader, facts: Facts) -> bool:
    """:func:`visible` for one loaded record."""
    return reader.reads_records and _judge(reader, facts, statistics=False)


def counts(reader: Reader, facts: Facts) -> bool:
    """:func:`counted` for one loaded incident."""
    return reader.reads_records and _judge(reader, facts, statistics=True)


def _judge(reader: Reader, facts: Facts, *, statistics: bool) -> bool:
    label = Tlp(facts.tlp)
    reached = any(
        a.admits(reader) and a.holds(reader, facts) for a in RULE.labels.get(label, ())
    ) or any(a.admits(reader) and a.holds(reader, facts) for a in RULE.cases)
    if statistics:
        reached = reached or any(
            a.admits(reader) and a.holds(reader, facts) for a in RULE.statistics
        )
    if not reached:
        return False
    if reader.organisation_id is not None and facts.contributor == reader.organisation_id:
        return True
    return all(consent_rule.reaches(grants, reader) for grants in facts.consents)


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
