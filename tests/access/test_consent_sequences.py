"""Consent over time: random sequences of consent statements, reports' consent set anew,
host-state corrections and referrals, with every form of the gate checked after each step.

The world holds an organisation of every kind and reports submitted through intake; each step
goes through the services (:func:`haven.access.consent.state_consent`,
:func:`haven.intake.reports.change_consent`, :class:`haven.casework.corrections.HostCorrection`
around :meth:`RegistryWriter.replace_incident`, :func:`haven.casework.workflow.refer`) and the
reference model of :mod:`test_gate_forms` follows it: a statement for no member state decides
every row of its kind, one naming a member state that row only; correcting the host state lets
the person's grant to the authorities of the old host state lapse unless they consented to the
authorities of every member state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access.test_gate_forms import (
    DEADLINES,
    HOSTS,
    KINDS,
    NARROWING,
    STATEMENTS,
    Built,
    OrgPlan,
    Record,
    StatementPlan,
    SubmittedPlan,
    Who,
    World,
    build,
    caseworker_of,
    check_forms,
    model_sees,
    report_statements,
    write_consent,
)
from builders import incident
from haven.access import accounts
from haven.access.consent import Statement, state_consent
from haven.audit.chain import append
from haven.casework.corrections import HostCorrection
from haven.casework.workflow import refer
from haven.crypto.fields import FieldCipher
from haven.domain.enums import PersonRole, RecipientKind, ReferralAsk, Role, Tlp
from haven.errors import Forbidden
from haven.intake.models import Report
from haven.intake.reports import change_consent
from haven.registry.models import Incident
from haven.registry.writer import Actor, RegistryWriter

# Every kind of organisation once, and a second NGO.
ORGS = (*(OrgPlan(kind, state, (frozenset({Role.CASEWORKER}),)) for kind, state in KINDS),
        OrgPlan(KINDS[0][0], None, (frozenset({Role.ANALYST}),)))  # fmt: skip


@dataclass(frozen=True)
class Stated:
    """A caseworker records the person's statements with them."""

    report: int
    statements: tuple[StatementPlan, ...]


@dataclass(frozen=True)
class Changed:
    """The reporter sets their consent anew with the receipt code (nothing granted: withdrawn)."""

    report: int
    granted: frozenset[RecipientKind]
    host: str | None


@dataclass(frozen=True)
class Corrected:
    """A caseworker corrects where it happened."""

    report: int
    host: str | None


@dataclass(frozen=True)
class Referred:
    report: int
    to: int


Step = Stated | Changed | Corrected | Referred


@dataclass(frozen=True)
class Other:
    """An incident of another organisation about the first report's person, as its target."""

    by: int
    tlp: Tlp
    cleared: bool
    host: str | None


@dataclass(frozen=True)
class Sequence:
    reports: tuple[SubmittedPlan, ...]
    other: Other
    steps: tuple[Step, ...]


# Reports mostly about somewhere in the Union, so that consent to its authorities can be given.
REPORT_HOSTS = ("DE", "FR", "DE", "FR", "GB", None)


@st.composite
def sequences(draw: st.DrawFn) -> Sequence:
    org = st.integers(0, len(ORGS) - 1)
    kinds = st.frozensets(st.sampled_from(list(RecipientKind)))
    report = st.builds(
        SubmittedPlan, org, st.sampled_from(REPORT_HOSTS), st.booleans(), st.booleans(),
        kinds | st.just(frozenset(RecipientKind)), st.lists(org, max_size=2).map(tuple),
    )  # fmt: skip
    reports = tuple(draw(st.lists(report, min_size=1, max_size=2)))
    which = st.integers(0, len(reports) - 1)
    statements = st.lists(STATEMENTS, min_size=1, max_size=3).map(tuple) | NARROWING
    corrected = st.builds(Corrected, which, st.sampled_from(HOSTS))
    # The wider consent a caseworker records with the person: the authorities of every state.
    everywhere = ((RecipientKind.AUTHORITY, None, True),)
    step = st.one_of(
        st.builds(Stated, which, statements),
        st.builds(Stated, which, st.just(everywhere)),
        st.builds(Changed, which, st.just(frozenset()) | kinds, st.sampled_from(HOSTS)),
        corrected,
        corrected,
        st.builds(Referred, which, org),
    )
    other = st.builds(Other, org, st.sampled_from(list(Tlp)), st.booleans(), st.sampled_from(HOSTS))
    return Sequence(
        reports=reports,
        other=draw(other),
        steps=tuple(draw(st.lists(step, min_size=2, max_size=6))),
    )


# -- the steps, through the services and in the model -------------------------------------------


@dataclass
class Run:
    session: Session
    cipher: FieldCipher
    built: Built
    reports: list[Report]

    def handler(self, report: Report) -> int:
        return self.built.org_ids.index(report.handled_by)

    def case(self, report: Report) -> set[int]:
        m = self.built.model
        return next(c.referred for c in m.cases if c.incident == report.incident_id)


def _add_other(run: Run, other: Other) -> None:
    """Write the other incident as its organisation's first user."""
    author = caseworker_of(run.session, run.built, other.by)
    writer = RegistryWriter(
        run.session, run.cipher, Actor(str(author.organisation_id), author.actor, "test")
    )
    data = incident(
        tlp=other.tlp.value, host_state=other.host, cleared_for_statistics=other.cleared
    )
    incident_id = writer.add_incident(data)
    target = run.reports[0].person_id
    writer.link_person(incident_id, target, PersonRole.TARGET)
    writer.flush()
    run.built.model.incidents[incident_id] = Record(
        other.tlp, other.by, cleared=other.cleared, host=other.host, consenting={target}
    )


