"""/api/v1/people: list, detail, create, update and history, every read through the policy gate.

Lists carry the non-identifying profile only; the detail adds the identity for roles that may
read it, and that read is written to the audit chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from haven.access.history import record_history
from haven.access.people import PersonFilter, PersonView, get_person, list_people
from haven.domain.enums import Tlp
from haven.registry.models import Person
from haven.registry.schemas import Identity, PersonIn
from haven.web.api.authoring import (
    AuthoringDep,
    Created,
    Sharing,
    create_shared,
    replace_own,
    replace_responses,
    without_sharing,
)
from haven.web.api.history import HISTORY_RESPONSES, HistoryOut, history_out
from haven.web.deps import CipherDep, ReaderDep, ReadSessionDep, SessionDep

router = APIRouter(prefix="/api/v1/people", tags=["people"])


class PersonRecord(BaseModel):
    id: str
    nationality: str | None
    community: str | None
    profile: str | None
    gender: str
    age_band: str | None
    tlp: str
    contributor_id: str
    identity: Identity | None = Field(
        description="In the detail view, for roles that may read identifying data."
    )


class PersonPage(BaseModel):
    items: list[PersonRecord]
    next_cursor: str | None


class PersonCreate(PersonIn, Sharing):
    pass


class PersonQuery(BaseModel):
    model_config = {"extra": "forbid"}

    nationality: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    profile: str | None = Field(default=None, description="A target profile of the taxonomy.")
    label: Tlp | None = Field(default=None, description="TLP label.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=200)


def _out(view: PersonView) -> PersonRecord:
    row = view.person
    return PersonRecord(
        id=row.id,
        nationality=row.nationality,
        community=row.community,
        profile=row.profile,
        gender=row.gender.value,
        age_band=None if row.age_band is None else row.age_band.value,
        tlp=row.tlp.value,
        contributor_id=row.contributor_id,
        identity=view.identity,
    )


@router.get("", summary="List people", response_model=PersonPage)
def list_(
    session: ReadSessionDep,
    cipher: CipherDep,
    reader: ReaderDep,
    query: Annotated[PersonQuery, Query()],
) -> PersonPage:
    filters = PersonFilter(
        nationality=query.nationality.upper() if query.nationality else None,
        profile=query.profile,
        tlp=query.label,
    )
    views, next_cursor = list_people(
        session, cipher, reader, filters, after=query.cursor, limit=query.limit
    )
    return PersonPage(items=[_out(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/{person_id}",
    summary="One person",
    response_model=PersonRecord,
    responses={404: {"description": "No such person, or not one this reader may see."}},
)
def detail(
    person_id: str, session: SessionDep, cipher: CipherDep, reader: ReaderDep
) -> PersonRecord:
    return _out(get_person(session, cipher, reader, person_id))


@router.get(
    "/{person_id}/history",
    summary="Earlier versions of a person",
    response_model=HistoryOut,
    responses=HISTORY_RESPONSES,
)
def history(
    person_id: str,
    session: SessionDep,  # a writing transaction: each identity read is recorded
    cipher: CipherDep,
    reader: ReaderDep,
) -> HistoryOut:
    return history_out(person_id, record_history(session, cipher, reader, "people", person_id))


@router.post("", summary="Create a person", status_code=201, response_model=Created)
def create(
    data: PersonCreate,
    request: AuthoringDep,
) -> Created:
    record = without_sharing(data, PersonIn)
    return create_shared(request, "people", data, lambda writer: writer.add_person(record))


@router.put(
    "/{person_id}",
    summary="Replace a person",
    response_model=PersonRecord,
    responses=replace_responses("person"),
)
def replace(
    person_id: str,
    data: PersonIn,
    request: AuthoringDep,
) -> PersonRecord:
    replace_own(request, Person, person_id, lambda writer: writer.replace_person(person_id, data))
    return _out(get_person(request.session, request.cipher, request.reader, person_id))
