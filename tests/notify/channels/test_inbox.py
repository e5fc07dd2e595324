"""The inbox channel: items written in the transaction that marks them delivered, each once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from haven.notify.channels import InboxChannel, Item, Notice, Recipient
from haven.notify.models import InboxItem
from haven.runtime import Runtime

ITEM = Item(
    "0190f0e0-0000-7000-8000-000000000001",
    "report-received",
    "R-2026-1F3A9C",
    "/reports/x",
    "amber",
)


def test_an_inbox_item_is_added_once_however_often_it_is_delivered(
    runtime: Runtime, world: Any
) -> None:
    inbox = InboxChannel()
    to = Recipient(user_id=world.focal_point)
    notice = Notice(ITEM.delivery_id, (ITEM,))
    for _ in range(2):
        inbox.deliver(runtime.settings, to, notice)  # sends nothing
        with runtime.transaction() as session:
            inbox.record(session, runtime.settings, to, notice)
    with runtime.reading() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 1
        (row,) = session.scalars(select(InboxItem)).all()
    assert (row.user_id, row.link, row.read_at) == (world.focal_point, "/reports/x", None)