def _stated(run: Run, step: Stated) -> None:
    person = run.reports[step.report].person_id
    said = [Statement(kind, granted, state) for kind, state, granted in step.statements]
    append(run.session, state_consent(run.session, person, said, actor="test"))
    rows = run.built.model.consent.setdefault(person, {})
    for kind, state, granted in step.statements:
        write_consent(rows, kind.value, state, granted)


def _changed(run: Run, step: Changed) -> None:
    report = run.reports[step.report]
    rows = run.built.model.consent.setdefault(report.person_id, {})
    statements = report_statements(rows, step.granted, step.host)
    change_consent(run.session, report, step.granted, step.host)
    for kind, state, granted in statements:
        write_consent(rows, kind.value, state, granted)


def _reached(run: Run, report: Report) -> set[int]:
    """The organisations the case was referred to that see its incident, as organisations."""
    m = run.built.model
    return {
        org
        for org in run.case(report)
        if model_sees(
            m, Who(org, None, frozenset({Role.CASEWORKER})), "incidents", report.incident_id
        )
    }


def _corrected(run: Run, step: Corrected) -> None:
    report = run.reports[step.report]
    m = run.built.model
    record = m.incidents[report.incident_id]
    before = _reached(run, report)
    caseworker = caseworker_of(run.session, run.built, run.handler(report))
    correction = HostCorrection.before(run.session, report.incident_id)
    row = run.session.get(Incident, report.incident_id)
    assert row is not None
    data = incident(
        title=row.title,
        origin_state=row.origin_state,
        host_state=step.host,
        tactics=["intimidation"],
        tlp=Tlp(row.tlp).value,
    )
    writer = RegistryWriter(
        run.session, run.cipher, Actor(report.handled_by, caseworker.actor, "test")
    )
    writer.replace_incident(report.incident_id, data)
    warnings = correction.after(run.session, actor=caseworker.actor)
    old, record.host = record.host, step.host
    if old is not None and step.host != old:
        for person in record.consenting:
            rows = m.consent.get(person, {})
            if not rows.get(("authority", "")) and rows.get(("authority", old)):
                rows[("authority", old)] = False
    lost = before - _reached(run, report)
    assert sorted(w.split(",")[0] for w in warnings) == sorted(f"Organisation {o}" for o in lost)


def _referred(run: Run, step: Referred) -> None:
    report = run.reports[step.report]
    if step.to == run.handler(report):
        return
    caseworker = caseworker_of(run.session, run.built, run.handler(report))
    to = run.built.org_ids[step.to]
    try:
        refer(run.session, caseworker, report, to, [ReferralAsk.PROTECTION], deadlines=DEADLINES)
    except Forbidden:
        return  # outside the person's consent: not referred
    run.case(report).add(step.to)


def _apply(run: Run, step: Step) -> None:
    match step:
        case Stated():
            _stated(run, step)
        case Changed():
            _changed(run, step)
        case Corrected():
            _corrected(run, step)
        case Referred():
            _referred(run, step)


def _start(session: Session, cipher: FieldCipher, plan: Sequence) -> Run:
    analyst = len(ORGS) - 1
    world = World(ORGS, (), (), (), (), plan.reports, analyst_org=analyst, token_org=0)
    built = build(session, cipher, world)
    # The public and each organisation as a whole: the users' own rights (named recipients,
    # roles, token scopes) are the other property's business.
    built.readers = [(reader, who) for reader, who in built.readers if who.user is None]
    reports = []
    for case in built.model.cases:
        report = session.scalar(select(Report).where(Report.incident_id == case.incident))
        assert report is not None
        reports.append(report)
    run = Run(session, cipher, built, reports)
    _add_other(run, plan.other)
    return run


@pytest.fixture(autouse=True)
def _no_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody signs in here: skip Argon2 (a fifth of a second per user) when creating users."""
    monkeypatch.setattr(accounts, "hash_password", lambda password: "not-a-password-hash")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=sequences())
def test_after_every_step_every_form_of_the_gate_gives_what_the_model_gives(
    session: Session, cipher: FieldCipher, plan: Sequence
) -> None:
    # One database for every example: each sequence runs inside a savepoint and is rolled back.
    savepoint = session.begin_nested()
    try:
        run = _start(session, cipher, plan)
        check_forms(session, run.built)
        for step in plan.steps:
            _apply(run, step)
            check_forms(session, run.built)
    finally:
        savepoint.rollback()
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_a_referral_is_refused_where_the_persons_consent_keeps_the_case_from_the_organisation(
    session: Session, cipher: FieldCipher
) -> None:
    authority = RecipientKind.AUTHORITY
    french = KINDS.index((authority, "FR"))
    plan = Sequence(
        reports=(SubmittedPlan(0, "FR", False, False, frozenset({authority}), ()),),
        other=Other(len(ORGS) - 1, Tlp.GREEN, False, None),
        # Consent to the authorities of every member state, then withdrawn for France.
        steps=(Stated(0, ((authority, None, True), (authority, "FR", False))),),
    )
    run = _start(session, cipher, plan)
    _apply(run, plan.steps[0])
    report = run.reports[0]
    reader = Who(french, None, frozenset({Role.CASEWORKER}))
    assert not model_sees(run.built.model, reader, "incidents", report.incident_id)
    caseworker = caseworker_of(session, run.built, 0)
    with pytest.raises(Forbidden):
        refer(
            session,
            caseworker,
            report,
            run.built.org_ids[french],
            [ReferralAsk.PROTECTION],
            deadlines=DEADLINES,
        )
