"""Managing subscriptions and webhooks: a user's own rules, and an organisation's rules and
endpoints, which its administrators manage. Every change joins the audit chain."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.countries import check_country
from haven.domain.enums import Tlp
from haven.domain.taxonomy import load_taxonomy
from haven.errors import NotFound, ValidationFailed
from haven.notify.channels import channel_named
from haven.notify.channels.webhook import check_destination
from haven.notify.events import EventKind
from haven.notify.models import Channel, Mode, OutboxMessage, Subscription, WatchEntity, Webhook
from haven.registry.paging import is_record_id
from haven.registry.sealed import sealed_context
from haven.settings import Settings

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that lets secret scanners spot leaks)


@dataclass(frozen=True, slots=True)
class Rules:
    """What a subscription asks for; every field left empty matches anything."""

    channel: Channel
    mode: Mode = Mode.IMMEDIATE
    kinds: tuple[EventKind, ...] = ()
    host_state: str | None = None
    origin_state: str | None = None
    tactic: str | None = None
    urgent_only: bool = False
    watch_entity: WatchEntity | None = None
    watch_id: str | None = None
    address: str | None = None  # for an organisation's e-mail subscription


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose subscription it is: a user's, or an organisation's."""

    user_id: str | None = None
    organisation_id: str | None = None


def add_subscription(
    session: Session, cipher: FieldCipher, owner: Owner, rules: Rules, *, actor: str
) -> str:
    _check(owner, rules)
    subscription_id = new_id()
    address = None
    if rules.address:
        context = sealed_context("subscriptions", "address", subscription_id)
        address = cipher.encrypt(rules.address.strip().encode(), context)
    session.add(
        Subscription(
            id=subscription_id,
            user_id=owner.user_id,
            organisation_id=owner.organisation_id,
            kinds=sorted({kind.value for kind in rules.kinds}),
            host_state=check_country(rules.host_state) if rules.host_state else None,
            origin_state=check_country(rules.origin_state) if rules.origin_state else None,
            tactic=load_taxonomy().tactic(rules.tactic).code if rules.tactic else None,
            urgent_only=rules.urgent_only,
            watch_entity=rules.watch_entity if rules.watch_id else None,
            watch_id=rules.watch_id or None,
            mode=rules.mode,
            channel=rules.channel,
            address=address,
            created_by=actor,
            created_at=utcnow(),
        )
    )
    session.flush()
    append(session, [Change(actor, "create", "subscriptions", subscription_id)])
    return subscription_id


def _check(owner: Owner, rules: Rules) -> None:
    if (owner.user_id is None) == (owner.organisation_id is None):
        raise ValidationFailed("a subscription belongs to a user or to an organisation")
    channel_named(rules.channel).check(
        organisation=owner.organisation_id is not None, address=rules.address
    )
    if rules.watch_id and (rules.watch_entity is None or not is_record_id(rules.watch_id)):
        raise ValidationFailed("name the watched person or organisation by its record id")


def remove_subscription(
    session: Session, subscription_id: str, owner: Owner, *, actor: str
) -> None:
    subscription = (
        session.get(Subscription, subscription_id) if is_record_id(subscription_id) else None
    )
    if (
        subscription is None
        or subscription.user_id != owner.user_id
        or subscription.organisation_id != owner.organisation_id
    ):
        raise NotFound("no such subscription")
    session.delete(subscription)
    session.flush()
    append(session, [Change(actor, "delete", "subscriptions", subscription_id)])


def subscriptions_of(session: Session, owner: Owner) -> list[Subscription]:
    query = select(Subscription).order_by(Subscription.id)
    if owner.user_id is not None:
        query = query.where(Subscription.user_id == owner.user_id)
    else:
        query = query.where(Subscription.organisation_id == owner.organisation_id)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook to add: whose it is, where it points, which labels' records it may receive
    in full."""

    organisation_id: str
    url: str
    approved: frozenset[Tlp] = frozenset()


@dataclass(frozen=True, slots=True)
class NewWebhook:
    id: str
    secret: str  # shown once


def add_webhook(
    session: Session, cipher: FieldCipher, endpoint: Endpoint, *, actor: str, settings: Settings
) -> NewWebhook:
    """Add a webhook whose URL may be sent to (see :mod:`haven.notify.channels.webhook`)."""
    url = endpoint.url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationFailed("a webhook needs an http or https URL")
    if parts.username or parts.password:
        raise ValidationFailed("put no credentials in the URL: requests are signed instead")
    check_destination(url, settings)
    webhook_id = new_id()
    secret = WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
    session.add(
        Webhook(
            id=webhook_id,
            organisation_id=endpoint.organisation_id,
            url=url,
            secret=cipher.encrypt(
                secret.encode(), sealed_context("webhooks", "secret", webhook_id)
            ),
            approved_tlp=sorted(label.value for label in endpoint.approved),
            consecutive_failures=0,
            created_by=actor,
            created_at=utcnow(),
        )
    )
    session.flush()
    append(session, [Change(actor, "create", "webhooks", webhook_id)])
    return NewWebhook(webhook_id, secret)


def _own_webhook(session: Session, webhook_id: str, organisation_id: str) -> Webhook:
    webhook = session.get(Webhook, webhook_id) if is_record_id(webhook_id) else None
    if webhook is None or webhook.organisation_id != organisation_id:
        raise NotFound("no such webhook")
    return webhook


def set_webhook_enabled(
    session: Session, webhook_id: str, organisation_id: str, enabled: bool, *, actor: str
) -> None:
    """Disable a webhook, or enable it again: its count of failures starts afresh and the
    messages that waited for it are sent at once."""
    webhook = _own_webhook(session, webhook_id, organisation_id)
    now = utcnow()
    if enabled:
        webhook.disabled_at = None
        webhook.consecutive_failures = 0
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.webhook_id == webhook.id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.failed_at.is_(None),
            )
            .values(next_attempt_at=now)
        )
    elif webhook.disabled_at is None:
        webhook.disabled_at = now
    session.flush()
    append(session, [Change(actor, "enable" if enabled else "disable", "webhooks", webhook.id)])


def set_webhook_approval(
    session: Session,
    webhook_id: str,
    organisation_id: str,
    approved: frozenset[Tlp],
    *,
    actor: str,
) -> None:
    """Which labels' records this webhook may receive in full (places, narrative)."""
    webhook = _own_webhook(session, webhook_id, organisation_id)
    webhook.approved_tlp = sorted(label.value for label in approved)
    session.flush()
    append(session, [Change(actor, "approve", "webhooks", webhook.id)])


def webhooks_of(session: Session, organisation_id: str) -> list[Webhook]:
    query = select(Webhook).where(Webhook.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(Webhook.id)))
