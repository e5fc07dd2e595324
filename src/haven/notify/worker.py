"""The delivery worker: takes due outbox rows, sends them after commit, at least once.

1. **Claim** (one short transaction): due rows are selected ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL (on SQLite the writing transaction has the database to itself), given a lease
   (``claimed_until``, ``claimed_by``) and an attempt, and committed. Several workers share the
   outbox: none takes a row another holds.
2. **Send**, outside any transaction, one message at a time. Once half the lease is gone, it is
   renewed for the rest of the batch; rows a worker finds it lost (it was too slow, and another
   took them) it leaves alone.
3. **Mark** each message delivered, or failed with a retry after an exponential backoff
   (10 s, 20 s, 40 s ... at most an hour; 10 attempts in all), in its own transaction.

A worker killed between sending and marking leaves its rows leased; once the lease ends another
worker (or the same one restarted) sends them again under the same ``delivery_id``, so a
receiver recognises the re-delivery. A webhook that fails 5 times in a row is disabled, and its
organisation's administrators find a notice in their inbox.

The worker logs delivery ids, channels and error classes, never a message's content or address.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from haven.access.models import User
from haven.audit.chain import Change, append
from haven.casework.notices import escalate_late
from haven.crypto.fields import FieldCipher
from haven.db.dialect import skip_locked
from haven.db.values import new_id, utcnow
from haven.domain.enums import Role
from haven.notify.channels import (
    DeliveryFailed,
    Item,
    Notice,
    deliver_to_inbox,
    send_email,
    send_webhook,
)
from haven.notify.models import Channel, InboxItem, OutboxMessage, Webhook
from haven.notify.outbox import open_content, reference
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime
from haven.settings import Settings

log = logging.getLogger("haven.notify")

LEASE_SECONDS = 60.0
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 10
DISABLE_AFTER_FAILURES = 5
BATCH_SIZE = 50
WEBHOOK_DISABLED = "webhook-disabled"

Clock = Callable[[], datetime]


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    factor: int = 2 ** min(max(attempts - 1, 0), 20)
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


def digest_boundary(now: datetime, minutes: int) -> datetime:
    """The latest digest time at or before ``now``: every ``minutes`` since midnight UTC."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    return midnight + step * ((now - midnight) // step)


@dataclass
class Job:
    """One message to send: one outbox row, or the rows of one recipient's digest."""

    rows: tuple[str, ...]
    channel: Channel
    notice: Notice
    user_id: str | None = None
    address: str | None = None
    webhook_id: str | None = None
    url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    refused: str | None = None  # a reason not to send at all


def deliver_batch(
    runtime: Runtime,
    limit: int = BATCH_SIZE,
    *,
    lease_seconds: float = LEASE_SECONDS,
    clock: Clock = utcnow,
) -> int:
    """Claim up to ``limit`` due rows and send them; returns how many rows were handled."""
    cipher = runtime.cipher()
    token = new_id()
    lease = timedelta(seconds=lease_seconds)
    start = clock()
    with runtime.reading() as session:
        # An idle outbox costs a read, not a writer's lock (SQLite has one for everybody).
        due = select(OutboxMessage.id).where(_due(runtime.settings, start)).limit(1)
        if session.scalar(due) is None:
            return 0
    with runtime.transaction() as session:
        jobs = claim(session, cipher, runtime.settings, limit, token=token, now=start, lease=lease)
    held_until = start + lease
    ours: set[str] | None = None  # None: every claimed row, as long as the lease holds
    sent: list[tuple[Job, str | None]] = []
    for position, job in enumerate(jobs):
        if clock() + lease / 2 >= held_until:
            # Half the lease is gone: record what was sent so far, renew the lease for the
            # rest of the batch, and learn which rows are still ours (another worker may have
            # taken some after a lapse).
            _record(runtime, sent, clock)
            sent = []
            held_until = clock() + lease
            rest = [row for later in jobs[position:] for row in later.rows]
            with runtime.transaction() as session:
                ours = _renew(session, rest, token, held_until)
        if ours is not None and not ours.issuperset(job.rows):
            continue
        inbox = job.channel is Channel.INBOX and job.refused is None and job.user_id
        sent.append((job, None if inbox else job.refused or _send(runtime.settings, job)))
    return _record(runtime, sent, clock)


