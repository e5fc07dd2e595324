"""A case's life: triage, verification, referral within the person's consent, the authority's
acknowledgement and action, closing and reopening; deadlines by urgency, and escalation when
they pass. Every step is a :class:`CaseEvent` with who and when, and joins the audit chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.consent_rule import Grant, reaches
from haven.access.models import Consent, User
from haven.access.policy import IDENTITY_ROLES, Reader, visible_ids
from haven.audit.chain import Change, append
from haven.casework.models import CaseEvent, CaseLink, CaseNote, Referral
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    AuthorityAction,
    CaseEventKind,
    ContributorKind,
    ReferralAsk,
    ReferralStatus,
    ReportStatus,
    Role,
)
from haven.errors import Forbidden, NotFound, ValidationFailed
from haven.intake.models import Report
from haven.registry.models import Contributor, Incident, Organisation, Person
from haven.registry.sealed import sealed_context

S = ReportStatus
# What the handling organisation may move a case to, from each status. Referral,
# acknowledgement and action have their own steps below.
MOVES: dict[ReportStatus, frozenset[ReportStatus]] = {
    S.RECEIVED: frozenset({S.TRIAGED, S.CLOSED}),
    S.TRIAGED: frozenset({S.VERIFIED, S.NOT_SUBSTANTIATED, S.CLOSED}),
    S.VERIFIED: frozenset({S.CLOSED}),
    S.NOT_SUBSTANTIATED: frozenset({S.TRIAGED, S.CLOSED}),
    S.REFERRED: frozenset({S.CLOSED}),
    S.ACKNOWLEDGED: frozenset({S.CLOSED}),
    S.ACTION_RECORDED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.TRIAGED}),  # reopening
    S.WITHDRAWN: frozenset(),
}
REFERABLE = frozenset({S.VERIFIED, S.REFERRED, S.ACKNOWLEDGED, S.ACTION_RECORDED})
LINKABLE = {"incidents": Incident, "people": Person, "organisations": Organisation}
_RECIPIENT_KINDS = {
    ContributorKind.NGO: "ngo",
    ContributorKind.AUTHORITY: "authority",
    ContributorKind.EU_BODY: "eu-body",
    ContributorKind.COMPANY: "company",
}


@dataclass(frozen=True, slots=True)
class _Step:
    """One event on a case's timeline: ``to`` moves the case on, ``detail`` names its subject."""

    kind: CaseEventKind
    actor: str
    to: ReportStatus | None = None
    detail: str | None = None


def _event(session: Session, report: Report, step: _Step) -> CaseEvent:
    kind, actor, to, detail = step.kind, step.actor, step.to, step.detail
    event = CaseEvent(
        id=new_id(),
        report_id=report.id,
        kind=kind,
        from_status=report.status.value,
        to_status=(to or report.status).value,
        detail=detail,
        actor=actor,
        at=utcnow(),
    )
    session.add(event)
    if to is not None and to is not report.status:
        report.status = to
    report.updated_at = event.at
    session.flush()
    # after_digest holds 64 characters: a detail ("contributors:<id> asks ...") enters hashed.
    after = hashlib.sha256(detail.encode()).hexdigest() if detail else None
    append(session, [Change(actor, f"case-{kind.value}", "reports", report.id, after=after)])
    return event


def _require_handler(reader: Reader, report: Report) -> None:
    if reader.organisation_id != report.handled_by or not reader.roles & IDENTITY_ROLES:
        raise NotFound("no such case")


def move(session: Session, reader: Reader, report: Report, to: ReportStatus) -> CaseEvent:
    """Move a case on (triage, verify, close, reopen), as its handling organisation."""
    _require_handler(reader, report)
    if to not in MOVES[report.status]:
        allowed = ", ".join(sorted(s.value for s in MOVES[report.status])) or "none"
        raise ValidationFailed(
            f"a {report.status.value} case cannot become {to.value}",
            hint=f"from {report.status.value}: {allowed}",
        )
    if report.acknowledged_at is None and report.status is S.RECEIVED:
        report.acknowledged_at = utcnow()
    return _event(session, report, _Step(CaseEventKind.STATUS, reader.actor, to=to))


def assign(session: Session, reader: Reader, report: Report, user_id: str | None) -> None:
    _require_handler(reader, report)
    if user_id is not None:
        user = session.get(User, user_id)
        roles = set(user.roles) if user else set()
        if (
            user is None
            or user.organisation_id != report.handled_by
            or not roles
            & {
                Role.CASEWORKER.value,
                Role.COORDINATOR.value,
            }
        ):
            raise ValidationFailed(
                "a case is assigned to a caseworker or coordinator of its organisation"
            )
    report.assigned_to = user_id
    detail = f"user:{user_id}" if user_id else "unassigned"
    _event(session, report, _Step(CaseEventKind.ASSIGNMENT, reader.actor, detail=detail))


