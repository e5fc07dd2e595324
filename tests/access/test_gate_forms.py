"""Every derived form of the policy gate agrees with a plain reference model of its rule.

The gate states its rule once (:data:`haven.access.policy.RULE`, the audiences, the consent rule)
and compiles it into several forms: the SQL row filter :func:`visible`, the statistics conditions
:func:`counted` and :func:`counted_in_bulk`, the composition insight uses over the count tables
(:func:`counted_plainly` over the count keys, :func:`counted_otherwise`, :func:`consent_blocked`)
and the per-object check (:func:`load_facts` with :func:`sees` and :func:`counts`). Hypothesis
builds random worlds through the services — organisations of every kind, users with random roles,
sharing groups, incidents and people with random labels and shares, people linked in random roles
with consent statements made in sequence, reports urgent or not and referred to random
organisations — and every form must give, for every reader, exactly what the model written out
below gives, for every incident and person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    column,
    func,
    literal_column,
    select,
    union,
    values,
)
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from builders import incident
from haven.access import accounts
from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_sharing_group,
    create_token,
    create_user,
    reader_for,
)
from haven.access.consent import Statement, state_consent
from haven.access.models import ApiToken, Consent, User
from haven.access.policy import (
    CONTRIBUTOR,
    RULE,
    Facts,
    Reader,
    consent_blocked,
    count_key_sql,
    counted,
    counted_in_bulk,
    counted_otherwise,
    counted_plainly,
    counts,
    load_facts,
    sees,
    visible,
)
from haven.access.sharing import Share, share_record
from haven.audit.chain import append
from haven.casework.models import Referral
from haven.casework.workflow import move, refer
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    ContributorKind,
    PerpetratorKind,
    PersonRole,
    RecipientKind,
    ReferralAsk,
    ReferralStatus,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
    Role,
    Tlp,
)
from haven.errors import Forbidden
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.notify.outbox import organisation_reader
from haven.registry.models import Incident, IncidentPerson, Person
from haven.registry.schemas import PersonIn
from haven.registry.writer import Actor, RegistryWriter

KINDS = (
    (ContributorKind.NGO, None),
    (ContributorKind.AUTHORITY, "DE"),
    (ContributorKind.AUTHORITY, "FR"),
    (ContributorKind.EU_BODY, None),
    (ContributorKind.COMPANY, None),
)
ROLES = tuple(Role)
HOSTS = ("DE", "FR", "GB", None)
# Mostly the roles whose consent governs an incident.
LINK_ROLES = (
    PersonRole.TARGET,
    PersonRole.TARGET,
    PersonRole.RELATIVE_TARGETED,
    PersonRole.RELATIVE_TARGETED,
    PersonRole.WITNESS,
    PersonRole.PERPETRATOR,
)
# What a consent statement can be about: a kind of recipient and, for authorities, a member state.
ABOUT = (
    (RecipientKind.NGO, None),
    (RecipientKind.AUTHORITY, None),
    (RecipientKind.AUTHORITY, "DE"),
    (RecipientKind.AUTHORITY, "FR"),
    (RecipientKind.EU_BODY, None),
    (RecipientKind.COMPANY, None),
)


# -- the reference model ------------------------------------------------------------------------

RECORD_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.ANALYST})
RECIPIENT_KIND = {
    ContributorKind.NGO: "ngo",
    ContributorKind.AUTHORITY: "authority",
    ContributorKind.EU_BODY: "eu-body",
    ContributorKind.COMPANY: "company",
}
CONSENTING = frozenset({PersonRole.TARGET, PersonRole.RELATIVE_TARGETED})
Rows = dict[tuple[str, str], bool]  # (recipient kind, member state or "") -> granted


@dataclass
class Record:
    """An incident or a person as the model knows it; organisations by their index."""

    tlp: Tlp
    contributor: int
    groups: frozenset[int] = frozenset()
    recipients: frozenset[str] = frozenset()  # user ids
    cleared: bool = False
    host: str | None = None
    consenting: set[str] = field(default_factory=set)  # for incidents: people by id


@dataclass
class Case:
    incident: str
    person: str
    urgent: bool
    referred: set[int] = field(default_factory=set)


@dataclass
class Model:
    orgs: list[tuple[ContributorKind, str | None]]
    members: list[frozenset[int]]  # of each sharing group
    incidents: dict[str, Record] = field(default_factory=dict)
    people: dict[str, Record] = field(default_factory=dict)
    consent: dict[str, Rows] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)


@dataclass(frozen=True)
class Who:
    """A reader as the model knows them."""

    org: int | None
    user: str | None
    roles: frozenset[Role]
    read: bool = True


def write_consent(rows: Rows, kind: str, member_state: str | None, granted: bool) -> None:
    """A statement for no member state decides every row of its kind; one naming a member
    state, that row only."""
    rows[(kind, member_state or "")] = granted
    if member_state is None:
        for key in rows:
            if key[0] == kind:
                rows[key] = granted


def report_statements(
    rows: Rows, granted: frozenset[RecipientKind], host: str | None
) -> list[tuple[RecipientKind, str | None, bool]]:
    """What a report's consent says: each kind granted or withdrawn for every member state, except
    authorities, granted only for the host state when it is in the Union; wished for without one,
    recorded as not given unless the person already said something about authorities."""
    statements: list[tuple[RecipientKind, str | None, bool]] = []
    for kind in RecipientKind:
        if kind not in granted:
            statements.append((kind, None, False))
        elif kind is not RecipientKind.AUTHORITY:
            statements.append((kind, None, True))
        elif host in {"DE", "FR"}:
            statements.append((kind, host, True))
        elif all(k != kind.value for k, _state in rows):
            statements.append((kind, None, False))
    return statements


def by_label(m: Model, who: Who, rec: Record) -> bool:
    if who.org is None:
        return rec.tlp is Tlp.CLEAR
    if rec.tlp in {Tlp.CLEAR, Tlp.GREEN}:
        return True
    if rec.tlp is Tlp.AMBER:
        return who.org == rec.contributor or any(who.org in m.members[g] for g in rec.groups)
    if rec.tlp is Tlp.AMBER_STRICT:
        return who.org == rec.contributor
    return who.user is not None and who.user in rec.recipients


def by_case(m: Model, who: Who, table: str, record_id: str) -> bool:
    if who.org is None:
        return False
    kind, state = m.orgs[who.org]
    for case in m.cases:
        if (case.incident if table == "incidents" else case.person) != record_id:
            continue
        if who.org in case.referred:
            return True
        here = m.incidents[case.incident].host
        if case.urgent and kind is ContributorKind.AUTHORITY and here == state:
            return True
    return False


def consents(m: Model, who: Who, person: str) -> bool:
    rows = m.consent.get(person, {})
    if not rows:
        return True
    if who.org is None:
        return False
    kind, state = m.orgs[who.org]
    mine = {where: granted for (k, where), granted in rows.items() if k == RECIPIENT_KIND[kind]}
    if state is not None and state in mine:
        return mine[state]
    return mine.get("", False)


def _reads(who: Who) -> bool:
    return who.read and (who.org is None or bool(who.roles & RECORD_ROLES))


def _consented(m: Model, who: Who, table: str, record_id: str, rec: Record) -> bool:
    if who.org is not None and who.org == rec.contributor:
        return True
    governing = rec.consenting if table == "incidents" else {record_id}
    return all(consents(m, who, person) for person in governing)


def model_sees(m: Model, who: Who, table: str, record_id: str) -> bool:
    rec = (m.incidents if table == "incidents" else m.people)[record_id]
    if not _reads(who):
        return False
    if not (by_label(m, who, rec) or by_case(m, who, table, record_id)):
        return False
    return _consented(m, who, table, record_id, rec)


def model_counts(m: Model, who: Who, incident_id: str) -> bool:
    if who.org is not None:
        return model_sees(m, who, "incidents", incident_id)
    rec = m.incidents[incident_id]
    reached = rec.tlp is Tlp.CLEAR or rec.cleared
    return who.read and reached and _consented(m, who, "incidents", incident_id, rec)


# -- worlds ---------------------------------------------------------------------------------------

StatementPlan = tuple[RecipientKind, str | None, bool]


@dataclass(frozen=True)
class OrgPlan:
    kind: ContributorKind
    member_state: str | None
    users: tuple[frozenset[Role], ...]


@dataclass(frozen=True)
class SharePlan:
    shared: bool  # shared at all: the author is then one of the named recipients
    groups: frozenset[int]
    recipients: frozenset[int]  # indexes into the world's users


@dataclass(frozen=True)
class PersonPlan:
    by: int
    tlp: Tlp
    share: SharePlan
    consent: tuple[tuple[StatementPlan, ...], ...]  # one call of state_consent each


@dataclass(frozen=True)
class IncidentPlan:
    by: int
    tlp: Tlp
    cleared: bool
    host: str | None
    share: SharePlan
    links: tuple[tuple[int, PersonRole], ...]  # (person, role)


@dataclass(frozen=True)
class CasePlan:
    """A report on a world incident about a world person, its Report and Referral rows written
    directly."""

    incident: int
    person: int
    handler: int
    urgent: bool
    referred: frozenset[int]


@dataclass(frozen=True)
class SubmittedPlan:
    """A report submitted through intake, then verified and referred through casework."""

    handler: int
    host: str | None
    urgent: bool
    relative: bool
    consent: frozenset[RecipientKind]
    refer: tuple[int, ...]


@dataclass(frozen=True)
class World:
    orgs: tuple[OrgPlan, ...]
    groups: tuple[frozenset[int], ...]
    people: tuple[PersonPlan, ...]
    incidents: tuple[IncidentPlan, ...]
    cases: tuple[CasePlan, ...]
    submitted: tuple[SubmittedPlan, ...]
    analyst_org: int  # where a user with the analyst role alone works
    token_org: int  # where a caseworker works whose API token lacks the read scope

    @property
    def users(self) -> int:
        return sum(len(org.users) for org in self.orgs) + 2


STATEMENTS = st.tuples(st.sampled_from(ABOUT), st.booleans()).map(lambda s: (*s[0], s[1]))


def _narrowing(state: str, granted: bool, broad_first: bool) -> tuple[StatementPlan, ...]:
    """A statement for authorities of every member state and the opposite one for a single
    member state, in either order: a narrowing or widening, or one overridden by the other."""
    broad = (RecipientKind.AUTHORITY, None, granted)
    narrow = (RecipientKind.AUTHORITY, state, not granted)
    return (broad, narrow) if broad_first else (narrow, broad)


def _then_one_state(
    every: tuple[bool, ...], state: str, differ: bool
) -> tuple[tuple[StatementPlan, ...], ...]:
    """A statement for every kind and every member state, then one for a single member state that
    mostly says otherwise for authorities: a narrowing or a widening."""
    broad = tuple((kind, None, g) for kind, g in zip(RecipientKind, every, strict=True))
    authorities = dict(zip(RecipientKind, every, strict=True))[RecipientKind.AUTHORITY]
    return broad, ((RecipientKind.AUTHORITY, state, authorities is not differ),)


STATES = st.sampled_from(["DE", "FR"])
NARROWING = st.builds(_narrowing, STATES, st.booleans(), st.booleans())
THEN_ONE_STATE = st.builds(
    _then_one_state,
    st.tuples(*[st.booleans()] * len(RecipientKind)),
    STATES,
    st.sampled_from([True, True, True, False]),
)
# No statement at all; a statement for everyone, then one for one member state; or any statements.
BATCHES = st.one_of(
    st.just(()),
    THEN_ONE_STATE,
    THEN_ONE_STATE,
    st.lists(
        st.one_of(st.lists(STATEMENTS, min_size=1, max_size=2).map(tuple), NARROWING),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
# Mostly users who read records, some who do not.
USER_ROLES = st.sampled_from(sorted(RECORD_ROLES)).map(lambda r: frozenset({r})) | st.frozensets(
    st.sampled_from(ROLES), max_size=2
)


def _share_plan(
    draw: st.DrawFn, by: int, groups: tuple[frozenset[int], ...], users: int
) -> SharePlan:
    member_of = [g for g, members in enumerate(groups) if by in members]
    return SharePlan(
        shared=draw(st.booleans()),
        groups=draw(st.frozensets(st.sampled_from(member_of), min_size=1))
        if member_of
        else frozenset(),
        recipients=draw(st.frozensets(st.integers(0, users - 1), max_size=2)),
    )


def _person_plan(draw: st.DrawFn, world: World) -> PersonPlan:
    by = draw(st.integers(0, len(world.orgs) - 1))
    return PersonPlan(
        by=by,
        tlp=draw(st.sampled_from(list(Tlp))),
        share=_share_plan(draw, by, world.groups, world.users),
        consent=draw(BATCHES),
    )


def _incident_plan(draw: st.DrawFn, world: World, people: int) -> IncidentPlan:
    by = draw(st.integers(0, len(world.orgs) - 1))
    link = st.tuples(st.integers(0, people - 1), st.sampled_from(LINK_ROLES))
    return IncidentPlan(
        by=by,
        tlp=draw(st.sampled_from(list(Tlp))),
        cleared=draw(st.booleans()),
        host=draw(st.sampled_from(HOSTS)),
        share=_share_plan(draw, by, world.groups, world.users),
        links=tuple(draw(st.lists(link, min_size=1, max_size=3, unique_by=lambda pair: pair[0]))),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    # An organisation of every kind, in random order, and perhaps one more of any kind.
    kinds = draw(st.permutations(KINDS)) + draw(st.lists(st.sampled_from(KINDS), max_size=1))
    roles = st.lists(USER_ROLES, min_size=1, max_size=2)
    orgs = tuple(OrgPlan(kind, state, users=tuple(draw(roles))) for kind, state in kinds)
    org = st.integers(0, len(orgs) - 1)
    groups = tuple(draw(st.lists(st.frozensets(org, min_size=2), min_size=1, max_size=2)))
    world = World(orgs, groups, (), (), (), (), draw(org), draw(org))
    people = tuple(_person_plan(draw, world) for _ in range(draw(st.integers(1, 5))))
    incidents = tuple(
        _incident_plan(draw, world, len(people)) for _ in range(draw(st.integers(1, 6)))
    )
    cases = st.builds(
        CasePlan,
        st.integers(0, len(incidents) - 1),
        st.integers(0, len(people) - 1),
        org,
        st.booleans(),
        st.frozensets(org, max_size=2),
    )
    submitted = st.builds(
        SubmittedPlan,
        org,
        st.sampled_from(HOSTS),
        st.booleans(),
        st.booleans(),
        st.frozensets(st.sampled_from(list(RecipientKind))),
        st.lists(org, max_size=2).map(tuple),
    )
    return replace(
        world,
        people=people,
        incidents=incidents,
        cases=tuple(draw(st.lists(cases, max_size=3))),
        submitted=tuple(draw(st.lists(submitted, max_size=2))),
    )


# -- building a world through the services ------------------------------------------------------

PASSWORD = "correct horse battery staple"
DEADLINES = Deadlines()


@dataclass
class Built:
    model: Model
    org_ids: list[str]
    users: list[tuple[int, str, frozenset[Role]]]  # (organisation, user id, roles)
    group_ids: list[str] = field(default_factory=list)
    readers: list[tuple[Reader, Who]] = field(default_factory=list)


def _author(session: Session, built: Built, org: int) -> Reader:
    """The first user of an organisation, who writes and shares its records."""
    user_id = next(user for o, user, _roles in built.users if o == org)
    user = session.get(User, user_id)
    assert user is not None
    return reader_for(session, user, surface="test")


def caseworker_of(session: Session, built: Built, org: int) -> Reader:
    """The organisation's first user acting as the caseworker of its cases."""
    return replace(_author(session, built, org), roles=frozenset({Role.CASEWORKER}))


