"""The notification channels, registered in one place: the worker, the subscription rules and
the subscription forms read :data:`CHANNELS` and nothing else.

A new channel is one :class:`Channel` subclass in a module of this package, one line in
:data:`CHANNELS`, and its name in the stored vocabulary (:class:`haven.notify.models.Channel`)
with a migration widening the ``notify_channel`` check. docs/notification.md walks through it.
"""

from __future__ import annotations

from haven.notify import models
from haven.notify.channels.base import (
    Channel,
    DeliveryFailed,
    Item,
    Notice,
    Recipient,
    Refused,
    notice_text,
)
from haven.notify.channels.inbox import InboxChannel
from haven.notify.channels.mail import EmailChannel
from haven.notify.channels.webhook import WebhookChannel

# In the order the subscription forms offer them: the first, preselected, stays inside Haven.
CHANNELS: tuple[Channel, ...] = (InboxChannel(), EmailChannel(), WebhookChannel())

# A registered name missing from the stored vocabulary fails here, at import, not at the first
# message.
_BY_NAME: dict[models.Channel, Channel] = {models.Channel(c.name): c for c in CHANNELS}


def channel_named(name: str) -> Channel:
    """The registered channel of a stored name (a subscription's or an outbox row's)."""
    return _BY_NAME[models.Channel(name)]


def choices(*, organisation: bool, login: str) -> list[tuple[str, str]]:
    """The channels a subscription form offers, as (stored name, label)."""
    return [
        (channel.name, channel.choice(organisation=organisation, login=login))
        for channel in CHANNELS
        if organisation or channel.for_users
    ]


__all__ = [
    "CHANNELS",
    "Channel",
    "DeliveryFailed",
    "EmailChannel",
    "InboxChannel",
    "Item",
    "Notice",
    "Recipient",
    "Refused",
    "WebhookChannel",
    "channel_named",
    "choices",
    "notice_text",
]
