"""Correcting where an incident happened, and what that does to a case's consent.

The reporter's consent to authorities is consent to those of the member state where it
happened, as it stood when they gave it (:func:`haven.access.consent.host_state_corrected`). A
caseworker who corrects the host state is told which organisations the case was referred to no
longer see it, so that they can ask the person again rather than find out later.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.consent import host_state_corrected
from haven.access.policy import CONSENTING_ROLES, load_facts, sees
from haven.audit.chain import append
from haven.casework.models import Referral
from haven.intake.models import Report
from haven.notify.outbox import organisation_reader
from haven.registry.models import Contributor, Incident, IncidentPerson


@dataclass(frozen=True, slots=True)
class HostCorrection:
    """An incident's host state and who its referrals reach, taken before a change."""

    incident_id: str
    host_state: str | None
    reached: frozenset[str]

    @classmethod
    def before(cls, session: Session, incident_id: str) -> HostCorrection:
        host = session.scalar(select(Incident.host_state).where(Incident.id == incident_id))
        return cls(incident_id, host, frozenset(_referrals_reached(session, incident_id)))

    def after(self, session: Session, *, actor: str) -> list[str]:
        """Apply what a changed host state means for consent; return what the caseworker must
        know: each organisation the case was referred to that no longer sees it."""
        session.flush()
        host = session.scalar(select(Incident.host_state).where(Incident.id == self.incident_id))
        if host == self.host_state:
            return []
        people = session.scalars(
            select(IncidentPerson.person_id).where(
                IncidentPerson.incident_id == self.incident_id,
                IncidentPerson.role.in_(CONSENTING_ROLES),
            )
        ).all()
        append(session, host_state_corrected(session, people, self.host_state, actor=actor))
        lost = self.reached - _referrals_reached(session, self.incident_id)
        names = {
            row.id: row.name
            for row in session.execute(
                select(Contributor.id, Contributor.name).where(Contributor.id.in_(sorted(lost)))
            )
        }
        was = self.host_state or "no member state"
        return [
            f"{names.get(organisation, organisation)}, to which this case was referred, no longer "
            f"sees it: the person consented to the authorities of {was}, where it was recorded "
            "to have happened; ask them to consent again with their receipt code"
            for organisation in sorted(lost)
        ]


def _referrals_reached(session: Session, incident_id: str) -> set[str]:
    referred = session.scalars(
        select(Referral.to_organisation)
        .join(Report, Report.id == Referral.report_id)
        .where(Report.incident_id == incident_id)
        .distinct()
    ).all()
    facts = load_facts(session, Incident, [incident_id]).get(incident_id)
    if facts is None:
        return set()
    reached = set()
    for organisation in referred:
        reader = organisation_reader(session, organisation)
        if reader is not None and sees(reader, facts):
            reached.add(organisation)
    return reached