def _writer(session: Session, cipher: FieldCipher, author: Reader) -> RegistryWriter:
    return RegistryWriter(session, cipher, Actor(str(author.organisation_id), author.actor, "test"))


def _share(
    session: Session, built: Built, author: Reader, record: tuple[str, str], plan: SharePlan
) -> tuple[frozenset[int], frozenset[str]]:
    """Share a record as planned; the groups and the user ids it then names."""
    if not plan.shared:
        return frozenset(), frozenset()
    recipients = [built.users[u][1] for u in sorted(plan.recipients)]
    groups = [built.group_ids[g] for g in sorted(plan.groups)]
    share_record(session, author, Share(*record, groups=groups, recipients=recipients))
    return plan.groups, frozenset({*recipients, str(author.user_id)})


def _state(session: Session, rows: Rows, person_id: str, batch: tuple[StatementPlan, ...]) -> None:
    said = [Statement(kind, granted, state) for kind, state, granted in batch]
    append(session, state_consent(session, person_id, said, actor="test"))
    for kind, state, granted in batch:
        write_consent(rows, kind.value, state, granted)


def _add_person(session: Session, cipher: FieldCipher, built: Built, plan: PersonPlan) -> str:
    author = _author(session, built, plan.by)
    writer = _writer(session, cipher, author)
    person_id = writer.add_person(PersonIn.model_validate({"tlp": plan.tlp.value}))
    writer.flush()
    groups, recipients = _share(session, built, author, ("people", person_id), plan.share)
    built.model.people[person_id] = Record(plan.tlp, plan.by, groups, recipients)
    rows: Rows = {}
    for batch in plan.consent:
        _state(session, rows, person_id, batch)
    if rows:
        built.model.consent[person_id] = rows
    return person_id


