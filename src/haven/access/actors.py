"""Reading the registry's actor organisations (state agencies, proxies, companies, vendors...),
always through the policy gate. They carry no identifying fields of people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.policy import Reader, visible
from haven.domain.enums import OrganisationKind, Tlp
from haven.errors import NotFound
from haven.registry.models import Organisation
from haven.registry.paging import keyset_page, require_record_id

MISSING = "no such organisation"


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    kind: OrganisationKind | None = None
    country: str | None = None
    tlp: Tlp | None = None


def _conditions(filters: OrganisationFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.kind is not None:
        conditions.append(Organisation.kind == filters.kind)
    if filters.country:
        conditions.append(Organisation.country == filters.country)
    if filters.tlp is not None:
        conditions.append(Organisation.tlp == filters.tlp)
    return conditions


def list_organisations(
    session: Session,
    reader: Reader,
    filters: OrganisationFilter,
    *,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Organisation], str | None]:
    """A page of organisations the reader may see, newest first; returns the page and the cursor
    of the next page (None on the last)."""
    conditions = [visible(reader, Organisation), *_conditions(filters)]
    return keyset_page(session, Organisation, conditions, after=after, limit=limit)


def get_organisation(session: Session, reader: Reader, organisation_id: str) -> Organisation:
    """One organisation; one the reader may not see is reported exactly like one that does not
    exist."""
    require_record_id(organisation_id, MISSING)
    row = session.scalar(
        select(Organisation).where(
            Organisation.id == organisation_id, visible(reader, Organisation)
        )
    )
    if row is None:
        raise NotFound(MISSING)
    return row
