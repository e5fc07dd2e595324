"""Schema migrations (Alembic), run on a connection Haven opens itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from haven.db.engine import check_connection


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "haven.db:migrations")
    return config


class KeyringName(Protocol):
    @property
    def fingerprint(self) -> str: ...


class Sealer(Protocol):
    """What a migration that writes sealed values needs of Haven's field cipher, which the
    database layer cannot import: the command that runs the migrations hands it in."""

    @property
    def keyring(self) -> KeyringName: ...

    def encrypt(self, plaintext: bytes, context: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: str) -> bytes: ...


def upgrade(
    engine: Engine, revision: str = "head", *, sealer: Callable[[], Sealer] | None = None
) -> None:
    """Apply migrations up to ``revision``. ``sealer`` gives the field cipher to a migration
    that must encrypt existing rows; it is called only then, so a new database needs no key
    file to be created."""
    check_connection(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["sealer"] = sealer
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
