"""Migration 0008: access rows written before Haven audited them get a baseline entry, so an
upgraded database verifies clean and a later edit around Haven is still named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from builders import incident
from haven.access.integrity import check_records
from haven.access.models import (
    Consent,
    RecordRecipient,
    RecordShare,
    SharingGroup,
    SharingGroupMember,
    User,
)
from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.crypto.keys import new_keyring, save_keyring
from haven.db.migrate import upgrade
from haven.db.values import new_id, utcnow
from haven.domain.enums import ContributorKind, PersonRole
from haven.registry.contributors import ensure_contributor
from haven.registry.schemas import PersonIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings

POSTGRES_URL = os.environ.get("HAVEN_TEST_DATABASE_URL", "")


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched yet."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = make_url(POSTGRES_URL)
    name = f"{base.database}_{os.getpid()}_baseline"
    admin = create_engine(
        base.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name, drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def at_0007(empty_url: str, tmp_path: Path) -> Iterator[Runtime]:
    key_file = tmp_path / "keys.json"
    save_keyring(new_keyring(), key_file)
    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=empty_url, key_file=key_file))
    upgrade(runtime.engine, "0007")
    yield runtime
    runtime.close()


def _rows_from_before(runtime: Runtime) -> dict[str, str]:
    """Access rows as Haven wrote them before revision 0008: with no access-state entries."""
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        ngo = ensure_contributor(session, cipher, "NGO", ContributorKind.NGO, actor="t")
        partner = ensure_contributor(session, cipher, "Partner", ContributorKind.NGO, actor="t")
        writer = RegistryWriter(session, cipher, Actor(ngo, "test:writer"))
        shared = writer.add_incident(incident(tlp="amber"))
        person = writer.add_person(PersonIn.model_validate({"profile": "journalist"}))
        writer.link_person(shared, person, PersonRole.TARGET)
        writer.flush()
        user = new_id()
        session.execute(
            insert(User),
            [
                {
                    "id": user,
                    "organisation_id": partner,
                    "login_index": "index",
                    "login": b"sealed",
                    "password_hash": "hash",
                    "roles": ["caseworker", "analyst"],
                    "system_admin": False,
                    "failed_sign_ins": 0,
                    "created_at": utcnow(),
                }
            ],
        )
        group = new_id()
        session.execute(
            insert(SharingGroup),
            [{"id": group, "name": "g", "owner_id": ngo, "created_at": utcnow()}],
        )
        session.execute(
            insert(SharingGroupMember),
            [{"group_id": group, "organisation_id": org} for org in (ngo, partner)],
        )
        session.execute(
            insert(RecordShare), [{"entity": "incidents", "record_id": shared, "group_id": group}]
        )
        session.execute(
            insert(RecordRecipient), [{"entity": "incidents", "record_id": shared, "user_id": user}]
        )
        session.execute(
            insert(Consent),
            [
                {"person_id": person, "recipient_kind": kind, "member_state": state, "granted": on}
                for kind, state, on in (("ngo", "", True), ("authority", "DE", False))
            ],
        )
    return {"person": person, "incident": shared, "group": group, "user": user}


def _found(runtime: Runtime) -> list[str]:
    with runtime.reading() as session:
        return [d.describe() for d in check_records(session, runtime.cipher())]


def test_rows_from_before_the_audit_of_access_verify_clean_after_it(at_0007: Runtime) -> None:
    ids = _rows_from_before(at_0007)
    assert sorted(_found(at_0007)) == sorted(
        [
            f"consents of person {ids['person']} were never audited",
            f"record_shares of incidents {ids['incident']} were never audited",
            f"record_recipients of incidents {ids['incident']} were never audited",
            f"sharing_group_members of group {ids['group']} were never audited",
            f"users.roles, organisation_id and system_admin of user {ids['user']} "
            "were never audited",
        ]
    )
    upgrade(at_0007.engine)
    assert _found(at_0007) == []
    with at_0007.reading() as session:
        assert verify(session).ok
        baseline = session.scalars(
            select(AuditEntry.entity).where(AuditEntry.actor == "migration:0008")
        ).all()
    assert sorted(baseline) == sorted(
        ["consents", "record_shares", "record_recipients", "sharing_group_members", "users"]
    )


def test_an_edit_after_the_baseline_is_named(at_0007: Runtime) -> None:
    ids = _rows_from_before(at_0007)
    upgrade(at_0007.engine)
    with at_0007.transaction() as session:
        session.execute(
            text("DELETE FROM consents WHERE person_id = :person AND recipient_kind = 'ngo'"),
            {"person": ids["person"]},
        )
    assert _found(at_0007) == [
        f"consents of person {ids['person']} differ from their last audited state"
    ]
