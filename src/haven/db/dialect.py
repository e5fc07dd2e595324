"""Everything that differs between SQLite and PostgreSQL, in one place.

- SQLite runs in WAL mode with foreign keys on, and every transaction starts with
  ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of one failing half-way.
- Bulk writes use each engine's fast path: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Date, Table, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry

from haven.db.types import UtcDateTime, sqlite_timestamp

SQLITE_BUSY_TIMEOUT_MS = 10_000


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Leave transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_converter(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UtcDateTime):
        return _TimestampText()
    if isinstance(column_type, Date):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(column_type, Boolean):
        return lambda value: None if value is None else int(value)
    return None


class _TimestampText:
    """Timestamps as SQLite stores them; a bulk batch shares one timestamp, so the last
    conversion is kept."""

    def __init__(self) -> None:
        self._last: datetime | None = None
        self._text = ""

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value is not self._last:
            self._last, self._text = value, sqlite_timestamp(value)
        return self._text


def encode_json(value: Any) -> str:
    """JSON as a bulk row carries it: already serialised, for executemany and COPY alike."""
    if value == []:
        return "[]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bulk_insert(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert plain row tuples through the driver's fastest path, inside the caller's transaction.

    Values are Python values as the models hold them (str ids, aware datetimes, dates); JSON
    columns take text made by :func:`encode_json`.
    """
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        names = ", ".join(columns)
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    converters = [(i, _sqlite_converter(table.c[name].type)) for i, name in enumerate(columns)]
    active = [(i, convert) for i, convert in converters if convert is not None]
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    if active:
        rows = (_converted(row, active) for row in rows)
    cursor = driver.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _converted(row: Sequence[Any], active: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for index, convert in active:
        values[index] = convert(values[index])
    return values
