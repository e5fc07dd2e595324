"""Recording a person's consent: the current state for the policy gate, every change kept."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.models import Consent, ConsentEvent
from haven.audit.chain import Change, append
from haven.db.values import new_id, utcnow
from haven.domain.countries import check_country
from haven.domain.enums import RecipientKind
from haven.errors import NotFound, ValidationFailed
from haven.registry.models import Person


def set_consent(
    session: Session,
    person_id: str,
    kind: RecipientKind,
    granted: bool,
    *,
    actor: str,
    member_state: str | None = None,
) -> None:
    """Grant or revoke consent for one kind of recipient; effective when the transaction commits."""
    if session.get(Person, person_id) is None:
        raise NotFound(f"no person {person_id}")
    if member_state is not None and kind is not RecipientKind.AUTHORITY:
        raise ValidationFailed("only consent to authorities names a member state")
    state = "" if member_state is None else check_country(member_state)
    now = utcnow()
    current = session.scalar(
        select(Consent).where(
            Consent.person_id == person_id,
            Consent.recipient_kind == kind.value,
            Consent.member_state == state,
        )
    )
    if current is None:
        session.add(
            Consent(
                person_id=person_id,
                recipient_kind=kind.value,
                member_state=state,
                granted=granted,
                updated_at=now,
            )
        )
    else:
        current.granted = granted
        current.updated_at = now
    session.add(
        ConsentEvent(
            id=new_id(),
            person_id=person_id,
            recipient_kind=kind.value,
            member_state=state,
            granted=granted,
            recorded_by=actor,
            recorded_at=now,
        )
    )
    session.flush()
    action = "consent-grant" if granted else "consent-revoke"
    append(session, [Change(actor, action, "people", person_id, after=f"{kind.value}:{state}")])
