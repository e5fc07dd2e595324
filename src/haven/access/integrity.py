"""Checking the registry, and the tables that decide who reads it, against the audit chain.

Records: every record's stored state must still have the digest its last audit entry recorded,
so a row edited, added or deleted around Haven shows up. Links between incidents and people are
checked the same way, since they decide whose consent governs an incident.

The tables that decide access are digested per owning key instead: a person's consents, a
record's shares and named recipients, a group's members, a user's roles. Whenever Haven changes
them it appends an ``access-state`` entry with the digest of that key's rows, so a row inserted,
edited or deleted around Haven leaves its key with another digest than the chain's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import groupby
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from haven.access.models import Consent, RecordRecipient, RecordShare, SharingGroupMember, User
from haven.audit.chain import Change, record_digest
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.base import Base, table_of
from haven.registry import models
from haven.registry.state import stored_state

ACCESS_STATE = "access-state"

CHECKED: tuple[type[Base], ...] = (
    models.Incident,
    models.Person,
    models.Organisation,
    models.LegalInstrument,
    models.Evidence,
    models.IncidentPerson,
)


@dataclass(frozen=True, slots=True)
class AccessTable:
    """A table that decides access, audited per owning key: ``key`` names the owner's columns,
    ``state`` the columns whose values decide who reads what. ``owner`` says what one key is
    (empty when the key's first column names it: the kind of a shared record)."""

    model: type[Base]
    key: tuple[str, ...]
    state: tuple[str, ...]
    owner: str = ""
    label: str = ""

    @property
    def table(self) -> Table:
        return table_of(self.model)

    def subject(self, key_text: str) -> str:
        """How a message names one key's rows: "consents of person <id>"."""
        owner = f"{self.owner} {key_text}" if self.owner else key_text.replace("/", " ", 1)
        return f"{self.label or self.table.name} of {owner}"


CONSENTS = AccessTable(
    Consent, ("person_id",), ("recipient_kind", "member_state", "granted"), "person"
)
SHARES = AccessTable(RecordShare, ("entity", "record_id"), ("group_id",))
RECIPIENTS = AccessTable(RecordRecipient, ("entity", "record_id"), ("user_id",))
MEMBERS = AccessTable(SharingGroupMember, ("group_id",), ("organisation_id",), "group")
USER_ACCESS = AccessTable(
    User,
    ("id",),
    ("organisation_id", "roles", "system_admin"),
    "user",
    "users.roles, organisation_id and system_admin",
)
ACCESS_TABLES = (CONSENTS, SHARES, RECIPIENTS, MEMBERS, USER_ACCESS)


def access_digest(entity: str, key_text: str, rows: Iterable[Sequence[Any]]) -> str:
    """SHA-256 of one key's access-deciding values, rows and lists in a fixed order (a user's
    roles are a set); the table and key enter too, so no key's digest passes for another's.

    Unkeyed, unlike record digests: these values identify no one (ids, roles, consent flags,
    which the chain's own entries name), and the services that change them take no key. Data
    migration 0008 computes the same digest for the rows it found: a change here needs a new
    migration."""
    canonical = sorted((tuple(map(_canonical, row)) for row in rows), key=repr)
    return hashlib.sha256(repr((entity, key_text, canonical)).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(sorted(map(_canonical, value), key=repr))
    return value.value if isinstance(value, Enum) else value


def access_state_change(
    session: Session,
    access: AccessTable,
    key: Sequence[str],
    *,
    actor: str,
    surface: str | None = None,
) -> Change:
    """The audit change that records one key's access state as it now stands in the session's
    transaction; append it with the change that caused it."""
    table = access.table
    query = select(*(table.c[column] for column in access.state)).where(
        *(table.c[column] == value for column, value in zip(access.key, key, strict=True))
    )
    key_text = "/".join(key)
    digest = access_digest(table.name, key_text, session.execute(query).all())
    return Change(actor, ACCESS_STATE, table.name, key_text, after=digest, surface=surface)


def consent_state_change(session: Session, person_id: str, actor: str) -> Change:
    """The audit change for a person's consents as they now stand (call it after the consent
    rows are written: it reads them back)."""
    return access_state_change(session, CONSENTS, (person_id,), actor=actor)


# -- checking --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Discrepancy:
    entity: str  # the table
    record_id: str  # the record's id, or the owning key of access rows
    subject: str
    reason: str

    def describe(self) -> str:
        return f"{self.subject} {self.reason}"


def check_records(session: Session, cipher: FieldCipher) -> Iterator[Discrepancy]:
    """Yield every record, and every key of the tables that decide access, whose state differs
    from its last audited digest, that the chain never saw, or that is gone."""
    for model in CHECKED:
        yield from _check_model(session, cipher, model)
    for access in ACCESS_TABLES:
        yield from _check_access(session, access)


def _recorded(session: Session, entity: str, actions: tuple[str, ...]) -> dict[str, str | None]:
    """Each entity id's digest in its last entry among ``actions``."""
    entries = session.execute(
        select(AuditEntry.entity_id, AuditEntry.after_digest)
        .where(AuditEntry.entity == entity, AuditEntry.action.in_(actions))
        .order_by(AuditEntry.seq)
    )
    return {row.entity_id: row.after_digest for row in entries}


def _check_model(session: Session, cipher: FieldCipher, model: type[Base]) -> Iterator[Discrepancy]:
    table = table_of(model)

    def found(record_id: str, reason: str) -> Discrepancy:
        return Discrepancy(table.name, record_id, f"{table.name} record {record_id}", reason)

    recorded = _recorded(session, table.name, ("create", "update"))
    seen: set[str] = set()
    for record_id in session.scalars(select(table.c.id).order_by(table.c.id)):
        seen.add(record_id)
        if record_id not in recorded:
            yield found(record_id, "has no audit entry")
            continue
        state = stored_state(session, cipher, model, record_id)
        if record_digest(cipher, table.name, state) != recorded[record_id]:
            yield found(record_id, "differs from its last audited state")
    for missing in sorted(recorded.keys() - seen):
        yield found(missing, "was removed outside Haven")


def _check_access(session: Session, access: AccessTable) -> Iterator[Discrepancy]:
    table = access.table
    recorded = _recorded(session, table.name, (ACCESS_STATE,))
    current = _current_digests(session, access)
    empty = {key: access_digest(table.name, key, ()) for key in recorded.keys() - current.keys()}
    for key in sorted(recorded.keys() | current.keys()):
        if key not in recorded:
            reason = "were never audited"
        elif key not in current:
            if recorded[key] == empty[key]:
                continue  # Haven itself removed the last of them
            reason = "were removed outside Haven"
        elif current[key] != recorded[key]:
            reason = "differ from their last audited state"
        else:
            continue
        yield Discrepancy(table.name, key, access.subject(key), reason)


def _current_digests(session: Session, access: AccessTable) -> dict[str, str]:
    table = access.table
    keys = [table.c[column] for column in access.key]
    rows = session.execute(
        select(*keys, *(table.c[column] for column in access.state)).order_by(*keys)
    )
    width = len(keys)
    digests = {}
    for key, group in groupby(map(tuple, rows), key=lambda row: row[:width]):
        key_text = "/".join(key)
        digests[key_text] = access_digest(table.name, key_text, (row[width:] for row in group))
    return digests
