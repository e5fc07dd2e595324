"""The e-mail channel against a real SMTP server on 127.0.0.1 (aiosmtpd), with and without
STARTTLS."""

from __future__ import annotations

from socket import socket
from typing import Any

import pytest

from haven.errors import ValidationFailed
from haven.notify.channels import DeliveryFailed, EmailChannel, Item, Notice, Recipient
from haven.settings import Settings

ITEM = Item(
    delivery_id="0190f0e0-0000-7000-8000-000000000001",
    kind="report-received",
    reference="R-2026-1F3A9C",
    link="https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa",
    tlp="amber",
)
NOTICE = Notice(ITEM.delivery_id, (ITEM,))
TO = Recipient(address="focal@bka.example.org")
EXPECTED = (
    "There is something new to see in Haven: report-received R-2026-1F3A9C. "
    "Open https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa"
)
EMAIL = EmailChannel()


@pytest.fixture
def bare(tmp_path: Any) -> Settings:
    """Settings without a database: sending needs none."""
    return Settings(data_dir=tmp_path)


def _mail(settings: Settings, port: int, **more: Any) -> Settings:
    values = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "haven@haven.test"}
    return settings.model_copy(update=values | more)


def test_an_email_reaches_a_real_smtp_server(bare: Settings, smtp_server: Any) -> None:
    EMAIL.deliver(_mail(bare, smtp_server.port), TO, NOTICE)

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
    EMAIL.deliver(_mail(bare, tls_smtp_server.port), TO, NOTICE)

    assert len(tls_smtp_server.to("focal@bka.example.org")) == 1
    assert tls_smtp_server.secure == [True]


def test_a_password_is_never_sent_without_starttls(bare: Settings, smtp_server: Any) -> None:
    configured = _mail(bare, smtp_server.port, smtp_user="haven", smtp_password="hunter22")
    with pytest.raises(DeliveryFailed, match="no STARTTLS"):
        EMAIL.deliver(configured, TO, NOTICE)
    assert smtp_server.messages == []


def test_an_unreachable_mail_server_is_a_failure_without_detail(bare: Settings) -> None:
    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed, match=r"^mail server: ConnectionRefusedError$"):
        EMAIL.deliver(_mail(bare, port), TO, NOTICE)


def test_without_an_address_nothing_is_sent(bare: Settings, smtp_server: Any) -> None:
    with pytest.raises(DeliveryFailed, match="nowhere to deliver"):
        EMAIL.deliver(_mail(bare, smtp_server.port), Recipient(), NOTICE)
    assert smtp_server.messages == []


def test_a_digest_email_lists_every_reference(bare: Settings, smtp_server: Any) -> None:
    second = Item(
        "0190f0e0-0000-7000-8000-000000000002", "record-created", "I-2026-00AA11", "/x", "green"
    )
    digest = Notice("0190f0e0-0000-7000-8000-0000000000dd", (ITEM, second), digest=True)

    EMAIL.deliver(_mail(bare, smtp_server.port), TO, digest)

    (message,) = smtp_server.messages
    body = message.get_payload(decode=True).decode()
    assert "R-2026-1F3A9C" in body
    assert "I-2026-00AA11" in body
    assert message["Subject"] == "Haven: 2 new items"


def test_email_waits_without_a_mail_server(bare: Settings) -> None:
    assert not EMAIL.ready(bare)
    assert EMAIL.ready(_mail(bare, 25))


@pytest.mark.parametrize(
    ("organisation", "address", "message"),
    [
        (True, None, "give the e-mail address"),
        (True, "no-at-sign", "give the e-mail address"),
        (True, "a@" + "x" * 320, "give the e-mail address"),
        (False, "x@example.org", "their own login"),
    ],
)
def test_an_email_subscription_is_checked(
    organisation: bool, address: str | None, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        EMAIL.check(organisation=organisation, address=address)


def test_an_email_subscription_that_fits_passes() -> None:
    EMAIL.check(organisation=True, address="desk@bka.example.org")
    EMAIL.check(organisation=False, address=None)
