"""Migration 0008: access rows written before Haven audited them get a baseline entry, so an
upgraded database verifies clean and a later edit around Haven is still named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    LargeBinary,
    String,
    column,
    create_engine,
    insert,
    select,
    table,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import TableClause

from haven.access.integrity import ACCESS_TABLES, check_records
from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.crypto.keys import new_keyring, save_keyring
from haven.db.dialect import Guid, UtcDateTime
from haven.db.migrate import upgrade
from haven.db.values import new_id, utcnow
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings

POSTGRES_URL = os.environ.get("HAVEN_TEST_DATABASE_URL", "")
ACCESS = frozenset(access.table.name for access in ACCESS_TABLES)
# Column types at revision 0007; every other column named here is an id.
TYPES: dict[str, Any] = {
    **dict.fromkeys(("created_at", "updated_at", "contributed_at"), UtcDateTime),
    **dict.fromkeys(("granted", "system_admin"), Boolean),
    "roles": JSON,
    "login": LargeBinary,
    "failed_sign_ins": Integer,
    **dict.fromkeys(
        ("name", "kind", "gender", "tlp", "contributed_by", "login_index", "password_hash"),
        String,
    ),
    **dict.fromkeys(("entity", "recipient_kind", "member_state"), String),
}


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


def _table(name: str, *columns: str) -> TableClause:
    """A table as it stood at revision 0007, with the columns a row here needs."""
    return table(name, *(column(c, TYPES.get(c, Guid)) for c in columns))


def _rows_from_before(runtime: Runtime) -> dict[str, str]:
    """Access rows as Haven wrote them before revision 0008, with no access-state entries."""
    ids = {name: new_id() for name in ("ngo", "partner", "person", "incident", "group", "user")}
    now = utcnow()
    with runtime.transaction() as session:
        rows: list[tuple[TableClause, list[dict[str, Any]]]] = [
            (
                _table("contributors", "id", "name", "kind", "created_at"),
                [
                    {"id": ids[o], "name": o, "kind": "ngo", "created_at": now}
                    for o in ("ngo", "partner")
                ],
            ),
            (
                _table(
                    "people",
                    "id",
                    "gender",
                    "tlp",
                    "updated_at",
                    "contributor_id",
                    "contributed_by",
                    "contributed_at",
                ),
                [
                    {
                        "id": ids["person"],
                        "gender": "undisclosed",
                        "tlp": "amber",
                        "updated_at": now,
                        "contributor_id": ids["ngo"],
                        "contributed_by": "t",
                        "contributed_at": now,
                    }
                ],
            ),
            (
                _table(
                    "users",
                    "id",
                    "organisation_id",
                    "login_index",
                    "login",
                    "password_hash",
                    "roles",
                    "system_admin",
                    "failed_sign_ins",
                    "created_at",
                ),
                [
                    {
                        "id": ids["user"],
                        "organisation_id": ids["partner"],
                        "login_index": "index",
                        "login": b"sealed",
                        "password_hash": "hash",
                        "roles": ["caseworker", "analyst"],
                        "system_admin": False,
                        "failed_sign_ins": 0,
                        "created_at": now,
                    }
                ],
            ),
            (
                _table("sharing_groups", "id", "name", "owner_id", "created_at"),
                [{"id": ids["group"], "name": "g", "owner_id": ids["ngo"], "created_at": now}],
            ),
            (
                _table("sharing_group_members", "group_id", "organisation_id"),
                [{"group_id": ids["group"], "organisation_id": ids[o]} for o in ("ngo", "partner")],
            ),
            (
                _table("record_shares", "entity", "record_id", "group_id"),
                [{"entity": "incidents", "record_id": ids["incident"], "group_id": ids["group"]}],
            ),
            (
                _table("record_recipients", "entity", "record_id", "user_id"),
                [{"entity": "incidents", "record_id": ids["incident"], "user_id": ids["user"]}],
            ),
            (
                _table(
                    "consents",
                    "person_id",
                    "recipient_kind",
                    "member_state",
                    "granted",
                    "updated_at",
                ),
                [
                    {
                        "person_id": ids["person"],
                        "recipient_kind": kind,
                        "member_state": state,
                        "granted": granted,
                        "updated_at": now,
                    }
                    for kind, state, granted in (("ngo", "", True), ("authority", "DE", False))
                ],
            ),
        ]
        for target, values in rows:
            session.execute(insert(target), values)
    return ids


def _found(runtime: Runtime) -> list[str]:
    """What verification names in the tables that decide access (the rows above were written
    around the registry's writer, so its records have no entries of their own)."""
    with runtime.reading() as session:
        found = check_records(session, runtime.cipher())
        return [d.describe() for d in found if d.entity in ACCESS]


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
