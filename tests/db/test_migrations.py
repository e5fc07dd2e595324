from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

import haven.models  # noqa: F401
from haven.audit.models import AuditHead
from haven.db.base import Base
from haven.db.migrate import current_revision, head_revision, is_current, upgrade
from haven.runtime import Runtime


def test_the_test_database_is_at_the_head_revision(runtime: Runtime) -> None:
    assert current_revision(runtime.engine) == head_revision()
    assert is_current(runtime.engine)


def test_migrations_build_exactly_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(runtime: Runtime) -> None:
    upgrade(runtime.engine)
    assert is_current(runtime.engine)


def test_the_audit_chain_starts_at_its_genesis(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        head = session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    assert (head.seq, head.hash) == (0, "0" * 64)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(runtime: Runtime, dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with runtime.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_every_closed_vocabulary_value_passes_the_database_check(runtime: Runtime) -> None:
    """Alembic does not compare CHECK constraints, so a value added to an enum without a
    migration would pass the comparison above and fail at the first insert."""
    checked = 0
    inspector = inspect(runtime.engine)
    for table in Base.metadata.sorted_tables:
        constraints = " ".join(c["sqltext"] for c in inspector.get_check_constraints(table.name))
        for column in table.columns:
            if isinstance(column.type, sa.Enum):
                for value in column.type.enums:
                    assert f"'{value}'" in constraints, (table.name, column.name, value)
                    checked += 1
    assert checked > 50