def _add_incident(
    session: Session, cipher: FieldCipher, built: Built, plan: IncidentPlan, people: list[str]
) -> str:
    author = _author(session, built, plan.by)
    writer = _writer(session, cipher, author)
    data = incident(tlp=plan.tlp.value, host_state=plan.host, cleared_for_statistics=plan.cleared)
    incident_id = writer.add_incident(data)
    for person, role in plan.links:
        # A relative is targeted on behalf of someone else of the world.
        behalf = people[-1 if person == 0 else 0] if role is PersonRole.RELATIVE_TARGETED else None
        writer.link_person(incident_id, people[person], role, on_behalf_of=behalf)
    writer.flush()
    groups, recipients = _share(session, built, author, ("incidents", incident_id), plan.share)
    consenting = {people[p] for p, role in plan.links if role in CONSENTING}
    built.model.incidents[incident_id] = Record(
        plan.tlp, plan.by, groups, recipients, plan.cleared, plan.host, consenting
    )
    return incident_id


def _add_case(
    session: Session, built: Built, plan: CasePlan, incidents: list[str], people: list[str]
) -> None:
    now = utcnow()
    report_id = new_id()
    session.add(
        Report(
            id=report_id,
            receipt_hash=hashlib.sha256(report_id.encode()).hexdigest(),
            handled_by=built.org_ids[plan.handler],
            incident_id=incidents[plan.incident],
            person_id=people[plan.person],
            channel=ReportChannel.API,
            status=ReportStatus.VERIFIED,
            urgent=plan.urgent,
            relation=ReporterRelation.SELF,
            perpetrator_kind=PerpetratorKind.UNKNOWN,
            language="en",
            received_at=now,
            updated_at=now,
        )
    )
    session.flush()
    referred = set(plan.referred - {plan.handler})
    for org in sorted(referred):
        session.add(
            Referral(
                report_id=report_id,
                to_organisation=built.org_ids[org],
                asks=[ReferralAsk.PROTECTION.value],
                status=ReferralStatus.SENT,
                sent_at=now,
                sent_by="test",
                due_at=now + timedelta(days=1),
            )
        )
    session.flush()
    case = Case(incidents[plan.incident], people[plan.person], plan.urgent, referred)
    built.model.cases.append(case)


