"""E-mail through HAVEN_SMTP_HOST: over STARTTLS whenever the server offers it, or over implicit
TLS (SMTPS, port 465), as HAVEN_SMTP_SECURITY says. TLS always verifies the server's certificate
and name, against HAVEN_SMTP_CA_FILE or the system's trusted authorities."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar

from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.errors import ValidationFailed
from haven.notify.channels.base import (
    Channel,
    DeliveryFailed,
    Notice,
    Recipient,
    active_user,
    login_address,
    notice_text,
)
from haven.notify.models import OutboxMessage
from haven.registry.sealed import sealed_context
from haven.settings import Settings

SMTP_TIMEOUT_SECONDS = 20.0
MAX_ADDRESS = 320
# Why a password is not sent, for a connection left without TLS.
_NO_TLS = {
    "starttls": "the mail server offers no STARTTLS; Haven does not send its password in the clear",
    "none": "HAVEN_SMTP_SECURITY is none; Haven does not send its password in the clear",
}


class EmailChannel(Channel):
    """A user is written to at their login address, read when the message is sent; an
    organisation at the address its subscription gives, sealed in each outbox row."""

    name: ClassVar[str] = "email"
    leaves_haven: ClassVar[bool] = True

    def choice(self, *, organisation: bool, login: str) -> str:
        return "e-mail to the address below" if organisation else f"e-mail to {login}"

    def check(self, *, organisation: bool, address: str | None) -> None:
        if not organisation:
            if address:
                raise ValidationFailed("a user is told at their own login address")
            return
        if not address or "@" not in address or len(address) > MAX_ADDRESS:
            raise ValidationFailed("give the e-mail address the organisation is told at")

    def ready(self, settings: Settings) -> bool:
        # Without a mail server, e-mail waits in the outbox.
        return bool(settings.smtp_host)

    def recipient(self, session: Session, cipher: FieldCipher, row: OutboxMessage) -> Recipient:
        if row.address is not None:
            context = sealed_context("outbox", "address", row.id)
            return Recipient(address=cipher.decrypt(row.address, context).decode())
        user = active_user(session, row.user_id)
        return Recipient(user_id=user.id, address=login_address(cipher, user))

    def render(self, settings: Settings, to: Recipient, notice: Notice) -> EmailMessage:
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = to.address or ""
        message["Subject"] = _subject(notice)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{notice.delivery_id}@haven>"
        message["X-Haven-Delivery"] = notice.delivery_id
        message.set_content(_body_text(notice))
        return message

    def deliver(self, settings: Settings, to: Recipient, notice: Notice) -> None:
        """Without STARTTLS the message still goes (it carries only a reference and a link),
        but a password is never sent in the clear. Implicit TLS that fails (a certificate that
        does not verify) sends nothing: the message waits for a retry."""
        if not to.address:
            raise DeliveryFailed("nowhere to deliver")
        message = self.render(settings, to, notice)
        try:
            with _connect(settings) as smtp:
                _send(smtp, settings, message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"mail server answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise DeliveryFailed(f"mail server: {type(exc).__name__}") from None

    def record(self, session: Session, settings: Settings, to: Recipient, notice: Notice) -> None:
        """What was sent stays with the receiver; Haven keeps only the outbox row's mark."""


def _connect(settings: Settings) -> smtplib.SMTP:
    if settings.smtp_security == "tls":
        return smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=SMTP_TIMEOUT_SECONDS,
            context=_tls_context(settings),
        )
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """A verifying context: the certificate must chain to a trusted authority and name the
    host. A CA file replaces the system's authorities rather than adding to them."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file is not None else None
    return ssl.create_default_context(cafile=cafile)


def _send(smtp: smtplib.SMTP, settings: Settings, message: EmailMessage) -> None:
    smtp.ehlo()
    secure = settings.smtp_security == "tls"
    if settings.smtp_security == "starttls" and smtp.has_extn("starttls"):
        smtp.starttls(context=_tls_context(settings))
        smtp.ehlo()
        secure = True
    if settings.smtp_user:
        if not secure:
            raise DeliveryFailed(_NO_TLS[settings.smtp_security])
        smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    smtp.send_message(message)


def _body_text(notice: Notice) -> str:
    if not notice.digest:
        return notice_text(notice.items[0]) + "\n"
    lines = ["There are new things to see in Haven:", ""]
    lines += [f"- {item.kind} {item.reference}: {item.link}" for item in notice.items]
    return "\n".join(lines) + "\n"


def _subject(notice: Notice) -> str:
    if notice.digest:
        return f"Haven: {len(notice.items)} new items"
    item = notice.items[0]
    return f"Haven: {item.kind} {item.reference}"
