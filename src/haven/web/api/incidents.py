"""/api/v1/incidents: list, detail, create, update and history, every read through the policy
gate."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from haven.access.history import record_history
from haven.access.reads import (
    IncidentFilter,
    IncidentView,
    get_incident,
    list_incidents,
)
from haven.casework.corrections import HostCorrection
from haven.domain.enums import IncidentStatus, Tlp
from haven.intake.idempotency import Answer, KeyedRequest, once, request_digest
from haven.registry.models import Incident
from haven.registry.schemas import Identity, IncidentIn
from haven.web.api.authoring import (
    AuthoringDep,
    Created,
    Sharing,
    author,
    create_shared,
    replace_own,
    replace_responses,
    without_sharing,
)
from haven.web.api.history import HISTORY_RESPONSES, HistoryOut, history_out
from haven.web.api.reports import IdempotencyKeyHeader, replayable
from haven.web.deps import CipherDep, ReaderDep, SessionDep

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


class OccurredOut(BaseModel):
    start: date
    end: date | None
    precision: str


class PersonOut(BaseModel):
    id: str
    role: str
    on_behalf_of_id: str | None
    profile: str | None
    nationality: str | None
    identity: Identity | None


class IncidentOut(BaseModel):
    id: str
    title: str
    narrative: str | None = Field(description="Only for roles that may read identifying data.")
    narrative_language: str | None
    occurred: OccurredOut
    reported_on: date | None
    origin_state: str
    host_state: str | None
    other_places: list[dict[str, str]]
    tactics: list[str]
    host_involvement: str
    accusation: str | None
    state_responsibility: str | None
    status: str
    tlp: str
    cleared_for_statistics: bool
    contributor_id: str
    people: list[PersonOut] | None = Field(
        default=None, description="In the detail view, for roles that may read identifying data."
    )


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


class IncidentCreate(IncidentIn, Sharing):
    """A new incident and whom else it reaches."""


def _out(view: IncidentView, *, detail: bool) -> IncidentOut:
    row: Incident = view.incident
    return IncidentOut(
        id=row.id,
        title=row.title,
        narrative=view.narrative,
        narrative_language=row.narrative_language,
        occurred=OccurredOut(
            start=row.occurred_start, end=row.occurred_end, precision=row.occurred_precision.value
        ),
        reported_on=row.reported_on,
        origin_state=row.origin_state,
        host_state=row.host_state,
        other_places=row.other_places,
        tactics=view.tactics,
        host_involvement=row.host_involvement.value,
        accusation=None if row.accusation is None else row.accusation.value,
        state_responsibility=row.state_responsibility,
        status=row.status.value,
        tlp=row.tlp.value,
        cleared_for_statistics=row.cleared_for_statistics,
        contributor_id=row.contributor_id,
        people=[PersonOut(**vars_of(p)) for p in view.people] if detail and view.people else None,
    )


def vars_of(person: object) -> dict[str, object]:
    return {name: getattr(person, name) for name in PersonOut.model_fields}


class IncidentQuery(BaseModel):
    model_config = {"extra": "forbid"}

    origin: str | None = Field(default=None, description="Origin state, ISO 3166-1 alpha-2.")
    host: str | None = Field(default=None, description="Host state, ISO 3166-1 alpha-2.")
    tactic: str | None = Field(default=None, description="A tactic code of the taxonomy.")
    status: IncidentStatus | None = None
    label: Tlp | None = Field(default=None, description="TLP label.")
    occurred_from: date | None = None
    occurred_to: date | None = None
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=200)


@router.get("", summary="List incidents", response_model=IncidentPage)
def list_(
    session: SessionDep,  # a writing transaction: each narrative read is recorded
    cipher: CipherDep,
    reader: ReaderDep,
    query: Annotated[IncidentQuery, Query()],
) -> IncidentPage:
    filters = IncidentFilter(
        origin_state=query.origin.upper() if query.origin else None,
        host_state=query.host.upper() if query.host else None,
        tactic=query.tactic,
        status=query.status,
        tlp=query.label,
        occurred_from=query.occurred_from,
        occurred_to=query.occurred_to,
    )
    views, next_cursor = list_incidents(
        session, cipher, reader, filters, after=query.cursor, limit=query.limit
    )
    return IncidentPage(items=[_out(v, detail=False) for v in views], next_cursor=next_cursor)


@router.get(
    "/{incident_id}",
    summary="One incident",
    response_model=IncidentOut,
    responses={404: {"description": "No such incident, or not one this reader may see."}},
)
def detail(
    incident_id: str, session: SessionDep, cipher: CipherDep, reader: ReaderDep
) -> IncidentOut:
    return _out(get_incident(session, cipher, reader, incident_id), detail=True)


@router.get(
    "/{incident_id}/history",
    summary="Earlier versions of an incident",
    response_model=HistoryOut,
    responses=HISTORY_RESPONSES,
)
def history(
    incident_id: str,
    session: SessionDep,  # a writing transaction: each narrative read is recorded
    cipher: CipherDep,
    reader: ReaderDep,
) -> HistoryOut:
    versions = record_history(session, cipher, reader, "incidents", incident_id)
    return history_out(incident_id, versions)


@router.post(
    "",
    summary="Create an incident",
    status_code=201,
    response_model=Created,
    responses={422: {"description": "Invalid incident, or an Idempotency-Key reused."}},
)
def create(
    data: IncidentCreate, request: AuthoringDep, idempotency_key: IdempotencyKeyHeader = None
) -> JSONResponse:
    actor = author(request.reader)
    record = without_sharing(data, IncidentIn)

    def work() -> Answer:
        created = create_shared(
            request, "incidents", data, lambda writer: writer.add_incident(record)
        )
        return Answer(201, created.model_dump())

    digest = request_digest("POST", "/api/v1/incidents", data.model_dump_json())
    keyed = KeyedRequest(actor.contributor_id, idempotency_key, digest)
    answer = once(request.session, request.cipher, keyed, work)
    return replayable(answer, f"/api/v1/incidents/{answer.body.get('id')}")


class IncidentReplaced(IncidentOut):
    warnings: list[str] = Field(
        default_factory=list,
        description="What the change did beyond the record: an organisation the case was "
        "referred to that no longer sees it, because the person's consent was given for the "
        "host state as it stood.",
    )


@router.put(
    "/{incident_id}",
    summary="Replace an incident",
    response_model=IncidentReplaced,
    responses=replace_responses("incident"),
)
def replace(
    incident_id: str,
    data: IncidentIn,
    request: AuthoringDep,
) -> IncidentReplaced:
    correction = HostCorrection.before(request.session, incident_id)
    replace_own(
        request, Incident, incident_id, lambda writer: writer.replace_incident(incident_id, data)
    )
    warnings = correction.after(request.session, actor=request.reader.actor)
    view = _out(
        get_incident(request.session, request.cipher, request.reader, incident_id), detail=True
    )
    return IncidentReplaced(**view.model_dump(), warnings=warnings)
