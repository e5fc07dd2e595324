"""Everything that differs between SQLite and PostgreSQL, in one place.

- SQLite runs in WAL mode with foreign keys on. A writing transaction starts with
  ``BEGIN IMMEDIATE``, so that two writers queue for the lock instead of one failing half-way;
  a reading one (execution option ``haven_read_only``) with a plain ``BEGIN``, so reads go on
  beside a long write. On PostgreSQL a reading transaction is ``READ ONLY``.
- Bulk writes use each engine's fast path: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
- Column types read and write the same Python values on both: UUIDs as text, timestamps as
  timezone-aware UTC.
- Claiming queued rows (the notification outbox): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  several workers share a queue without waiting for or double-taking each other's rows; on
  SQLite the writing transaction (``BEGIN IMMEDIATE``) already has the database to itself.
- Triggers (the statistics' count tables): a PL/pgSQL function and a trigger that runs it on
  PostgreSQL, a trigger with its statements inline on SQLite; the SQL text comes from
  :func:`create_trigger` and the small expressions beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Boolean, Date, Select, String, Table, event
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine


class Guid(TypeDecorator[str]):
    """A UUID held as its canonical string: native ``uuid`` on PostgreSQL, CHAR(36) elsewhere."""

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(UUID(as_uuid=False))
        return dialect.type_descriptor(String(36))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


def sqlite_timestamp(value: datetime) -> str:
    """The stored form of a timestamp on SQLite: UTC, ISO 8601, fixed width, so text order is time
    order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; Haven stores timezone-aware UTC timestamps only")
        return sqlite_timestamp(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        result: datetime = value.astimezone(UTC)
        return result


_Query = TypeVar("_Query", bound=Select[Any])


def skip_locked(query: _Query, connection: Connection) -> _Query:
    """Lock the selected rows for this transaction, skipping rows another transaction holds."""
    if connection.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def reuses_materialised_ctes(connection: Connection) -> bool:
    """Whether a materialised CTE is computed once for a whole compound statement: so on
    PostgreSQL; SQLite computes it again for every part of a ``UNION ALL``."""
    return connection.dialect.name == "postgresql"


# -- SQL text: triggers and the expressions they use ---------------------------------------------
# These take the dialect's name ("sqlite" or "postgresql") rather than a connection, so that the
# text for either database can be written out without one (a migration carries it as fixed text).


def year_sql(dialect: str, column: str) -> str:
    """The year of a date column as an integer: SQLite holds dates as ISO 8601 text."""
    if dialect == "postgresql":
        return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"
    return f"CAST(substr({column}, 1, 4) AS INTEGER)"


def changed_sql(dialect: str, columns: Iterable[str]) -> str:
    """A trigger's condition that any of ``columns`` differs between OLD and NEW, NULL included."""
    if dialect == "postgresql":
        return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def refuse_sql(dialect: str, message: str) -> str:
    """A trigger statement that aborts the change with ``message`` (fixed text, no quotes)."""
    if dialect == "postgresql":
        return f"RAISE EXCEPTION '{message}'"
    return f"SELECT RAISE(ABORT, '{message}')"


@dataclass(frozen=True, slots=True)
class RowTrigger:
    """A trigger that runs ``statements`` before each row of ``table`` changes by ``event``
    (``INSERT``, ``UPDATE`` or ``DELETE``), when ``condition`` holds; OLD and NEW name the row."""

    name: str
    event: str
    table: str
    condition: str | None
    statements: Sequence[str]


def create_trigger(dialect: str, trigger: RowTrigger) -> list[str]:
    """The statements that (re)create a trigger: on PostgreSQL a function and the trigger that
    calls it, on SQLite the trigger alone."""
    body = "; ".join(trigger.statements)
    name, event, table = trigger.name, trigger.event, trigger.table
    if dialect == "postgresql":
        returned = "OLD" if event == "DELETE" else "NEW"
        when = f" WHEN ({trigger.condition})" if trigger.condition else ""
        return [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}; RETURN {returned}; END $$",
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW{when} "
            f"EXECUTE FUNCTION {name}()",
        ]
    when = f" WHEN {trigger.condition}" if trigger.condition else ""
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW{when} BEGIN {body}; END",
    ]


def drop_trigger(dialect: str, trigger: RowTrigger) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}",
            f"DROP FUNCTION IF EXISTS {trigger.name}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {trigger.name}"]


SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "haven_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine, for transactions that only read."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(postgresql_readonly=True, **{READ_ONLY: True})
    return engine.execution_options(**{READ_ONLY: True})


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
        mode = "DEFERRED" if connection.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")


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