def add_note(
    session: Session, cipher: FieldCipher, reader: Reader, report: Report, body: str
) -> str:
    _require_handler(reader, report)
    text = body.strip()
    if not text or len(text) > 20_000:
        raise ValidationFailed("a note is 1 to 20,000 characters")
    note_id = new_id()
    sealed = cipher.encrypt(text.encode(), sealed_context("case_notes", "body", note_id))
    assert reader.user_id is not None
    session.add(CaseNote(id=note_id, report_id=report.id, author_id=reader.user_id, body=sealed))
    _event(session, report, _Step(CaseEventKind.NOTE, reader.actor, detail=f"case_notes:{note_id}"))
    return note_id


def notes(session: Session, cipher: FieldCipher, report: Report) -> list[tuple[CaseNote, str]]:
    rows = session.scalars(
        select(CaseNote).where(CaseNote.report_id == report.id).order_by(CaseNote.written_at)
    )
    return [
        (row, cipher.decrypt(row.body, sealed_context("case_notes", "body", row.id)).decode())
        for row in rows
    ]


def link(session: Session, reader: Reader, report: Report, entity: str, record_id: str) -> None:
    """Link a case to a registry record the reader may see."""
    _require_handler(reader, report)
    model = LINKABLE.get(entity)
    if model is None:
        raise ValidationFailed(f"cases link to {', '.join(LINKABLE)}")
    if not visible_ids(session, reader, model, [record_id]):
        raise NotFound(f"no such {entity} record")
    if session.get(CaseLink, (report.id, entity, record_id)) is None:
        session.add(
            CaseLink(
                report_id=report.id, entity=entity, record_id=record_id, linked_by=reader.actor
            )
        )
        _event(
            session, report, _Step(CaseEventKind.LINK, reader.actor, detail=f"{entity}:{record_id}")
        )


def consent_reason(session: Session, report: Report, organisation: Contributor) -> str | None:
    """Why the person's consent does not reach this organisation, or None when it does."""
    kind = _RECIPIENT_KINDS.get(organisation.kind)
    if kind is None:
        return f"{organisation.name} cannot receive referrals"
    stated = session.scalars(select(Consent).where(Consent.person_id == report.person_id)).all()
    if not stated:
        return None  # no statement: labels alone decide, as everywhere in Haven
    grants = [Grant(row.recipient_kind, row.member_state, row.granted) for row in stated]
    # The gate's own consent rule, so a referral is made only where the gate will let the
    # recipient open the case.
    recipient = Reader(
        user_id=None,
        organisation_id=organisation.id,
        organisation_kind=organisation.kind,
        member_state=organisation.member_state,
        roles=frozenset(),
        groups=frozenset(),
        surface="referral",
    )
    if reaches(grants, recipient):
        return None
    if kind == "authority":
        where = organisation.member_state or "any member state"
        return f"the person has not consented to authorities of {where} seeing this case"
    return f"the person has not consented to {kind.replace('-', ' ')}s seeing this case"


def refer(
    session: Session,
    reader: Reader,
    report: Report,
    to_organisation: str,
    asks: Iterable[ReferralAsk],
    *,
    deadlines: Deadlines,
) -> Referral:
    """Pass a verified case to an authority or another organisation, within the person's
    consent; the policy gate then lets that organisation see the case's incident and person."""
    _require_handler(reader, report)
    wanted = sorted({ask.value for ask in asks})
    if not wanted:
        raise ValidationFailed("say what the referral asks for", hint=", ".join(ReferralAsk))
    if report.status not in REFERABLE:
        raise ValidationFailed(
            f"a {report.status.value} case cannot be referred", hint="verify it first"
        )
    organisation = session.get(Contributor, to_organisation)
    if organisation is None or organisation.id == report.handled_by:
        raise NotFound("no such organisation to refer to")
    reason = consent_reason(session, report, organisation)
    if reason is not None:
        raise Forbidden(
            f"not referred: {reason}", hint="the reporter can widen consent with their receipt code"
        )
    now = utcnow()
    referral = Referral(
        id=new_id(),
        report_id=report.id,
        to_organisation=organisation.id,
        asks=wanted,
        status=ReferralStatus.SENT,
        sent_at=now,
        sent_by=reader.actor,
        due_at=deadlines.due(now, report.urgent),
        escalation_level=0,
    )
    session.add(referral)
    to = S.REFERRED if report.status is S.VERIFIED else None
    _event(
        session,
        report,
        _Step(
            CaseEventKind.REFERRAL,
            reader.actor,
            to=to,
            detail=f"contributors:{organisation.id} asks {'+'.join(wanted)}",
        ),
    )
    return referral