def _record(runtime: Runtime, sent: Sequence[tuple[Job, str | None]], clock: Clock) -> int:
    """Mark what was sent (or written to inboxes) in one transaction for the batch: a crash
    before it re-sends these under the same delivery ids, which receivers recognise."""
    if not sent:
        return 0
    with runtime.transaction() as session:
        now = clock()
        delivered = [job for job, error in sent if error is None]
        for job in delivered:
            if job.channel is Channel.INBOX and job.user_id:
                deliver_to_inbox(session, job.user_id, job.notice.items)
        _delivered(session, delivered, now)
        for job, error in sent:
            if error is not None:
                log.warning(
                    "delivery %s by %s failed: %s", job.notice.delivery_id, job.channel, error
                )
                _failed(session, job, error, now)
    return sum(len(job.rows) for job, _ in sent)


def _due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    o = OutboxMessage
    disabled = select(Webhook.id).where(Webhook.disabled_at.is_not(None))
    return and_(
        o.next_attempt_at <= now,
        or_(o.claimed_until.is_(None), o.claimed_until <= now),
        # A digest waits for the digest time; its retries do not.
        or_(
            o.digest.is_(False),
            o.attempts > 0,
            o.next_attempt_at <= digest_boundary(now, settings.digest_minutes),
        ),
        # A disabled webhook's messages wait until it is enabled again.
        or_(o.webhook_id.is_(None), o.webhook_id.not_in(disabled)),
        # Without a mail server, e-mail waits.
        o.channel != Channel.EMAIL if not settings.smtp_host else true(),
    )


def claim(
    session: Session,
    cipher: FieldCipher,
    settings: Settings,
    limit: int,
    *,
    token: str,
    now: datetime,
    lease: timedelta,
) -> list[Job]:
    """Lease due rows to this claim and turn them into jobs (digests grouped per recipient)."""
    o = OutboxMessage
    query = select(o).where(_due(settings, now)).order_by(o.next_attempt_at, o.id).limit(limit)
    rows = session.scalars(skip_locked(query, session.connection())).all()
    for row in rows:
        row.attempts += 1
        row.claimed_until = now + lease
        row.claimed_by = token
    session.flush()
    return _jobs(session, cipher, settings, rows)


def _jobs(
    session: Session, cipher: FieldCipher, settings: Settings, rows: Sequence[OutboxMessage]
) -> list[Job]:
    base = settings.resolved_base_url
    jobs: list[Job] = []
    digests: dict[tuple[Any, ...], list[OutboxMessage]] = {}
    for row in rows:
        if row.digest:
            address = _address(cipher, row)
            digests.setdefault((row.channel, row.user_id, row.webhook_id, address), []).append(row)
        else:
            jobs.append(_job(session, cipher, [row], base, row.delivery_id))
    for group in digests.values():
        # The same rows make the same digest id, so a re-sent digest is recognisable too.
        key = ",".join(sorted(row.delivery_id for row in group))
        digest_id = _digest_id(key)
        jobs.append(_job(session, cipher, group, base, digest_id, digest=True))
    return jobs


def _digest_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"haven-digest:{key}"))


def _address(cipher: FieldCipher, row: OutboxMessage) -> str | None:
    if row.address is None:
        return None
    return cipher.decrypt(row.address, sealed_context("outbox", "address", row.id)).decode()


def _job(
    session: Session,
    cipher: FieldCipher,
    rows: list[OutboxMessage],
    base: str,
    delivery_id: str,
    *,
    digest: bool = False,
) -> Job:
    first = rows[0]
    inbox = first.channel is Channel.INBOX
    items = tuple(
        Item(
            delivery_id=row.delivery_id,
            kind=row.kind,
            reference=row.reference,
            link=row.link if inbox else base + row.link,
            tlp=row.tlp.value,
            content=open_content(cipher, row) if first.channel is Channel.WEBHOOK else None,
        )
        for row in rows
    )
    job = Job(
        rows=tuple(row.id for row in rows),
        channel=first.channel,
        notice=Notice(delivery_id, items, digest=digest),
        user_id=first.user_id,
        webhook_id=first.webhook_id,
    )
    if first.webhook_id is not None:
        webhook = session.get(Webhook, first.webhook_id)
        if webhook is None:
            job.refused = "the webhook is gone"
        else:
            job.url = webhook.url
            context = sealed_context("webhooks", "secret", webhook.id)
            job.secret = cipher.decrypt(webhook.secret, context).decode()
    elif first.channel is Channel.EMAIL:
        job.address = _address(cipher, first)
        if job.address is None and first.user_id is not None:
            user = session.get(User, first.user_id)
            if user is None or user.disabled_at is not None:
                job.refused = "the user is disabled"
            else:
                login = cipher.decrypt(user.login, sealed_context("users", "login", user.id))
                job.address = login.decode()
    elif first.user_id is not None:
        user = session.get(User, first.user_id)
        if user is None or user.disabled_at is not None:
            job.refused = "the user is disabled"
    return job


