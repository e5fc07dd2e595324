"""The audiences a record can reach, each in every form the gate needs.

An audience is one kind of reader a record may reach: the public, the whole community, the
contributing organisation, the sharing groups a record names, its named recipients, and the
audiences that features hand in (the organisations a case was referred to, the authorities of the
member state of an urgent case: :mod:`haven.casework.audiences`). Each states, for one reader:

- :meth:`Audience.row`: a condition on one row, probing an index per row (lists and pages);
- :meth:`Audience.ids`: the ids it reaches as one uncorrelated set (statistics over many rows),
  or None for a *plain* audience, which the record's own columns decide;
- :meth:`Audience.holds`: the check of one loaded record (:class:`Facts`), for notifications,
  exports and feeds that judge many readers of the same record;
- :meth:`Audience.members`: what that check needs to know of each record.

Which labels reach which audience is declared once, in :mod:`haven.access.policy`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import ColumnElement, Select, Table, literal, select, true
from sqlalchemy.orm import Session

from haven.access.consent_rule import Grant
from haven.access.models import RecordRecipient, RecordShare
from haven.access.reader import Reader


def probe(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS of one matching row, looked up per candidate row through an index. ``OFFSET 0``
    keeps PostgreSQL from turning a correlated EXISTS inside OR into a "hashed SubPlan" that
    first collects every share or consent of the reader (200,000 rows for a busy group, 35 ms
    before the first row); so a page of 50 costs some 50 index probes instead."""
    return select(literal(1)).where(*conditions).limit(1).offset(0).exists()


@dataclass(frozen=True, slots=True)
class Facts:
    """What decides who may see one record, loaded once for judging many readers."""

    tlp: str
    contributor: str
    cleared: bool
    # For each audience that is not plain, who or what it holds for this record: group ids,
    # user ids, organisation ids, member states.
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The consent statements of each person whose consent governs the record, one tuple of
    # grants a person; a person who made no statement is not listed.
    consents: tuple[tuple[Grant, ...], ...] = ()


class Audience:
    """One kind of reader a record may reach."""

    name: ClassVar[str]
    # Decided by the record's own columns (label, contributor) alone: counted by the count tables
    # without looking elsewhere.
    plain: ClassVar[bool] = False
    # The tables whose records it reaches; None for every labelled table.
    tables: ClassVar[frozenset[str] | None] = None

    def applies(self, table: Table) -> bool:
        return self.tables is None or table.name in self.tables

    def admits(self, reader: Reader) -> bool:
        """Whether this reader can belong to the audience at all."""
        raise NotImplementedError

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        raise NotImplementedError

    def ids(self, reader: Reader, table: Table) -> Select[str] | None:
        return None

    def bulk(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        """The set form: one uncorrelated ``IN`` the database evaluates once for many rows."""
        ids = self.ids(reader, table)
        return self.row(reader, table) if ids is None else table.c.id.in_(ids)

    def keyed(self, reader: Reader, contributor: ColumnElement[str]) -> ColumnElement[bool]:
        """For a plain audience: the condition on a count table's ``contributor`` key column."""
        return true()

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return reader_in(facts.members.get(self.name, frozenset()), self.member_key(reader))

    def member_key(self, reader: Reader) -> str | None:
        return None

    def members(self, session: Session, table: Table, ids: Sequence[str]) -> dict[str, set[str]]:
        return {}


def reader_in(members: frozenset[str], key: str | None) -> bool:
    return key is not None and key in members


class Public(Audience):
    name = "public"
    plain = True

    def admits(self, reader: Reader) -> bool:
        return reader.is_public

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        return true()

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return True


class Community(Audience):
    """Every organisation that uses Haven."""

    name = "community"
    plain = True

    def admits(self, reader: Reader) -> bool:
        return not reader.is_public

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        return true()

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return True


class Contributor(Audience):
    """The organisation that contributed the record."""

    name = "contributor"
    plain = True

    def admits(self, reader: Reader) -> bool:
        return reader.organisation_id is not None

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        return table.c.contributor_id == reader.organisation_id

    def keyed(self, reader: Reader, contributor: ColumnElement[str]) -> ColumnElement[bool]:
        return contributor == (reader.organisation_id or "")

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return facts.contributor == reader.organisation_id


class _Listed(Audience):
    """An audience listed beside the record in a table of (entity, record_id, key)."""

    model: ClassVar[type[RecordShare] | type[RecordRecipient]]
    column: ClassVar[str]

    def _keys(self, reader: Reader) -> list[str]:
        raise NotImplementedError

    def admits(self, reader: Reader) -> bool:
        return bool(self._keys(reader))

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        listed = self.model.__table__
        return probe(
            listed.c.entity == table.name,
            listed.c.record_id == table.c.id,
            listed.c[self.column].in_(self._keys(reader)),
        )

    def ids(self, reader: Reader, table: Table) -> Select[str]:
        listed = self.model.__table__
        return select(listed.c.record_id).where(
            listed.c.entity == table.name, listed.c[self.column].in_(self._keys(reader))
        )

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return bool(facts.members.get(self.name, frozenset()) & set(self._keys(reader)))

    def members(self, session: Session, table: Table, ids: Sequence[str]) -> dict[str, set[str]]:
        listed = self.model.__table__
        found: dict[str, set[str]] = defaultdict(set)
        rows = session.execute(
            select(listed.c.record_id, listed.c[self.column]).where(
                listed.c.entity == table.name, listed.c.record_id.in_(ids)
            )
        )
        for record_id, key in rows:
            found[record_id].add(key)
        return found


class Groups(_Listed):
    """The sharing groups a record names."""

    name = "groups"
    model = RecordShare
    column = "group_id"

    def _keys(self, reader: Reader) -> list[str]:
        return sorted(reader.groups)


class Recipients(_Listed):
    """The users a record names."""

    name = "recipients"
    model = RecordRecipient
    column = "user_id"

    def _keys(self, reader: Reader) -> list[str]:
        return [reader.user_id] if reader.user_id else []


class Cleared(Audience):
    """The public's statistics, for a record its contributor cleared for them."""

    name = "cleared"
    plain = True
    tables = frozenset({"incidents"})

    def admits(self, reader: Reader) -> bool:
        return reader.is_public

    def row(self, reader: Reader, table: Table) -> ColumnElement[bool]:
        return table.c.cleared_for_statistics.is_(True)

    def holds(self, reader: Reader, facts: Facts) -> bool:
        return facts.cleared
