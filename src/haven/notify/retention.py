"""Pruning the outbox: rows delivered, or given up on, more than HAVEN_OUTBOX_RETENTION_DAYS ago
are deleted; rows still waiting for delivery never are.

An outbox row says who was told of which record and when. Once it is delivered that is worth
keeping only for a while (to answer "was I told?"), and an outbox that only grows makes every
claim slower. The user's inbox (``InboxItem``) is what people read in Haven: it is not the outbox
and is never pruned here.

Deletion goes in rounds of at most :data:`PRUNE_BATCH` rows, each its own short transaction, so
that a large backlog never holds a long lock; one run takes at most :data:`PRUNE_ROUNDS` rounds
and leaves the rest to the next. On PostgreSQL each round locks its rows ``FOR UPDATE SKIP
LOCKED``, so several workers pruning at once take different rows, and the ``DELETE`` checks the
condition again. The worker logs how many rows it pruned, nothing else about them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from haven.db.dialect import skip_locked
from haven.db.values import utcnow
from haven.notify.models import OutboxMessage
from haven.runtime import Runtime

log = logging.getLogger("haven.notify")

PRUNE_BATCH = 1000
PRUNE_ROUNDS = 20
# The outbox has no index on delivery times, so a worker looks for prunable rows at most this
# often rather than on every round of its periodic tasks (every 30 s).
PRUNE_EVERY_SECONDS = 3600.0


def _prunable(cutoff: datetime) -> ColumnElement[bool]:
    o = OutboxMessage
    return or_(o.delivered_at < cutoff, o.failed_at < cutoff)


def prune_round(session: Session, cutoff: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` rows delivered or given up before ``cutoff``; returns how many."""
    o = OutboxMessage
    chosen = select(o.id).where(_prunable(cutoff)).order_by(o.id).limit(limit)
    ids = list(session.scalars(skip_locked(chosen, session.connection())))
    if not ids:
        return 0
    result = session.execute(
        delete(o)
        .where(o.id.in_(ids), _prunable(cutoff))
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one run pruned, and whether it reached the end or left rows for the next run."""

    rows: int
    finished: bool


def prune_outbox(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    batch: int = PRUNE_BATCH,
    rounds: int = PRUNE_ROUNDS,
) -> Pruned:
    """Prune as the settings say, in at most ``rounds`` transactions of ``batch`` rows."""
    days = runtime.settings.outbox_retention_days
    if days == 0:
        return Pruned(0, finished=True)
    cutoff = clock() - timedelta(days=days)
    with runtime.reading() as session:
        # Nothing to prune costs a read, not a writer's lock (SQLite has one for everybody).
        if session.scalar(select(OutboxMessage.id).where(_prunable(cutoff)).limit(1)) is None:
            return Pruned(0, finished=True)
    total = 0
    finished = False
    for _ in range(rounds):
        with runtime.transaction() as session:
            pruned = prune_round(session, cutoff, batch)
        total += pruned
        if pruned < batch:
            finished = True
            break
    if total:
        log.info("pruned %d delivered outbox rows older than %d days", total, days)
    return Pruned(total, finished)


@dataclass
class OutboxPruning:
    """The worker's periodic task: prune at most every ``every_seconds``, and again on the next
    round while a backlog remains."""

    every_seconds: float = PRUNE_EVERY_SECONDS
    batch: int = PRUNE_BATCH
    rounds: int = PRUNE_ROUNDS
    _due: float = field(default=float("-inf"), init=False)

    def __call__(self, runtime: Runtime) -> int:
        if time.monotonic() < self._due:
            return 0
        pruned = prune_outbox(runtime, batch=self.batch, rounds=self.rounds)
        self._due = time.monotonic() + (self.every_seconds if pruned.finished else 0.0)
        return pruned.rows
