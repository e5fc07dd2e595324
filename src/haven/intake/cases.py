"""Cases as staff read them: the reports their organisation handles, through the policy gate.

A case is shown to a reader when their organisation handles it and the gate lets them see its
incident; its person's identity when the gate lets them see the person and their role reads
identities; its files when the gate lets them see each evidence record. So a case whose incident
is relabelled TLP:RED leaves the list and the page of everyone it does not name.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from haven.access.policy import Reader, visible
from haven.crypto.fields import FieldCipher
from haven.errors import NotFound
from haven.intake.models import Report
from haven.intake.reports import FollowUp, follow_up
from haven.registry.models import Evidence, Incident, Person
from haven.registry.paging import is_record_id


def handled(reader: Reader) -> ColumnElement[bool]:
    """The cases this reader may see, as a condition on ``reports`` alone."""
    incidents = select(Incident.id).where(visible(reader, Incident))
    return and_(
        Report.handled_by == (reader.organisation_id or ""), Report.incident_id.in_(incidents)
    )


def cases(reader: Reader) -> Select[Report, Incident]:
    """Each case with its incident, for the reader's list."""
    return (
        select(Report, Incident)
        .join(Incident, Incident.id == Report.incident_id)
        .where(Report.handled_by == (reader.organisation_id or ""), visible(reader, Incident))
    )


def get_case(session: Session, reader: Reader, report_id: str) -> Report:
    """One case, or NotFound exactly like a case that does not exist."""
    report = (
        session.scalar(select(Report).where(Report.id == report_id, handled(reader)))
        if is_record_id(report_id)
        else None
    )
    if report is None:
        raise NotFound("no such report")
    return report


def may_read_person(session: Session, reader: Reader, report: Report) -> bool:
    """Whether the case page may show the person's identity."""
    if not reader.reads_identities:
        return False
    found = session.scalar(
        select(Person.id).where(Person.id == report.person_id, visible(reader, Person))
    )
    return found is not None


def case_follow_up(
    session: Session, cipher: FieldCipher, reader: Reader, report: Report
) -> FollowUp:
    """The conversation, files and consent of a case, with only the files the gate shows."""
    return follow_up(session, cipher, report, visible(reader, Evidence))
