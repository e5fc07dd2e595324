"""Checking the registry against the audit chain: every record's stored state must still have
the digest its last audit entry recorded, so a row edited or deleted around Haven shows up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.audit.chain import record_digest
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.base import Base, table_of
from haven.registry import models
from haven.registry.state import stored_state

CHECKED: tuple[type[Base], ...] = (
    models.Incident,
    models.Person,
    models.Organisation,
    models.LegalInstrument,
    models.Evidence,
)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    entity: str
    record_id: str
    reason: str

    def describe(self) -> str:
        return f"{self.entity} record {self.record_id} {self.reason}"


def check_records(session: Session, cipher: FieldCipher) -> Iterator[Discrepancy]:
    """Yield every record whose state differs from its last audited digest, every record the
    chain never saw, and every audited record that is gone."""
    for model in CHECKED:
        table = table_of(model)
        recorded: dict[str, str | None] = {}
        entries = session.execute(
            select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.after_digest)
            .where(AuditEntry.entity == table.name, AuditEntry.action.in_(("create", "update")))
            .order_by(AuditEntry.seq)
        )
        for entity_id, _, digest in entries:
            recorded[entity_id] = digest
        seen: set[str] = set()
        for record_id in session.scalars(select(table.c.id).order_by(table.c.id)):
            seen.add(record_id)
            if record_id not in recorded:
                yield Discrepancy(table.name, record_id, "has no audit entry")
                continue
            state = stored_state(session, cipher, model, record_id)
            if record_digest(cipher, table.name, state) != recorded[record_id]:
                yield Discrepancy(table.name, record_id, "differs from its last audited state")
        for missing in sorted(recorded.keys() - seen):
            yield Discrepancy(table.name, missing, "was removed outside Haven")
