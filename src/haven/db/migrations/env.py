"""Alembic environment: runs on the connection Haven hands over (see haven.db.migrate)."""

from __future__ import annotations

from alembic import context

import haven.models  # noqa: F401  (registers every table on the metadata)
from haven.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `haven db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
