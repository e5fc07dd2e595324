"""``haven worker``: deliver the notification outbox; also run inside ``haven serve``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from haven.audit.checkpoint import checkpoint_when_due
from haven.casework.notices import escalate_late
from haven.db.engine import check_connection
from haven.insight.releases import release_when_due
from haven.notify.retention import OutboxPruning
from haven.notify.worker import BATCH_SIZE, LEASE_SECONDS, Loop, Task, deliver_batch, run_worker
from haven.runtime import Runtime, open_runtime
from haven.settings import load_settings

out = Console(soft_wrap=True)
log = logging.getLogger("haven.notify")

# What every worker runs besides delivering, in `haven worker` and inside `haven serve` alike:
# late cases and referrals are escalated, and those about to be late warned of; open statistics
# are released when HAVEN_OPEN_RELEASES says one is due; delivered outbox rows are pruned after
# HAVEN_OUTBOX_RETENTION_DAYS; the audit chain's head is signed into HAVEN_AUDIT_CHECKPOINT_DIR
# when that is set.
PERIODIC: tuple[Task, ...] = (
    escalate_late,
    release_when_due,
    OutboxPruning(),
    checkpoint_when_due,
)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then stop.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between looks at an idle outbox.")
    ] = 2.0,
    batch: Annotated[int, typer.Option(min=1, help="Messages claimed at a time.")] = BATCH_SIZE,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Seconds a claimed message is this worker's before another may take it; "
            "longer than one delivery may take.",
        ),
    ] = LEASE_SECONDS,
) -> None:
    """Deliver notifications (e-mail, webhooks, inbox) from the outbox, at least once. Several
    workers may share one PostgreSQL database."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    with open_runtime(settings) as runtime:
        check_connection(runtime.engine)
        runtime.cipher()
        if once:
            total = 0
            while handled := deliver_batch(runtime, batch, lease_seconds=lease):
                total += handled
            out.print(f"handled {total} messages")
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        log.info("delivering notifications (Ctrl+C stops)")
        loop = Loop(interval=interval, limit=batch, lease_seconds=lease, periodic=PERIODIC)
        run_worker(runtime, stop, loop)


# How long the worker inside `haven serve` waits when the outbox is empty: a notification waits
# at most this long after its commit. An empty outbox costs one read (no writer's lock).
SERVE_INTERVAL = 0.2


@contextmanager
def embedded_worker(runtime: Runtime, *, enabled: bool = True) -> Iterator[None]:
    """The worker in a background thread of ``haven serve``, stopped when the block ends."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(runtime, stop, Loop(interval=SERVE_INTERVAL, periodic=PERIODIC)),
        name="haven-worker",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
