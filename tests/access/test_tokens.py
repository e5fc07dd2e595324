"""API token names are sealed: ciphertext in the database, readable through the cipher, moved
to a new key by `haven keys rotate`, and encrypted by migration 0011 where they were stored as
written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
    tokens_of,
)
from haven.access.models import ApiToken
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import load_keyring, new_keyring
from haven.db.migrate import alembic_config, current_revision, head_revision, upgrade
from haven.domain.enums import ContributorKind, Role
from haven.errors import ConfigurationError, KeyFileError
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime
from haven.settings import Settings

NAME = "Nightingale Legal partnership feed"


def _token(runtime: Runtime, name: str = NAME) -> tuple[str, str]:
    """A caseworker with one token of this name: (user id, token id)."""
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewOrganisation("Exile Legal Aid", ContributorKind.NGO)
        organisation_id = create_organisation(session, cipher, new, actor="test")
        user = NewUser(organisation_id, "cw@example.org", "a" * 16, frozenset({Role.CASEWORKER}))
        user_id = create_user(session, cipher, user, actor="test")
        request = TokenRequest(user_id, name, frozenset({"read"}), timedelta(days=1))
        return user_id, create_token(session, cipher, request, actor="test").id


def _stored(runtime: Runtime) -> dict[str, Any]:
    with runtime.reading() as session:
        rows = session.execute(text("SELECT id, name FROM api_tokens")).all()
    return {str(token_id): name for token_id, name in rows}


def test_a_token_name_is_stored_sealed_and_read_back_through_the_cipher(
    runtime: Runtime, dump_tables: Callable[[Session], str]
) -> None:
    user_id, token_id = _token(runtime)
    cipher = runtime.cipher()
    stored = bytes(_stored(runtime)[token_id])
    assert NAME.encode() not in stored
    assert cipher.decrypt(stored, sealed_context("api_tokens", "name", token_id)) == NAME.encode()
    with runtime.reading() as session:
        (view,) = tokens_of(session, cipher, user_id)
        assert (view.id, view.name, view.scopes, view.revoked_at) == (
            token_id,
            NAME,
            ["read"],
            None,
        )
        dump = dump_tables(session)
    assert "Nightingale" not in dump


def test_a_sealed_name_belongs_to_its_own_row(runtime: Runtime) -> None:
    _, token_id = _token(runtime)
    stored = bytes(_stored(runtime)[token_id])
    with pytest.raises(KeyFileError):
        runtime.cipher().decrypt(stored, sealed_context("api_tokens", "name", "another-token"))


def test_keys_rotate_reencrypts_token_names(
    runtime: Runtime, settings: Settings, cli: Callable[..., Any]
) -> None:
    user_id, token_id = _token(runtime)
    rotated = cli("keys", "rotate", "--retire")
    assert rotated.code == 0, rotated.err
    cipher = FieldCipher(load_keyring(settings.resolved_key_file))
    assert set(cipher.keyring.data_keys) == {2}
    assert FieldCipher.key_number(bytes(_stored(runtime)[token_id]))[1] == 2
    with runtime.reading() as session:
        assert [view.name for view in tokens_of(session, cipher, user_id)] == [NAME]


# -- migration 0011 --------------------------------------------------------------------------


def _downgrade_to_0010(runtime: Runtime, cipher: FieldCipher) -> None:
    config = alembic_config()
    with runtime.engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["sealer"] = lambda: cipher
        command.downgrade(config, "0010")


def test_migration_0011_encrypts_the_names_stored_before_it(runtime: Runtime) -> None:
    user_id, token_id = _token(runtime)
    second = _token_for(runtime, user_id, "Second feed")
    cipher = runtime.cipher()
    _downgrade_to_0010(runtime, cipher)
    assert current_revision(runtime.engine) == "0010"
    assert _stored(runtime) == {token_id: NAME, second: "Second feed"}

    upgrade(runtime.engine, sealer=lambda: cipher)

    assert current_revision(runtime.engine) == head_revision()
    stored = _stored(runtime)
    assert all(NAME.encode() not in bytes(value) for value in stored.values())
    with runtime.reading() as session:
        names = [view.name for view in tokens_of(session, cipher, user_id)]
        assert sorted(names) == sorted([NAME, "Second feed"])
        assert session.scalar(select(ApiToken.id).where(ApiToken.id == token_id)) == token_id


def _token_for(runtime: Runtime, user_id: str, name: str) -> str:
    with runtime.transaction() as session:
        request = TokenRequest(user_id, name, frozenset({"read"}), timedelta(days=1))
        return create_token(session, runtime.cipher(), request, actor="test").id


def test_migration_0011_without_the_key_file_changes_nothing(runtime: Runtime) -> None:
    _, token_id = _token(runtime)
    _downgrade_to_0010(runtime, runtime.cipher())

    with pytest.raises(ConfigurationError, match="needs the key file") as refused:
        upgrade(runtime.engine)
    assert "HAVEN_KEY_FILE" in (refused.value.hint or "")
    other = FieldCipher(new_keyring())
    with pytest.raises(KeyFileError, match="does not belong to this database"):
        upgrade(runtime.engine, sealer=lambda: other)

    assert current_revision(runtime.engine) == "0010"
    assert _stored(runtime) == {token_id: NAME}


def test_migration_0011_needs_no_key_file_for_a_database_without_tokens(runtime: Runtime) -> None:
    _downgrade_to_0010(runtime, runtime.cipher())
    upgrade(runtime.engine)
    assert current_revision(runtime.engine) == head_revision()
