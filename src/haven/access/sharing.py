"""Naming who else may read a record: sharing groups for AMBER, recipients for RED."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from haven.access.integrity import RECIPIENTS, SHARES, access_state_change
from haven.access.models import RecordRecipient, RecordShare, User
from haven.access.policy import Reader
from haven.audit.chain import append
from haven.db.base import Base
from haven.errors import Forbidden, ValidationFailed
from haven.registry.paging import is_record_id


@dataclass(frozen=True, slots=True)
class Share:
    """Who else may read one record: sharing groups (TLP:AMBER) and named recipients
    (TLP:RED), by their ids."""

    entity: str
    record_id: str
    groups: Iterable[str] = ()
    recipients: Iterable[str] = ()


def share_record(session: Session, reader: Reader, share: Share) -> None:
    """Share a record the reader's organisation contributed. Only groups the organisation
    belongs to can be named; the author of a record is always one of its recipients."""
    entity, record_id = share.entity, share.record_id
    contributor = session.scalar(
        select(table_of_entity(entity).c.contributor_id).where(
            table_of_entity(entity).c.id == record_id
        )
    )
    if contributor is None or contributor != reader.organisation_id:
        raise Forbidden("only the organisation that contributed a record shares it")
    wanted_groups = sorted(set(share.groups))
    recipients = list(share.recipients)
    if not all(map(is_record_id, [*wanted_groups, *recipients])):
        raise ValidationFailed("sharing groups and recipients are named by their ids")
    foreign = set(wanted_groups) - reader.groups
    if foreign:
        raise ValidationFailed("a record can only be shared with groups your organisation is in")
    wanted_recipients = sorted({*recipients, *([reader.user_id] if reader.user_id else [])})
    known = set(session.scalars(select(User.id).where(User.id.in_(wanted_recipients))))
    if set(wanted_recipients) - known:
        raise ValidationFailed("a named recipient is not a user of Haven")
    changed = []
    if wanted_groups:
        session.execute(
            insert(RecordShare),
            [{"entity": entity, "record_id": record_id, "group_id": g} for g in wanted_groups],
        )
        changed.append(SHARES)
    if wanted_recipients:
        session.execute(
            insert(RecordRecipient),
            [{"entity": entity, "record_id": record_id, "user_id": u} for u in wanted_recipients],
        )
        changed.append(RECIPIENTS)
    key = (entity, record_id)
    append(
        session,
        [
            access_state_change(session, table, key, actor=reader.actor, surface=reader.surface)
            for table in changed
        ],
    )


def table_of_entity(entity: str) -> Table:
    """The labelled table a shared record lives in."""
    table = Base.metadata.tables.get(entity)
    if table is None or "contributor_id" not in table.c:
        raise ValidationFailed(f"records of {entity!r} are not shared")
    return table
