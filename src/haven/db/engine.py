"""Engines and sessions, with a clear error when the database cannot be reached."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from haven.db.dialect import configure_engine
from haven.errors import ConfigurationError, DatabaseUnavailable


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"HAVEN_DATABASE_URL is not a database URL: {url!r}",
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
        # The data directory is the owner's alone, like the key file in it.
        Path(str(parsed.database)).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() == "postgresql")
    configure_engine(engine)
    return engine


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise DatabaseUnavailable(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{reason}",
            hint="check HAVEN_DATABASE_URL and that the server is running",
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
