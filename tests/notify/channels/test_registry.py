"""The channel registry: one class per stored channel name, and the rules every channel obeys
whatever its class (links, approved content, who may subscribe)."""

from __future__ import annotations

import pytest

from haven.domain.enums import Tlp
from haven.errors import ValidationFailed
from haven.notify import models
from haven.notify.channels import (
    CHANNELS,
    Channel,
    EmailChannel,
    InboxChannel,
    Item,
    WebhookChannel,
    channel_named,
    choices,
    notice_text,
)
from haven.notify.models import OutboxMessage

BASE = "https://haven.test"
CONTENT = {"narrative": "Two men waited outside the flat."}


def _row() -> OutboxMessage:
    return OutboxMessage(
        delivery_id="0190f0e0-0000-7000-8000-000000000001",
        kind="report-received",
        reference="R-2026-1F3A9C",
        link="/reports/0190f0e0-0000-7000-8000-0000000000aa",
        tlp=Tlp.AMBER,
    )


def test_every_stored_channel_name_has_exactly_one_registered_class() -> None:
    names = [channel.name for channel in CHANNELS]
    assert sorted(names) == sorted(member.value for member in models.Channel)
    assert len(set(names)) == len(names)
    assert len({type(channel) for channel in CHANNELS}) == len(CHANNELS)


def test_a_stored_name_finds_its_channel() -> None:
    assert isinstance(channel_named(models.Channel.EMAIL), EmailChannel)
    assert isinstance(channel_named("webhook"), WebhookChannel)
    assert isinstance(channel_named("inbox"), InboxChannel)
    with pytest.raises(ValueError, match="pigeon"):
        channel_named("pigeon")


def test_email_and_webhooks_leave_haven_and_the_inbox_stays() -> None:
    leaving = {channel.name for channel in CHANNELS if channel.leaves_haven}
    assert leaving == {"email", "webhook"}


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.name)
def test_a_message_leaving_haven_links_back_and_one_inside_stays_a_path(channel: Channel) -> None:
    item = channel.item(_row(), BASE, None)
    expected = BASE + _row().link if channel.leaves_haven else _row().link
    assert item.link == expected
    assert notice_text(item).endswith(f"Open {expected}")


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.name)
def test_only_a_channel_approved_for_content_is_handed_it(channel: Channel) -> None:
    item = channel.item(_row(), BASE, CONTENT)
    assert item.content == (CONTENT if channel.carries_approved_content else None)


def test_only_webhooks_may_carry_approved_content() -> None:
    assert [c.name for c in CHANNELS if c.carries_approved_content] == ["webhook"]


def test_the_forms_offer_users_what_users_may_subscribe_to() -> None:
    own = choices(organisation=False, login="focal@bka.example.org")
    assert own == [("inbox", "inbox in Haven"), ("email", "e-mail to focal@bka.example.org")]
    organisation = choices(organisation=True, login="admin@bka.example.org")
    assert [name for name, _ in organisation] == [channel.name for channel in CHANNELS]
    offered = {name for name, _ in own}
    for channel in CHANNELS:
        if channel.name in offered:
            channel.check(organisation=False, address=None)
        else:
            with pytest.raises(ValidationFailed):
                channel.check(organisation=False, address=None)


def test_the_text_says_only_that_there_is_something_to_see() -> None:
    item = Item("d", "report-received", "R-2026-1F3A9C", "https://haven.test/reports/x", "amber")
    assert notice_text(item) == (
        "There is something new to see in Haven: report-received R-2026-1F3A9C. "
        "Open https://haven.test/reports/x"
    )