def _submit(session: Session, cipher: FieldCipher, built: Built, plan: SubmittedPlan) -> None:
    caseworker = caseworker_of(session, built, plan.handler)
    relation = ReporterRelation.RELATIVE if plan.relative else ReporterRelation.SELF
    data = ReportIn.model_validate(
        {
            "what_happened": "Two men from the consulate waited outside my flat.",
            "tactics": ["intimidation"],
            "occurred": {"start": "2024-03-01", "precision": "month"},
            "origin_state": "by",
            "host_state": plan.host,
            "urgent": plan.urgent,
            "relation": relation.value,
            "target_name": "Zerafshan Quillmarsh-Ostrava",
            "consent": sorted(kind.value for kind in plan.consent),
        }
    )
    handler = built.org_ids[plan.handler]
    submission = Submission(handler, ReportChannel.API, caseworker.actor, "test")
    report = session.get(Report, submit_report(session, cipher, data, submission).report_id)
    assert report is not None
    relatives = session.scalars(
        select(IncidentPerson.person_id).where(
            IncidentPerson.incident_id == report.incident_id,
            IncidentPerson.role == PersonRole.RELATIVE_TARGETED.value,
        )
    ).all()
    m = built.model
    m.incidents[report.incident_id] = Record(
        Tlp.AMBER_STRICT, plan.handler, host=plan.host, consenting={report.person_id, *relatives}
    )
    for person_id in (report.person_id, *relatives):
        m.people[person_id] = Record(Tlp.AMBER_STRICT, plan.handler)
    rows = m.consent.setdefault(report.person_id, {})
    for kind, state, granted in report_statements(rows, plan.consent, plan.host):
        write_consent(rows, kind.value, state, granted)
    move(session, caseworker, report, ReportStatus.TRIAGED)
    move(session, caseworker, report, ReportStatus.VERIFIED)
    case = Case(report.incident_id, report.person_id, plan.urgent)
    m.cases.append(case)
    for org in plan.refer:
        if org == plan.handler:
            continue
        try:
            refer(
                session,
                caseworker,
                report,
                built.org_ids[org],
                [ReferralAsk.PROTECTION],
                deadlines=DEADLINES,
            )
        except Forbidden:
            continue  # outside the person's consent: not referred
        case.referred.add(org)


