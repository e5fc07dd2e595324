"""Shared fixtures: every test gets a fresh, migrated database of its own.

SQLite by default; PostgreSQL when HAVEN_TEST_DATABASE_URL points at a server (the suite script
sets it for its second run). Fresh databases are copies of one migrated template, so isolation
costs a file copy on SQLite and a ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from haven.cli.main import run
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import new_keyring, save_keyring
from haven.db.engine import make_engine
from haven.db.migrate import upgrade
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings

POSTGRES_URL = os.environ.get("HAVEN_TEST_DATABASE_URL", "")
_counter = itertools.count()


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    admin = make_url(url).set(drivername="postgresql+psycopg", database="postgres")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database that each test's database is copied from."""
    if not POSTGRES_URL:
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()  # the last connection to close checkpoints the WAL into the file
        yield str(path)
        return
    base = make_url(POSTGRES_URL)
    name = f"{base.database}_tpl_{os.getpid()}"
    admin = _admin_engine(POSTGRES_URL)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(base.set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


FreshDatabase = Callable[[Path], AbstractContextManager[str]]


@pytest.fixture(scope="session")
def fresh_database(template_database: str) -> FreshDatabase:
    """Make a new migrated database (a copy of the template) for as long as a block runs."""

    @contextmanager
    def fresh(directory: Path) -> Iterator[str]:
        if not POSTGRES_URL:
            target = directory / f"haven-{next(_counter)}.db"
            shutil.copyfile(template_database, target)
            yield f"sqlite:///{target}"
            return
        base = make_url(POSTGRES_URL)
        name = f"{base.database}_{os.getpid()}_{next(_counter)}"
        admin = _admin_engine(POSTGRES_URL)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
        try:
            yield base.set(database=name, drivername="postgresql+psycopg").render_as_string(
                hide_password=False
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return fresh


@pytest.fixture
def database_url(fresh_database: FreshDatabase, tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    key_file = tmp_path / "keys.json"
    save_keyring(new_keyring(), key_file)
    return Settings(data_dir=tmp_path, database_url=database_url, key_file=key_file)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def cipher(runtime: Runtime) -> FieldCipher:
    return runtime.cipher()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    """A session in an open transaction, committed when the test passes."""
    with runtime.transaction() as session:
        yield session


@pytest.fixture
def writer(session: Session, cipher: FieldCipher) -> RegistryWriter:
    actor = Actor(SYSTEM_CONTRIBUTOR_ID, "test:writer", "test")
    return RegistryWriter(session, cipher, actor)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Outcome]:
    """Run ``haven`` in-process against this test's database and key file."""
    monkeypatch.setenv("HAVEN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HAVEN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAVEN_KEY_FILE", str(settings.resolved_key_file))

    def invoke(*argv: str) -> Outcome:
        capsys.readouterr()
        code = run(argv)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def dialect(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


def _as_text(value: object) -> Iterator[str]:
    if isinstance(value, bytes | memoryview):
        yield bytes(value).decode("utf-8", errors="ignore")
        yield bytes(value).decode("latin-1")
    elif isinstance(value, dict | list):
        yield json.dumps(value, ensure_ascii=False)
    elif value is not None:
        yield str(value)


@pytest.fixture
def dump_tables() -> Callable[[Session], str]:
    """Every value of every table as text (bytes decoded both ways), to search for plaintext
    that should not be there; it first checks that no table is missed."""

    def dump(session: Session) -> str:
        import haven.models  # noqa: F401  (every table in the metadata)
        from haven.db.base import Base

        in_database = set(inspect(session.connection()).get_table_names()) - {"alembic_version"}
        assert in_database == set(Base.metadata.tables)
        parts: list[str] = []
        for table in Base.metadata.sorted_tables:
            for row in session.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    parts.extend(_as_text(value))
        return "\n".join(parts)

    return dump
