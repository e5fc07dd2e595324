"""A case's life: the moves a handling organisation may make, assignment, sealed notes, links,
referral within the person's consent (and what the policy gate then shows the recipient), the
recipient's acknowledgement and action, the timeline and audit chain, deadlines and escalation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import User
from haven.access.policy import Reader, visible
from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.casework.models import CaseEvent, CaseLink, Referral
from haven.casework.workflow import (
    ActionTaken,
    acknowledge,
    add_note,
    assign,
    check_deadlines,
    link,
    move,
    notes,
    record_action,
    refer,
    timeline,
)
from haven.crypto.fields import FieldCipher
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    AuthorityAction,
    CaseEventKind,
    ContributorKind,
    ReferralAsk,
    ReferralStatus,
    ReportChannel,
    ReportStatus,
    Role,
)
from haven.errors import Forbidden, KeyFileError, NotFound, ValidationFailed
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.registry.models import Incident, Person
from haven.registry.sealed import sealed_context

S = ReportStatus
DEADLINES = Deadlines()
PASSWORD = "correct horse battery staple"
NOTE = "Called Quillmarsh-Ostrava back; the consulate visit was confirmed by her neighbour."
REASON = "Vandersloot-Kirimi already has police protection under another file."
PROTECTION = [ReferralAsk.PROTECTION]


@dataclass(frozen=True)
class World:
    ngo: str
    authority_de: str
    authority_fr: str
    other_ngo: str
    caseworker: Reader
    coordinator: Reader
    administrator: Reader
    analyst: Reader
    outsider: Reader  # a caseworker of another NGO
    german: Reader  # a caseworker of the German authority
    german_coordinators: tuple[str, ...]
    german_administrator: str
    french: Reader


def _user(
    session: Session,
    cipher: FieldCipher,
    organisation: tuple[str, ContributorKind, str | None],
    login: str,
    role: Role,
) -> Reader:
    org_id, kind, member_state = organisation
    user_id = create_user(
        session, cipher, NewUser(org_id, login, PASSWORD, frozenset({role})), actor="test"
    )
    return Reader(
        user_id=user_id,
        organisation_id=org_id,
        organisation_kind=kind,
        member_state=member_state,
        roles=frozenset({role}),
        groups=frozenset(),
        surface="test",
    )


@pytest.fixture
def world(session: Session, cipher: FieldCipher) -> World:
    def org(name: str, kind: ContributorKind, state: str | None) -> tuple[str, Any, str | None]:
        return (
            create_organisation(session, cipher, NewOrganisation(name, kind, state), actor="test"),
            kind,
            state,
        )

    ngo = org("Exile Legal Aid", ContributorKind.NGO, None)
    other = org("Other NGO", ContributorKind.NGO, None)
    de = org("Bundeskriminalamt", ContributorKind.AUTHORITY, "DE")
    fr = org("Police nationale", ContributorKind.AUTHORITY, "FR")
    german_coordinator = _user(session, cipher, de, "coord@bka.example", Role.COORDINATOR)
    german_admin = _user(session, cipher, de, "admin@bka.example", Role.ADMINISTRATOR)
    return World(
        ngo=ngo[0],
        authority_de=de[0],
        authority_fr=fr[0],
        other_ngo=other[0],
        caseworker=_user(session, cipher, ngo, "case@ela.example", Role.CASEWORKER),
        coordinator=_user(session, cipher, ngo, "coord@ela.example", Role.COORDINATOR),
        administrator=_user(session, cipher, ngo, "admin@ela.example", Role.ADMINISTRATOR),
        analyst=_user(session, cipher, ngo, "analyst@ela.example", Role.ANALYST),
        outsider=_user(session, cipher, other, "case@other.example", Role.CASEWORKER),
        german=_user(session, cipher, de, "case@bka.example", Role.CASEWORKER),
        german_coordinators=(str(german_coordinator.user_id),),
        german_administrator=str(german_admin.user_id),
        french=_user(session, cipher, fr, "case@pn.example", Role.CASEWORKER),
    )


def _submit(
    session: Session, cipher: FieldCipher, world: World, *, urgent: bool = False, **changes: Any
) -> Report:
    data = {
        "what_happened": "Two men from the consulate waited outside my flat.",
        "tactics": ["intimidation"],
        "occurred": {"start": "2024-03-01", "precision": "month"},
        "origin_state": "by",
        "host_state": "de",
        "target_name": "Zerafshan Quillmarsh-Ostrava",
        "urgent": urgent,
        "consent": ["authority"],
        **changes,
    }
    submission = Submission(world.ngo, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(session, cipher, ReportIn.model_validate(data), submission)
    report = session.get(Report, receipt.report_id)
    assert report is not None
    return report


def _verified(session: Session, cipher: FieldCipher, world: World, **changes: Any) -> Report:
    report = _submit(session, cipher, world, **changes)
    move(session, world.caseworker, report, S.TRIAGED)
    move(session, world.caseworker, report, S.VERIFIED)
    return report


def _sees(session: Session, reader: Reader, model: type[Any], record_id: str) -> bool:
    table_id = model.id
    found = session.scalar(select(table_id).where(table_id == record_id, visible(reader, model)))
    return found is not None


def _status(record: Report | Referral) -> ReportStatus | ReferralStatus:
    """The status as it is now: a step changes it behind the checker's narrowing."""
    return record.status


