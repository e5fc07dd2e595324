"""Contributing organisations, as far as provenance needs them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.db.types import new_id
from haven.domain.countries import check_country
from haven.domain.enums import ContributorKind
from haven.registry.models import Contributor

SYSTEM_CONTRIBUTOR = "Haven"


def ensure_contributor(
    session: Session, name: str, kind: ContributorKind, member_state: str | None = None
) -> str:
    """The id of the contributor called ``name``, created when missing."""
    existing = session.scalar(select(Contributor.id).where(Contributor.name == name))
    if existing is not None:
        return existing
    contributor = Contributor(
        id=new_id(),
        name=name,
        kind=kind,
        member_state=None if member_state is None else check_country(member_state),
    )
    session.add(contributor)
    session.flush()
    return contributor.id


def system_contributor(session: Session) -> str:
    return ensure_contributor(session, SYSTEM_CONTRIBUTOR, ContributorKind.SYSTEM)
