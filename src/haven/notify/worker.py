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

Each row is delivered by its channel, looked up in :data:`haven.notify.channels.CHANNELS`; the
worker knows no channel by name. Other features' recurring work (escalating late cases) is handed
in by the caller as ``periodic`` tasks, so notification imports none of them.

The worker logs delivery ids, channels and error classes, never a message's content or address.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from haven.access.models import User
from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.dialect import skip_locked
from haven.db.values import new_id, utcnow
from haven.domain.enums import Role
from haven.notify.channels import (
    CHANNELS,
    Channel,
    DeliveryFailed,
    Notice,
    Recipient,
    Refused,
    channel_named,
)
from haven.notify.models import InboxItem, OutboxMessage, Webhook
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
    to: Recipient
    refused: str | None = None  # a reason not to send at all


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's claim on due rows: its token, when it claims, how long it holds them, and
    how many it takes at most."""

    token: str
    now: datetime
    lease: timedelta
    limit: int = BATCH_SIZE


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
        jobs = claim(session, cipher, runtime.settings, Claim(token, start, lease, limit))
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
        sent.append((job, job.refused or _send(runtime.settings, job)))
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
            job.channel.record(session, runtime.settings, job.to, job.notice)
        _delivered(session, delivered, now)
        for job, error in sent:
            if error is not None:
                log.warning(
                    "delivery %s by %s failed: %s", job.notice.delivery_id, job.channel.name, error
                )
                _failed(session, job, error, now)
    return sum(len(job.rows) for job, _ in sent)


def _due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    o = OutboxMessage
    disabled = select(Webhook.id).where(Webhook.disabled_at.is_not(None))
    waiting = [channel.name for channel in CHANNELS if not channel.ready(settings)]
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
        # A channel that is not ready (e-mail without a mail server) waits.
        o.channel.not_in(waiting) if waiting else true(),
    )


def claim(session: Session, cipher: FieldCipher, settings: Settings, request: Claim) -> list[Job]:
    """Lease due rows to this claim and turn them into jobs (digests grouped per recipient)."""
    o = OutboxMessage
    due = select(o).where(_due(settings, request.now)).order_by(o.next_attempt_at, o.id)
    rows = session.scalars(skip_locked(due.limit(request.limit), session.connection())).all()
    for row in rows:
        row.attempts += 1
        row.claimed_until = request.now + request.lease
        row.claimed_by = request.token
    session.flush()
    return _jobs(session, cipher, settings, rows)


def _jobs(
    session: Session, cipher: FieldCipher, settings: Settings, rows: Sequence[OutboxMessage]
) -> list[Job]:
    jobs: list[Job] = []
    digests: dict[tuple[Any, ...], list[OutboxMessage]] = {}
    for row in rows:
        if row.digest:
            address = _address(cipher, row)
            digests.setdefault((row.channel, row.user_id, row.webhook_id, address), []).append(row)
        else:
            jobs.append(_job(session, cipher, settings, [row]))
    jobs += [_job(session, cipher, settings, group) for group in digests.values()]
    return jobs


def _digest_id(rows: Sequence[OutboxMessage]) -> str:
    """The same rows make the same digest id, so a re-sent digest is recognisable too."""
    key = ",".join(sorted(row.delivery_id for row in rows))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"haven-digest:{key}"))


def _address(cipher: FieldCipher, row: OutboxMessage) -> str | None:
    if row.address is None:
        return None
    return cipher.decrypt(row.address, sealed_context("outbox", "address", row.id)).decode()


def _job(
    session: Session, cipher: FieldCipher, settings: Settings, rows: Sequence[OutboxMessage]
) -> Job:
    """The message of one row, or of one recipient's digest rows, as its channel says it."""
    first = rows[0]
    channel = channel_named(first.channel)
    base = settings.resolved_base_url
    items = tuple(
        channel.item(
            row, base, open_content(cipher, row) if channel.carries_approved_content else None
        )
        for row in rows
    )
    delivery_id = _digest_id(rows) if first.digest else first.delivery_id
    job = Job(
        rows=tuple(row.id for row in rows),
        channel=channel,
        notice=Notice(delivery_id, items, digest=first.digest),
        to=Recipient(user_id=first.user_id, webhook_id=first.webhook_id),
    )
    try:
        job.to = channel.recipient(session, cipher, first)
    except Refused as refusal:
        job.refused = str(refusal)
    return job


def _send(settings: Settings, job: Job) -> str | None:
    try:
        job.channel.deliver(settings, job.to, job.notice)
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
    webhooks = sorted({job.to.webhook_id for job in jobs if job.to.webhook_id is not None})
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
    if job.to.webhook_id is not None and job.refused is None:
        _webhook_failed(session, job.to.webhook_id, now)
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


# A periodic task: another feature's recurring work, such as escalating late cases, handed in
# by whoever runs the worker; what it returns is not used.
Task = Callable[[Runtime], object]

# Periodic tasks run at most this often, so late cases are escalated within this long.
PERIODIC_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Loop:
    """How the worker goes round: how long it waits on an idle outbox, how much it claims at a
    time and for how long, and what else it runs on the way."""

    interval: float = 2.0
    limit: int = BATCH_SIZE
    lease_seconds: float = LEASE_SECONDS
    periodic: tuple[Task, ...] = ()
    periodic_seconds: float = PERIODIC_SECONDS


def run_worker(runtime: Runtime, stop: threading.Event, loop: Loop = Loop()) -> None:
    """Deliver until ``stop`` is set: batch after batch while there is work, then every
    ``loop.interval`` seconds, running the periodic tasks every ``loop.periodic_seconds``. A
    failing database is waited out, not fatal."""
    ran_at: float | None = None
    while not stop.is_set():
        if ran_at is None or time.monotonic() - ran_at >= loop.periodic_seconds:
            ran_at = time.monotonic()
            _run_periodic(runtime, loop.periodic)
        try:
            handled = deliver_batch(runtime, loop.limit, lease_seconds=loop.lease_seconds)
        except Exception as exc:  # keep delivering once the database is back
            log.warning("delivery batch failed: %s", type(exc).__name__)
            handled = 0
        if handled == 0:
            stop.wait(loop.interval)


def _run_periodic(runtime: Runtime, tasks: Sequence[Task]) -> None:
    for task in tasks:
        try:
            task(runtime)
        except Exception as exc:  # the task runs again on the next round
            name = getattr(task, "__name__", type(task).__name__)
            log.warning("periodic task %s failed: %s", name, type(exc).__name__)
