"""Reading the registry, always through the policy gate."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.policy import Reader, record_identity_reads, record_reads, visible
from haven.crypto.fields import FieldCipher
from haven.domain.enums import IncidentStatus, Tlp
from haven.errors import NotFound
from haven.registry.models import Incident, IncidentPerson, IncidentTactic, Person
from haven.registry.paging import keyset_page, require_record_id
from haven.registry.schemas import Identity
from haven.registry.sealed import read_identity, sealed_context


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    origin_state: str | None = None
    host_state: str | None = None
    tactic: str | None = None
    status: IncidentStatus | None = None
    tlp: Tlp | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None


@dataclass(frozen=True, slots=True)
class LinkedPerson:
    id: str
    role: str
    on_behalf_of_id: str | None
    profile: str | None
    nationality: str | None
    identity: Identity | None


@dataclass(slots=True)
class IncidentView:
    incident: Incident
    tactics: list[str]
    narrative: str | None
    people: list[LinkedPerson] = field(default_factory=list)


def _conditions(filters: IncidentFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.origin_state:
        conditions.append(Incident.origin_state == filters.origin_state)
    if filters.host_state:
        conditions.append(Incident.host_state == filters.host_state)
    if filters.status is not None:
        conditions.append(Incident.status == filters.status)
    if filters.tlp is not None:
        conditions.append(Incident.tlp == filters.tlp)
    if filters.occurred_from is not None:
        conditions.append(Incident.occurred_start >= filters.occurred_from)
    if filters.occurred_to is not None:
        conditions.append(Incident.occurred_start <= filters.occurred_to)
    if filters.tactic:
        conditions.append(
            select(IncidentTactic.incident_id)
            .where(
                IncidentTactic.incident_id == Incident.id, IncidentTactic.tactic == filters.tactic
            )
            .exists()
        )
    return conditions


def list_incidents(
    session: Session,
    cipher: FieldCipher,
    reader: Reader,
    filters: IncidentFilter,
    *,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[IncidentView], str | None]:
    """A page of incidents the reader may see, newest first; returns the page and the cursor of
    the next page (None on the last)."""
    conditions = [visible(reader, Incident), *_conditions(filters)]
    rows, next_cursor = keyset_page(session, Incident, conditions, after=after, limit=limit)
    tactics = _tactics(session, [row.id for row in rows])
    views = [IncidentView(row, tactics[row.id], _narrative(cipher, reader, row)) for row in rows]
    record_reads(session, reader, "incidents", [v.incident.id for v in views if v.narrative])
    return views, next_cursor


def get_incident(
    session: Session, cipher: FieldCipher, reader: Reader, incident_id: str
) -> IncidentView:
    """One incident with the people linked to it, as far as the reader may see them. A record
    the reader may not see is reported exactly like one that does not exist."""
    require_record_id(incident_id, "no such incident")
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id, visible(reader, Incident))
    )
    if incident is None:
        raise NotFound("no such incident")
    view = IncidentView(
        incident,
        _tactics(session, [incident.id])[incident.id],
        _narrative(cipher, reader, incident),
    )
    if view.narrative is not None:
        record_reads(session, reader, "incidents", [incident.id])
    if not reader.reads_identities:
        return view
    links = session.execute(
        select(IncidentPerson, Person)
        .join(Person, Person.id == IncidentPerson.person_id)
        .where(IncidentPerson.incident_id == incident.id, visible(reader, Person))
        .order_by(IncidentPerson.role, Person.id)
    ).all()
    shown = {person.id for _, person in links}
    for link, person in links:
        # Naming a person the reader may not see would tell that they exist.
        behalf = link.on_behalf_of_id if link.on_behalf_of_id in shown else None
        view.people.append(
            LinkedPerson(
                id=person.id,
                role=link.role.value,
                on_behalf_of_id=behalf,
                profile=person.profile,
                nationality=person.nationality,
                identity=read_identity(session, cipher, person.id),
            )
        )
    record_identity_reads(session, reader, [p.id for p in view.people if p.identity is not None])
    return view


def _narrative(cipher: FieldCipher, reader: Reader, incident: Incident) -> str | None:
    if not reader.reads_narratives or incident.narrative is None:
        return None
    context = sealed_context("incidents", "narrative", incident.id)
    return cipher.decrypt(incident.narrative, context).decode()


def _tactics(session: Session, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(IncidentTactic.incident_id, IncidentTactic.tactic)
            .where(IncidentTactic.incident_id.in_(ids))
            .order_by(IncidentTactic.tactic)
        )
        for incident_id, tactic in rows:
            found[incident_id].append(tactic)
    return found
