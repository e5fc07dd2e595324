"""What every creating endpoint shares: who may write, whom a new record is shared with, and the
answer naming the new record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from haven.access.policy import Reader, require_own
from haven.access.sharing import Share, share_record
from haven.crypto.fields import FieldCipher
from haven.db.base import Base
from haven.domain.enums import Role
from haven.errors import Forbidden
from haven.registry.schemas import Strict
from haven.registry.writer import Actor, RegistryWriter
from haven.web.deps import CipherDep, ReaderDep, SessionDep

WRITE_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR})


def author(reader: Reader) -> Actor:
    """The writing actor, once the reader is shown to be allowed to write."""
    if reader.organisation_id is None or not reader.roles & WRITE_ROLES:
        raise Forbidden("only caseworkers and coordinators write records")
    if "write" not in reader.scopes:
        raise Forbidden("this API token may only read")
    return Actor(reader.organisation_id, reader.actor, reader.surface)


class Sharing(Strict):
    """Whom else a new record reaches, by its label (TLP 2.0)."""

    share_with: tuple[str, ...] = Field(
        default=(), description="Sharing groups that may read a TLP:AMBER record."
    )
    recipients: tuple[str, ...] = Field(
        default=(), description="Users who may read a TLP:RED record, besides its author."
    )


class Created(BaseModel):
    id: str


Input = TypeVar("Input", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Authoring:
    """A creating request: its transaction, cipher, reader and response."""

    session: Session
    cipher: FieldCipher
    reader: Reader
    response: Response


def get_authoring(
    session: SessionDep, cipher: CipherDep, reader: ReaderDep, response: Response
) -> Authoring:
    return Authoring(session, cipher, reader, response)


AuthoringDep = Annotated[Authoring, Depends(get_authoring)]


def create_shared(
    request: Authoring,
    entity: str,
    data: Sharing,
    add: Callable[[RegistryWriter], str],
) -> Created:
    """Write a new record through ``add``, share it as ``data`` says, and name it."""
    writer = RegistryWriter(request.session, request.cipher, author(request.reader))
    record_id = add(writer)
    writer.flush()
    share = Share(entity, record_id, groups=data.share_with, recipients=data.recipients)
    share_record(request.session, request.reader, share)
    request.response.headers["Location"] = f"/api/v1/{entity}/{record_id}"
    return Created(id=record_id)


def without_sharing(data: Sharing, model: type[Input]) -> Input:
    """The record's own input, the sharing fields taken off."""
    return model.model_validate(data.model_dump(exclude={"share_with", "recipients"}))


def replace_responses(noun: str) -> dict[int | str, dict[str, Any]]:
    return {
        403: {"description": "Not the contributing organisation, or not allowed to write."},
        404: {"description": f"No such {noun}, or not one this reader may see."},
    }


def replace_own(
    request: Authoring, model: type[Base], record_id: str, change: Callable[[RegistryWriter], None]
) -> None:
    """Change a record the reader's organisation contributed (the policy gate's rule)."""
    actor = author(request.reader)
    require_own(request.session, request.reader, model, record_id)
    change(RegistryWriter(request.session, request.cipher, actor))
