"""The channels against real receivers on 127.0.0.1: an SMTP server (aiosmtpd), with and without
STARTTLS, and an HTTP endpoint that checks the HMAC signature."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from haven.notify.channels import (
    DeliveryFailed,
    Item,
    Notice,
    deliver_to_inbox,
    notice_text,
    send_email,
    send_webhook,
    signature,
    webhook_body,
)
from haven.notify.models import InboxItem
from haven.settings import Settings

ITEM = Item(
    delivery_id="0190f0e0-0000-7000-8000-000000000001",
    kind="report-received",
    reference="R-2026-1F3A9C",
    link="https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa",
    tlp="amber",
)
NOTICE = Notice(ITEM.delivery_id, (ITEM,))
EXPECTED = (
    "There is something new to see in Haven: report-received R-2026-1F3A9C. "
    "Open https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa"
)


@pytest.fixture
def bare(tmp_path: Any) -> Settings:
    """Settings without a database: sending needs none."""
    return Settings(data_dir=tmp_path)


def _mail(settings: Settings, port: int, **more: Any) -> Settings:
    values = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "haven@haven.test"}
    return settings.model_copy(update=values | more)


def test_the_text_says_only_that_there_is_something_to_see() -> None:
    assert notice_text(ITEM) == EXPECTED


def test_an_email_reaches_a_real_smtp_server(bare: Settings, smtp_server: Any) -> None:
    send_email(_mail(bare, smtp_server.port), "focal@bka.example.org", NOTICE)

    (message,) = smtp_server.to("focal@bka.example.org")
    assert smtp_server.secure == [False]
    assert message["From"] == "haven@haven.test"
    assert message["Message-ID"] == f"<{ITEM.delivery_id}@haven>"
    assert message["X-Haven-Delivery"] == ITEM.delivery_id
    assert message["Subject"] == "Haven: report-received R-2026-1F3A9C"
    assert message.get_payload(decode=True).decode().strip() == EXPECTED


def test_an_email_goes_over_starttls_when_the_server_offers_it(
    bare: Settings, tls_smtp_server: Any
) -> None:
    send_email(_mail(bare, tls_smtp_server.port), "focal@bka.example.org", NOTICE)

    assert len(tls_smtp_server.to("focal@bka.example.org")) == 1
    assert tls_smtp_server.secure == [True]


def test_a_password_is_never_sent_without_starttls(bare: Settings, smtp_server: Any) -> None:
    configured = _mail(bare, smtp_server.port, smtp_user="haven", smtp_password="hunter22")
    with pytest.raises(DeliveryFailed, match="no STARTTLS"):
        send_email(configured, "focal@bka.example.org", NOTICE)
    assert smtp_server.messages == []


def test_an_unreachable_mail_server_is_a_failure_without_detail(bare: Settings) -> None:
    from socket import socket

    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed, match=r"^mail server: ConnectionRefusedError$"):
        send_email(_mail(bare, port), "focal@bka.example.org", NOTICE)


def test_a_digest_email_lists_every_reference(bare: Settings, smtp_server: Any) -> None:
    second = Item(
        "0190f0e0-0000-7000-8000-000000000002", "record-created", "I-2026-00AA11", "/x", "green"
    )
    digest = Notice("0190f0e0-0000-7000-8000-0000000000dd", (ITEM, second), digest=True)

    send_email(_mail(bare, smtp_server.port), "focal@bka.example.org", digest)

    (message,) = smtp_server.messages
    body = message.get_payload(decode=True).decode()
    assert "R-2026-1F3A9C" in body
    assert "I-2026-00AA11" in body
    assert message["Subject"] == "Haven: 2 new items"


def test_a_webhook_is_signed_and_carries_its_delivery_id(receiver: Any) -> None:
    receiver.secret = "whsec_test"
    send_webhook(receiver.url, "whsec_test", NOTICE)

    assert receiver.deliveries == [ITEM.delivery_id]
    assert receiver.bad_signatures == 0
    (body,) = receiver.bodies
    assert body == {
        "delivery_id": ITEM.delivery_id,
        "digest": False,
        "kind": "report-received",
        "link": ITEM.link,
        "reference": "R-2026-1F3A9C",
        "text": EXPECTED,
        "tlp": "amber",
    }


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Any) -> None:
    receiver.secret = "whsec_right"
    with pytest.raises(DeliveryFailed, match="HTTP 401"):
        send_webhook(receiver.url, "whsec_wrong", NOTICE)
    assert receiver.bad_signatures == 1
    assert receiver.deliveries == []


def test_the_signature_covers_timestamp_and_body() -> None:
    body = webhook_body(NOTICE)
    assert json.loads(body)["delivery_id"] == ITEM.delivery_id
    assert signature("s", "1700000000", body) != signature("s", "1700000001", body)
    assert signature("s", "1700000000", body).startswith("sha256=")


@pytest.mark.parametrize("status", [302, 500, 404])
def test_anything_but_2xx_is_a_failure(receiver: Any, status: int) -> None:
    receiver.secret = "k"
    receiver.status = status
    with pytest.raises(DeliveryFailed, match=f"HTTP {status}"):
        send_webhook(receiver.url, "k", NOTICE)


def test_an_unreachable_receiver_is_a_failure(receiver: Any) -> None:
    with pytest.raises(DeliveryFailed, match="unreachable"):
        send_webhook("http://127.0.0.1:9/hook", "k", NOTICE, timeout=2)


def test_a_slow_receiver_times_out(receiver: Any) -> None:
    receiver.secret = "k"
    receiver.delay = 1.0
    with pytest.raises(DeliveryFailed, match="unreachable"):
        send_webhook(receiver.url, "k", NOTICE, timeout=0.3)


def test_an_inbox_item_is_added_once_however_often_it_is_delivered(
    runtime: Any, world: Any
) -> None:
    item = Item(ITEM.delivery_id, ITEM.kind, ITEM.reference, "/reports/x", ITEM.tlp)
    for _ in range(2):
        with runtime.transaction() as session:
            deliver_to_inbox(session, world.focal_point, [item])
    with runtime.reading() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 1
        (row,) = session.scalars(select(InboxItem)).all()
    assert (row.user_id, row.link, row.read_at) == (world.focal_point, "/reports/x", None)