def _readers(session: Session, cipher: FieldCipher, built: Built) -> Iterator[tuple[Reader, Who]]:
    yield Reader.public("test"), Who(None, None, frozenset())
    for org, org_id in enumerate(built.org_ids):
        # Each organisation as its notification channels read: no one user's own rights.
        reader = organisation_reader(session, org_id)
        assert reader is not None
        yield reader, Who(org, None, frozenset({Role.CASEWORKER}))
    for org, user_id, roles in built.users:
        user = session.get(User, user_id)
        assert user is not None
        yield reader_for(session, user, surface="test"), Who(org, user_id, roles)
    org, user_id, roles = built.users[-1]
    request = TokenRequest(user_id, "no reading", frozenset({"write"}), timedelta(days=1))
    token = session.get(ApiToken, create_token(session, cipher, request, actor="test").id)
    user = session.get(User, user_id)
    assert token is not None
    assert user is not None
    # As the API resolves a bearer token: the user, with the token's scopes.
    reader = reader_for(session, user, surface="api", scopes=frozenset(token.scopes))
    yield reader, Who(org, user_id, roles, read=False)


def build(session: Session, cipher: FieldCipher, world: World) -> Built:
    built = Built(
        model=Model(
            orgs=[(o.kind, o.member_state) for o in world.orgs], members=list(world.groups)
        ),
        org_ids=[
            create_organisation(
                session,
                cipher,
                NewOrganisation(f"Organisation {n}", o.kind, o.member_state),
                actor="test",
            )
            for n, o in enumerate(world.orgs)
        ],
        users=[],
    )
    planned = [(o, roles) for o, org in enumerate(world.orgs) for roles in org.users]
    planned += [
        (world.analyst_org, frozenset({Role.ANALYST})),
        (world.token_org, frozenset({Role.CASEWORKER})),
    ]
    for n, (org, roles) in enumerate(planned):
        new = NewUser(built.org_ids[org], f"user{n}@example.org", PASSWORD, roles)
        built.users.append((org, create_user(session, cipher, new, actor="test"), roles))
    for g, members in enumerate(world.groups):
        owner, others = built.org_ids[min(members)], [built.org_ids[o] for o in members]
        built.group_ids.append(
            create_sharing_group(
                session, cipher, NewGroup(f"Group {g}", owner, others), actor="test"
            )
        )
    people = [_add_person(session, cipher, built, plan) for plan in world.people]
    incidents = [_add_incident(session, cipher, built, plan, people) for plan in world.incidents]
    for case in world.cases:
        _add_case(session, built, case, incidents, people)
    for submitted in world.submitted:
        _submit(session, cipher, built, submitted)
    built.readers = list(_readers(session, cipher, built))
    return built


