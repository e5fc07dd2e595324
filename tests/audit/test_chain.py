from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from haven.audit.chain import Change, append, verify
from haven.audit.models import AuditEntry
from haven.runtime import Runtime


def _append_three(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        append(session, [Change("test", "create", "incidents", f"id-{n}") for n in range(3)])


def test_an_intact_chain_verifies(runtime: Runtime) -> None:
    _append_three(runtime)
    with runtime.transaction() as session:
        verdict = verify(session)
    assert verdict.ok
    assert verdict.checked == 3


def test_an_altered_entry_is_named(runtime: Runtime) -> None:
    _append_three(runtime)
    with runtime.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="someone else"))
    with runtime.transaction() as session:
        verdict = verify(session)
    assert verdict.first_bad == 2
    assert "altered" in verdict.reason


def test_a_removed_entry_is_named(runtime: Runtime) -> None:
    _append_three(runtime)
    with runtime.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with runtime.transaction() as session:
        verdict = verify(session)
    assert verdict.first_bad == 2
    assert "missing" in verdict.reason


def test_entries_removed_from_the_end_are_noticed(runtime: Runtime) -> None:
    _append_three(runtime)
    with runtime.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    with runtime.transaction() as session:
        verdict = verify(session)
    assert verdict.first_bad == 3
    assert "end" in verdict.reason


def test_an_empty_chain_verifies(session: Session) -> None:
    assert verify(session).ok


def test_concurrent_writers_extend_one_chain(runtime: Runtime) -> None:
    def write(worker: int) -> None:
        for batch in range(5):
            with runtime.transaction() as session:
                append(
                    session,
                    [
                        Change("test", "create", "incidents", f"{worker}-{batch}-{n}")
                        for n in range(4)
                    ],
                )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    with runtime.transaction() as session:
        verdict = verify(session)
    assert verdict.ok, verdict.reason
    assert verdict.checked == 4 * 5 * 4
