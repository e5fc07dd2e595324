"""Webhooks: an HTTP POST of JSON to an organisation's endpoint, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.notify.channels.base import (
    Channel,
    DeliveryFailed,
    Item,
    Notice,
    Recipient,
    Refused,
    notice_text,
)
from haven.notify.models import OutboxMessage, Webhook
from haven.registry.sealed import sealed_context
from haven.settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
SIGNATURE_PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's secret, of
    ``<timestamp>.<body>``: the timestamp is signed too, so an old request cannot be replayed
    with a new one."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would send the signed body somewhere else."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class WebhookChannel(Channel):
    """Every enabled webhook of the organisation; any 2xx answer is a delivery."""

    name: ClassVar[str] = "webhook"
    leaves_haven: ClassVar[bool] = True
    carries_approved_content: ClassVar[bool] = True
    for_users: ClassVar[bool] = False

    def __init__(self, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def choice(self, *, organisation: bool, login: str) -> str:
        return "every webhook of the organisation"

    def recipient(self, session: Session, cipher: FieldCipher, row: OutboxMessage) -> Recipient:
        webhook = session.get(Webhook, row.webhook_id) if row.webhook_id is not None else None
        if webhook is None:
            raise Refused("the webhook is gone")
        secret = cipher.decrypt(webhook.secret, sealed_context("webhooks", "secret", webhook.id))
        return Recipient(webhook_id=webhook.id, url=webhook.url, secret=secret.decode())

    def render(self, settings: Settings, to: Recipient, notice: Notice) -> bytes:
        items = [_item_json(item) for item in notice.items]
        if notice.digest:
            document: dict[str, Any] = {"delivery_id": notice.delivery_id, "digest": True}
            document["items"] = items
        else:
            document = {**items[0], "digest": False}
        return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()

    def deliver(self, settings: Settings, to: Recipient, notice: Notice) -> None:
        body = self.render(settings, to, notice)
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 (an administrator gave an http(s) URL)
            to.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Haven-Webhook/1",
                "X-Haven-Delivery": notice.delivery_id,
                "X-Haven-Timestamp": timestamp,
                "X-Haven-Signature": signature(to.secret, timestamp, body),
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise DeliveryFailed(f"receiver answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"receiver unreachable: {type(reason).__name__}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"receiver answered HTTP {status}")

    def record(self, session: Session, settings: Settings, to: Recipient, notice: Notice) -> None:
        """What was sent stays with the receiver; Haven keeps only the outbox row's mark."""


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
