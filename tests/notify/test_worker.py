"""The worker: delivery after commit, leases, retries with backoff, disabling a failing webhook,
digests, and several workers sharing one outbox."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from haven.access.accounts import NewUser, create_user
from haven.cli.worker import embedded_worker
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.enums import ReportChannel, Role, Tlp
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.notify.events import Event, EventKind
from haven.notify.models import Channel, InboxItem, Mode, OutboxMessage, Webhook
from haven.notify.outbox import emit, reference
from haven.notify.subscriptions import (
    Endpoint,
    Owner,
    Rules,
    add_subscription,
    add_webhook,
    set_webhook_enabled,
)
from haven.notify.worker import (
    DISABLE_AFTER_FAILURES,
    MAX_ATTEMPTS,
    WEBHOOK_DISABLED,
    Claim,
    Loop,
    backoff,
    claim,
    deliver_batch,
    digest_boundary,
    run_worker,
)
from haven.runtime import Runtime


def _event(incident_id: str, **changes: Any) -> Event:
    event = Event(
        kind=EventKind.RECORD_CREATED,
        entity="incidents",
        record_id=incident_id,
        reference=reference("I", incident_id, datetime(2026, 1, 1, tzinfo=UTC)),
        link=f"/incidents/{incident_id}",
        tlp=Tlp.GREEN,
        incident_id=incident_id,
        host_state="DE",
        origin_state="BY",
        tactics=("intimidation",),
        urgent=True,
    )
    return replace(event, **changes)


def _hooked(runtime: Runtime, cipher: FieldCipher, world: Any, receiver: Any) -> str:
    """The German authority's webhook, pointing at the receiver, subscribed to everything."""
    with runtime.transaction() as session:
        org = Owner(organisation_id=world.de_authority)
        add_subscription(session, cipher, org, Rules(Channel.WEBHOOK), actor="t")
        endpoint = Endpoint(world.de_authority, receiver.url)
        hook = add_webhook(session, cipher, endpoint, actor="t", settings=runtime.settings)
    receiver.secret = hook.secret
    return hook.id


def _emit(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, n: int = 1
) -> None:
    with runtime.transaction() as session:
        for _ in range(n):
            incident_id, _ = make_incident(session, cipher, world.ngo)
            emit(session, cipher, _event(incident_id))


def _rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.reading() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _with_mail(runtime: Runtime, port: int) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "base_url": "https://haven.test"}
    )


def _fixed(moment: datetime) -> Callable[[], datetime]:
    """A clock that stays at one moment."""
    return lambda: moment


def test_messages_are_delivered_after_commit_by_every_channel(
    runtime: Runtime, world: Any, make_incident: Any, receiver: Any, smtp_server: Any
) -> None:
    cipher = runtime.cipher()
    _with_mail(runtime, smtp_server.port)
    _hooked(runtime, cipher, world, receiver)
    with runtime.transaction() as session:
        for channel in (Channel.EMAIL, Channel.INBOX):
            add_subscription(
                session, cipher, Owner(user_id=world.focal_point), Rules(channel), actor="t"
            )
        incident_id, _ = make_incident(session, cipher, world.ngo)
        emit(session, cipher, _event(incident_id))
        # Not committed yet: nothing can be sent.
    assert deliver_batch(runtime) == 3

    rows = _rows(runtime)
    assert all(row.delivered_at is not None and row.next_attempt_at is None for row in rows)
    webhook_row = next(row for row in rows if row.channel is Channel.WEBHOOK)
    assert receiver.deliveries == [webhook_row.delivery_id]
    (mail,) = smtp_server.to("focal-point@bka.example.org")
    email_row = next(row for row in rows if row.channel is Channel.EMAIL)
    assert mail["X-Haven-Delivery"] == email_row.delivery_id
    assert f"https://haven.test/incidents/{incident_id}" in mail.get_payload(decode=True).decode()
    with runtime.reading() as session:
        (item,) = session.scalars(select(InboxItem)).all()
    assert (item.user_id, item.link) == (world.focal_point, f"/incidents/{incident_id}")
    assert deliver_batch(runtime) == 0


def test_an_uncommitted_change_sends_nothing(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)

    def failing_change() -> None:
        with runtime.transaction() as session:
            incident_id, _ = make_incident(session, cipher, world.ngo)
            emit(session, cipher, _event(incident_id))
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    assert deliver_batch(runtime) == 0
    assert receiver.deliveries == []