def _send(settings: Settings, job: Job) -> str | None:
    try:
        if job.channel is Channel.EMAIL and job.address:
            send_email(settings, job.address, job.notice)
        elif job.channel is Channel.WEBHOOK:
            send_webhook(job.url, job.secret, job.notice)
        else:
            return "nowhere to deliver"
    except DeliveryFailed as exc:
        return str(exc)[:200]
    return None


def _renew(session: Session, rows: Sequence[str], token: str, until: datetime) -> set[str]:
    """Extend this claim's lease on the rows it still holds; returns those rows."""
    o = OutboxMessage
    held = and_(o.id.in_(rows), o.claimed_by == token, o.delivered_at.is_(None))
    session.execute(update(o).where(held).values(claimed_until=until))
    return set(session.scalars(select(o.id).where(held)))


def _delivered(session: Session, jobs: Sequence[Job], now: datetime) -> None:
    """Mark the rows of ``jobs`` delivered, in one statement, and reset their webhooks' count
    of failures in one more."""
    rows = [row for job in jobs for row in job.rows]
    if not rows:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(rows), OutboxMessage.delivered_at.is_(None))
        .values(
            delivered_at=now,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
            content=None,
            last_error=None,
        )
    )
    webhooks = sorted({job.webhook_id for job in jobs if job.webhook_id is not None})
    if webhooks:
        session.execute(
            update(Webhook)
            .where(Webhook.id.in_(webhooks), Webhook.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )


def _failed(session: Session, job: Job, error: str, now: datetime) -> None:
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.id.in_(job.rows), OutboxMessage.delivered_at.is_(None)
        )
    ).all()
    for row in rows:
        row.claimed_until = None
        row.claimed_by = None
        row.last_error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.failed_at = now
            row.next_attempt_at = None
            row.content = None
        else:
            row.next_attempt_at = now + backoff(row.attempts)
    if job.webhook_id is not None and job.refused is None:
        _webhook_failed(session, job.webhook_id, now)
    session.flush()


def _webhook_failed(session: Session, webhook_id: str, now: datetime) -> None:
    session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id)
        .values(consecutive_failures=Webhook.consecutive_failures + 1)
    )
    result = session.execute(
        update(Webhook)
        .where(
            Webhook.id == webhook_id,
            Webhook.disabled_at.is_(None),
            Webhook.consecutive_failures >= DISABLE_AFTER_FAILURES,
        )
        .values(disabled_at=now)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        return
    log.warning("webhook %s disabled after %d failures", webhook_id, DISABLE_AFTER_FAILURES)
    notify_administrators(session, webhook, now)
    append(session, [Change("worker", "disable", "webhooks", webhook_id, surface="notification")])


def notify_administrators(session: Session, webhook: Webhook, now: datetime) -> None:
    """Tell the organisation's administrators, in their inbox, that its webhook was disabled."""
    admins = session.scalars(
        select(User).where(
            User.organisation_id == webhook.organisation_id, User.disabled_at.is_(None)
        )
    ).all()
    for admin in admins:
        if Role.ADMINISTRATOR.value not in admin.roles:
            continue
        session.add(
            InboxItem(
                id=new_id(),
                user_id=admin.id,
                delivery_id=new_id(),
                kind=WEBHOOK_DISABLED,
                reference=reference("W", webhook.id, webhook.created_at),
                link="/subscriptions",
                created_at=now,
            )
        )


# Late cases and referrals are escalated at most this long after their deadline passes.
DEADLINE_CHECK_SECONDS = 30.0


def run_worker(
    runtime: Runtime,
    stop: threading.Event,
    interval: float = 2.0,
    *,
    limit: int = BATCH_SIZE,
    lease_seconds: float = LEASE_SECONDS,
) -> None:
    """Deliver until ``stop`` is set: batch after batch while there is work, then every
    ``interval`` seconds. A failing database is waited out, not fatal."""
    checked_at = 0.0
    while not stop.is_set():
        if time.monotonic() - checked_at >= DEADLINE_CHECK_SECONDS:
            checked_at = time.monotonic()
            try:
                escalate_late(runtime)
            except Exception as exc:  # deadlines are checked again on the next round
                log.warning("deadline check failed: %s", type(exc).__name__)
        try:
            handled = deliver_batch(runtime, limit, lease_seconds=lease_seconds)
        except Exception as exc:  # keep delivering once the database is back
            log.warning("delivery batch failed: %s", type(exc).__name__)
            handled = 0
        if handled == 0:
            stop.wait(interval)
