"""What every notification channel is: a name stored with each subscription and outbox row, who
may subscribe to it, whether its messages leave Haven, how it finds its recipient, renders a
message and delivers it.

A message says there is something to see, with its reference and link, and nothing else: its
text comes from :func:`notice_text` alone. Errors name what failed (a status code, an error
class), never the message or the recipient, so they are safe to store and to log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from haven.access.models import User
from haven.crypto.fields import FieldCipher
from haven.errors import ValidationFailed
from haven.notify.models import OutboxMessage
from haven.registry.sealed import sealed_context
from haven.settings import Settings


class DeliveryFailed(Exception):
    """A message was not accepted; the words are safe to store (no content, no address)."""


class Refused(Exception):
    """There is nobody to deliver to (a disabled user, a removed webhook): not the receiver's
    failure, so it does not count against a webhook."""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to see: what a message about it may say."""

    delivery_id: str
    kind: str
    reference: str
    link: str  # absolute for a channel that leaves Haven, a path within Haven otherwise
    tlp: str
    content: dict[str, Any] | None = None  # only for a channel approved for the label


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to send: a single item, or a digest of several under its own delivery id."""

    delivery_id: str
    items: tuple[Item, ...]
    digest: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where one message goes: a user, an address, a webhook's endpoint and its secret."""

    user_id: str | None = None
    address: str | None = field(default=None, repr=False)
    webhook_id: str | None = None
    url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)


def notice_text(item: Item) -> str:
    return f"There is something new to see in Haven: {item.kind} {item.reference}. Open {item.link}"


class Channel(ABC):
    """One way of telling someone. Subclasses live in this package, one module each, and are
    registered in :data:`haven.notify.channels.CHANNELS`."""

    # The value stored in subscriptions.channel and outbox.channel (the notify_channel check).
    name: ClassVar[str]
    # A message that leaves Haven (e-mail, webhooks) goes where Haven's access rules do not
    # follow it: it carries only notice_text's words and an absolute link, never a name, a
    # narrative or a place.
    leaves_haven: ClassVar[bool]
    # The one exception: a channel an administrator may approve, per TLP label, for the fuller
    # content sealed in its outbox rows (webhooks). No other channel is ever handed it.
    carries_approved_content: ClassVar[bool] = False
    # Webhooks belong to organisations; every other channel serves users too.
    for_users: ClassVar[bool] = True

    @abstractmethod
    def choice(self, *, organisation: bool, login: str) -> str:
        """How the subscription form offers this channel to a user (whose login is given) or
        to an organisation's administrators."""

    def check(self, *, organisation: bool, address: str | None) -> None:
        """Refuse a subscription this channel cannot serve (raises ValidationFailed)."""
        if not organisation and not self.for_users:
            raise ValidationFailed(
                f"{self.name}s belong to organisations", hint="ask an administrator"
            )
        if address:
            raise ValidationFailed(f"the {self.name} channel takes no address")

    def ready(self, settings: Settings) -> bool:
        """Whether messages can go now; those of a channel that is not ready wait."""
        return True

    def item(self, row: OutboxMessage, base_url: str, content: dict[str, Any] | None) -> Item:
        """What a message about the row may say by this channel: the link absolute if it
        leaves Haven, the approved content only if this channel may carry it."""
        return Item(
            delivery_id=row.delivery_id,
            kind=row.kind,
            reference=row.reference,
            link=base_url + row.link if self.leaves_haven else row.link,
            tlp=row.tlp.value,
            content=content if self.carries_approved_content else None,
        )

    @abstractmethod
    def recipient(self, session: Session, cipher: FieldCipher, row: OutboxMessage) -> Recipient:
        """Where the row's message goes, read when it is sent; raises Refused if nowhere."""

    @abstractmethod
    def render(self, settings: Settings, to: Recipient, notice: Notice) -> object:
        """The message as this channel sends or stores it."""

    @abstractmethod
    def deliver(self, settings: Settings, to: Recipient, notice: Notice) -> None:
        """Send the message, outside any transaction; raises DeliveryFailed. A channel that
        stays inside Haven sends nothing here and writes in :meth:`record` instead."""

    @abstractmethod
    def record(self, session: Session, settings: Settings, to: Recipient, notice: Notice) -> None:
        """Write what delivery leaves in Haven, in the transaction that marks the message
        delivered, so the two happen together or not at all."""


def active_user(session: Session, user_id: str | None) -> User:
    """The recipient user, refused if gone or disabled."""
    if user_id is None:
        raise Refused("nowhere to deliver")
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        raise Refused("the user is disabled")
    return user


def login_address(cipher: FieldCipher, user: User) -> str:
    return cipher.decrypt(user.login, sealed_context("users", "login", user.id)).decode()
