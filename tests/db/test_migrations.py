from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

import haven.models  # noqa: F401
from haven.audit.models import AuditHead
from haven.db.base import Base
from haven.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    is_current,
    upgrade,
)
from haven.insight import cube
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


def _migration(revision: str) -> Any:
    return ScriptDirectory.from_config(alembic_config()).get_revision(revision).module


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
def test_the_counting_is_still_the_one_migration_0006_installed(dialect_name: str) -> None:
    """Migration 0006 carries the triggers as fixed text; the live code must make the same, so
    that a change to how incidents are counted comes with a migration that installs it."""
    triggers, counts, drop = _migration("0006")._STATEMENTS[dialect_name]
    assert list(triggers) == cube.trigger_statements(dialect_name)
    assert list(counts) == cube.count_statements(dialect_name)
    assert list(drop) == cube.drop_statements(dialect_name)


def test_the_methods_and_regions_the_triggers_read_are_the_live_ones(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        methods = connection.execute(text("SELECT tactic, method FROM stats_tactic_methods"))
        regions = connection.execute(text("SELECT host, region FROM stats_host_regions"))
        assert dict(methods.all()) == cube.tactic_methods()
        assert dict(regions.all()) == cube.host_regions()


def test_the_database_holds_the_triggers_the_live_code_makes(
    runtime: Runtime, dialect: str
) -> None:
    statements = cube.trigger_statements(dialect)
    if dialect == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        expected = [s for s in statements if s.startswith("CREATE TRIGGER")]
    else:
        # PostgreSQL keeps a function's body as written, and rewords a trigger's definition.
        query = "SELECT proname, prosrc FROM pg_proc"
        expected = [s.split("$$")[1] for s in statements if s.startswith("CREATE OR REPLACE")]
    with runtime.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    installed = [source for name, source in rows if name.startswith("stats_")]
    assert len(expected) == 10
    assert sorted(installed) == sorted(expected)