# -- every form, for one reader ------------------------------------------------------------------


@dataclass(frozen=True)
class CountKey:
    """An incident's keys in the count tables, computed here from the rule."""

    id: str
    contributor_id: str
    audience: str
    contributor: str
    cleared: bool


def _count_keys(session: Session) -> list[CountKey]:
    rows = session.execute(
        select(Incident.id, Incident.tlp, Incident.contributor_id, Incident.cleared_for_statistics)
    )
    keys = []
    for record_id, tlp, contributor_id, cleared in rows:
        label = Tlp(tlp)
        owned = str(contributor_id) if CONTRIBUTOR in RULE.labels[label] else ""
        keys.append(CountKey(record_id, str(contributor_id), RULE.count_key(label), owned, cleared))
    # The same keys as the count tables' triggers compute in SQL.
    audience, contributor = count_key_sql("incidents")
    in_sql = session.execute(
        select(Incident.id, literal_column(audience, String), literal_column(contributor, String))
    )
    assert set(in_sql) == {(k.id, k.audience, k.contributor) for k in keys}
    return keys


def _ids(
    session: Session, model: type[Incident | Person], condition: ColumnElement[bool]
) -> set[str]:
    return set(session.scalars(select(model.id).where(condition)))


def _composed(session: Session, reader: Reader, keys: list[CountKey], bulk: set[str]) -> set[str]:
    """What insight counts: over the count keys by :func:`counted_plainly` and consent, except the
    incidents of :func:`counted_otherwise`, which :func:`counted_in_bulk` decides."""
    table = (
        values(
            column("id", String),
            column("audience", String),
            column("contributor", String),
            column("cleared", Boolean),
            name="count_keys",
        )
        .data([(k.id, k.audience, k.contributor, k.cleared) for k in keys])
        .cte("count_keys")
    )
    condition = counted_plainly(reader, table.c.audience, table.c.contributor, table.c.cleared)
    plainly = set(session.scalars(select(table.c.id).where(condition)))
    parts = counted_otherwise(reader)
    otherwise = set(session.scalars(union(*parts))) if parts else set()
    blocked = set(session.scalars(consent_blocked(reader)))
    found = set()
    for key in keys:
        if key.id in otherwise:
            if key.id in bulk:
                found.add(key.id)
        elif key.id in plainly and (
            key.id not in blocked or key.contributor_id == reader.organisation_id
        ):
            found.add(key.id)
    return found


