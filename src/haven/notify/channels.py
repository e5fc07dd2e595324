"""Sending one message: by e-mail (SMTP, STARTTLS whenever offered), by webhook (JSON, signed
with HMAC-SHA256) or into a user's inbox.

A message says there is something to see, with its reference and link, and nothing else: its
text comes from :func:`notice_text` alone. Errors name what failed (a status code, an error
class), never the message or the recipient, so they are safe to store and to log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.db.values import new_id
from haven.notify.models import InboxItem
from haven.settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
SMTP_TIMEOUT_SECONDS = 20.0
SIGNATURE_PREFIX = "sha256="


class DeliveryFailed(Exception):
    """A message was not accepted; the words are safe to store (no content, no address)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to see: what a message about it may say."""

    delivery_id: str
    kind: str
    reference: str
    link: str  # absolute
    tlp: str
    content: dict[str, Any] | None = None  # only for a channel approved for the label


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to send: a single item, or a digest of several under its own delivery id."""

    delivery_id: str
    items: tuple[Item, ...]
    digest: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def notice_text(item: Item) -> str:
    return f"There is something new to see in Haven: {item.kind} {item.reference}. Open {item.link}"


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


# -- e-mail ----------------------------------------------------------------------------------


def send_email(settings: Settings, to: str, notice: Notice) -> None:
    """Send through HAVEN_SMTP_HOST, switching to TLS when the server offers STARTTLS.

    Without STARTTLS the message still goes (it carries only a reference and a link), but a
    password is never sent in the clear."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = _subject(notice)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{notice.delivery_id}@haven>"
    message["X-Haven-Delivery"] = notice.delivery_id
    message.set_content(_body_text(notice))
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            smtp.ehlo()
            secure = smtp.has_extn("starttls")
            if secure:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                if not secure:
                    raise DeliveryFailed(
                        "the mail server offers no STARTTLS; Haven does not send its password "
                        "in the clear"
                    )
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"mail server answered {exc.smtp_code}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DeliveryFailed(f"mail server: {type(exc).__name__}") from None


# -- webhooks --------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's secret, of
    ``<timestamp>.<body>``: the timestamp is signed too, so an old request cannot be replayed
    with a new one."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def webhook_body(notice: Notice) -> bytes:
    items = [_item_json(item) for item in notice.items]
    if notice.digest:
        document: dict[str, Any] = {"delivery_id": notice.delivery_id, "digest": True}
        document["items"] = items
    else:
        document = {**items[0], "digest": False}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def _item_json(item: Item) -> dict[str, Any]:
    document: dict[str, Any] = {
        "delivery_id": item.delivery_id,
        "kind": item.kind,
        "reference": item.reference,
        "link": item.link,
        "tlp": item.tlp,
        "text": notice_text(item),
    }
    if item.content is not None:
        document["content"] = item.content
    return document


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would send the signed body somewhere else."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def send_webhook(
    url: str, secret: str, notice: Notice, *, timeout: float = WEBHOOK_TIMEOUT_SECONDS
) -> None:
    """POST the notice as JSON; any 2xx answer is a delivery."""
    body = webhook_body(notice)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 (an administrator gave an http(s) URL)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Haven-Webhook/1",
            "X-Haven-Delivery": notice.delivery_id,
            "X-Haven-Timestamp": timestamp,
            "X-Haven-Signature": signature(secret, timestamp, body),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryFailed(f"receiver answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"receiver unreachable: {type(reason).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"receiver answered HTTP {status}")


# -- inbox -----------------------------------------------------------------------------------


def deliver_to_inbox(session: Session, user_id: str, items: Sequence[Item]) -> None:
    """Add the items (with links as paths within Haven) to the user's inbox, each once however
    often it is delivered."""
    ids = [item.delivery_id for item in items]
    present = set(
        session.scalars(select(InboxItem.delivery_id).where(InboxItem.delivery_id.in_(ids)))
    )
    for item in items:
        if item.delivery_id in present:
            continue
        session.add(
            InboxItem(
                id=new_id(),
                user_id=user_id,
                delivery_id=item.delivery_id,
                kind=item.kind,
                reference=item.reference,
                link=item.link,
            )
        )
    session.flush()
