"""The registry's encrypted columns: where they are, how they are bound, how they are read back,
looked up and re-encrypted under a new key."""

from __future__ import annotations

from base64 import b64decode, b64encode
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, LargeBinary, MetaData, Table, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.dialect import Guid
from haven.errors import NotFound
from haven.registry.history import RecordVersion
from haven.registry.models import Person, PersonLookup
from haven.registry.schemas import Identity, parse_json


@dataclass(frozen=True, slots=True)
class SealedColumn:
    table: str
    column: str


# Every column that holds ciphertext. A new one must be listed here, or rotation misses it.
SEALED_COLUMNS = (
    SealedColumn("incidents", "narrative"),
    SealedColumn("people", "identity"),
    SealedColumn("legal_instruments", "reference"),
    SealedColumn("evidence", "filename"),
    SealedColumn("users", "login"),
    SealedColumn("users", "totp_secret"),
    SealedColumn("api_tokens", "name"),
    SealedColumn("reports", "contact"),
    SealedColumn("reports", "details"),
    SealedColumn("report_messages", "body"),
    SealedColumn("idempotency_keys", "response"),
    SealedColumn("case_notes", "body"),
    SealedColumn("referrals", "action_reason"),
)


def sealed_context(table: str, column: str, record_id: str) -> str:
    """Associated data binding a ciphertext to one column of one record."""
    return f"{table}.{column}:{record_id}"


def lookup_values(identity: Identity) -> Iterator[tuple[str, str]]:
    """The (kind, value) pairs a person can be found by exactly."""
    for name in identity.names:
        yield "name", name.value
    if identity.date_of_birth is not None:
        yield "dob", identity.date_of_birth.isoformat()
    for contact in identity.contact:
        yield "contact", contact
    for document in identity.documents:
        yield "document", document.number


def read_identity(session: Session, cipher: FieldCipher, person_id: str) -> Identity | None:
    row = session.execute(select(Person.identity).where(Person.id == person_id)).first()
    if row is None:
        raise NotFound(f"no person {person_id}")
    if row.identity is None:
        return None
    plaintext = cipher.decrypt(row.identity, sealed_context("people", "identity", person_id))
    return parse_json(Identity, plaintext)


def find_people(session: Session, cipher: FieldCipher, kind: str, value: str) -> list[str]:
    """Ids of people with exactly this name, birth date, contact or document number (after
    normalisation), found through the blind index without decrypting anything."""
    digest = cipher.blind_index(kind, value)
    rows = session.scalars(
        select(PersonLookup.person_id)
        .where(PersonLookup.kind == kind, PersonLookup.digest == digest)
        .order_by(PersonLookup.person_id)
    )
    return list(rows)


def _bare_table(spec: SealedColumn) -> Table:
    return Table(
        spec.table,
        MetaData(),
        Column("id", Guid, primary_key=True),
        Column(spec.column, LargeBinary),
    )


def reencrypt_batch(
    session: Session, cipher: FieldCipher, spec: SealedColumn, after_id: str | None, limit: int
) -> tuple[str | None, int, int]:
    """Re-encrypt up to ``limit`` rows after ``after_id`` under the active key.

    Returns the last id seen (None when the column is done), rows seen and rows changed; the
    caller commits each batch, so a long rotation can stop and resume without losing work.
    """
    table = _bare_table(spec)
    key_column = table.c.id
    value_column = table.c[spec.column]
    query = select(key_column, value_column).order_by(key_column).limit(limit)
    if after_id is not None:
        query = query.where(key_column > after_id)
    rows = session.execute(query).all()
    changed = 0
    for record_id, ciphertext in rows:
        if ciphertext is None:
            continue
        fresh = cipher.reencrypt(ciphertext, sealed_context(spec.table, spec.column, record_id))
        if fresh is not None:
            # Only if nobody changed the value since it was read: a concurrent edit wins and
            # is picked up by the next pass instead of being overwritten with old content.
            result = session.execute(
                update(table)
                .where(key_column == record_id, value_column == ciphertext)
                .values({spec.column: fresh})
            )
            changed += cast(CursorResult[Any], result).rowcount
    last = rows[-1][0] if len(rows) == limit else None
    return last, len(rows), changed


def reencrypt_versions(
    session: Session, cipher: FieldCipher, after_id: str | None, limit: int
) -> tuple[str | None, int, int]:
    """:func:`reencrypt_batch` for the ciphertext kept in earlier versions of records
    (:mod:`haven.registry.history`), each value still bound to its record's column. Returns the
    last id seen (None when done), versions seen and values changed."""
    kept_in = RecordVersion.id, RecordVersion.entity, RecordVersion.record_id, RecordVersion.sealed
    query = select(*kept_in).order_by(RecordVersion.id).limit(limit)
    if after_id is not None:
        query = query.where(RecordVersion.id > after_id)
    versions = session.execute(query).all()
    changed = 0
    for version in versions:
        fresh = dict(version.sealed)
        for column, kept in version.sealed.items():
            context = sealed_context(version.entity, column, version.record_id)
            again = None if kept is None else cipher.reencrypt(b64decode(kept), context)
            if again is not None:
                fresh[column] = b64encode(again).decode("ascii")
                changed += 1
        if fresh != version.sealed:
            # The one column the append-only triggers let change: the content stays the same.
            session.execute(
                update(RecordVersion).where(RecordVersion.id == version.id).values(sealed=fresh)
            )
    last = versions[-1].id if len(versions) == limit else None
    return last, len(versions), changed


def reencrypt_all(
    transaction: Callable[[], AbstractContextManager[Session]],
    cipher: FieldCipher,
    batch_size: int,
) -> int:
    """Re-encrypt every sealed column and the kept earlier versions under the active key, one
    transaction per batch (each from ``transaction``), so a long rotation can stop and resume
    without losing work."""
    changed = 0
    for spec in SEALED_COLUMNS:
        after: str | None = None
        while True:
            with transaction() as session:
                after, _, count = reencrypt_batch(session, cipher, spec, after, batch_size)
            changed += count
            if after is None:
                break
    after = None
    while True:
        with transaction() as session:
            after, _, count = reencrypt_versions(session, cipher, after, batch_size)
        changed += count
        if after is None:
            return changed


def key_numbers_in_use(session: Session, cipher: FieldCipher) -> set[int]:
    """Which data keys some stored ciphertext still needs (a full scan)."""
    used: set[int] = set()
    for spec in SEALED_COLUMNS:
        table = _bare_table(spec)
        column = table.c[spec.column]
        for (ciphertext,) in session.execute(
            select(column).where(column.is_not(None)).execution_options(yield_per=5000)
        ):
            used.add(cipher.key_number(ciphertext)[1])
    query = select(RecordVersion.sealed).execution_options(yield_per=5000)
    for (sealed,) in session.execute(query):
        used.update(cipher.key_number(b64decode(v))[1] for v in sealed.values() if v is not None)
    return used