def _count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- moves -----------------------------------------------------------------------------------


def test_a_received_case_cannot_be_verified_and_the_refusal_lists_the_allowed_moves(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)

    with pytest.raises(ValidationFailed) as refused:
        move(session, world.caseworker, report, S.VERIFIED)

    assert refused.value.message == "a received case cannot become verified"
    assert refused.value.hint == "from received: closed, triaged"
    assert report.status is S.RECEIVED
    assert report.acknowledged_at is None
    assert timeline(session, report) == []


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([S.TRIAGED, S.VERIFIED], S.TRIAGED),
        ([S.TRIAGED, S.NOT_SUBSTANTIATED], S.VERIFIED),
        ([S.TRIAGED, S.NOT_SUBSTANTIATED, S.TRIAGED, S.VERIFIED, S.CLOSED], S.VERIFIED),
        ([S.CLOSED], S.RECEIVED),
        ([S.TRIAGED, S.VERIFIED], S.REFERRED),  # only through refer()
    ],
)
def test_moves_follow_the_table(
    session: Session,
    cipher: FieldCipher,
    world: World,
    path: list[ReportStatus],
    refused: ReportStatus,
) -> None:
    report = _submit(session, cipher, world)
    for status in path:
        move(session, world.caseworker, report, status)
        assert report.status is status
    with pytest.raises(ValidationFailed):
        move(session, world.caseworker, report, refused)
    assert report.status is path[-1]
    assert [(e.from_status, e.to_status) for e in timeline(session, report)] == list(
        zip(["received", *path[:-1]], path, strict=True)
    )


def test_acknowledged_at_is_set_on_first_triage_and_kept_when_a_closed_case_reopens(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)

    move(session, world.caseworker, report, S.TRIAGED)
    first = report.acknowledged_at
    assert first is not None
    move(session, world.caseworker, report, S.CLOSED)
    move(session, world.coordinator, report, S.TRIAGED)  # reopening

    assert report.status is S.TRIAGED
    assert report.acknowledged_at == first
    assert [e.to_status for e in timeline(session, report)] == ["triaged", "closed", "triaged"]


def test_only_caseworkers_and_coordinators_of_the_handling_organisation_move_a_case(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)
    for reader in (world.outsider, world.german, world.analyst, world.administrator):
        with pytest.raises(NotFound):
            move(session, reader, report, S.TRIAGED)
    assert report.status is S.RECEIVED
    assert report.acknowledged_at is None


# -- assignment, notes, links ----------------------------------------------------------------