def _require_recipient(
    session: Session, reader: Reader, referral_id: str
) -> tuple[Referral, Report]:
    referral = session.get(Referral, referral_id)
    if (
        referral is None
        or referral.to_organisation != reader.organisation_id
        or not reader.roles & IDENTITY_ROLES
    ):
        raise NotFound("no such referral")
    report = session.get(Report, referral.report_id)
    if report is None:
        raise NotFound("no such referral")
    return referral, report


def acknowledge(session: Session, reader: Reader, referral_id: str) -> Referral:
    """The receiving organisation confirms it has the referral."""
    referral, report = _require_recipient(session, reader, referral_id)
    if referral.status is not ReferralStatus.SENT:
        raise ValidationFailed("this referral was already acknowledged")
    referral.status = ReferralStatus.ACKNOWLEDGED
    referral.acknowledged_at = utcnow()
    referral.acknowledged_by = reader.actor
    to = S.ACKNOWLEDGED if report.status is S.REFERRED else None
    _event(
        session,
        report,
        _Step(
            CaseEventKind.ACKNOWLEDGEMENT, reader.actor, to=to, detail=f"referrals:{referral.id}"
        ),
    )
    return referral


@dataclass(frozen=True, slots=True)
class ActionTaken:
    """What the receiving organisation did with a referral, and why when it did nothing."""

    action: AuthorityAction
    reason: str = ""


def record_action(
    session: Session,
    cipher: FieldCipher,
    reader: Reader,
    referral_id: str,
    taken: ActionTaken,
) -> Referral:
    """What the receiving organisation did, in the fixed vocabulary; "no action" needs a reason."""
    referral, report = _require_recipient(session, reader, referral_id)
    if referral.status is ReferralStatus.SENT:
        raise ValidationFailed("acknowledge the referral before recording an action")
    action = taken.action
    text = taken.reason.strip()
    if action is AuthorityAction.NO_ACTION and not text:
        raise ValidationFailed("say why no action is taken")
    if len(text) > 5_000:
        raise ValidationFailed("the reason is longer than 5,000 characters")
    referral.status = ReferralStatus.ACTION_RECORDED
    referral.action = action
    referral.action_reason = (
        cipher.encrypt(text.encode(), sealed_context("referrals", "action_reason", referral.id))
        if text
        else None
    )
    referral.action_at = utcnow()
    referral.action_by = reader.actor
    to = S.ACTION_RECORDED if report.status in (S.REFERRED, S.ACKNOWLEDGED) else None
    _event(
        session,
        report,
        _Step(
            CaseEventKind.ACTION,
            reader.actor,
            to=to,
            detail=f"referrals:{referral.id} {action.value}",
        ),
    )
    return referral


@dataclass(frozen=True, slots=True)
class Escalation:
    """A late acknowledgement, told to the coordinators (level 1) and, still late after as long
    again, to the coordinators and administrators (level 2) of the organisation that owes it."""

    report: Report
    referral: Referral | None
    organisation_id: str
    level: int
    user_ids: tuple[str, ...]


def _people_to_tell(session: Session, organisation_id: str, level: int) -> tuple[str, ...]:
    roles = {Role.COORDINATOR.value} | ({Role.ADMINISTRATOR.value} if level > 1 else set())
    users = session.scalars(
        select(User).where(User.organisation_id == organisation_id, User.disabled_at.is_(None))
    )
    return tuple(sorted(u.id for u in users if set(u.roles) & roles))


def check_deadlines(
    session: Session, deadlines: Deadlines, now: datetime | None = None
) -> list[Escalation]:
    """Escalate what is late: cases not triaged and referrals not acknowledged in time."""
    moment = now or utcnow()
    found: list[Escalation] = []
    late_reports = session.scalars(
        select(Report).where(
            Report.status == S.RECEIVED, Report.ack_due_at < moment, Report.escalation_level < 2
        )
    )
    for report in late_reports:
        assert report.ack_due_at is not None
        window = deadlines.window(report.received_at, report.urgent)
        level = 2 if moment >= report.ack_due_at + window else 1
        if level > report.escalation_level:
            report.escalation_level = level
            tell = _people_to_tell(session, report.handled_by, level)
            _event(
                session,
                report,
                _Step(CaseEventKind.ESCALATION, "system:deadlines", detail=f"level {level}"),
            )
            found.append(Escalation(report, None, report.handled_by, level, tell))
    late_referrals = session.scalars(
        select(Referral).where(
            Referral.status == ReferralStatus.SENT,
            Referral.due_at < moment,
            Referral.escalation_level < 2,
        )
    )
    for referral in late_referrals:
        referred = session.get(Report, referral.report_id)
        if referred is None:
            continue
        window = referral.due_at - referral.sent_at
        level = 2 if moment >= referral.due_at + window else 1
        if level > referral.escalation_level:
            referral.escalation_level = level
            tell = _people_to_tell(session, referral.to_organisation, level)
            _event(
                session,
                referred,
                _Step(
                    CaseEventKind.ESCALATION,
                    "system:deadlines",
                    detail=f"referrals:{referral.id} level {level}",
                ),
            )
            found.append(Escalation(referred, referral, referral.to_organisation, level, tell))
    return found


