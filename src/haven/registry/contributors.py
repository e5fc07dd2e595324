"""Contributing organisations, as far as provenance needs them."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from haven.audit.chain import Change, append, record_digest
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.countries import check_country
from haven.domain.enums import ContributorKind
from haven.registry.models import Contributor

SYSTEM_CONTRIBUTOR = "Haven"
# Seeded by the first migration: Haven itself, the contributor of what no organisation brought in.
SYSTEM_CONTRIBUTOR_ID = "00000000-0000-7000-8000-000000000001"


def ensure_contributor(
    session: Session,
    cipher: FieldCipher,
    name: str,
    kind: ContributorKind,
    member_state: str | None = None,
    *,
    actor: str = "system",
) -> str:
    """The id of the contributor called ``name``, created (and audited) when missing."""
    existing = session.scalar(select(Contributor.id).where(Contributor.name == name))
    if existing is not None:
        return existing
    contributor_id = new_id()
    state = {
        "id": contributor_id,
        "name": name,
        "kind": kind.value,
        "member_state": None if member_state is None else check_country(member_state),
        "created_at": utcnow(),
    }
    session.execute(insert(Contributor), [state])
    append(
        session,
        [
            Change(
                actor=actor,
                action="create",
                entity="contributors",
                entity_id=contributor_id,
                after=record_digest(cipher, "contributors", state),
            )
        ],
    )
    return contributor_id