@dataclass(frozen=True)
class Loaded:
    incidents: dict[str, Facts]
    people: dict[str, Facts]
    keys: list[CountKey]


def _forms(session: Session, reader: Reader, loaded: Loaded) -> Iterator[tuple[str, str, set[str]]]:
    """(form, what it decides: "incidents" or "people" seen, or incidents "counted", ids)."""
    yield "visible", "incidents", _ids(session, Incident, visible(reader, Incident))
    yield "visible", "people", _ids(session, Person, visible(reader, Person))
    yield "sees", "incidents", {i for i, facts in loaded.incidents.items() if sees(reader, facts)}
    yield "sees", "people", {i for i, facts in loaded.people.items() if sees(reader, facts)}
    yield "counted", "counted", _ids(session, Incident, counted(reader))
    bulk = _ids(session, Incident, counted_in_bulk(reader))
    yield "counted_in_bulk", "counted", bulk
    composed = _composed(session, reader, loaded.keys, bulk)
    yield "counted_plainly/counted_otherwise/consent_blocked", "counted", composed
    yield "counts", "counted", {i for i, facts in loaded.incidents.items() if counts(reader, facts)}


def _expected(m: Model, who: Who) -> dict[str, set[str]]:
    return {
        "incidents": {i for i in m.incidents if model_sees(m, who, "incidents", i)},
        "people": {p for p in m.people if model_sees(m, who, "people", p)},
        "counted": {i for i in m.incidents if model_counts(m, who, i)},
    }


