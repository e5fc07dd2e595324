"""What every creating endpoint shares: who may write, whom a new record is shared with, and the
answer naming the new record."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from haven.access.policy import Reader
from haven.access.sharing import share_record
from haven.domain.enums import Role
from haven.errors import Forbidden
from haven.registry.schemas import Strict
from haven.registry.writer import Actor

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


def share_new(
    session: Session, reader: Reader, entity: str, record_id: str, sharing: Sharing
) -> None:
    share_record(
        session,
        reader,
        entity,
        record_id,
        groups=sharing.share_with,
        recipients=sharing.recipients,
    )


class Created(BaseModel):
    id: str
