"""Reading people, always through the policy gate.

Lists carry the non-identifying profile only; the identity is decrypted in the detail alone, for
readers who may see it, and every such read goes to the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.policy import Reader, record_identity_reads, visible
from haven.crypto.fields import FieldCipher
from haven.domain.enums import Tlp
from haven.errors import NotFound
from haven.registry.models import Person
from haven.registry.paging import keyset_page, require_record_id
from haven.registry.schemas import Identity
from haven.registry.sealed import read_identity

MISSING = "no such person"


@dataclass(frozen=True, slots=True)
class PersonFilter:
    nationality: str | None = None
    profile: str | None = None
    tlp: Tlp | None = None


@dataclass(frozen=True, slots=True)
class PersonView:
    person: Person
    identity: Identity | None = None


def _conditions(filters: PersonFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.nationality:
        conditions.append(Person.nationality == filters.nationality)
    if filters.profile:
        conditions.append(Person.profile == filters.profile)
    if filters.tlp is not None:
        conditions.append(Person.tlp == filters.tlp)
    return conditions


def list_people(
    session: Session,
    cipher: FieldCipher,  # the shape of every registry read, though a list decrypts nothing
    reader: Reader,
    filters: PersonFilter,
    *,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[PersonView], str | None]:
    """A page of people the reader may see, newest first, without identities; returns the page
    and the cursor of the next page (None on the last)."""
    conditions = [visible(reader, Person), *_conditions(filters)]
    rows, next_cursor = keyset_page(session, Person, conditions, after=after, limit=limit)
    return [PersonView(row) for row in rows], next_cursor


def get_person(session: Session, cipher: FieldCipher, reader: Reader, person_id: str) -> PersonView:
    """One person, with the identity for readers who may see it (the read is audited). A person
    the reader may not see is reported exactly like one that does not exist."""
    require_record_id(person_id, MISSING)
    person = session.scalar(select(Person).where(Person.id == person_id, visible(reader, Person)))
    if person is None:
        raise NotFound(MISSING)
    if not reader.reads_identities:
        return PersonView(person)
    identity = read_identity(session, cipher, person.id)
    if identity is not None:
        record_identity_reads(session, reader, [person.id])
    return PersonView(person, identity)
