"""Keyset pages over the registry: newest first by id (ids are UUIDv7, so id order is time order),
the cursor being the last id of the page before."""

from __future__ import annotations

import re

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
