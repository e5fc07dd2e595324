"""/api/v1/organisations: the registry's actors (state agencies, proxies, companies, vendors...):
list, detail and create, every read through the policy gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from haven.access.actors import OrganisationFilter, get_organisation, list_organisations
from haven.domain.enums import OrganisationKind, Tlp
from haven.registry.models import Organisation
from haven.registry.schemas import OrganisationIn
from haven.web.api.authoring import (
    AuthoringDep,
    Created,
    Sharing,
    create_shared,
    replace_own,
    replace_responses,
    without_sharing,
)
from haven.web.deps import ReaderDep, ReadSessionDep

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"])


class OrganisationRecord(BaseModel):
    id: str
    name: str
    kind: str
    country: str | None
    aliases: list[str]
    tlp: str
    contributor_id: str


class OrganisationPage(BaseModel):
    items: list[OrganisationRecord]
    next_cursor: str | None


class OrganisationCreate(OrganisationIn, Sharing):
    pass


class OrganisationQuery(BaseModel):
    model_config = {"extra": "forbid"}

    kind: OrganisationKind | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    label: Tlp | None = Field(default=None, description="TLP label.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=200)


def _out(row: Organisation) -> OrganisationRecord:
    return OrganisationRecord(
        id=row.id,
        name=row.name,
        kind=row.kind.value,
        country=row.country,
        aliases=row.aliases,
        tlp=row.tlp.value,
        contributor_id=row.contributor_id,
    )


@router.get("", summary="List organisations", response_model=OrganisationPage)
def list_(
    session: ReadSessionDep, reader: ReaderDep, query: Annotated[OrganisationQuery, Query()]
) -> OrganisationPage:
    filters = OrganisationFilter(
        kind=query.kind,
        country=query.country.upper() if query.country else None,
        tlp=query.label,
    )
    rows, next_cursor = list_organisations(
        session, reader, filters, after=query.cursor, limit=query.limit
    )
    return OrganisationPage(items=[_out(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{organisation_id}",
    summary="One organisation",
    response_model=OrganisationRecord,
    responses={404: {"description": "No such organisation, or not one this reader may see."}},
)
def detail(organisation_id: str, session: ReadSessionDep, reader: ReaderDep) -> OrganisationRecord:
    return _out(get_organisation(session, reader, organisation_id))


@router.post("", summary="Create an organisation", status_code=201, response_model=Created)
def create(
    data: OrganisationCreate,
    request: AuthoringDep,
) -> Created:
    record = without_sharing(data, OrganisationIn)
    return create_shared(
        request, "organisations", data, lambda writer: writer.add_organisation(record)
    )


@router.put(
    "/{organisation_id}",
    summary="Replace an organisation",
    response_model=OrganisationRecord,
    responses=replace_responses("organisation"),
)
def replace(
    organisation_id: str,
    data: OrganisationIn,
    request: AuthoringDep,
) -> OrganisationRecord:
    replace_own(
        request,
        Organisation,
        organisation_id,
        lambda writer: writer.replace_organisation(organisation_id, data),
    )
    return _out(get_organisation(request.session, request.reader, organisation_id))