def test_a_failed_delivery_is_retried_with_exponential_backoff(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident)
    receiver.status = 503
    start = utcnow()

    assert deliver_batch(runtime, clock=lambda: start) == 1
    (row,) = _rows(runtime)
    assert (row.attempts, row.next_attempt_at) == (1, start + timedelta(seconds=10))
    assert row.last_error == "receiver answered HTTP 503"
    assert row.claimed_until is None

    assert deliver_batch(runtime, clock=lambda: start + timedelta(seconds=9)) == 0
    later = start + timedelta(seconds=10)
    assert deliver_batch(runtime, clock=lambda: later) == 1
    (row,) = _rows(runtime)
    assert (row.attempts, row.next_attempt_at) == (2, later + timedelta(seconds=20))

    receiver.status = 200
    assert deliver_batch(runtime, clock=lambda: later + timedelta(seconds=20)) == 1
    (row,) = _rows(runtime)
    assert row.delivered_at is not None
    assert row.last_error is None
    # Every attempt carried the same delivery id.
    assert receiver.deliveries == [row.delivery_id] * 3


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(9) == timedelta(seconds=2560)
    assert backoff(10) == timedelta(hours=1)
    assert backoff(500) == timedelta(hours=1)


def test_a_message_is_given_up_after_the_last_attempt(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any
) -> None:
    from socket import socket

    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    _with_mail(runtime, closed)
    with runtime.transaction() as session:
        add_subscription(
            session, cipher, Owner(user_id=world.focal_point), Rules(Channel.EMAIL), actor="t"
        )
    _emit(runtime, cipher, world, make_incident)
    now = utcnow()
    for attempt in range(MAX_ATTEMPTS):
        assert deliver_batch(runtime, clock=_fixed(now)) == 1, attempt
        now += timedelta(hours=2)
    assert deliver_batch(runtime, clock=lambda: now) == 0
    (row,) = _rows(runtime)
    assert row.attempts == MAX_ATTEMPTS
    assert row.failed_at is not None
    assert row.next_attempt_at is None
    assert row.last_error == "mail server: ConnectionRefusedError"


def test_a_webhook_failing_repeatedly_is_disabled_and_its_administrators_told(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    hook = _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident, n=DISABLE_AFTER_FAILURES + 2)
    receiver.status = 500

    assert deliver_batch(runtime, limit=DISABLE_AFTER_FAILURES) == DISABLE_AFTER_FAILURES
    with runtime.reading() as session:
        webhook = session.get(Webhook, hook)
        assert webhook is not None
        assert webhook.disabled_at is not None
        assert webhook.consecutive_failures == DISABLE_AFTER_FAILURES
        notices = session.scalars(select(InboxItem)).all()
    assert [(n.user_id, n.kind, n.link) for n in notices] == [
        (world.de_admin, WEBHOOK_DISABLED, "/subscriptions")
    ]
    # While disabled, nothing more is tried, and new events are not queued for it.
    far = utcnow() + timedelta(hours=3)
    assert deliver_batch(runtime, clock=lambda: far) == 0
    _emit(runtime, cipher, world, make_incident)
    assert len(_rows(runtime)) == DISABLE_AFTER_FAILURES + 2

    receiver.status = 200
    with runtime.transaction() as session:
        set_webhook_enabled(session, hook, world.de_authority, True, actor="t")
    assert deliver_batch(runtime) == DISABLE_AFTER_FAILURES + 2
    assert all(row.delivered_at is not None for row in _rows(runtime))
    assert len(set(receiver.deliveries)) == DISABLE_AFTER_FAILURES + 2


def test_a_lease_that_ran_out_is_taken_again_with_the_same_delivery_id(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident, n=3)
    now = utcnow()
    # A worker claims the rows and dies before sending anything.
    with runtime.transaction() as session:
        lease = Claim(new_id(), now, timedelta(seconds=60), limit=10)
        jobs = claim(session, cipher, runtime.settings, lease)
    assert len(jobs) == 3
    assert deliver_batch(runtime, clock=lambda: now + timedelta(seconds=59)) == 0

    assert deliver_batch(runtime, clock=lambda: now + timedelta(seconds=61)) == 3
    assert sorted(receiver.deliveries) == sorted(job.notice.delivery_id for job in jobs)
    assert {row.attempts for row in _rows(runtime)} == {2}


def test_a_worker_that_lost_its_lease_leaves_those_rows_alone(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident, n=2)
    kept, taken = _rows(runtime)
    start = utcnow()
    calls: list[int] = []

    def clock() -> datetime:
        """Claim at ``start``; then the worker stalls past its lease, and meanwhile another
        worker takes the second row."""
        calls.append(1)
        if len(calls) == 1:
            return start
        if len(calls) == 2:
            with runtime.transaction() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == taken.id)
                    .values(claimed_by=new_id())
                )
        return start + timedelta(seconds=61)

    assert deliver_batch(runtime, clock=clock) == 1
    assert receiver.deliveries == [kept.delivery_id]


def test_a_digest_waits_for_the_digest_time_and_lists_every_reference(
    runtime: Runtime,
    cipher: FieldCipher,
    world: Any,
    make_incident: Any,
    smtp_server: Any,
) -> None:
    _with_mail(runtime, smtp_server.port)
    with runtime.transaction() as session:
        rules = Rules(Channel.EMAIL, mode=Mode.DIGEST)
        add_subscription(session, cipher, Owner(user_id=world.focal_point), rules, actor="t")
    _emit(runtime, cipher, world, make_incident, n=3)
    created = max(row.created_at for row in _rows(runtime))
    before = digest_boundary(created, 60) + timedelta(minutes=59)
    before = max(before, created)

    assert deliver_batch(runtime, clock=lambda: before) == 0
    assert deliver_batch(runtime, clock=lambda: before + timedelta(minutes=1, seconds=1)) == 3

    (mail,) = smtp_server.messages
    body = mail.get_payload(decode=True).decode()
    for row in _rows(runtime):
        assert row.reference in body
        assert row.delivered_at is not None
    assert mail["Subject"] == "Haven: 3 new items"


