"""Earlier versions of registry records, kept whenever the writer replaces one.

A replaced record's state before the change is appended to ``record_versions`` in the same
transaction as the change: its columns (an incident's tactics with them), who changed it, when,
and which fields the change touched. Encrypted columns are kept as the ciphertext that was stored,
base64-encoded and still bound to the record's own column (:func:`haven.registry.sealed.
sealed_context`), so nothing identifying becomes readable and the record's key decrypts them.

Versions are never updated or deleted: database triggers refuse it, except for re-encrypting the
kept ciphertext under a new data key, which changes no content (:mod:`haven.registry.sealed`).
Readers reach them through the policy gate only (:mod:`haven.access.history`).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from haven.db.base import Base, table_of
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id
from haven.errors import NotFound
from haven.registry import models


class RecordVersion(Base):
    """One earlier version of a registry record: append-only."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("entity", "record_id", "version"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    # The record's table and id.
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(Guid)
    # 1 for the record as first written; the record itself is the version after the last kept.
    version: Mapped[int] = mapped_column(Integer)
    # The plain columns as they were, as JSON values; an incident's tactics under "tactics".
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Each encrypted column: its stored ciphertext in base64, or None when it was empty.
    sealed: Mapped[dict[str, str | None]] = mapped_column(JSON)
    # The fields whose value the change replaced.
    changed: Mapped[list[str]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The records whose earlier versions are kept, by table.
VERSIONED: Mapping[str, type[Base]] = {
    table_of(model).name: model
    for model in (
        models.Incident,
        models.Person,
        models.Organisation,
        models.LegalInstrument,
        models.Evidence,
    )
}
# What changes with every replacement, or follows from a field that is compared itself (a
# person's blind indexes follow their identity), so it is no "change" of its own.
_NOT_COMPARED = frozenset({"updated_at", "lookup"})


@dataclass(frozen=True, slots=True)
class Earlier:
    """A record as stored before a change, ready to be kept."""

    entity: str
    record_id: str
    state: dict[str, Any]
    sealed: dict[str, str | None]


def earlier(session: Session, model: type[Base], record_id: str) -> Earlier:
    """The record as stored now, its row locked until the transaction ends (on PostgreSQL), so
    two replacements of one record each keep the state the other left."""
    table = table_of(model)
    query = select(table).where(table.c.id == record_id).with_for_update()
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no {table.name} record {record_id}")
    state: dict[str, Any] = {}
    sealed: dict[str, str | None] = {}
    for column in table.columns:
        value = row[column.name]
        # The registry keeps identifying data only in binary columns, all of them encrypted.
        if isinstance(column.type, LargeBinary):
            sealed[column.name] = None if value is None else b64encode(value).decode("ascii")
        else:
            state[column.name] = _json_value(value)
    if model is models.Incident:
        tactics = table_of(models.IncidentTactic)
        state["tactics"] = sorted(
            session.scalars(select(tactics.c.tactic).where(tactics.c.incident_id == record_id))
        )
    return Earlier(table.name, record_id, state, sealed)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields that differ between two stored states (:func:`haven.registry.state.
    stored_state`, where an encrypted value is a digest of its plaintext, so a value encrypted
    afresh but unchanged is no change)."""
    names = [*before, *(name for name in after if name not in before)]
    return [
        name for name in names if name not in _NOT_COMPARED and before.get(name) != after.get(name)
    ]


def keep(
    session: Session,
    version: Earlier,
    changed: Sequence[str],
    changed_by: str,
    changed_at: datetime,
) -> int:
    """Append the earlier version; returns its number."""
    last = session.scalar(
        select(func.max(RecordVersion.version)).where(
            RecordVersion.entity == version.entity, RecordVersion.record_id == version.record_id
        )
    )
    number = (last or 0) + 1
    session.add(
        RecordVersion(
            entity=version.entity,
            record_id=version.record_id,
            version=number,
            state=version.state,
            sealed=version.sealed,
            changed=list(changed),
            changed_by=changed_by,
            changed_at=changed_at,
        )
    )
    session.flush()
    return number


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    # Closed vocabularies read back as enum members; their code is what the column holds.
    return value.value if hasattr(value, "value") else value
