"""Keyset pages over the registry: newest first by id (ids are UUIDv7, so id order is time order),
the cursor being the last id of the page before."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.orm import Session

from haven.db.base import Base, table_of
from haven.errors import NotFound, ValidationFailed

MAX_PAGE = 200
# The canonical text of a UUID, as Haven writes ids. Anything else is no record's id: it is
# answered before the query, because PostgreSQL refuses to compare it with a uuid column.
_RECORD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def page_size(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def is_record_id(value: str) -> bool:
    return _RECORD_ID.fullmatch(value) is not None


def check_cursor(after: str | None) -> None:
    if after is not None and not is_record_id(after):
        raise ValidationFailed("cursor: not a cursor this API gave", hint="use next_cursor")


def require_record_id(value: str, missing: str) -> None:
    """Refuse a malformed id exactly as a well-formed one that names no record."""
    if not is_record_id(value):
        raise NotFound(missing)


Row = TypeVar("Row", bound=Base)


def keyset_page(
    session: Session,
    model: type[Row],
    conditions: Sequence[ColumnElement[bool]],
    *,
    after: str | None,
    limit: int,
) -> tuple[list[Row], str | None]:
    """A page of ``model`` rows meeting ``conditions``, newest first, after the cursor; returns
    the page and the next cursor (None on the last page)."""
    check_cursor(after)
    limit = page_size(limit)
    table = table_of(model)
    query = select(model).where(*conditions)
    if after is not None:
        query = query.where(table.c.id < after)
    rows = list(session.scalars(query.order_by(table.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    identity = inspect(rows[-1]).identity
    return rows, None if identity is None else str(identity[0])
