"""A record's stored state as the audit chain digests it: its columns, with sealed values as
keyed digests of their plaintext, plus what belongs to it in other tables (an incident's
tactics, a person's blind indexes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.base import Base, table_of
from haven.errors import NotFound
from haven.registry import models
from haven.registry.sealed import SEALED_COLUMNS, sealed_context


def plain(value: Any) -> Any:
    """Plain values for digests and drivers: enum members become their text."""
    return value.value if hasattr(value, "value") else value


def stored_state(
    session: Session, cipher: FieldCipher, model: type[Base], record_id: str
) -> dict[str, Any]:
    table = table_of(model)
    row = session.execute(select(table).where(table.c.id == record_id)).mappings().first()
    if row is None:
        raise NotFound(f"no {table.name} record {record_id}")
    state = {key: plain(value) for key, value in row.items()}
    for spec in SEALED_COLUMNS:
        if spec.table == table.name and row[spec.column] is not None:
            context = sealed_context(spec.table, spec.column, record_id)
            state[spec.column] = cipher.digest(cipher.decrypt(row[spec.column], context))
    if model is models.Incident:
        tactics = table_of(models.IncidentTactic)
        state["tactics"] = sorted(
            session.scalars(select(tactics.c.tactic).where(tactics.c.incident_id == record_id))
        )
    elif model is models.Person:
        lookup = table_of(models.PersonLookup)
        rows = session.execute(
            select(lookup.c.kind, lookup.c.digest).where(lookup.c.person_id == record_id)
        )
        state["lookup"] = sorted((kind, digest) for kind, digest in rows)
    return state
