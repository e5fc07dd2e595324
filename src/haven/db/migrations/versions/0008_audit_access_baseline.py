"""Audit baseline of the tables that decide access: one entry for each key's rows as found

Since this revision Haven appends an ``access-state`` entry whenever it changes a person's
consents, a record's shares or named recipients, a group's members or a user's roles, and
``haven audit verify --records`` compares each key's rows with its last such entry. Rows written
before have none; this data migration records the state they are in now, as the baseline later
changes are checked against.

The digest and the entry hash are written out here rather than imported, so this revision keeps
computing what it computed when it was written; ``haven.access.integrity.access_digest`` and
``haven.audit.chain.entry_hash`` must give the same values (a test checks it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

import haven.db.dialect

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration:0008"
ACTION = "access-state"
SURFACE = "migration"
BATCH = 5_000

# Each table that decides access: the columns naming the owning key, then those whose values
# decide who reads what.
_TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("consents", ("person_id",), ("recipient_kind", "member_state", "granted")),
    ("record_shares", ("entity", "record_id"), ("group_id",)),
    ("record_recipients", ("entity", "record_id"), ("user_id",)),
    ("sharing_group_members", ("group_id",), ("organisation_id",)),
    ("users", ("id",), ("organisation_id", "roles", "system_admin")),
)
_IDS = frozenset({"id", "person_id", "record_id", "group_id", "user_id", "organisation_id"})
_TYPES: dict[str, Any] = {"granted": sa.Boolean, "system_admin": sa.Boolean, "roles": sa.JSON}

_AUDIT_LOG = sa.table(
    "audit_log",
    sa.column("seq", sa.BigInteger),
    sa.column("at", haven.db.dialect.UtcDateTime),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("surface", sa.String),
    sa.column("before_digest", sa.String),
    sa.column("after_digest", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
_AUDIT_HEAD = sa.table(
    "audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.BigInteger), sa.column("hash")
)


def _column(name: str) -> sa.ColumnClause[Any]:
    kind = haven.db.dialect.Guid if name in _IDS else _TYPES.get(name, sa.String)
    return sa.column(name, kind)


def _canonical(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(sorted(map(_canonical, value), key=repr))
    return value


def _digest(entity: str, key_text: str, rows: Iterator[Sequence[Any]]) -> str:
    canonical = sorted((tuple(map(_canonical, row)) for row in rows), key=repr)
    return hashlib.sha256(repr((entity, key_text, canonical)).encode()).hexdigest()


def _states(connection: sa.Connection) -> Iterator[tuple[str, str, str]]:
    """(table, key, digest) for every owning key with rows, table by table."""
    for name, key, state in _TABLES:
        keys = [_column(column) for column in key]
        table = sa.table(name, *keys, *(_column(column) for column in state))
        rows = connection.execute(sa.select(table).order_by(*keys))
        width = len(key)
        for owner, group in groupby(map(tuple, rows), key=lambda row: row[:width]):
            key_text = "/".join(owner)
            yield name, key_text, _digest(name, key_text, (row[width:] for row in group))


def upgrade() -> None:
    connection = op.get_bind()
    head = connection.execute(
        sa.select(_AUDIT_HEAD.c.seq, _AUDIT_HEAD.c.hash)
        .where(_AUDIT_HEAD.c.id == 1)
        .with_for_update()
    ).one()
    seq, previous = int(head.seq), str(head.hash)
    when = datetime.now(UTC)
    when_text = when.isoformat(timespec="microseconds")
    batch: list[dict[str, Any]] = []
    for entity, key_text, digest in list(_states(connection)):
        seq += 1
        fields = (seq, when_text, ACTOR, ACTION, entity, key_text, SURFACE, None, digest, previous)
        entry_hash = hashlib.sha256(repr(fields).encode()).hexdigest()
        batch.append(
            {
                "seq": seq,
                "at": when,
                "actor": ACTOR,
                "action": ACTION,
                "entity": entity,
                "entity_id": key_text,
                "surface": SURFACE,
                "before_digest": None,
                "after_digest": digest,
                "prev_hash": previous,
                "hash": entry_hash,
            }
        )
        previous = entry_hash
        if len(batch) >= BATCH:
            connection.execute(sa.insert(_AUDIT_LOG), batch)
            batch = []
    if batch:
        connection.execute(sa.insert(_AUDIT_LOG), batch)
    connection.execute(
        sa.update(_AUDIT_HEAD).where(_AUDIT_HEAD.c.id == 1).values(seq=seq, hash=previous)
    )


def downgrade() -> None:
    # The baseline entries stay: the chain is append-only, and removing entries breaks it.
    pass
