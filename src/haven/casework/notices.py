"""The notification events of casework steps, built from the case and its incident; raised by
the surface that made the step, in the same transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.casework.models import Referral
from haven.casework.workflow import Escalation, any_late, check_deadlines, warn_approaching
from haven.crypto.fields import FieldCipher
from haven.intake.models import Report
from haven.notify.events import Event, EventKind
from haven.notify.outbox import emit, reference, report_event
from haven.registry.models import Incident, IncidentTactic
from haven.runtime import Runtime


def _incident(session: Session, report: Report) -> Incident:
    incident = session.get(Incident, report.incident_id)
    if incident is None:
        raise LookupError(f"report {report.id} has no incident")
    return incident


def report_received(session: Session, cipher: FieldCipher, report: Report) -> int:
    return emit(session, cipher, report_event(report, _incident(session, report)))


def _referral_event(session: Session, referral: Referral, report: Report, kind: EventKind) -> Event:
    incident = _incident(session, report)
    tactics = session.scalars(
        select(IncidentTactic.tactic).where(IncidentTactic.incident_id == incident.id)
    )
    to_receiver = kind is EventKind.REFERRAL_RECEIVED
    return Event(
        kind=kind,
        entity="referrals" if to_receiver else "reports",
        record_id=referral.id if to_receiver else report.id,
        reference=reference("F", referral.id, referral.sent_at),
        link=f"/referrals/{referral.id}" if to_receiver else f"/reports/{report.id}",
        tlp=incident.tlp,
        incident_id=incident.id,
        host_state=incident.host_state,
        origin_state=incident.origin_state,
        tactics=tuple(sorted(tactics)),
        urgent=report.urgent,
        person_ids=(report.person_id,),
        organisation_id=referral.to_organisation if to_receiver else report.handled_by,
        user_ids=(report.assigned_to,) if report.assigned_to and not to_receiver else (),
    )


def referral_sent(session: Session, cipher: FieldCipher, referral: Referral, report: Report) -> int:
    """Tell the receiving organisation (its subscribers to referrals, its inbox)."""
    return emit(
        session, cipher, _referral_event(session, referral, report, EventKind.REFERRAL_RECEIVED)
    )


def referral_answered(
    session: Session, cipher: FieldCipher, referral: Referral, report: Report, kind: EventKind
) -> int:
    """Tell the handling organisation (the case's caseworker, its subscribers) of an
    acknowledgement or an action."""
    return emit(session, cipher, _referral_event(session, referral, report, kind))


def escalated(session: Session, cipher: FieldCipher, escalation: Escalation) -> int:
    """Tell the coordinators (and at level 2 the administrators) that a deadline has passed."""
    report = escalation.report
    incident = _incident(session, report)
    referral = escalation.referral
    event = Event(
        kind=EventKind.DEADLINE_PASSED if escalation.level else EventKind.DEADLINE_APPROACHING,
        entity="referrals" if referral else "reports",
        record_id=referral.id if referral else report.id,
        reference=reference("F", referral.id, referral.sent_at)
        if referral
        else reference("R", report.id, report.received_at),
        link=f"/referrals/{referral.id}" if referral else f"/reports/{report.id}",
        tlp=incident.tlp,
        incident_id=incident.id,
        host_state=incident.host_state,
        origin_state=incident.origin_state,
        urgent=report.urgent,
        organisation_id=escalation.organisation_id,
        user_ids=escalation.user_ids,
    )
    return emit(session, cipher, event)


def escalate_late(runtime: Runtime) -> int:
    """Escalate every late case and referral, warn of those about to be late, and tell those
    concerned; returns how many escalations and warnings were made. The worker runs this as it
    goes."""
    deadlines = runtime.settings.deadlines
    with runtime.reading() as session:
        if not any_late(session, horizon=timedelta(days=1)):
            return 0
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        found = check_deadlines(session, deadlines) + warn_approaching(session, deadlines)
        for escalation in found:
            escalated(session, cipher, escalation)
    return len(found)