def test_a_case_is_assigned_only_to_a_caseworker_or_coordinator_of_its_organisation(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)

    assign(session, world.caseworker, report, world.coordinator.user_id)
    assert report.assigned_to == world.coordinator.user_id
    assign(session, world.coordinator, report, world.caseworker.user_id)
    assert report.assigned_to == world.caseworker.user_id

    for wrong in (world.analyst, world.administrator, world.outsider, world.german):
        with pytest.raises(ValidationFailed, match="caseworker or coordinator of its"):
            assign(session, world.caseworker, report, wrong.user_id)
    with pytest.raises(ValidationFailed):
        assign(session, world.caseworker, report, "00000000-0000-4000-8000-000000000000")
    assert report.assigned_to == world.caseworker.user_id

    assign(session, world.caseworker, report, None)
    assert report.assigned_to is None
    details = [e.detail for e in timeline(session, report)]
    assert details == [
        f"user:{world.coordinator.user_id}",
        f"user:{world.caseworker.user_id}",
        "unassigned",
    ]


def test_notes_are_sealed_at_rest_and_read_back_through_notes(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)

    note_id = add_note(session, cipher, world.caseworker, report, f"  {NOTE}\n")

    raw = session.execute(text("SELECT body FROM case_notes")).scalars().all()
    assert len(raw) == 1
    assert NOTE.encode() not in bytes(raw[0])
    assert b"Quillmarsh" not in bytes(raw[0])
    read = notes(session, cipher, report)
    assert [(row.id, body) for row, body in read] == [(note_id, NOTE)]
    assert read[0][0].author_id == world.caseworker.user_id
    # The seal is bound to the note: the same bytes under another id do not open.
    with pytest.raises(KeyFileError):
        cipher.decrypt(bytes(raw[0]), sealed_context("case_notes", "body", report.id))
    event = timeline(session, report)[-1]
    assert (event.kind, event.detail) == (CaseEventKind.NOTE, f"case_notes:{note_id}")
    assert NOTE not in (event.detail or "")


@pytest.mark.parametrize("body", ["", "   ", "x" * 20_001])
def test_an_empty_or_oversized_note_is_refused(
    session: Session, cipher: FieldCipher, world: World, body: str
) -> None:
    report = _submit(session, cipher, world)
    with pytest.raises(ValidationFailed):
        add_note(session, cipher, world.caseworker, report, body)
    assert notes(session, cipher, report) == []


