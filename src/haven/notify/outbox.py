"""Who is told of an event, and the outbox rows that will tell them.

:func:`emit` runs in the transaction of the change that caused the event, so the messages exist
exactly when the change does; the worker (:mod:`haven.notify.worker`) sends them after commit.

Who is told:

- An event **addressed** to an organisation (a referral it received) or to users (the
  coordinators of a late case) reaches only its addressees: the addressed users, always at least
  in their inbox, and the subscriptions of the addressed organisation and of its users.
- Any other event reaches every subscription whose rules all match: event kinds, host state
  (jurisdiction), origin state, tactic, urgency, a watched person or organisation appearing in
  the record.
- Whoever that is, the policy gate decides last: a user is told only if the gate's per-object
  check (``sees(reader_for(user, surface="notification"), facts)`` over the incident's facts,
  loaded once per event) lets them see the event's incident, the same rule that ``visible``
  applies on a page: a label, a sharing group, a referral and the person's consent all apply.
  A report outside the person's consent reaches nobody.
- An organisation's own channels (its webhooks, its e-mail address) are gated by the
  organisation as a reader with the caseworker role: what any caseworker of the organisation
  could see without being named personally. TLP:RED records, which reach named users only,
  therefore never go to an organisation's channels.

What a message says: its kind, reference and link, and nothing else, unless the channel is a
webhook an administrator approved for the record's TLP label; only then the sealed ``content``
adds the places, tactics, urgency, title and narrative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select, true
from sqlalchemy.orm import Session, object_session

from haven.access.accounts import reader_for
from haven.access.models import SharingGroupMember, User
from haven.access.policy import RECORD_ROLES, Facts, Reader, load_facts, sees
from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.enums import Role
from haven.intake.models import Report
from haven.notify.events import Event, EventKind
from haven.notify.models import Channel, Mode, OutboxMessage, Subscription, WatchEntity, Webhook
from haven.registry.models import Contributor, Incident, IncidentTactic
from haven.registry.sealed import sealed_context

SURFACE = "notification"


def report_event(report: Report, incident: Incident, tactics: Iterable[str] | None = None) -> Event:
    """The event of a report received: for :func:`emit`, in the transaction that wrote it.

    ``tactics`` defaults to the incident's, read through the incident's session."""
    if tactics is None:
        session = object_session(incident)
        query = select(IncidentTactic.tactic).where(IncidentTactic.incident_id == incident.id)
        tactics = list(session.scalars(query)) if session is not None else []
    return Event(
        kind=EventKind.REPORT_RECEIVED,
        entity="reports",
        record_id=report.id,
        reference=reference("R", report.id, report.received_at),
        link=f"/reports/{report.id}",
        tlp=incident.tlp,
        incident_id=incident.id,
        host_state=incident.host_state,
        origin_state=incident.origin_state,
        tactics=tuple(sorted(set(tactics))),
        urgent=report.urgent,
        person_ids=(report.person_id,),
    )


def reference(prefix: str, record_id: str, at: datetime) -> str:
    """A short reference such as ``R-2026-1F3A9C``: the year and the last six hex digits of
    the record id (its random part), meaningless outside Haven."""
    return f"{prefix}-{at.year}-{record_id.replace('-', '')[-6:].upper()}"


@dataclass
class _Wanted:
    """The channels one recipient is to be told by, each immediately or in a digest."""

    channels: dict[Channel, Mode] = field(default_factory=dict)

    def add(self, channel: Channel, mode: Mode) -> None:
        if self.channels.get(channel) is not Mode.IMMEDIATE:
            self.channels[channel] = mode


@dataclass
class _Plan:
    users: dict[str, _Wanted] = field(default_factory=dict)
    organisations: dict[str, list[Subscription]] = field(default_factory=dict)
    # What decides who may see the event's incident, loaded once and judged for every
    # recipient by the gate's per-object check.
    facts: Facts | None = None

    def user(self, user_id: str) -> _Wanted:
        return self.users.setdefault(user_id, _Wanted())


def emit(session: Session, cipher: FieldCipher, event: Event) -> int:
    """Write the outbox rows that tell everyone this event concerns; returns how many."""
    plan = _Plan()
    if event.incident_id is not None:
        plan.facts = load_facts(session, Incident, [event.incident_id]).get(event.incident_id)
    for user_id in event.user_ids:
        plan.user(user_id).add(Channel.INBOX, Mode.IMMEDIATE)
    for subscription in matching_subscriptions(session, event):
        if subscription.user_id is not None:
            plan.user(subscription.user_id).add(subscription.channel, subscription.mode)
        elif subscription.organisation_id is not None:
            plan.organisations.setdefault(subscription.organisation_id, []).append(subscription)
    rows: list[OutboxMessage] = []
    for subscriptions in plan.organisations.values():
        for subscription in subscriptions:
            if subscription.channel is Channel.INBOX and subscription.organisation_id:
                for user_id in _case_readers(session, subscription.organisation_id):
                    plan.user(user_id).add(Channel.INBOX, subscription.mode)
    rows += _user_rows(session, event, plan)
    for organisation_id in sorted(plan.organisations):
        rows += _organisation_rows(session, cipher, event, organisation_id, plan)
    session.add_all(rows)
    session.flush()
    return len(rows)


def matching_subscriptions(session: Session, event: Event) -> list[Subscription]:
    """Subscriptions whose every rule matches the event (the gate is not asked here)."""
    s = Subscription
    query = select(s).where(
        or_(s.host_state.is_(None), s.host_state == (event.host_state or "")),
        or_(s.origin_state.is_(None), s.origin_state == (event.origin_state or "")),
        or_(s.tactic.is_(None), s.tactic.in_(sorted(event.tactics))),
        true() if event.urgent else s.urgent_only.is_(False),
        or_(
            s.watch_id.is_(None),
            (s.watch_entity == WatchEntity.PEOPLE) & s.watch_id.in_(sorted(event.person_ids)),
            (s.watch_entity == WatchEntity.ORGANISATIONS)
            & s.watch_id.in_(sorted(event.organisation_ids)),
        ),
    )
    if event.organisation_id is not None or event.user_ids:
        addressees = select(User.id).where(
            or_(User.id.in_(sorted(event.user_ids)), User.organisation_id == event.organisation_id)
        )
        organisation = (
            s.organisation_id == event.organisation_id
            if event.organisation_id is not None
            else false()
        )
        query = query.where(or_(s.user_id.in_(addressees), organisation))
    found = session.scalars(query.order_by(s.id)).all()
    return [sub for sub in found if not sub.kinds or event.kind.value in sub.kinds]


def _case_readers(session: Session, organisation_id: str) -> list[str]:
    users = session.scalars(
        select(User).where(User.organisation_id == organisation_id, User.disabled_at.is_(None))
    )
    return [user.id for user in users if set(user.roles) & {r.value for r in RECORD_ROLES}]


def _sees(reader: Reader, event: Event, plan: _Plan) -> bool:
    if event.incident_id is None:
        # Nothing to ask the gate about: only addressees are told, and they only of a
        # reference and a link to a page that asks the gate itself.
        return event.organisation_id is not None or bool(event.user_ids)
    return plan.facts is not None and sees(reader, plan.facts)


def _payload(event: Event) -> dict[str, Any]:
    """What every message may say."""
    return {
        "kind": event.kind.value,
        "reference": event.reference,
        "link": event.link,
        "tlp": event.tlp.value,
    }


def _row(
    event: Event,
    channel: Channel,
    mode: Mode,
    now: datetime,
    row_id: str | None = None,
    **recipient: Any,
) -> OutboxMessage:
    return OutboxMessage(
        id=row_id or new_id(),
        created_at=now,
        channel=channel,
        kind=event.kind.value,
        entity=event.entity,
        record_id=event.record_id,
        reference=event.reference,
        link=event.link,
        tlp=event.tlp,
        payload=_payload(event),
        digest=mode is Mode.DIGEST,
        delivery_id=new_id(),
        attempts=0,
        next_attempt_at=now,
        **recipient,
    )


def _user_rows(session: Session, event: Event, plan: _Plan) -> list[OutboxMessage]:
    if not plan.users:
        return []
    now = utcnow()
    users = session.scalars(
        select(User)
        .where(User.id.in_(sorted(plan.users)), User.disabled_at.is_(None))
        .order_by(User.id)
    ).all()
    rows = []
    for user in users:
        if not _sees(reader_for(session, user, surface=SURFACE), event, plan):
            continue
        for channel, mode in sorted(plan.users[user.id].channels.items()):
            if channel is Channel.WEBHOOK:
                continue  # webhooks belong to organisations
            rows.append(_row(event, channel, mode, now, user_id=user.id))
    return rows


def organisation_reader(session: Session, organisation_id: str) -> Reader | None:
    """The organisation as the gate sees its caseworkers, without any one user's own rights
    (TLP:RED names users, so an organisation's channels never carry a RED record)."""
    organisation = session.get(Contributor, organisation_id)
    if organisation is None:
        return None
    groups = session.scalars(
        select(SharingGroupMember.group_id).where(
            SharingGroupMember.organisation_id == organisation_id
        )
    )
    return Reader(
        user_id=None,
        organisation_id=organisation.id,
        organisation_kind=organisation.kind,
        member_state=organisation.member_state,
        roles=frozenset({Role.CASEWORKER}),
        groups=frozenset(groups),
        surface=SURFACE,
    )


def _organisation_rows(
    session: Session,
    cipher: FieldCipher,
    event: Event,
    organisation_id: str,
    plan: _Plan,
) -> list[OutboxMessage]:
    outward = [s for s in plan.organisations[organisation_id] if s.channel is not Channel.INBOX]
    reader = organisation_reader(session, organisation_id) if outward else None
    if reader is None or not _sees(reader, event, plan):
        return []
    now = utcnow()
    rows: list[OutboxMessage] = []
    webhook_mode: Mode | None = None
    addresses: dict[str, Mode] = {}
    for subscription in outward:
        if subscription.channel is Channel.WEBHOOK:
            if webhook_mode is not Mode.IMMEDIATE:
                webhook_mode = subscription.mode
        elif subscription.address is not None:
            context = sealed_context("subscriptions", "address", subscription.id)
            address = cipher.decrypt(subscription.address, context).decode()
            if addresses.get(address) is not Mode.IMMEDIATE:
                addresses[address] = subscription.mode
    for address, mode in sorted(addresses.items()):
        row_id = new_id()
        sealed = cipher.encrypt(address.encode(), sealed_context("outbox", "address", row_id))
        rows.append(_row(event, Channel.EMAIL, mode, now, row_id, address=sealed))
    if webhook_mode is not None:
        webhooks = session.scalars(
            select(Webhook)
            .where(Webhook.organisation_id == organisation_id, Webhook.disabled_at.is_(None))
            .order_by(Webhook.id)
        ).all()
        for webhook in webhooks:
            row_id = new_id()
            row = _row(event, Channel.WEBHOOK, webhook_mode, now, row_id, webhook_id=webhook.id)
            if event.tlp.value in webhook.approved_tlp:
                row.content = _approved_content(session, cipher, event, row_id, webhook.id)
            rows.append(row)
    return rows


def _approved_content(
    session: Session, cipher: FieldCipher, event: Event, row_id: str, webhook_id: str
) -> bytes:
    """The fuller content for an approved webhook, sealed in its outbox row. Reading the
    narrative is a read of sealed content, so it joins the audit chain."""
    content: dict[str, Any] = {
        "entity": event.entity,
        "record_id": event.record_id,
        "incident_id": event.incident_id,
        "host_state": event.host_state,
        "origin_state": event.origin_state,
        "tactics": list(event.tactics),
        "urgent": event.urgent,
    }
    incident = session.get(Incident, event.incident_id) if event.incident_id else None
    if incident is not None:
        content["title"] = incident.title
        if incident.narrative is not None:
            context = sealed_context("incidents", "narrative", incident.id)
            content["narrative"] = cipher.decrypt(incident.narrative, context).decode()
            read = Change(
                f"webhook:{webhook_id}", "read", "incidents", incident.id, surface=SURFACE
            )
            append(session, [read])
    plaintext = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    return cipher.encrypt(plaintext, sealed_context("outbox", "content", row_id))


def open_content(cipher: FieldCipher, row: OutboxMessage) -> dict[str, Any] | None:
    if row.content is None:
        return None
    plaintext = cipher.decrypt(row.content, sealed_context("outbox", "content", row.id))
    content: dict[str, Any] = json.loads(plaintext)
    return content
