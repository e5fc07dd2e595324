"""Engines and sessions, with a clear error when the database cannot be reached."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from haven.db.dialect import configure_engine
from haven.errors import ConfigurationError, DatabaseUnavailable, HavenError


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "HAVEN_DATABASE_URL is not a database URL",
            hint="use sqlite:///path/to/haven.db or postgresql+psycopg://user@host/dbname",
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"HAVEN_DATABASE_URL names {parsed.get_backend_name()!r}; Haven runs on SQLite or "
            "PostgreSQL"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in {None, "", ":memory:"}:
        _private_database_file(Path(str(parsed.database)))
    # hide_parameters: an error must never print the row it failed on (names, narratives).
    engine = create_engine(
        parsed,
        pool_pre_ping=parsed.get_backend_name() == "postgresql",
        hide_parameters=True,
    )
    configure_engine(engine)
    return engine


def _private_database_file(path: Path) -> None:
    """Create the SQLite file, empty, readable and writable by its owner only, before SQLite
    opens it: SQLite would make it 0644, and gives its -wal and -shm files the mode of the
    database file. The data directory is the owner's alone, like the key file in it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    # Exactly 0600, whatever the umask took away.
    os.fchmod(descriptor, 0o600)
    os.close(descriptor)


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{_first_line(exc.orig)}",
            hint="check HAVEN_DATABASE_URL and that the server is running",
        ) from None


DRIVER_ERRORS: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error, psycopg.Error)


def database_error(exc: Exception) -> HavenError:
    """One safe line for a database error. Only connection problems keep the driver's words;
    any other message might quote the values of the row that failed."""
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        return DatabaseUnavailable(f"database error: {_first_line(orig)}")
    kind = type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__
    return DatabaseUnavailable(
        f"the database refused the operation ({kind}); nothing was written",
        hint="the log of the database server has the details",
    )


def _first_line(error: BaseException | None) -> str:
    return (
        str(error).strip().splitlines()[0]
        if error is not None and str(error).strip()
        else "no answer"
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
