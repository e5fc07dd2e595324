"""The inbox: a user's list of notices inside Haven, at /inbox."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.notify.channels.base import Channel, Notice, Recipient, active_user
from haven.notify.models import InboxItem, OutboxMessage
from haven.settings import Settings


class InboxChannel(Channel):
    """Stays inside Haven: links are paths, opened after sign-in through the policy gate. An
    organisation's inbox subscription reaches the inbox of each of its users who read records."""

    name: ClassVar[str] = "inbox"
    leaves_haven: ClassVar[bool] = False

    def choice(self, *, organisation: bool, login: str) -> str:
        return "inbox of every caseworker" if organisation else "inbox in Haven"

    def recipient(self, session: Session, cipher: FieldCipher, row: OutboxMessage) -> Recipient:
        return Recipient(user_id=active_user(session, row.user_id).id)

    def render(self, settings: Settings, to: Recipient, notice: Notice) -> list[InboxItem]:
        return [
            InboxItem(
                id=new_id(),
                user_id=to.user_id,
                delivery_id=item.delivery_id,
                kind=item.kind,
                reference=item.reference,
                link=item.link,
            )
            for item in notice.items
        ]

    def deliver(self, settings: Settings, to: Recipient, notice: Notice) -> None:
        """Nothing leaves Haven: the items are written in :meth:`record`."""

    def record(self, session: Session, settings: Settings, to: Recipient, notice: Notice) -> None:
        """Each item once, however often it is delivered."""
        ids = [item.delivery_id for item in notice.items]
        present = set(
            session.scalars(select(InboxItem.delivery_id).where(InboxItem.delivery_id.in_(ids)))
        )
        for row in self.render(settings, to, notice):
            if row.delivery_id not in present:
                session.add(row)
        session.flush()
