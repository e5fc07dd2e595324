"""Pruning the outbox: delivered and given-up rows go after the retention period, in bounded
rounds; waiting rows and inbox items stay."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from haven.cli.worker import PERIODIC
from haven.db.values import new_id, utcnow
from haven.domain.enums import Tlp
from haven.notify.models import Channel, InboxItem, OutboxMessage
from haven.notify.retention import OutboxPruning, prune_outbox, prune_round
from haven.runtime import Runtime

DAY = timedelta(days=1)


def _row(now: datetime, **state: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "created_at": now - 60 * DAY,
        "channel": Channel.EMAIL,
        "address": b"sealed",
        "kind": "record-created",
        "entity": "incidents",
        "record_id": new_id(),
        "reference": "I-2026-00AA11",
        "link": "/incidents/x",
        "tlp": Tlp.GREEN,
        "payload": {},
        "digest": False,
        "delivery_id": new_id(),
        "attempts": 1,
    } | state


def _add(runtime: Runtime, rows: list[dict[str, Any]]) -> set[str]:
    with runtime.transaction() as session:
        session.execute(insert(OutboxMessage), rows)
    return {row["id"] for row in rows}


def _delivered(runtime: Runtime, n: int, at: datetime) -> set[str]:
    return _add(runtime, [_row(at, delivered_at=at) for _ in range(n)])


def _left(runtime: Runtime) -> set[str]:
    with runtime.reading() as session:
        return set(session.scalars(select(OutboxMessage.id)))


def test_only_rows_finished_before_the_retention_period_are_pruned(
    runtime: Runtime, world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    now = utcnow()
    old = now - 31 * DAY
    _delivered(runtime, 1, old)
    _add(runtime, [_row(now, failed_at=old, attempts=10)])  # given up on
    recent = _delivered(runtime, 1, now - 29 * DAY)
    # Created long ago but never delivered: waiting for a mail server, or for a retry.
    waiting = _add(
        runtime,
        [_row(now, next_attempt_at=now - 40 * DAY), _row(now, next_attempt_at=now + DAY)],
    )
    with runtime.transaction() as session:
        session.add(
            InboxItem(
                user_id=world.focal_point,
                delivery_id=new_id(),
                kind="record-created",
                reference="I-2026-00AA11",
                link="/incidents/x",
                created_at=now - 400 * DAY,
            )
        )

    with caplog.at_level(logging.INFO, logger="haven.notify"):
        pruned = prune_outbox(runtime)

    assert (pruned.rows, pruned.finished) == (2, True)
    assert _left(runtime) == recent | waiting
    with runtime.reading() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 1
    assert [record.getMessage() for record in caplog.records] == [
        "pruned 2 delivered outbox rows older than 30 days"
    ]


def test_a_backlog_is_pruned_in_bounded_rounds(runtime: Runtime) -> None:
    now = utcnow()
    _delivered(runtime, 2500, now - 90 * DAY)
    recent = _delivered(runtime, 3, now - DAY)
    cutoff = now - 30 * DAY

    rounds = []
    for _ in range(4):
        with runtime.transaction() as session:
            rounds.append(prune_round(session, cutoff))

    assert rounds == [1000, 1000, 500, 0]
    assert _left(runtime) == recent


def test_one_run_takes_at_most_its_rounds_and_the_next_run_goes_on(runtime: Runtime) -> None:
    now = utcnow()
    _delivered(runtime, 25, now - 90 * DAY)

    first = prune_outbox(runtime, batch=10, rounds=2)
    second = prune_outbox(runtime, batch=10, rounds=2)

    assert (first.rows, first.finished) == (20, False)
    assert (second.rows, second.finished) == (5, True)
    assert _left(runtime) == set()


def test_retention_zero_keeps_everything(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"outbox_retention_days": 0})
    kept = _delivered(runtime, 3, utcnow() - 3650 * DAY)

    assert prune_outbox(runtime).rows == 0
    assert _left(runtime) == kept


def test_the_retention_period_is_a_setting(runtime: Runtime) -> None:
    now = utcnow()
    runtime.settings = runtime.settings.model_copy(update={"outbox_retention_days": 7})
    _delivered(runtime, 1, now - 8 * DAY)
    kept = _delivered(runtime, 1, now - 6 * DAY)

    assert prune_outbox(runtime).rows == 1
    assert _left(runtime) == kept


def test_the_periodic_task_looks_again_soon_only_while_a_backlog_remains(
    runtime: Runtime,
) -> None:
    now = utcnow()
    _delivered(runtime, 25, now - 90 * DAY)
    task = OutboxPruning(every_seconds=3600.0, batch=10, rounds=1)

    assert [task(runtime) for _ in range(3)] == [10, 10, 5]
    # Finished: the next look waits an hour, even for rows that became prunable meanwhile.
    _delivered(runtime, 1, now - 90 * DAY)
    assert task(runtime) == 0
    assert len(_left(runtime)) == 1


def test_every_worker_prunes_the_outbox() -> None:
    assert any(isinstance(task, OutboxPruning) for task in PERIODIC)


def test_two_workers_pruning_at_once_take_different_rows(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite a writing transaction has the database to itself")
    cutoff = utcnow() - 30 * DAY
    _delivered(runtime, 30, utcnow() - 90 * DAY)

    with runtime.transaction() as first:
        assert prune_round(first, cutoff, 10) == 10
        with runtime.transaction() as second:
            # Waiting for the first worker's rows would fail here instead of hanging.
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert prune_round(second, cutoff, 10) == 10
    assert len(_left(runtime)) == 10
