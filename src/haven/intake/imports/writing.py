"""Writing checked rows in the caller's transaction, each under a keyed row key, so that importing
the same file again adds nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.enums import PersonRole
from haven.intake.imports.rows import ImportRow
from haven.intake.models import ImportedRow
from haven.registry.writer import Actor, RegistryWriter

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    imported: int
    already: int

    def describe(self) -> str:
        noun = "incident" if self.imported == 1 else "incidents"
        return f"imported {self.imported} {noun} ({self.already} already imported)"


def row_key(cipher: FieldCipher, organisation_id: str, row: ImportRow) -> str:
    """What ``imported_rows`` remembers a row by (64 hex digits): keyed, so that the key of a
    guessed row cannot be computed without the key file."""
    payload = json.dumps(
        [organisation_id, row.values, row.occurrence], ensure_ascii=False, separators=(",", ":")
    )
    key = cipher.keyring.derived_key("imported row")
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _known_keys(session: Session, organisation_id: str, keys: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(
            session.scalars(
                select(ImportedRow.row_key).where(
                    ImportedRow.contributor_id == organisation_id, ImportedRow.row_key.in_(chunk)
                )
            )
        )
    return known


def already_imported(
    session: Session, cipher: FieldCipher, organisation_id: str, rows: Sequence[ImportRow]
) -> int:
    """How many of ``rows`` this organisation imported before (for a dry run)."""
    keys = [row_key(cipher, organisation_id, row) for row in rows]
    return len(_known_keys(session, organisation_id, keys))


def run_import(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    rows: Sequence[ImportRow],
    *,
    progress: Progress | None = None,
) -> ImportCounts:
    """Write ``rows`` in the caller's transaction, skipping those the organisation imported
    before; the caller commits once, and any error leaves nothing written."""
    organisation_id = actor.contributor_id
    keys = [row_key(cipher, organisation_id, row) for row in rows]
    known = _known_keys(session, organisation_id, keys)
    writer = RegistryWriter(session, cipher, actor)
    imported: list[tuple[str, str]] = []
    total = len(rows)
    for done, (row, key) in enumerate(zip(rows, keys, strict=True), start=1):
        if key not in known:
            incident_id = writer.add_incident(row.incident)
            if row.target is not None:
                person_id = writer.add_person(row.target)
                writer.link_person(incident_id, person_id, PersonRole.TARGET)
            imported.append((key, incident_id))
        if progress is not None:
            progress(done, total)
    writer.flush()
    if imported:
        now = utcnow()
        session.execute(
            insert(ImportedRow),
            [
                {
                    "contributor_id": organisation_id,
                    "row_key": key,
                    "incident_id": incident_id,
                    "imported_at": now,
                }
                for key, incident_id in imported
            ],
        )
    return ImportCounts(imported=len(imported), already=total - len(imported))