def test_a_case_links_to_records_the_reader_sees_and_not_to_others(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)
    earlier = _submit(session, cipher, world)  # the same organisation's: visible to it
    foreign = _submit(session, cipher, world)
    # A strict incident of another organisation: the caseworker may not see it.
    session.execute(
        text("UPDATE incidents SET contributor_id = :org WHERE id = :id"),
        {"org": world.other_ngo, "id": foreign.incident_id},
    )

    link(session, world.caseworker, report, "incidents", earlier.incident_id)
    link(session, world.caseworker, report, "incidents", earlier.incident_id)  # idempotent
    with pytest.raises(NotFound, match="no such incidents record"):
        link(session, world.caseworker, report, "incidents", foreign.incident_id)
    with pytest.raises(NotFound):
        link(session, world.caseworker, report, "people", "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ValidationFailed):
        link(session, world.caseworker, report, "reports", earlier.id)

    links = session.scalars(select(CaseLink)).all()
    assert [(x.entity, x.record_id, x.linked_by) for x in links] == [
        ("incidents", earlier.incident_id, world.caseworker.actor)
    ]
    events = timeline(session, report)
    assert [(e.kind, e.detail) for e in events] == [
        (CaseEventKind.LINK, f"incidents:{earlier.incident_id}")
    ]


# -- referral within consent -----------------------------------------------------------------


def test_a_case_is_referred_only_once_verified(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)
    move(session, world.caseworker, report, S.TRIAGED)

    with pytest.raises(ValidationFailed, match="a triaged case cannot be referred") as refused:
        refer(
            session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES
        )

    assert refused.value.hint == "verify it first"
    assert _count(session, Referral) == 0
    assert report.status is S.TRIAGED


def test_a_referral_must_ask_for_something(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    with pytest.raises(ValidationFailed, match="say what the referral asks for"):
        refer(session, world.caseworker, report, world.authority_de, [], deadlines=DEADLINES)
    assert _count(session, Referral) == 0


@pytest.mark.parametrize(
    ("consent", "to", "reason"),
    [
        (
            ["authority"],
            "authority_fr",
            "not referred: the person has not consented to authorities of FR seeing this case",
        ),
        (
            ["authority"],
            "other_ngo",
            "not referred: the person has not consented to ngos seeing this case",
        ),
        (
            [],
            "authority_de",
            "not referred: the person has not consented to authorities of DE seeing this case",
        ),
    ],
)
def test_a_referral_outside_the_persons_consent_is_refused_with_the_reason_and_nothing_written(
    session: Session,
    cipher: FieldCipher,
    world: World,
    *,
    consent: list[str],
    to: str,
    reason: str,
) -> None:
    report = _verified(session, cipher, world, consent=consent)
    events_before = len(timeline(session, report))
    audit_before = _count(session, AuditEntry)

    with pytest.raises(Forbidden) as refused:
        refer(
            session, world.caseworker, report, getattr(world, to), PROTECTION, deadlines=DEADLINES
        )

    assert refused.value.message == reason
    assert "receipt code" in (refused.value.hint or "")
    assert _count(session, Referral) == 0
    assert len(timeline(session, report)) == events_before
    assert _count(session, AuditEntry) == audit_before
    assert report.status is S.VERIFIED
    recipient = world.french if to == "authority_fr" else world.outsider
    assert not _sees(session, recipient, Incident, report.incident_id)


def test_a_case_is_not_referred_to_its_own_organisation_or_to_nobody(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    for target in (world.ngo, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound):
            refer(session, world.caseworker, report, target, PROTECTION, deadlines=DEADLINES)
    assert _count(session, Referral) == 0


def test_a_referral_within_consent_opens_the_case_to_the_recipient_only(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    # Consent reaches German authorities, but this one was not referred the case.
    another_de_authority = replace(world.french, member_state="DE")
    assert not _sees(session, world.german, Incident, report.incident_id)
    assert not _sees(session, world.german, Person, report.person_id)

    referral = refer(
        session,
        world.caseworker,
        report,
        world.authority_de,
        [ReferralAsk.PROTECTION, ReferralAsk.INVESTIGATION],
        deadlines=DEADLINES,
    )

    assert report.status is S.REFERRED
    assert referral.status is ReferralStatus.SENT
    assert referral.asks == ["investigation", "protection"]
    assert referral.sent_by == world.caseworker.actor
    assert referral.due_at == DEADLINES.due(referral.sent_at, report.urgent)
    assert _sees(session, world.german, Incident, report.incident_id)
    assert _sees(session, world.german, Person, report.person_id)
    for stranger in (world.outsider, world.french, another_de_authority):
        assert not _sees(session, stranger, Incident, report.incident_id)
        assert not _sees(session, stranger, Person, report.person_id)
    event = timeline(session, report)[-1]
    assert event.kind is CaseEventKind.REFERRAL
    assert event.detail == f"contributors:{world.authority_de} asks investigation+protection"


def test_consent_still_applies_after_a_referral(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    refer(session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES)
    assert _sees(session, world.german, Incident, report.incident_id)

    session.execute(
        text("UPDATE consents SET granted = :no WHERE person_id = :person"),
        {"no": False, "person": report.person_id},
    )

    assert not _sees(session, world.german, Incident, report.incident_id)
    assert not _sees(session, world.german, Person, report.person_id)


def test_a_referral_to_an_ngo_within_consent_is_allowed(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world, consent=["ngo"])
    refer(session, world.caseworker, report, world.other_ngo, PROTECTION, deadlines=DEADLINES)
    assert _sees(session, world.outsider, Incident, report.incident_id)
    assert not _sees(session, world.german, Incident, report.incident_id)


# -- acknowledgement and action --------------------------------------------------------------


def test_only_the_receiving_organisation_acknowledges_and_records_an_action(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    referral = refer(
        session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    german_analyst = Reader(
        world.german.user_id,
        world.german.organisation_id,
        world.german.organisation_kind,
        "DE",
        frozenset({Role.ANALYST}),
        frozenset(),
        "test",
    )

    for other in (world.caseworker, world.french, world.outsider, german_analyst):
        with pytest.raises(NotFound):
            acknowledge(session, other, referral.id)
        with pytest.raises(NotFound):
            record_action(
                session,
                cipher,
                other,
                referral.id,
                ActionTaken(AuthorityAction.PROTECTION_MEASURES),
            )
    with pytest.raises(ValidationFailed, match="acknowledge the referral before"):
        record_action(
            session,
            cipher,
            world.german,
            referral.id,
            ActionTaken(AuthorityAction.PROTECTION_MEASURES),
        )
    assert referral.status is ReferralStatus.SENT
    assert report.status is S.REFERRED

    acknowledge(session, world.german, referral.id)
    assert _status(referral) is ReferralStatus.ACKNOWLEDGED
    assert referral.acknowledged_by == world.german.actor
    assert referral.acknowledged_at is not None
    assert _status(report) is S.ACKNOWLEDGED
    with pytest.raises(ValidationFailed, match="already acknowledged"):
        acknowledge(session, world.german, referral.id)

    record_action(
        session, cipher, world.german, referral.id, ActionTaken(AuthorityAction.PROTECTION_MEASURES)
    )
    assert _status(referral) is ReferralStatus.ACTION_RECORDED
    assert referral.action is AuthorityAction.PROTECTION_MEASURES
    assert referral.action_by == world.german.actor
    assert referral.action_reason is None
    assert _status(report) is S.ACTION_RECORDED


def test_no_action_needs_a_reason_which_is_sealed(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world)
    referral = refer(
        session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    acknowledge(session, world.german, referral.id)

    for blank in ("", "  \n "):
        with pytest.raises(ValidationFailed, match="say why no action is taken"):
            record_action(
                session,
                cipher,
                world.german,
                referral.id,
                ActionTaken(AuthorityAction.NO_ACTION, blank),
            )
    assert referral.action is None
    assert report.status is S.ACKNOWLEDGED

    record_action(
        session, cipher, world.german, referral.id, ActionTaken(AuthorityAction.NO_ACTION, REASON)
    )

    session.flush()
    raw = session.execute(text("SELECT action_reason FROM referrals")).scalar_one()
    assert REASON.encode() not in bytes(raw)
    assert b"Vandersloot" not in bytes(raw)
    context = sealed_context("referrals", "action_reason", referral.id)
    assert cipher.decrypt(bytes(raw), context).decode() == REASON
    assert _status(report) is S.ACTION_RECORDED
    event = timeline(session, report)[-1]
    assert event.detail == f"referrals:{referral.id} no-action"


def test_every_step_is_a_case_event_with_actor_and_time_and_an_audit_entry(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world)
    earlier = _submit(session, cipher, world)
    started = report.received_at

    move(session, world.caseworker, report, S.TRIAGED)
    assign(session, world.coordinator, report, world.caseworker.user_id)
    add_note(session, cipher, world.caseworker, report, NOTE)
    link(session, world.caseworker, report, "incidents", earlier.incident_id)
    move(session, world.caseworker, report, S.VERIFIED)
    referral = refer(
        session, world.coordinator, report, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    acknowledge(session, world.german, referral.id)
    record_action(
        session, cipher, world.german, referral.id, ActionTaken(AuthorityAction.PROSECUTION)
    )
    move(session, world.caseworker, report, S.CLOSED)

    events = timeline(session, report)
    caseworker, coordinator, german = (
        world.caseworker.actor,
        world.coordinator.actor,
        world.german.actor,
    )
    assert [(e.kind, e.actor, e.from_status, e.to_status) for e in events] == [
        (CaseEventKind.STATUS, caseworker, "received", "triaged"),
        (CaseEventKind.ASSIGNMENT, coordinator, "triaged", "triaged"),
        (CaseEventKind.NOTE, caseworker, "triaged", "triaged"),
        (CaseEventKind.LINK, caseworker, "triaged", "triaged"),
        (CaseEventKind.STATUS, caseworker, "triaged", "verified"),
        (CaseEventKind.REFERRAL, coordinator, "verified", "referred"),
        (CaseEventKind.ACKNOWLEDGEMENT, german, "referred", "acknowledged"),
        (CaseEventKind.ACTION, german, "acknowledged", "action-recorded"),
        (CaseEventKind.STATUS, caseworker, "action-recorded", "closed"),
    ]
    times = [e.at for e in events]
    assert all(t is not None and t >= started for t in times)
    assert times == sorted(times)
    assert report.updated_at == times[-1]

    audited = session.execute(
        select(AuditEntry.actor, AuditEntry.action, AuditEntry.after_digest)
        .where(AuditEntry.entity == "reports", AuditEntry.entity_id == report.id)
        .where(AuditEntry.action.like("case-%"))
        .order_by(AuditEntry.seq)
    ).all()
    assert [tuple(row) for row in audited] == [
        (
            e.actor,
            f"case-{e.kind.value}",
            hashlib.sha256(e.detail.encode()).hexdigest() if e.detail else None,
        )
        for e in events
    ]
    session.flush()
    assert verify(session).ok


# -- deadlines and escalation ----------------------------------------------------------------


def test_urgent_cases_are_due_in_two_hours() -> None:
    start = datetime(2025, 6, 6, 22, 30)  # a Friday night
    assert DEADLINES.due(start, urgent=True) == start + timedelta(hours=2)
    assert DEADLINES.window(start, urgent=True) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (datetime(2025, 6, 2, 9, 0), datetime(2025, 6, 5, 9, 0)),  # Monday → Thursday
        (datetime(2025, 6, 4, 9, 0), datetime(2025, 6, 9, 9, 0)),  # Wednesday → Monday
        (datetime(2025, 6, 6, 16, 45), datetime(2025, 6, 11, 16, 45)),  # Friday → Wednesday
        (datetime(2025, 6, 7, 11, 0), datetime(2025, 6, 11, 11, 0)),  # Saturday → Wednesday
        (datetime(2025, 6, 8, 11, 0), datetime(2025, 6, 11, 11, 0)),  # Sunday → Wednesday
    ],
)
def test_ordinary_cases_are_due_in_three_working_days(start: datetime, due: datetime) -> None:
    assert DEADLINES.due(start, urgent=False) == due
    assert due.weekday() < 5


def _coordinators(session: Session, organisation_id: str, *roles: Role) -> tuple[str, ...]:
    users = session.scalars(select(User).where(User.organisation_id == organisation_id))
    wanted = {role.value for role in roles}
    return tuple(sorted(u.id for u in users if set(u.roles) & wanted))


def test_a_late_urgent_case_escalates_to_coordinators_then_to_administrators_once_each(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world, urgent=True)
    assert report.ack_due_at == report.received_at + timedelta(hours=2)
    start = report.received_at

    assert check_deadlines(session, DEADLINES, start + timedelta(hours=1, minutes=59)) == []
    assert report.escalation_level == 0

    first = check_deadlines(session, DEADLINES, start + timedelta(hours=2, minutes=1))
    assert [(e.report.id, e.referral, e.organisation_id, e.level) for e in first] == [
        (report.id, None, world.ngo, 1)
    ]
    assert first[0].user_ids == (world.coordinator.user_id,)
    assert report.escalation_level == 1
    assert check_deadlines(session, DEADLINES, start + timedelta(hours=3)) == []

    second = check_deadlines(session, DEADLINES, start + timedelta(hours=4))
    assert [(e.report.id, e.level) for e in second] == [(report.id, 2)]
    assert second[0].user_ids == _coordinators(
        session, world.ngo, Role.COORDINATOR, Role.ADMINISTRATOR
    )
    assert set(second[0].user_ids) == {world.coordinator.user_id, world.administrator.user_id}
    assert report.escalation_level == 2
    assert check_deadlines(session, DEADLINES, start + timedelta(days=30)) == []

    escalations = [e for e in timeline(session, report) if e.kind is CaseEventKind.ESCALATION]
    assert [(e.actor, e.detail) for e in escalations] == [
        ("system:deadlines", "level 1"),
        ("system:deadlines", "level 2"),
    ]
    assert report.status is S.RECEIVED


def test_a_case_found_very_late_escalates_straight_to_level_two_once(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world, urgent=True)
    found = check_deadlines(session, DEADLINES, report.received_at + timedelta(hours=5))
    assert [e.level for e in found] == [2]
    assert check_deadlines(session, DEADLINES, report.received_at + timedelta(hours=6)) == []


def test_a_triaged_case_never_escalates(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _submit(session, cipher, world, urgent=True)
    ordinary = _submit(session, cipher, world)
    move(session, world.caseworker, report, S.TRIAGED)
    move(session, world.caseworker, ordinary, S.TRIAGED)

    assert check_deadlines(session, DEADLINES, report.received_at + timedelta(days=30)) == []
    assert report.escalation_level == 0
    assert ordinary.escalation_level == 0


def test_an_unacknowledged_referral_escalates_to_the_receiving_organisation(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world, urgent=True)  # triaged: the case itself is on time
    referral = refer(
        session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    sent = referral.sent_at
    assert referral.due_at == sent + timedelta(hours=2)

    assert check_deadlines(session, DEADLINES, sent + timedelta(hours=1)) == []
    first = check_deadlines(session, DEADLINES, sent + timedelta(hours=3))
    assert [(e.report.id, e.referral, e.organisation_id, e.level) for e in first] == [
        (report.id, referral, world.authority_de, 1)
    ]
    assert first[0].user_ids == world.german_coordinators
    assert check_deadlines(session, DEADLINES, sent + timedelta(hours=3, minutes=30)) == []
    second = check_deadlines(session, DEADLINES, sent + timedelta(hours=4))
    assert [(e.referral, e.level) for e in second] == [(referral, 2)]
    assert set(second[0].user_ids) == {
        *world.german_coordinators,
        world.german_administrator,
    }
    assert referral.escalation_level == 2
    escalations = [e for e in timeline(session, report) if e.kind is CaseEventKind.ESCALATION]
    assert [e.detail for e in escalations] == [
        f"referrals:{referral.id} level 1",
        f"referrals:{referral.id} level 2",
    ]


def test_a_referral_escalation_is_recorded_on_its_own_case(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    """With another case late in the same run, the referral's escalation still joins the
    referred case's timeline, not the other's."""
    referred = _verified(session, cipher, world, urgent=True)
    referral = refer(
        session, world.caseworker, referred, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    late = _submit(session, cipher, world, urgent=True)

    found = check_deadlines(session, DEADLINES, referral.sent_at + timedelta(hours=3))

    assert sorted((e.report.id, e.referral is not None) for e in found) == sorted(
        [(late.id, False), (referred.id, True)]
    )
    on_late = [e.detail for e in timeline(session, late) if e.kind is CaseEventKind.ESCALATION]
    on_referred = [
        e.detail for e in timeline(session, referred) if e.kind is CaseEventKind.ESCALATION
    ]
    assert on_late == ["level 1"]
    assert on_referred == [f"referrals:{referral.id} level 1"]


def test_an_acknowledged_referral_never_escalates(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _verified(session, cipher, world, urgent=True)
    referral = refer(
        session, world.caseworker, report, world.authority_de, PROTECTION, deadlines=DEADLINES
    )
    acknowledge(session, world.german, referral.id)
    assert check_deadlines(session, DEADLINES, referral.sent_at + timedelta(days=30)) == []
    assert referral.escalation_level == 0
    assert _count(session, CaseEvent) == len(timeline(session, report))
