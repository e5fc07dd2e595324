"""Earlier versions of a record (:mod:`haven.registry.history`), through the policy gate.

A reader who may see the record now sees every version of it: when it was replaced, by whom, and
which fields the change touched. Its values are shown as far as the reader may read them:

- fields the reader may not read are withheld from every version: identifying fields (a person's
  identity, an instrument's reference, an evidence file name) from readers who do not read
  identities, an incident's narrative from readers who do not read narratives, and the names of
  who contributed and changed a record from the public;
- a version kept under a label that would not reach the reader, were the record labelled so
  today, shows no values at all: an incident cleaned up and relabelled from TLP:RED to TLP:CLEAR
  publishes what it says now, not what it said before.

Identifying fields are decrypted only for readers who may read them, and each such read is
written to the audit chain, as for the record itself.
"""

from __future__ import annotations

import json
from base64 import b64decode
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.policy import (
    Reader,
    load_facts,
    record_identity_reads,
    record_reads,
    sees,
    visible,
)
from haven.crypto.fields import FieldCipher
from haven.db.base import Base, table_of
from haven.domain.enums import Tlp
from haven.errors import NotFound
from haven.registry.history import VERSIONED, RecordVersion
from haven.registry.paging import require_record_id
from haven.registry.sealed import sealed_context

_NOUNS = {
    "incidents": "incident",
    "people": "person",
    "organisations": "organisation",
    "legal_instruments": "legal instrument",
    "evidence": "piece of evidence",
}
# Encrypted free text, which may name people; every other encrypted field identifies someone.
_NARRATIVES = frozenset({("incidents", "narrative")})
# Who contributed a record: a user or process of an organisation, not for the public.
_PROVENANCE = ("contributed_by",)


@dataclass(frozen=True, slots=True)
class Version:
    """One earlier version as a reader may see it."""

    number: int
    changed_at: datetime
    changed_by: str | None
    changed: tuple[str, ...]
    values: dict[str, Any]
    withheld: tuple[str, ...]
    # Kept under a label that does not reach this reader: every value is withheld.
    restricted: bool


def record_history(
    session: Session, cipher: FieldCipher, reader: Reader, entity: str, record_id: str
) -> list[Version]:
    """The earlier versions of a record the reader may see, newest first. A record the reader
    may not see is reported exactly like one that does not exist."""
    missing = f"no such {_NOUNS.get(entity, 'record')}"
    model = VERSIONED.get(entity)
    if model is None:
        raise NotFound(missing)
    require_record_id(record_id, missing)
    table = table_of(model)
    label = session.scalar(
        select(table.c.tlp).where(table.c.id == record_id, visible(reader, model))
    )
    if label is None:
        raise NotFound(missing)
    kept = session.scalars(
        select(RecordVersion)
        .where(RecordVersion.entity == entity, RecordVersion.record_id == record_id)
        .order_by(RecordVersion.version.desc())
    ).all()
    earlier_labels = {Tlp(row.state["tlp"]) for row in kept} - {Tlp(label)}
    reaching = {Tlp(label), *_labels_reaching(session, reader, model, record_id, earlier_labels)}
    hidden = _withheld(reader, entity, kept)
    versions = [_version(cipher, reader, row, hidden, reaching) for row in kept]
    if any(_decrypted(row, hidden, reaching) for row in kept):
        if entity == "people":
            record_identity_reads(session, reader, [record_id])
        else:
            record_reads(session, reader, entity, [record_id])
    return versions


def _labels_reaching(
    session: Session, reader: Reader, model: type[Base], record_id: str, labels: set[Tlp]
) -> set[Tlp]:
    """The labels under which the gate would let the reader see this record: its judgement of
    the loaded record with the label replaced, so the rule stays the gate's own (its groups,
    recipients, cases and consent included)."""
    if not labels:
        return set()
    facts = load_facts(session, model, [record_id])[record_id]
    return {label for label in labels if sees(reader, replace(facts, tlp=label.value))}


def _withheld(reader: Reader, entity: str, kept: Iterable[RecordVersion]) -> frozenset[str]:
    """The fields of this kind of record the reader may not read, whatever their value."""
    hidden: set[str] = set()
    for row in kept:
        for column in row.sealed:
            narrative = (entity, column) in _NARRATIVES
            if not (reader.reads_narratives if narrative else reader.reads_identities):
                hidden.add(column)
    if reader.is_public:
        hidden.update(_PROVENANCE)
    return frozenset(hidden)


def _version(
    cipher: FieldCipher,
    reader: Reader,
    row: RecordVersion,
    hidden: frozenset[str],
    reaching: set[Tlp],
) -> Version:
    names = [*row.state, *row.sealed]
    restricted = Tlp(row.state["tlp"]) not in reaching
    values: dict[str, Any] = {}
    if not restricted:
        values = {name: value for name, value in row.state.items() if name not in hidden}
        for column, ciphertext in row.sealed.items():
            if column not in hidden:
                values[column] = _open(cipher, row, column, ciphertext)
    return Version(
        number=row.version,
        changed_at=row.changed_at,
        changed_by=None if reader.is_public else row.changed_by,
        changed=tuple(row.changed),
        values=values,
        withheld=tuple(name for name in names if name not in values),
        restricted=restricted,
    )


def _open(cipher: FieldCipher, row: RecordVersion, column: str, ciphertext: str | None) -> Any:
    if ciphertext is None:
        return None
    context = sealed_context(row.entity, column, row.record_id)
    plaintext = cipher.decrypt(b64decode(ciphertext), context)
    # A person's identity is a JSON document; every other encrypted field is text.
    return json.loads(plaintext) if row.entity == "people" else plaintext.decode()


def _decrypted(row: RecordVersion, hidden: frozenset[str], reaching: set[Tlp]) -> bool:
    """Whether showing this version to the reader decrypted a value."""
    if Tlp(row.state["tlp"]) not in reaching:
        return False
    return any(value is not None and name not in hidden for name, value in row.sealed.items())