def _explain(m: Model, who: Who, result: tuple[str, str, set[str]], expected: set[str]) -> str:
    form, decides, found = result
    org = "the public" if who.org is None else f"organisation {who.org} {m.orgs[who.org]}"
    roles = sorted(r.value for r in who.roles)
    lines = [f"{form} ({decides}) for {org}, user {who.user}, roles {roles}, read={who.read}:"]
    records = m.people if decides == "people" else m.incidents
    for record_id in sorted(found ^ expected):
        rec = records[record_id]
        governing = rec.consenting if decides != "people" else {record_id}
        lines.append(
            f"  {record_id}: form {record_id in found}, model {record_id in expected}; {rec}; "
            f"consent {[m.consent.get(p) for p in sorted(governing)]}; "
            f"cases {[c for c in m.cases if record_id in (c.incident, c.person)]}"
        )
    return "\n".join(lines)


def check_forms(session: Session, built: Built) -> None:
    """Every form of the gate, for every reader, against the model."""
    m = built.model
    stored: dict[str, Rows] = {}
    for row in session.scalars(select(Consent)):
        stored.setdefault(row.person_id, {})[(row.recipient_kind, row.member_state)] = row.granted
    assert stored == m.consent
    loaded = Loaded(
        load_facts(session, Incident, m.incidents),
        load_facts(session, Person, m.people),
        _count_keys(session),
    )
    assert set(loaded.incidents) == set(m.incidents)
    assert set(loaded.people) == set(m.people)
    for reader, who in built.readers:
        expected = _expected(m, who)
        for result in _forms(session, reader, loaded):
            _form, decides, found = result
            assert found == expected[decides], _explain(m, who, result, expected[decides])


@pytest.fixture(autouse=True)
def _no_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody signs in here: skip Argon2 (a fifth of a second per user) when creating users."""
    monkeypatch.setattr(accounts, "hash_password", lambda password: "not-a-password-hash")


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_every_form_of_the_gate_gives_what_the_reference_model_gives(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    # One database for every example: each world is written inside a savepoint and rolled back.
    savepoint = session.begin_nested()
    try:
        check_forms(session, build(session, cipher, world))
    finally:
        savepoint.rollback()
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
