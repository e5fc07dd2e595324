"""Casework steps tell the right people, in the transaction that made the step."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    create_organisation,
    create_user,
    reader_for,
)
from haven.access.models import User
from haven.casework.notices import escalate_late, referral_answered, referral_sent, report_received
from haven.casework.workflow import acknowledge, move, refer
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.deadlines import Deadlines
from haven.domain.enums import ContributorKind, ReferralAsk, ReportChannel, ReportStatus, Role
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.notify.events import EventKind
from haven.notify.models import Channel, OutboxMessage
from haven.notify.subscriptions import Owner, Rules, add_subscription
from haven.runtime import Runtime

PASSWORD = "correct horse battery staple"
NAME = "Zerafshan Quillmarsh-Ostrava"


def _user(session: Session, cipher: FieldCipher, organisation: str, login: str, role: Role) -> User:
    user_id = create_user(
        session, cipher, NewUser(organisation, login, PASSWORD, frozenset({role})), actor="test"
    )
    user = session.get(User, user_id)
    assert user is not None
    return user


def _report(session: Session, cipher: FieldCipher, handler: str, *, urgent: bool) -> Report:
    data = ReportIn.model_validate(
        {
            "what_happened": "Two men from the consulate waited outside my flat.",
            "tactics": ["intimidation"],
            "occurred": {"start": "2026-03-01", "precision": "month"},
            "origin_state": "BY",
            "host_state": "DE",
            "target_name": NAME,
            "urgent": urgent,
            "consent": ["authority"],
        }
    )
    receipt = submit_report(
        session, cipher, data, Submission(handler, ReportChannel.API, "test", "test")
    )
    report = session.get(Report, receipt.report_id)
    assert report is not None
    return report


def _rows(session: Session, kind: EventKind) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind.value)))


def _inbox_subscription(
    session: Session, cipher: FieldCipher, user: User, *kinds: EventKind
) -> None:
    rules = Rules(channel=Channel.INBOX, kinds=kinds)
    add_subscription(session, cipher, Owner(user_id=user.id), rules, actor="test")


def test_a_report_referral_and_answer_reach_who_they_concern(
    session: Session, cipher: FieldCipher
) -> None:
    ngo = create_organisation(
        session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
    )
    bka = create_organisation(
        session,
        cipher,
        NewOrganisation("Bundeskriminalamt", ContributorKind.AUTHORITY, "DE"),
        actor="t",
    )
    police = create_organisation(
        session,
        cipher,
        NewOrganisation("Police nationale", ContributorKind.AUTHORITY, "FR"),
        actor="t",
    )
    caseworker = _user(session, cipher, ngo, "case@ela.example", Role.CASEWORKER)
    german = _user(session, cipher, bka, "case@bka.example", Role.CASEWORKER)
    french = _user(session, cipher, police, "case@pn.example", Role.CASEWORKER)
    _inbox_subscription(session, cipher, caseworker, EventKind.REPORT_RECEIVED)
    for user in (german, french):
        _inbox_subscription(session, cipher, user, EventKind.REFERRAL_RECEIVED)
        _inbox_subscription(session, cipher, user, EventKind.REPORT_RECEIVED)

    calm = _report(session, cipher, ngo, urgent=False)
    report_received(session, cipher, calm)
    # Only the handling organisation may see a new report: the authorities hear nothing yet.
    assert [row.user_id for row in _rows(session, EventKind.REPORT_RECEIVED)] == [caseworker.id]

    report = _report(session, cipher, ngo, urgent=True)
    report_received(session, cipher, report)
    # Danger now, in Germany, and the person allowed German authorities to see it: they are
    # told at once; the French authority is not.
    told_now = [row.user_id for row in _rows(session, EventKind.REPORT_RECEIVED)]
    assert sorted(map(str, told_now)) == sorted([caseworker.id, caseworker.id, german.id])

    reader = reader_for(session, caseworker, surface="test")
    move(session, reader, report, ReportStatus.TRIAGED)
    move(session, reader, report, ReportStatus.VERIFIED)
    report.assigned_to = caseworker.id
    referral = refer(session, reader, report, bka, [ReferralAsk.PROTECTION], deadlines=Deadlines())
    referral_sent(session, cipher, referral, report)
    told = _rows(session, EventKind.REFERRAL_RECEIVED)
    assert [row.user_id for row in told] == [german.id]
    assert all(NAME not in repr(vars(row)) for row in told)

    acknowledge(session, reader_for(session, german, surface="test"), referral.id)
    referral_answered(session, cipher, referral, report, EventKind.REFERRAL_ACKNOWLEDGED)
    answered = _rows(session, EventKind.REFERRAL_ACKNOWLEDGED)
    assert {row.user_id for row in answered} == {caseworker.id}


def test_a_late_case_is_escalated_to_the_coordinators_inbox(runtime: Runtime) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        coordinator = _user(session, cipher, ngo, "coord@ela.example", Role.COORDINATOR)
        _user(session, cipher, ngo, "case@ela.example", Role.CASEWORKER)
        report = _report(session, cipher, ngo, urgent=True)
        report_id, coordinator_id = report.id, coordinator.id
        # Received three hours ago: an urgent case is due for triage within two.
        long_ago = utcnow() - timedelta(hours=3)
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(received_at=long_ago, ack_due_at=long_ago + timedelta(hours=2))
        )

    assert escalate_late(runtime) == 1
    assert escalate_late(runtime) == 0  # not twice at the same level

    with runtime.reading() as session:
        rows = _rows(session, EventKind.DEADLINE_PASSED)
        assert [(row.user_id, row.channel) for row in rows] == [(coordinator_id, Channel.INBOX)]
        stored = session.get(Report, report_id)
        assert stored is not None
        assert stored.escalation_level == 1


def test_a_deadline_about_to_pass_is_told_once_to_the_assigned_caseworker(
    runtime: Runtime,
) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        _user(session, cipher, ngo, "coord@ela.example", Role.COORDINATOR)
        caseworker = _user(session, cipher, ngo, "case@ela.example", Role.CASEWORKER)
        report = _report(session, cipher, ngo, urgent=True)
        report_id, caseworker_id = report.id, caseworker.id
        # Received 100 minutes ago: 20 minutes are left of the two hours, under a quarter.
        received = utcnow() - timedelta(minutes=100)
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(
                received_at=received,
                ack_due_at=received + timedelta(hours=2),
                assigned_to=caseworker_id,
            )
        )

    assert escalate_late(runtime) == 1
    assert escalate_late(runtime) == 0

    with runtime.reading() as session:
        rows = _rows(session, EventKind.DEADLINE_APPROACHING)
        assert [(row.user_id, row.channel) for row in rows] == [(caseworker_id, Channel.INBOX)]
        assert _rows(session, EventKind.DEADLINE_PASSED) == []
        stored = session.get(Report, report_id)
        assert stored is not None
        assert stored.escalation_level == 0


def test_a_deadline_far_away_is_not_warned_of(runtime: Runtime) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        _user(session, cipher, ngo, "coord@ela.example", Role.COORDINATOR)
        _report(session, cipher, ngo, urgent=True)  # two hours left

    assert escalate_late(runtime) == 0
