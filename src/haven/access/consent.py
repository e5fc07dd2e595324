"""Recording a person's consent: the current state for the policy gate, every change kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.integrity import consent_state_change
from haven.access.models import Consent, ConsentEvent
from haven.audit.chain import Change, append
from haven.db.values import new_id, utcnow
from haven.domain.countries import check_country
from haven.domain.enums import RecipientKind
from haven.errors import NotFound, ValidationFailed
from haven.registry.models import Person


@dataclass(frozen=True, slots=True)
class Statement:
    """One consent decision: for a kind of recipient (for authorities, of one member state or,
    with none named, of any)."""

    kind: RecipientKind
    granted: bool
    member_state: str | None = None


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
    statement = Statement(kind, granted, member_state)
    append(session, state_consent(session, person_id, [statement], actor=actor))


def state_consent(
    session: Session, person_id: str, statements: Sequence[Statement], *, actor: str
) -> list[Change]:
    """Record several consent decisions at once; returns the audit changes for the caller to
    append (so a report's records, consent and receipt join the chain in one append).

    A statement naming no member state is one for all of them (:mod:`.consent_rule`)."""
    if session.get(Person, person_id) is None:
        raise NotFound(f"no person {person_id}")
    now = utcnow()
    current = {
        (row.recipient_kind, row.member_state): row
        for row in session.scalars(select(Consent).where(Consent.person_id == person_id))
    }
    changes = []
    events = []
    for statement in statements:
        kind = statement.kind
        if statement.member_state is not None and kind is not RecipientKind.AUTHORITY:
            raise ValidationFailed("only consent to authorities names a member state")
        state = "" if statement.member_state is None else check_country(statement.member_state)
        row = current.get((kind.value, state))
        if row is None:
            row = Consent(
                person_id=person_id,
                recipient_kind=kind.value,
                member_state=state,
                granted=statement.granted,
                updated_at=now,
            )
            session.add(row)
            current[(kind.value, state)] = row
        else:
            row.granted = statement.granted
            row.updated_at = now
        if not state:
            # A statement for every member state decides for each of them: a withdrawal
            # revokes every grant it covered, a grant lifts every narrower withdrawal.
            for (other_kind, _state), other in current.items():
                if other_kind == kind.value and other is not row:
                    other.granted = statement.granted
                    other.updated_at = now
        events.append(
            ConsentEvent(
                id=new_id(),
                person_id=person_id,
                recipient_kind=kind.value,
                member_state=state,
                granted=statement.granted,
                recorded_by=actor,
                recorded_at=now,
            )
        )
        action = "consent-grant" if statement.granted else "consent-revoke"
        changes.append(Change(actor, action, "people", person_id, after=f"{kind.value}:{state}"))
    session.add_all(events)
    session.flush()
    changes.append(consent_state_change(session, person_id, actor))
    return changes


def host_state_corrected(
    session: Session, person_ids: Sequence[str], old_host: str | None, *, actor: str
) -> list[Change]:
    """A consent to the authorities "of the member state where it happened" was given for the
    host state as it then stood. When that host state is corrected, the grant for the old state
    no longer holds (unless the person consented for every member state), and none is made for
    the new one: the person is asked again. Returns the audit changes for the caller to append."""
    if not old_host:
        return []
    kind = RecipientKind.AUTHORITY.value
    rows = session.scalars(
        select(Consent).where(Consent.person_id.in_(sorted(set(person_ids))))
    ).all()
    every = {
        r.person_id for r in rows if r.recipient_kind == kind and not r.member_state and r.granted
    }
    now = utcnow()
    changes = []
    for row in rows:
        if row.recipient_kind != kind or row.member_state != old_host or not row.granted:
            continue
        if row.person_id in every:
            continue
        row.granted = False
        row.updated_at = now
        session.add(
            ConsentEvent(
                id=new_id(),
                person_id=row.person_id,
                recipient_kind=kind,
                member_state=old_host,
                granted=False,
                recorded_by=actor,
                recorded_at=now,
            )
        )
        changes.append(
            Change(actor, "consent-revoke", "people", row.person_id, after=f"{kind}:{old_host}")
        )
    session.flush()
    revoked = sorted({change.entity_id for change in changes})
    changes.extend(consent_state_change(session, person_id, actor) for person_id in revoked)
    return changes
