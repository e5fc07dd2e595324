"""A person's consent as the gate applies it: a hard limit on top of every audience.

A person who made a consent statement reaches only the kinds of recipient they consented to.
Consent is kept per kind of recipient and, for authorities, per member state, with ``""`` standing
for every member state. The row for the reader's own member state decides; without one, the row
for every member state does. So a withdrawal for one member state narrows a consent given for all,
and a withdrawal for all revokes every member state's row (:mod:`haven.access.consent`). Consent
follows the person, never the incident's host state: correcting where something happened neither
moves nor widens it.

The rule is stated here in its three forms — per row, as one set, and for one loaded record — which
the property tests hold to one reference model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select

from haven.access.models import Consent
from haven.access.reader import Reader

EVERY_STATE = ""


@dataclass(frozen=True, slots=True)
class Grant:
    """One row of a person's consent."""

    kind: str
    member_state: str
    granted: bool


def _state(reader: Reader) -> str:
    return reader.member_state or EVERY_STATE


def reaches(grants: Iterable[Grant], reader: Reader) -> bool:
    """Whether a person's consent statement reaches this reader."""
    kind = reader.recipient_kind
    if kind is None:
        return False
    rows = {g.member_state: g.granted for g in grants if g.kind == kind.value}
    state = _state(reader)
    if state in rows:
        return rows[state]
    return rows.get(EVERY_STATE, False)


def _exists(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return select(literal(1)).where(*conditions).limit(1).offset(0).exists()


def blocks(reader: Reader, person_id: ColumnElement[str]) -> ColumnElement[bool]:
    """Per row: true where the person made a consent statement that does not reach the reader."""
    stated = _exists(Consent.person_id == person_id)
    kind = reader.recipient_kind
    if kind is None:
        return stated
    state = _state(reader)

    def row(member_state: str, granted: bool) -> ColumnElement[bool]:
        return _exists(
            Consent.person_id == person_id,
            Consent.recipient_kind == kind.value,
            Consent.member_state == member_state,
            Consent.granted.is_(granted),
        )

    if state == EVERY_STATE:
        granted = row(EVERY_STATE, True)
    else:
        granted = or_(row(state, True), and_(row(EVERY_STATE, True), ~row(state, False)))
    return and_(stated, ~granted)


def blocked_people(reader: Reader) -> Select[str]:
    """As one set: the people whose consent statement does not reach the reader."""
    kind = reader.recipient_kind
    if kind is None:
        return select(Consent.person_id).distinct()
    state = _state(reader)

    def seen(member_state: str, granted: bool) -> ColumnElement[int]:
        hit = and_(
            Consent.recipient_kind == kind.value,
            Consent.member_state == member_state,
            Consent.granted.is_(granted),
        )
        return func.max(case((hit, 1), else_=0))

    if state == EVERY_STATE:
        refused = seen(EVERY_STATE, True) == 0
    else:
        refused = and_(
            seen(state, True) == 0, or_(seen(EVERY_STATE, True) == 0, seen(state, False) == 1)
        )
    return select(Consent.person_id).group_by(Consent.person_id).having(refused)
