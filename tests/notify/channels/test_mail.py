"""The e-mail channel against a real SMTP server on 127.0.0.1 (aiosmtpd): in the clear, with
STARTTLS, and with implicit TLS (SMTPS), whose certificate must verify."""

from __future__ import annotations

import email
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from pathlib import Path
from socket import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from haven.db.values import new_id, utcnow
from haven.domain.enums import Tlp
from haven.errors import ConfigurationError, ValidationFailed
from haven.notify.channels import DeliveryFailed, EmailChannel, Item, Notice, Recipient
from haven.notify.models import Channel, OutboxMessage
from haven.notify.worker import deliver_batch
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime
from haven.settings import Settings, load_settings

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


# -- SMTPS: implicit TLS on its own port (465 in production) ---------------------------------


@dataclass
class TlsMailbox:
    """What an implicit-TLS server received, with the TLS version each message came over."""

    port: int
    messages: list[Message] = field(default_factory=list)
    tls_versions: list[str | None] = field(default_factory=list)


class _TlsHandler:
    def __init__(self, box: TlsMailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, _session: Any, envelope: Any) -> str:
        tls = server.transport.get_extra_info("ssl_object")
        self.box.tls_versions.append(None if tls is None else tls.version())
        self.box.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def trust_nothing_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No environment variable makes OpenSSL trust the test certificate: only the setting may."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def smtps_server(certificate: Any, trust_nothing_by_default: None) -> Iterator[TlsMailbox]:
    """An SMTP server on 127.0.0.1 that speaks TLS from the first byte."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        box = TlsMailbox(probe.getsockname()[1])
    controller = Controller(
        _TlsHandler(box), hostname="127.0.0.1", port=box.port, ssl_context=context
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def _smtps(settings: Settings, port: int, **more: Any) -> Settings:
    return _mail(settings, port, smtp_security="tls", **more)


def test_an_email_goes_over_implicit_tls_to_a_verified_server(
    bare: Settings, smtps_server: TlsMailbox, certificate: Any
) -> None:
    EMAIL.deliver(_smtps(bare, smtps_server.port, smtp_ca_file=certificate.cert), TO, NOTICE)

    (message,) = smtps_server.messages
    assert message["X-Haven-Delivery"] == ITEM.delivery_id
    assert smtps_server.tls_versions[0] in {"TLSv1.2", "TLSv1.3"}


def test_a_certificate_that_does_not_verify_sends_nothing(
    bare: Settings, smtps_server: TlsMailbox
) -> None:
    with pytest.raises(DeliveryFailed, match=r"^mail server: SSLCertVerificationError$"):
        EMAIL.deliver(_smtps(bare, smtps_server.port), TO, NOTICE)
    assert smtps_server.messages == []


def test_a_certificate_for_another_name_does_not_verify(
    bare: Settings, smtps_server: TlsMailbox, certificate: Any
) -> None:
    # The certificate names 127.0.0.1; reached as localhost, it does not name the host.
    configured = _smtps(bare, smtps_server.port, smtp_ca_file=certificate.cert)
    with pytest.raises(DeliveryFailed, match="SSLCertVerificationError"):
        EMAIL.deliver(configured.model_copy(update={"smtp_host": "localhost"}), TO, NOTICE)
    assert smtps_server.messages == []


def test_implicit_tls_never_falls_back_to_the_clear(
    bare: Settings, smtp_server: Any, certificate: Any
) -> None:
    configured = _smtps(bare, smtp_server.port, smtp_ca_file=certificate.cert)
    with pytest.raises(DeliveryFailed, match=r"^mail server: SSLError$"):
        EMAIL.deliver(configured, TO, NOTICE)
    assert smtp_server.messages == []


def test_starttls_verifies_against_the_ca_file_too(
    bare: Settings, tls_smtp_server: Any, certificate: Any, trust_nothing_by_default: None
) -> None:
    with pytest.raises(DeliveryFailed, match="SSLCertVerificationError"):
        EMAIL.deliver(_mail(bare, tls_smtp_server.port), TO, NOTICE)

    EMAIL.deliver(_mail(bare, tls_smtp_server.port, smtp_ca_file=certificate.cert), TO, NOTICE)

    assert tls_smtp_server.secure == [True]


def test_security_none_never_starts_tls_nor_sends_a_password(
    bare: Settings, tls_smtp_server: Any, smtp_server: Any
) -> None:
    # This server requires STARTTLS before MAIL: without it, the message is refused.
    with pytest.raises(DeliveryFailed, match="answered 530"):
        EMAIL.deliver(_mail(bare, tls_smtp_server.port, smtp_security="none"), TO, NOTICE)
    signed_in = _mail(bare, smtp_server.port, smtp_security="none", smtp_user="haven")
    with pytest.raises(DeliveryFailed, match="HAVEN_SMTP_SECURITY is none"):
        EMAIL.deliver(signed_in, TO, NOTICE)
    assert tls_smtp_server.messages == smtp_server.messages == []


def test_a_certificate_that_does_not_verify_leaves_the_message_for_a_retry(
    runtime: Runtime, smtps_server: TlsMailbox, certificate: Any
) -> None:
    row_id = new_id()
    address = b"desk@bka.example.org"
    with runtime.transaction() as session:
        session.add(
            OutboxMessage(
                id=row_id,
                channel=Channel.EMAIL,
                address=runtime.cipher().encrypt(
                    address, sealed_context("outbox", "address", row_id)
                ),
                kind="record-created",
                entity="incidents",
                record_id=new_id(),
                reference="I-2026-00AA11",
                link="/incidents/x",
                tlp=Tlp.GREEN,
                next_attempt_at=utcnow(),
            )
        )
    runtime.settings = _smtps(runtime.settings, smtps_server.port)

    assert deliver_batch(runtime) == 1

    with runtime.reading() as session:
        row = session.get_one(OutboxMessage, row_id)
        assert (row.delivered_at, row.attempts) == (None, 1)
        assert row.last_error == "mail server: SSLCertVerificationError"
        assert row.next_attempt_at is not None
    assert smtps_server.messages == []

    runtime.settings = runtime.settings.model_copy(update={"smtp_ca_file": certificate.cert})
    later = utcnow() + timedelta(minutes=1)
    assert deliver_batch(runtime, clock=lambda: later) == 1
    with runtime.reading() as session:
        assert session.get_one(OutboxMessage, row_id).delivered_at is not None
    assert [message["To"] for message in smtps_server.messages] == [address.decode()]


def test_production_refuses_mail_without_tls(tmp_path: Path) -> None:
    production = {
        "mode": "production",
        "secret_key": "x" * 48,
        "data_dir": tmp_path / "data",
        "key_file": tmp_path / "keys.json",
    }
    assert load_settings(**production, smtp_security="tls").smtp_security == "tls"
    with pytest.raises(ConfigurationError, match="HAVEN_SMTP_SECURITY is none"):
        load_settings(**production, smtp_security="none")


def test_the_ca_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"HAVEN_SMTP_CA_FILE: .* is not a file"):
        load_settings(data_dir=tmp_path, smtp_ca_file=tmp_path / "missing.pem")