def test_digest_times_follow_the_setting() -> None:
    at = datetime(2026, 3, 1, 10, 47, 12, tzinfo=UTC)
    assert digest_boundary(at, 60) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert digest_boundary(at, 15) == datetime(2026, 3, 1, 10, 45, tzinfo=UTC)
    assert digest_boundary(at, 1440) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_two_workers_share_the_outbox_without_sending_twice(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)
    with runtime.transaction() as session:
        incident_id, _ = make_incident(session, cipher, world.ngo)
        for _ in range(40):
            emit(session, cipher, _event(incident_id))
    receiver.delay = 0.01
    handled = Counter[str]()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while count := deliver_batch(runtime, limit=4):
                handled[name] += count
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(handled.values()) == 40
    assert set(handled) == {"a", "b"}
    assert len(receiver.deliveries) == 40
    assert len(set(receiver.deliveries)) == 40
    with runtime.reading() as session:
        pending = select(func.count()).where(OutboxMessage.delivered_at.is_(None))
        assert session.scalar(pending) == 0


def test_the_worker_in_serve_delivers_in_the_background(
    runtime: Runtime, cipher: FieldCipher, world: Any, make_incident: Any, receiver: Any
) -> None:
    _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident)
    with embedded_worker(runtime):
        deadline = time.monotonic() + 15
        while not receiver.deliveries and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(receiver.deliveries) == 1


def test_haven_worker_once_delivers_what_is_due(
    runtime: Runtime, world: Any, make_incident: Any, receiver: Any, cli: Any
) -> None:
    cipher = runtime.cipher()
    _hooked(runtime, cipher, world, receiver)
    _emit(runtime, cipher, world, make_incident, n=2)
    outcome = cli("worker", "--once")
    assert outcome.code == 0, outcome.err
    assert "handled 2 messages" in outcome.out
    assert len(receiver.deliveries) == 2


def test_the_worker_runs_the_periodic_tasks_its_caller_hands_it(runtime: Runtime) -> None:
    calls: list[str] = []
    stop = threading.Event()

    def failing(_runtime: Runtime) -> None:
        calls.append("failing")
        raise RuntimeError("a task that fails does not stop the worker")

    def counting(_runtime: Runtime) -> int:
        calls.append("counting")
        if calls.count("counting") == 2:
            stop.set()
        return 0

    loop = Loop(interval=0.01, periodic=(failing, counting), periodic_seconds=0.05)
    started = time.monotonic()
    thread = threading.Thread(target=run_worker, args=(runtime, stop, loop), daemon=True)
    thread.start()
    thread.join(timeout=15)

    assert not thread.is_alive()
    assert calls == ["failing", "counting", "failing", "counting"]
    assert time.monotonic() - started >= 0.05  # the second round waited for its time


def test_the_worker_in_serve_escalates_a_late_case(
    runtime: Runtime, cipher: FieldCipher, world: Any
) -> None:
    with runtime.transaction() as session:
        login = "coordinator@ngo.example.org"
        new = NewUser(
            world.ngo, login, "correct horse battery staple", frozenset({Role.COORDINATOR})
        )
        coordinator = create_user(session, cipher, new, actor="test")
        submission = Submission(world.ngo, ReportChannel.API, "test", "test")
        receipt = submit_report(session, cipher, _late_report(), submission)
        # Received three hours ago: an urgent case is due for triage within two.
        long_ago = utcnow() - timedelta(hours=3)
        session.execute(
            update(Report)
            .where(Report.id == receipt.report_id)
            .values(received_at=long_ago, ack_due_at=long_ago + timedelta(hours=2))
        )
    passed = select(InboxItem).where(
        InboxItem.user_id == coordinator, InboxItem.kind == EventKind.DEADLINE_PASSED.value
    )
    found: list[InboxItem] = []
    with embedded_worker(runtime):
        deadline = time.monotonic() + 15
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
            with runtime.reading() as session:
                found = list(session.scalars(passed))
    assert [item.link for item in found] == [f"/reports/{receipt.report_id}"]


def _late_report() -> ReportIn:
    return ReportIn.model_validate(
        {
            "what_happened": "Two men from the consulate waited outside my flat.",
            "tactics": ["intimidation"],
            "occurred": {"start": "2026-03-01", "precision": "month"},
            "origin_state": "BY",
            "host_state": "DE",
            "target_name": "Zerafshan Quillborough-Nakamura",
            "urgent": True,
            "consent": ["ngo"],
        }
    )
