"""The audiences casework hands the policy gate: a case reaches the organisations it was
referred to, and an urgent case the authorities of the member state where it happened, whatever
the label of its incident and person. The person's consent still applies on top, so neither
reaches anyone the person did not allow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from haven.access.audiences import Audience, probe
from haven.access.policy import RULE
from haven.access.reader import Reader
from haven.casework.models import Referral
from haven.intake.models import Report
from haven.registry.models import Incident

# The column of a report that names a record of each table a case reaches.
_COLUMNS = {"incidents": "incident_id", "people": "person_id"}


def _names(report: type[Report], table: Table) -> InstrumentedAttribute[str]:
    column: InstrumentedAttribute[str] = getattr(report, _COLUMNS[table.name])
    return column


class _CaseAudience(Audience):
    tables: ClassVar[frozenset[str] | None] = frozenset(_COLUMNS)

    def _members(self, session: Session, query: Select[str, str | None]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for record_id, key in session.execute(query):
            if key:
                found[record_id].add(key)
        return found


class Referred(_CaseAudience):
    """The organisations a case was referred to."""

    name = "referred"

    def admits(self, reader: Reader) -> bool:
        return reader.organisation_id is not None

    def member_key(self, reader: Reader) -> str | None:
        return reader.organisation_id

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        # Aliases throughout: inside a query over reports or incidents (a case list, say) the
        # gate's look-ups must never be correlated with the outer query's rows.
        report, referral = aliased(Report), aliased(Referral)
        return probe(
            referral.to_organisation == reader.organisation_id,
            referral.report_id == report.id,
            _names(report, table) == table.c.id,
        )

    def ids(self, reader: Reader, table: Table) -> Select[str]:
        report, referral = aliased(Report), aliased(Referral)
        return (
            select(_names(report, table))
            .join(referral, referral.report_id == report.id)
            .where(referral.to_organisation == reader.organisation_id)
        )

    def members(self, session: Session, table: Table, ids: Sequence[str]) -> dict[str, set[str]]:
        column = _names(Report, table)
        return self._members(
            session,
            select(column, Referral.to_organisation)
            .join(Referral, Referral.report_id == Report.id)
            .where(column.in_(ids)),
        )


class UrgentHere(_CaseAudience):
    """The authorities of the member state where an urgent case happened: a person in danger now
    who allowed those authorities to see the report should not wait for triage before they can
    act."""

    name = "urgent-here"

    def admits(self, reader: Reader) -> bool:
        return reader.is_state_authority

    def member_key(self, reader: Reader) -> str | None:
        return reader.member_state

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        report = aliased(Report)
        if table.name == "incidents":
            return probe(
                report.incident_id == table.c.id,
                report.urgent.is_(True),
                table.c.host_state == reader.member_state,
            )
        where = aliased(Incident)
        return probe(
            _names(report, table) == table.c.id,
            report.urgent.is_(True),
            where.id == report.incident_id,
            where.host_state == reader.member_state,
        )

    def ids(self, reader: Reader, table: Table) -> Select[str]:
        report, where = aliased(Report), aliased(Incident)
        return (
            select(_names(report, table))
            .join(where, where.id == report.incident_id)
            .where(report.urgent.is_(True), where.host_state == reader.member_state)
        )

    def members(self, session: Session, table: Table, ids: Sequence[str]) -> dict[str, set[str]]:
        column = _names(Report, table)
        return self._members(
            session,
            select(column, Incident.host_state)
            .join(Incident, Incident.id == Report.incident_id)
            .where(Report.urgent.is_(True), column.in_(ids)),
        )


REFERRED = Referred()
URGENT_HERE = UrgentHere()


def register() -> None:
    RULE.add_case_audience(REFERRED)
    RULE.add_case_audience(URGENT_HERE)
