"""Notification tables: who wants to be told of what (subscriptions), where organisations are told
(webhooks), what is waiting to be told (the outbox) and what users were told in Haven (inbox).

Nothing here holds a name, a narrative or a place in the clear: an outbox row carries a kind, a
reference and a link; an address (e-mail) or the fuller content a channel is approved for is
sealed, bound to its row like every other encrypted column.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id, utcnow
from haven.domain.enums import Tlp
from haven.registry.models import closed


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    INBOX = "inbox"


class Mode(StrEnum):
    """Told at once, or gathered into one message at the next digest time."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"


class WatchEntity(StrEnum):
    """Registry records a subscription can watch for: a person or an organisation (an actor,
    such as a perpetrator agency) appearing in a new record."""

    PEOPLE = "people"
    ORGANISATIONS = "organisations"


class Subscription(Base):
    """A rule: which events to tell a user (or an organisation) about, by which channel.

    Every filter left empty matches anything; all filters given must match."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (organisation_id IS NULL)", name="one_owner"),
    )

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("users.id"), index=True)
    organisation_id: Mapped[str | None] = mapped_column(
        Guid, ForeignKey("contributors.id"), index=True
    )
    # Event kinds (haven.notify.events.EventKind values); empty means every kind.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_state: Mapped[str | None] = mapped_column(String(2))
    origin_state: Mapped[str | None] = mapped_column(String(2))
    tactic: Mapped[str | None] = mapped_column(String(40))
    urgent_only: Mapped[bool] = mapped_column(Boolean, default=False)
    watch_entity: Mapped[WatchEntity | None] = mapped_column(closed(WatchEntity, "watch_entity"))
    watch_id: Mapped[str | None] = mapped_column(Guid)
    mode: Mapped[Mode] = mapped_column(closed(Mode, "notify_mode"), default=Mode.IMMEDIATE)
    channel: Mapped[Channel] = mapped_column(closed(Channel, "notify_channel"))
    # For an organisation's e-mail subscription: the address to write to, sealed. A user's
    # e-mail goes to their login, read when the message is sent.
    address: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Webhook(Base):
    """An organisation's HTTP endpoint. Requests are signed with its secret (sealed here, shown
    once); after repeated failures it is disabled until an administrator enables it again."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    # TLP labels (values) of records whose fuller content this endpoint is approved to receive.
    approved_tlp: Mapped[list[str]] = mapped_column(JSON, default=list)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxMessage(Base):
    """One message to one recipient over one channel, written in the transaction of the change
    that caused it and delivered by the worker after commit, at least once.

    ``delivery_id`` stays the same across retries, so a receiver recognises a re-delivery."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NOT NULL) OR (webhook_id IS NOT NULL) OR (address IS NOT NULL)",
            name="has_recipient",
        ),
        # Due rows are found by time; delivered and failed ones have no next attempt.
        Index("ix_outbox_due", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    channel: Mapped[Channel] = mapped_column(closed(Channel, "notify_channel"))
    # The recipient: a user (e-mail to their login, or their inbox), a webhook, or an address.
    user_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("users.id"), index=True)
    webhook_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("webhooks.id"), index=True)
    address: Mapped[bytes | None] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(Guid)
    reference: Mapped[str] = mapped_column(String(40))
    link: Mapped[str] = mapped_column(String(500))
    tlp: Mapped[Tlp] = mapped_column(closed(Tlp, "tlp"))
    # What a message may always say: kind, reference, link, label. Nothing sensitive.
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # For a channel approved for the record's label: the fuller content, sealed; cleared once
    # delivered.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_id: Mapped[str] = mapped_column(Guid, unique=True, default=new_id)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A worker's lease: until then the row is being delivered; after it, another worker may
    # take it again (the first one crashed).
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Which claim holds the lease, so a worker whose lease ran out sees it lost the row.
    claimed_by: Mapped[str | None] = mapped_column(Guid)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why the last attempt failed, in Haven's words (a status code, an error class), never
    # the message's content.
    last_error: Mapped[str | None] = mapped_column(String(200))


class InboxItem(Base):
    """A notification shown to a user inside Haven."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"))
    # The outbox message's delivery id (unique: a re-delivery adds nothing), or a fresh id for
    # notices Haven writes itself.
    delivery_id: Mapped[str] = mapped_column(Guid, unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(40))
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