APPROACHING = "deadline approaching"


def warn_approaching(
    session: Session, deadlines: Deadlines, now: datetime | None = None
) -> list[Escalation]:
    """Warn, once, of cases and referrals whose deadline is near (a quarter of its window
    before it, at most a day): the assigned caseworker, or else the coordinators, of the
    organisation that owes the acknowledgement. Returned as level-0 escalations."""
    moment = now or utcnow()
    horizon = moment + timedelta(days=1)
    found: list[Escalation] = []
    reports = session.scalars(
        select(Report).where(
            Report.status == S.RECEIVED, Report.ack_due_at > moment, Report.ack_due_at <= horizon
        )
    )
    for report in reports:
        assert report.ack_due_at is not None
        lead = min(deadlines.window(report.received_at, report.urgent) / 4, timedelta(days=1))
        if report.ack_due_at - moment <= lead and not _warned(session, report.id, APPROACHING):
            tell = (
                (report.assigned_to,)
                if report.assigned_to
                else _people_to_tell(session, report.handled_by, 1)
            )
            _event(
                session,
                report,
                _Step(CaseEventKind.ESCALATION, "system:deadlines", detail=APPROACHING),
            )
            found.append(Escalation(report, None, report.handled_by, 0, tell))
    referrals = session.scalars(
        select(Referral).where(
            Referral.status == ReferralStatus.SENT,
            Referral.due_at > moment,
            Referral.due_at <= horizon,
        )
    )
    for referral in referrals:
        lead = min((referral.due_at - referral.sent_at) / 4, timedelta(days=1))
        detail = f"referrals:{referral.id} {APPROACHING}"
        referred = session.get(Report, referral.report_id)
        if referred is None or referral.due_at - moment > lead:
            continue
        if _warned(session, referred.id, detail):
            continue
        tell = _people_to_tell(session, referral.to_organisation, 1)
        _event(
            session, referred, _Step(CaseEventKind.ESCALATION, "system:deadlines", detail=detail)
        )
        found.append(Escalation(referred, referral, referral.to_organisation, 0, tell))
    return found


def _warned(session: Session, report_id: str, detail: str) -> bool:
    return (
        session.scalar(
            select(CaseEvent.id)
            .where(
                CaseEvent.report_id == report_id,
                CaseEvent.kind == CaseEventKind.ESCALATION,
                CaseEvent.detail == detail,
            )
            .limit(1)
        )
        is not None
    )


def any_late(
    session: Session, now: datetime | None = None, *, horizon: timedelta = timedelta(0)
) -> bool:
    """Whether some case or referral waits past its deadline (or within ``horizon`` of it)
    below the last escalation."""
    moment = (now or utcnow()) + horizon
    late_case = select(Report.id).where(
        Report.status == S.RECEIVED, Report.ack_due_at < moment, Report.escalation_level < 2
    )
    late_referral = select(Referral.id).where(
        Referral.status == ReferralStatus.SENT,
        Referral.due_at < moment,
        Referral.escalation_level < 2,
    )
    return bool(session.scalar(late_case.limit(1)) or session.scalar(late_referral.limit(1)))


def timeline(session: Session, report: Report) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent)
            .where(CaseEvent.report_id == report.id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    )


def referrals_of(session: Session, report: Report) -> list[Referral]:
    return list(
        session.scalars(
            select(Referral).where(Referral.report_id == report.id).order_by(Referral.sent_at)
        )
    )


def overdue(session: Session, organisation_id: str, now: datetime | None = None) -> list[Report]:
    moment = now or utcnow()
    return list(
        session.scalars(
            select(Report)
            .where(
                Report.handled_by == organisation_id,
                Report.status == S.RECEIVED,
                Report.ack_due_at < moment,
            )
            .order_by(Report.ack_due_at)
        )
    )
