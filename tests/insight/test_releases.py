"""Releases of open statistics: made from the records as they stand, kept as published, shown
until the next, made by the worker once per period of the schedule and audited."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import builders
from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind
from haven.insight.models import OpenRelease
from haven.insight.open import figures_of_release, open_figures
from haven.insight.releases import (
    Publisher,
    due_period,
    latest_release,
    make_release,
    record_keys,
    release_when_due,
)
from haven.registry.contributors import ensure_contributor
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

_verified = partial(builders.incident, tlp="clear", status="verified")


def _write(runtime: Runtime, count: int, **changes: object) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        own = ensure_contributor(session, cipher, "Exile Legal Aid", ContributorKind.NGO, "FR")
        writer = RegistryWriter(session, cipher, Actor(own, "test:writer", "test"))
        for _ in range(count):
            writer.add_incident(_verified(**changes))
        writer.flush()


def _publisher(runtime: Runtime) -> Publisher:
    return Publisher.of(runtime.settings, runtime.cipher(), "test:release")


def _release(runtime: Runtime) -> OpenRelease:
    with runtime.transaction() as session:
        release = make_release(session, _publisher(runtime))
        session.expunge(release)
    return release


def test_no_release_before_the_first(runtime: Runtime) -> None:
    with runtime.reading() as session:
        assert latest_release(session) is None


def test_a_release_keeps_the_figures_as_published_until_the_next(runtime: Runtime) -> None:
    _write(runtime, 12)
    first = _release(runtime)
    with runtime.reading() as session:
        shown = latest_release(session)
        counted_now = open_figures(session, _publisher(runtime).protection)
    assert shown is not None
    assert shown.released_at == first.released_at
    assert dataclasses.replace(shown, released_at=None) == counted_now
    assert first.figures["total"] == shown.total
    assert first.figures["threshold"] == 5

    # New records change nothing that is shown until the next release.
    _write(runtime, 30, origin_state="cn")
    with runtime.reading() as session:
        assert latest_release(session) == shown
    second = _release(runtime)
    with runtime.reading() as session:
        latest = latest_release(session)
    assert latest is not None
    assert latest.released_at == second.released_at
    assert latest.total is not None
    assert latest.total > 30
    assert dict(latest.tables["origin"].rows).get(("CN",)) is not None


def test_releasing_unchanged_records_again_publishes_the_same_figures(runtime: Runtime) -> None:
    _write(runtime, 9)
    _write(runtime, 7, origin_state="cn", host_state="fr")
    first, second = _release(runtime), _release(runtime)
    assert first.id != second.id
    assert first.figures == second.figures


def test_a_release_is_labelled_in_the_language_asked(runtime: Runtime) -> None:
    _write(runtime, 9)
    release = _release(runtime)
    german = figures_of_release(release.figures, release.released_at, "de")
    english = figures_of_release(release.figures, release.released_at)
    assert english.tables["origin"].label("RU") == "Russian Federation"
    assert german.tables["origin"].label("RU") == "Russische Föderation"
    assert german.tables["origin"].rows == english.tables["origin"].rows


def test_an_unknown_release_format_is_refused(runtime: Runtime) -> None:
    _write(runtime, 5)
    release = _release(runtime)
    with pytest.raises(ValueError, match="unknown release format"):
        figures_of_release({**release.figures, "format": 99}, release.released_at)


def test_each_release_joins_the_audit_chain_with_a_digest_of_what_it_published(
    runtime: Runtime,
) -> None:
    _write(runtime, 6)
    release = _release(runtime)
    with runtime.reading() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == release.id)).one()
        assert verify(session).ok
    assert (entry.action, entry.entity, entry.actor) == (
        "open-release",
        "open_releases",
        "test:release",
    )
    assert entry.after_digest is not None
    assert len(entry.after_digest) == 64


def test_the_record_keys_come_from_the_key_file_and_no_other_key(runtime: Runtime) -> None:
    keyring = runtime.cipher().keyring
    keys = record_keys(runtime.cipher())
    assert keys == record_keys(runtime.cipher())
    assert keys.secret not in {keyring.index_key, keyring.derived_key("blind index")}
    assert keys.secret not in set(keyring.data_keys.values())
    # A rotation of the data keys leaves every record key as it was.
    assert record_keys(FieldCipher(keyring.with_new_data_key())) == keys


@pytest.mark.parametrize(
    ("schedule", "latest", "now", "due"),
    [
        ("monthly", None, datetime(2026, 6, 11, tzinfo=UTC), "2026-06"),
        (
            "monthly",
            datetime(2026, 5, 31, 23, 59, tzinfo=UTC),
            datetime(2026, 6, 1, tzinfo=UTC),
            "2026-06",
        ),
        ("monthly", datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC), None),
        (
            "monthly",
            datetime(2026, 6, 15, tzinfo=UTC),
            datetime(2026, 7, 1, 0, 1, tzinfo=UTC),
            "2026-07",
        ),
        ("quarterly", datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC), None),
        (
            "quarterly",
            datetime(2026, 3, 31, tzinfo=UTC),
            datetime(2026, 4, 1, tzinfo=UTC),
            "2026-Q2",
        ),
        ("quarterly", None, datetime(2026, 12, 1, tzinfo=UTC), "2026-Q4"),
        ("yearly", datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "2026"),
        ("yearly", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC), None),
        ("manual", None, datetime(2026, 6, 11, tzinfo=UTC), None),
    ],
)
def test_a_release_is_due_once_in_each_period(
    schedule: str, latest: datetime | None, now: datetime, due: str | None
) -> None:
    assert due_period(schedule, latest, now) == due  # type: ignore[arg-type]


def _releases(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(OpenRelease)) or 0)


def test_the_worker_releases_once_a_period(runtime: Runtime) -> None:
    _write(runtime, 5)
    assert release_when_due(runtime) == 1
    assert release_when_due(runtime) == 0  # this month's release is made
    with runtime.reading() as session:
        made = session.scalars(select(OpenRelease)).one()
    now = datetime.now(UTC)
    assert made.period == f"{now.year}-{now.month:02d}"
    assert made.released_by == "system:open-releases"
    assert _releases(runtime) == 1


def test_a_release_made_by_hand_counts_for_the_period(runtime: Runtime) -> None:
    _release(runtime)
    assert release_when_due(runtime) == 0
    assert _releases(runtime) == 1


def test_manual_releases_only_when_asked(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"open_releases": "manual"})
    assert release_when_due(runtime) == 0
    assert _releases(runtime) == 0


def test_two_workers_cannot_both_make_a_periods_release(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        make_release(session, _publisher(runtime), period="2026-06")
    with pytest.raises(IntegrityError), runtime.transaction() as session:
        make_release(session, _publisher(runtime), period="2026-06")
    assert _releases(runtime) == 1
