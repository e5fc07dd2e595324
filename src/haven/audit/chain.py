"""A tamper-evident audit chain: each entry's SHA-256 covers its content and the previous hash.

Altering an entry breaks its own hash; removing one breaks the sequence; removing entries from the
end no longer matches the head row. Record states appear only as keyed digests (see
:meth:`haven.crypto.fields.FieldCipher.digest`), so the log itself reveals no identifying data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from haven.audit.models import AuditEntry, AuditHead
from haven.crypto.fields import FieldCipher
from haven.db.base import table_of
from haven.db.dialect import bulk_insert, sqlite_timestamp
from haven.db.values import utcnow

GENESIS = "0" * 64
HEAD_ID = 1
BULK_THRESHOLD = 500
_NOT_DIGESTED = frozenset({"updated_at"})
_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "entity",
    "entity_id",
    "surface",
    "before_digest",
    "after_digest",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class Change:
    actor: str
    action: str
    entity: str
    entity_id: str
    before: str | None = None
    after: str | None = None
    surface: str | None = None


def record_digest(cipher: FieldCipher, entity: str, state: Mapping[str, Any]) -> str:
    """Keyed digest of a record's state: the column names, then each value's ``repr`` in
    column-name order (``repr`` quotes and escapes text, so no value can pass for two, and
    ``None`` differs from ``"None"``). Sealed columns enter as keyed digests of their plaintext.
    The time of the change is the audit entry's own, so ``updated_at`` is left out: an unchanged
    record keeps its digest."""
    names, keys = _digest_layout(entity, tuple(state))
    values = "\x1f".join(map(repr, map(state.__getitem__, keys)))
    return cipher.digest(f"{names}\x1d{values}".encode())


@cache
def _digest_layout(entity: str, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The digested columns in name order, and the header naming them; records of one kind share
    one layout, so it is worked out once."""
    keys = tuple(sorted(set(columns) - _NOT_DIGESTED))
    return entity + "\x1d" + "\x1e".join(keys), keys


def entry_hash(seq: int, at_text: str, change: Change, prev_hash: str) -> str:
    fields = (
        seq,
        at_text,
        change.actor,
        change.action,
        change.entity,
        change.entity_id,
        change.surface,
        change.before,
        change.after,
        prev_hash,
    )
    return hashlib.sha256(repr(fields).encode()).hexdigest()


def append(session: Session, changes: Sequence[Change], *, at: datetime | None = None) -> int:
    """Append entries for ``changes`` in the caller's transaction; returns the last sequence number.

    The head row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
    transaction already holds the write lock), so concurrent writers extend one line.
    """
    if not changes:
        return 0
    when = at or utcnow()
    when_text = sqlite_timestamp(when)
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    seq: int = head.seq
    previous: str = head.hash
    rows: list[tuple[Any, ...]] = []
    for change in changes:
        seq += 1
        digest = entry_hash(seq, when_text, change, previous)
        rows.append(
            (
                seq,
                when,
                change.actor,
                change.action,
                change.entity,
                change.entity_id,
                change.surface,
                change.before,
                change.after,
                previous,
                digest,
            )
        )
        previous = digest
    table = table_of(AuditEntry)
    if len(rows) >= BULK_THRESHOLD:
        bulk_insert(session.connection(), table, _COLUMNS, rows)
    else:
        session.execute(insert(table), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=previous))
    return seq


@dataclass(frozen=True, slots=True)
class Verdict:
    checked: int
    head_hash: str
    first_bad: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(session: Session, *, batch: int = 10_000) -> Verdict:
    """Walk the chain in order and name the first entry that does not verify."""
    result = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    )
    with closing(result):
        verdict = _walk(result.scalars())
    if not verdict.ok:
        return verdict
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).one()
    if head.seq != verdict.checked or head.hash != verdict.head_hash:
        return Verdict(
            verdict.checked,
            verdict.head_hash,
            verdict.checked + 1,
            f"the chain ends at entry {verdict.checked} but its head records entry {head.seq}: "
            "entries were removed from the end",
        )
    return verdict


def _walk(entries: Iterable[AuditEntry]) -> Verdict:
    expected_seq, previous, checked = 1, GENESIS, 0
    for entry in entries:
        if entry.seq != expected_seq:
            return Verdict(
                checked,
                previous,
                expected_seq,
                f"audit entry {expected_seq} is missing: entries were removed before "
                f"entry {entry.seq}",
            )
        change = Change(
            actor=entry.actor,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            before=entry.before_digest,
            after=entry.after_digest,
            surface=entry.surface,
        )
        if entry.prev_hash != previous:
            return Verdict(
                checked,
                previous,
                entry.seq,
                f"audit entry {entry.seq} does not follow entry {entry.seq - 1}: its previous "
                "hash was changed",
            )
        if entry_hash(entry.seq, sqlite_timestamp(entry.at), change, previous) != entry.hash:
            return Verdict(
                checked,
                previous,
                entry.seq,
                f"audit entry {entry.seq} was altered: its content does not match its hash",
            )
        previous, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    return Verdict(checked, previous)
