"""Webhooks: an HTTP POST of JSON to an organisation's endpoint, signed with HMAC-SHA256.

A webhook may not reach into the network Haven runs in: its host may not be, or resolve to, a
loopback, private, link-local, multicast, reserved or unspecified address unless
HAVEN_WEBHOOK_ALLOW_PRIVATE is on. That is checked when the webhook is added and again at each
delivery, on the very addresses the connection is then made to, since what a name resolves to
may change in between. Deliveries go straight to the receiver (never through a proxy, which
would resolve the name itself) and follow no redirect; in production only over https.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.errors import ValidationFailed
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
from haven.settings import Mode, Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
SIGNATURE_PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's secret, of
    ``<timestamp>.<body>``: the timestamp is signed too, so an old request cannot be replayed
    with a new one."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class InternalAddress(OSError):
    """The receiver's host is, or resolves to, an address inside Haven's own network."""


def internal(address: IpAddress) -> bool:
    """Whether an address belongs to this machine or its networks rather than the internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # Shared (100.64.0.0/10) and other special-purpose ranges are no receiver's either.
        or not address.is_global
    )


def _resolved(host: str, port: int) -> list[tuple[socket.AddressFamily, IpAddress]]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, ipaddress.ip_address(sockaddr[0])) for family, _, _, _, sockaddr in found]


def check_destination(url: str, settings: Settings) -> None:
    """Refuse a webhook URL that Haven must not send to (raises ValidationFailed). A host name
    that cannot be resolved now is let through: each delivery checks it again."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValidationFailed("a webhook needs an http or https URL")
    if settings.mode is Mode.PRODUCTION and parts.scheme != "https":
        raise ValidationFailed("a webhook needs an https URL")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValidationFailed("the webhook URL's port is not a number from 1 to 65535") from None
    if settings.webhook_allow_private:
        return
    try:
        addresses = _resolved(parts.hostname, port)
    except (OSError, UnicodeError):
        return
    for _, address in addresses:
        if internal(address):
            raise ValidationFailed(
                f"a webhook may not point at {parts.hostname}: it is, or resolves to, an "
                f"address inside Haven's own network ({address})",
                hint="give the receiver's public address; only those who run Haven can allow "
                "internal ones (HAVEN_WEBHOOK_ALLOW_PRIVATE)",
            )


def _connect_checked(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    allow_private: bool,
) -> socket.socket:
    """``socket.create_connection``, to an address checked the moment before: the name is
    resolved once, every address it gives is checked, and only those are connected to."""
    host, port = address
    try:
        found = _resolved(host, port)
    except UnicodeError as exc:
        raise OSError("the receiver's host name is not valid") from exc
    if not allow_private and any(internal(ip) for _, ip in found):
        raise InternalAddress("the receiver's address is inside Haven's own network")
    failure: OSError = OSError("the receiver's host has no address")
    for _, ip in found:
        try:
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as exc:
            failure = exc
    raise failure


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # http.client opens every connection through this attribute, TLS ones included; the
        # TLS handshake still checks the certificate against the URL's host name.
        self._create_connection = partial(_connect_checked, allow_private=allow_private)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = partial(_connect_checked, allow_private=allow_private)


class _CheckedHTTP(urllib.request.HTTPHandler):
    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = partial(_CheckedHTTPConnection, allow_private=self.allow_private)
        return self.do_open(connection, req)


class _CheckedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = partial(_CheckedHTTPSConnection, allow_private=self.allow_private)
        # No context given: http.client's default one, which checks the certificate and name.
        return self.do_open(connection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would send the signed body somewhere else."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def _opener(*, allow_private: bool) -> urllib.request.OpenerDirector:
    # An empty ProxyHandler: a proxy would resolve the receiver's name itself, unchecked.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects,
        _CheckedHTTP(allow_private=allow_private),
        _CheckedHTTPS(allow_private=allow_private),
    )


_OPENERS = {allow: _opener(allow_private=allow) for allow in (False, True)}


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
        if settings.mode is Mode.PRODUCTION and urlsplit(to.url).scheme != "https":
            raise DeliveryFailed("production sends webhooks over https only")
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
        opener = _OPENERS[settings.webhook_allow_private]
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise DeliveryFailed(f"receiver answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, InternalAddress):
                raise DeliveryFailed(
                    "receiver refused: its address is inside Haven's own network "
                    "(HAVEN_WEBHOOK_ALLOW_PRIVATE is off)"
                ) from None
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
