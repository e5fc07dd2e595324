"""A worker killed (SIGKILL) in the middle of a batch loses nothing: once restarted, every
message arrives, and a message that arrives twice carries the same delivery id both times."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from haven.domain.enums import Tlp
from haven.notify.events import Event, EventKind
from haven.notify.models import Channel, OutboxMessage
from haven.notify.outbox import emit, reference
from haven.notify.subscriptions import Endpoint, Owner, Rules, add_subscription, add_webhook
from haven.runtime import Runtime
from haven.settings import Settings

MESSAGES = 200
LEASE_SECONDS = 2


def _worker(settings: Settings) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": settings.database_url,
        "HAVEN_KEY_FILE": str(settings.resolved_key_file),
        "HAVEN_DATA_DIR": str(settings.data_dir),
        "HAVEN_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "haven", "worker", "--interval", "0.1"]
    command += ["--batch", "25", "--lease", str(LEASE_SECONDS)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_are_recognisable(
    runtime: Runtime, settings: Settings, world: Any, make_incident: Any, receiver: Any
) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        org = Owner(organisation_id=world.de_authority)
        add_subscription(session, cipher, org, Rules(Channel.WEBHOOK), actor="t")
        endpoint = Endpoint(world.de_authority, receiver.url)
        hook = add_webhook(session, cipher, endpoint, actor="t", settings=settings)
        incident_id, _ = make_incident(session, cipher, world.ngo)
        for _ in range(MESSAGES):
            emit(session, cipher, _event(incident_id))
    with runtime.reading() as session:
        expected = set(session.scalars(select(OutboxMessage.delivery_id)))
    assert len(expected) == MESSAGES
    receiver.secret = hook.secret
    receiver.delay = 0.01  # a slow receiver: the kill lands while a request is in flight

    first = _worker(settings)
    try:
        _wait_for(lambda: len(receiver.deliveries) >= MESSAGES // 4, 15, "the first deliveries")
        seen = len(receiver.deliveries)
        _wait_for(lambda: len(receiver.deliveries) > seen, 5, "a request in flight")
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    killed_at = len(receiver.deliveries)
    assert killed_at < MESSAGES, "the worker finished before it was killed"

    second = _worker(settings)
    try:
        _wait_for(lambda: set(receiver.deliveries) >= expected, 20, "every delivery")
        _wait_for(lambda: _pending(runtime) == 0, 10, "the outbox to be marked delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        _, errors = second.communicate(timeout=10)
    assert second.returncode == 0, errors

    counts = Counter(receiver.deliveries)
    assert set(counts) == expected  # every message arrived, and nothing else did
    repeated = {delivery_id for delivery_id, n in counts.items() if n > 1}
    # A re-delivery is the same message under the same id; the receiver de-duplicates by it.
    assert len(receiver.deliveries) == MESSAGES + sum(counts[d] - 1 for d in repeated)
    assert repeated <= expected
    bodies = {body["delivery_id"] for body in receiver.bodies}
    assert bodies == expected
    assert receiver.bad_signatures == 0
    print(f"killed after {killed_at} requests; {len(repeated)} ids arrived more than once")


def _pending(runtime: Runtime) -> int:
    with runtime.reading() as session:
        query = select(func.count()).where(OutboxMessage.delivered_at.is_(None))
        return session.scalar(query) or 0


def _event(incident_id: str) -> Event:
    return Event(
        kind=EventKind.RECORD_CREATED,
        entity="incidents",
        record_id=incident_id,
        reference=reference("I", incident_id, datetime(2026, 1, 1, tzinfo=UTC)),
        link=f"/incidents/{incident_id}",
        tlp=Tlp.GREEN,
        incident_id=incident_id,
    )
