"""API token names encrypted

A token's name says what the token is for and may name a partner or a project; it was the one
text of the access tables a database dump showed as written. It is now sealed like the other
identifying columns: encrypted with the data key, bound to its row, and re-encrypted by
`haven keys rotate`. The names already stored are encrypted here, with the field cipher the
command running the migration hands in (see ``haven.db.migrate.upgrade``); a database without
tokens needs none.

The ciphertext's context is written out here (``api_tokens.name:<id>``, as
``haven.registry.sealed.sealed_context`` makes it), so this revision keeps doing what it did when
it was written.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import haven.db.dialect
from haven.errors import ConfigurationError, KeyFileError

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYRING_META = "keyring_fingerprint"


def _tokens(name: sa.types.TypeEngine[Any], other: sa.types.TypeEngine[Any]) -> sa.TableClause:
    return sa.table(
        "api_tokens",
        sa.column("id", haven.db.dialect.Guid(length=36)),
        sa.column("name", name),
        sa.column("name_changed", other),
    )


def _sealer(connection: sa.Connection) -> Any:
    config = op.get_context().config
    factory = None if config is None else config.attributes.get("sealer")
    if factory is None:
        raise ConfigurationError(
            "encrypting the API token names stored here needs the key file, and none was given",
            hint="run `haven db upgrade`, with HAVEN_KEY_FILE naming this database's key file",
        )
    sealer = factory()
    bound = connection.execute(
        sa.text("SELECT value FROM haven_meta WHERE key = :key"), {"key": KEYRING_META}
    ).scalar()
    if bound is not None and bound != sealer.keyring.fingerprint:
        raise KeyFileError(
            "the key file does not belong to this database",
            hint="point HAVEN_KEY_FILE at the key file this database was created with",
        )
    return sealer


def _rewrite(
    new_type: sa.types.TypeEngine[Any], old_type: sa.types.TypeEngine[Any], *, seal: bool
) -> None:
    """Put each name, encrypted (or decrypted), into a new column that then takes its place."""
    connection = op.get_bind()
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_changed", new_type, nullable=True))
    tokens = _tokens(old_type, new_type)
    rows = connection.execute(sa.select(tokens.c.id, tokens.c.name)).all()
    if rows:
        sealer = _sealer(connection)
        changed = []
        for token_id, name in rows:
            context = f"api_tokens.name:{token_id}"
            value = (
                sealer.encrypt(name.encode(), context)
                if seal
                else sealer.decrypt(bytes(name), context).decode()
            )
            changed.append({"token_id": token_id, "value": value})
        connection.execute(
            tokens.update()
            .where(tokens.c.id == sa.bindparam("token_id"))
            .values(name_changed=sa.bindparam("value")),
            changed,
        )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("name")
        batch_op.alter_column(
            "name_changed", new_column_name="name", existing_type=new_type, nullable=False
        )


def upgrade() -> None:
    _rewrite(sa.LargeBinary(), sa.String(length=100), seal=True)


def downgrade() -> None:
    _rewrite(sa.String(length=100), sa.LargeBinary(), seal=False)
